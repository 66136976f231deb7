"""Vendor rows as msgspec Structs (clients/rows.py) compare as the frozen dataclasses did: on every
field but `problems`, with a hash that agrees, and they stay immutable."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from usagegraph.clients.decoding import RowProblems
from usagegraph.clients.errors import UpstreamContractError
from usagegraph.clients.rows import Row
from usagegraph.clients.telzino import TelzinoAgentMinutes, TelzinoOrgMinutes


def _problem(field: str) -> RowProblems:
    error = UpstreamContractError(
        f"answered a body that breaks the contract: {field} is null",
        source="telzino",
        endpoint="GET /v1/reports/minutes-by-organization",
        status=200,
        field=field,
    )
    return (("minutes", error),)


def _org(agent: TelzinoAgentMinutes, problems: RowProblems) -> TelzinoOrgMinutes:
    return TelzinoOrgMinutes("o1", "Acme", "r1", "Northwind", None, None, 1, (agent,), problems)


def test_two_reads_of_one_row_are_equal_though_their_errors_are_distinct() -> None:
    first = TelzinoAgentMinutes("a1", "Ann", None, None, _problem("data[0].agents[0]"))
    again = TelzinoAgentMinutes("a1", "Ann", None, None, _problem("data[0].agents[0]"))
    assert first.problems[0][1] != again.problems[0][1]  # errors compare by identity
    assert first == again
    assert (first != again) is False  # != is not msgspec's, which compares problems too
    assert hash(first) == hash(again)
    assert _org(first, _problem("data[0]")) == _org(again, _problem("data[0]"))
    assert hash(_org(first, ())) == hash(_org(again, _problem("data[0]")))


def test_rows_differing_in_a_value_are_not_equal() -> None:
    ann = TelzinoAgentMinutes("a1", "Ann", Decimal("12.50"), 750)
    assert ann != TelzinoAgentMinutes("a1", "Ann", Decimal("12.50"), 751)
    assert (ann == TelzinoAgentMinutes("a2", "Ann", Decimal("12.50"), 750)) is False
    assert _org(ann, ()) != _org(TelzinoAgentMinutes("a1", "Bob", Decimal("12.50"), 750), ())
    assert ann != ("a1", "Ann", Decimal("12.50"), 750)  # another type is never equal


def test_another_row_class_with_the_same_values_is_not_equal() -> None:
    class One(Row, frozen=True):
        id: str
        seconds: int

    class Other(Row, frozen=True):
        id: str
        seconds: int

    assert One("a", 1) == One("a", 1)
    assert One("a", 1) != Other("a", 1)


def test_rows_are_immutable_and_replaced_whole() -> None:
    ann = TelzinoAgentMinutes("a1", "Ann", Decimal("12.50"), 750)
    with pytest.raises(AttributeError):
        ann.seconds = 1  # type: ignore[misc]
    later = msgspec.structs.replace(ann, seconds=751, problems=_problem("x"))
    assert (ann.seconds, ann.problems) == (750, ())
    assert (later.agent_id, later.seconds, later.problems[0][0]) == ("a1", 751, "minutes")

"""JsonReader: the one-type-check fast path must accept and refuse exactly what the general path
does, and a refusal still names the field's full JSON path."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from usagegraph.clients.decoding import JsonReader
from usagegraph.clients.errors import UpstreamContractError

READER = JsonReader("telzino-eu", "GET /v1/reports/minutes-by-organization")
ROW_PATH = "data[3]"


def read(method: str, value: Any) -> Any:
    return getattr(READER, method)({"field": value}, "field", ROW_PATH)


@pytest.mark.parametrize(
    ("method", "value", "expected"),
    [
        ("text", "Acme", "Acme"),
        ("count", 3, 3),
        ("count", Decimal("3.0"), 3),  # some encoders write counts as 3.0
        ("count", 0, 0),
        ("integer", -120, -120),
        ("integer", Decimal("120.0"), 120),
        ("number", Decimal("12.34"), Decimal("12.34")),
        ("number", 7, Decimal(7)),
        ("flag", False, False),
        ("text_or_none", None, None),
        ("count_or_none", Decimal("2.0"), 2),
        ("number_or_none", None, None),
        ("flag_or_none", True, True),
    ],
)
def test_well_formed_values_are_read(method: str, value: Any, expected: Any) -> None:
    got = read(method, value)
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize(
    ("method", "value", "problem"),
    [
        ("text", 5, "is a number, expected a string"),
        ("text", None, "is null"),
        ("count", True, "is a boolean, expected a count"),
        ("count", -1, "is a number, expected a count"),
        ("count", Decimal("2.5"), "is a number, expected a count"),
        ("integer", "12", "is a string, expected an integer"),
        ("number", "12.34", "is a string, expected a number"),
        ("number", True, "is a boolean, expected a number"),
        ("number", float("nan"), "is not a finite number"),
        ("number", Decimal("Infinity"), "is not a finite number"),
        ("flag", 1, "is a number, expected a boolean"),
        ("count_or_none", -3, "is a number, expected a count"),
        ("number_or_none", float("inf"), "is not a finite number"),
        ("text_or_none", [], "is an array, expected a string"),
    ],
)
def test_malformed_values_name_the_full_path(method: str, value: Any, problem: str) -> None:
    with pytest.raises(UpstreamContractError) as caught:
        read(method, value)
    assert caught.value.field == "data[3].field"
    assert f"data[3].field {problem}" in str(caught.value)
    assert caught.value.source == "telzino-eu"


def test_missing_required_field_names_its_path() -> None:
    with pytest.raises(UpstreamContractError) as caught:
        READER.text({}, "agent_id", "data[0].agents[2]")
    assert caught.value.field == "data[0].agents[2].agent_id"
    assert "is missing" in str(caught.value)


def test_objects_gives_each_item_its_path_and_refuses_non_objects() -> None:
    items = READER.objects({"data": [{"a": 1}, {"a": 2}]}, "data", "")
    assert [path for path, _ in items] == ["data[0]", "data[1]"]
    with pytest.raises(UpstreamContractError) as caught:
        READER.objects({"agents": [{}, "x"]}, "agents", "data[4]")
    assert caught.value.field == "data[4].agents[1]"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-04-01T10:00:00Z", "2026-04-01T10:00:00+00:00"),
        ("2026-04-01T10:00:00", "2026-04-01T10:00:00+00:00"),  # no offset means UTC
        ("2026-04-01T10:00:00+02:00", "2026-04-01T10:00:00+02:00"),
        ("yesterday", None),
        (1767623610019, None),
        (None, None),
    ],
)
def test_a_moment_that_feeds_no_figure_is_read_or_none(value: Any, expected: str | None) -> None:
    moment = READER.moment({"at": value}, "at")
    assert (moment.isoformat() if moment else None) == expected


@pytest.mark.parametrize(
    ("method", "value"),
    [("soft_number", "1.5"), ("soft_integer", 1.5), ("soft_count", -1), ("soft_number", None)],
)
def test_a_soft_read_records_one_problem_with_the_full_path(method: str, value: Any) -> None:
    problems: dict[str, Any] = {}
    assert getattr(READER, method)({"field": value}, "field", ROW_PATH, problems, "figure") is None
    assert list(problems) == ["figure"]
    assert problems["figure"].field == f"{ROW_PATH}.field"
    # a second problem under the same name keeps the first, the one that says most
    getattr(READER, method)({}, "other", ROW_PATH, problems, "figure")
    assert problems["figure"].field == f"{ROW_PATH}.field"

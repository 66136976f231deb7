"""Issue 16, point 6: field arguments are checked before execution (schema/arguments.py).

Before, an inverted range in a nested usage failed inside every organization, and the non-null
chain nulled the whole answer with one error per organization; now the request fails up front
with one BAD_USER_INPUT naming the argument and where it is, and nothing runs.
"""

from __future__ import annotations

import gc
import warnings
from typing import Any

import pytest

from tests.fixtures.graph import GraphQuery
from usagegraph.sandbox.server import SandboxServer

NESTED = """
query ($range: DateRange!) {
  resellers { id organizations { id usage(range: $range) { voice { seconds } } } }
}"""
INVERTED = {"firstDay": "2026-03-01", "lastDay": "2026-02-01"}
MONTH = {"firstDay": "2026-01-01", "lastDay": "2026-01-31"}


def the_error(result: dict[str, Any]) -> dict[str, Any]:
    assert result["data"] is None
    [error] = result["errors"]
    assert "path" not in error  # nothing in `data` to point at
    return error


async def test_an_inverted_nested_range_is_one_error_naming_the_argument(
    graph: GraphQuery, sandbox: SandboxServer
) -> None:
    sandbox.control.reset()

    result = await graph(NESTED, {"range": INVERTED})

    error = the_error(result)
    assert error["message"] == (
        "argument range of resellers.organizations.usage: "
        "lastDay 2026-02-01 is before firstDay 2026-03-01"
    )
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "argument": "range",
        "field": "Organization.usage",
        "at": ["resellers", "organizations", "usage"],
    }
    assert error["locations"] == [{"line": 3, "column": 43}]  # the `range:` argument
    assert sandbox.control.count() == 0  # not even the catalog was loaded


async def test_every_checked_argument_is_refused_before_execution(
    graph: GraphQuery, sandbox: SandboxServer
) -> None:
    cases = {
        # field, its arguments, the reason
        "reseller.usage": (
            'reseller(id: "northwind") { usage(range: {firstDay: "2025-01-01", '
            'lastDay: "2026-06-01"}) { days } }',
            "the range spans 517 days; at most 366 are allowed",
        ),
        "organizations.agents": (
            'organizations { agents(rankedBy: {firstDay: "2026-02-02", lastDay: "2026-02-01"}) '
            "{ id } }",
            "lastDay 2026-02-01 is before firstDay 2026-02-02",
        ),
        "resellers.organizations.agents": (
            "resellers { organizations { agents(first: -3) { id } } }",
            "first must not be negative, got -3",
        ),
        "organizations.users.usage": (
            'organizations { users { usage(range: {firstDay: "2026-02-02", '
            'lastDay: "2026-02-01"}) { days } } }',
            "lastDay 2026-02-01 is before firstDay 2026-02-02",
        ),
        "resellers.monthly": (
            'resellers { monthly(firstMonth: "2026-05", lastMonth: "2026-04") { month } }',
            "lastMonth 2026-04 is before firstMonth 2026-05",
        ),
        "organizations.unattributedUsage": (
            'organizations { unattributedUsage(range: {firstDay: "2026-02-02", '
            'lastDay: "2026-02-01"}) { days } }',
            "lastDay 2026-02-01 is before firstDay 2026-02-02",
        ),
    }
    sandbox.control.reset()
    for where, (selection, reason) in cases.items():
        error = the_error(await graph(f"{{ {selection} }}"))
        assert error["message"].endswith(f"{where}: {reason}"), error
        assert error["extensions"]["at"] == where.split(".")
    assert sandbox.control.count() == 0


async def test_fragments_skip_and_unions_are_walked_as_graphql_collects_them(
    graph: GraphQuery,
) -> None:
    query = """
    query ($r: DateRange!, $skip: Boolean!) {
      resellers { ...R }
      skipped: organizations @skip(if: $skip) { usage(range: $r) { days } }
      _entities(representations: [{__typename: "Organization", id: "cust0000"}]) {
        ... on Organization { usage(range: $r) { days } }
      }
    }
    fragment R on Reseller { organizations { usage(range: $r) { days } } }
    """

    result = await graph(query, {"r": INVERTED, "skip": True})

    [first, second] = result["errors"]  # one per field; the skipped one is not there
    assert result["data"] is None
    assert first["extensions"]["at"] == ["resellers", "organizations", "usage"]
    assert second["extensions"]["at"] == ["_entities", "usage"]
    assert second["extensions"]["field"] == "Organization.usage"


async def test_the_same_bad_range_in_many_places_is_named_once_per_field(
    graph: GraphQuery,
) -> None:
    query = """query ($r: DateRange!) {
      a: resellers { usage(range: $r) { days } }
      b: resellers { usage(range: $r) { days } organizations { usage(range: $r) { days } } }
    }"""

    result = await graph(query, {"r": INVERTED})

    assert [e["extensions"]["at"] for e in result["errors"]] == [
        ["a", "usage"],
        ["b", "usage"],
        ["b", "organizations", "usage"],
    ]


async def test_valid_arguments_answer_as_before(graph: GraphQuery) -> None:
    result = await graph(NESTED, {"range": MONTH})

    assert "errors" not in result
    organizations = [o for r in result["data"]["resellers"] for o in r["organizations"]]
    assert organizations
    assert all(o["usage"]["voice"]["seconds"] >= 0 for o in organizations)


@pytest.mark.filterwarnings("error::RuntimeWarning")
async def test_a_refused_nested_argument_leaves_no_coroutine_unawaited(
    graph: GraphQuery,
) -> None:
    """The fuzzing finding: a non-null field failing inside a list whose items were still
    resolving left graphql-core coroutines that were never awaited. Refused up front, nothing
    starts; any such coroutine, collected here, would warn (an error in this test)."""
    query = """query ($r: DateRange!, $ok: DateRange!) {
      resellers {
        usage(range: $ok) { days }
        organizations { agents { usage(range: $ok) { days } } usage(range: $r) { days } }
      }
    }"""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            result = await graph(query, {"r": INVERTED, "ok": MONTH})
            assert the_error(result)["extensions"]["code"] == "BAD_USER_INPUT"
        gc.collect()

    unawaited = [w for w in caught if "never awaited" in str(w.message)]
    assert unawaited == []

"""Finding 6 (its GraphQL part): malformed `_entities` representations and
`monthly(firstMonth: "9999-12")` answered INTERNAL_SERVER_ERROR.

Every value a caller can put in an argument is their mistake or a fair question: a mistake is
BAD_USER_INPUT (or GRAPHQL_VALIDATION_FAILED where graphql-core refuses the query's shape),
naming what is wrong, at the field it concerns; a fair question is answered. Never an
internal error, and never an upstream call for a refused one.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fixtures.graph import GraphQuery
from usagegraph.sandbox.server import SandboxServer

ENTITIES = (
    "query ($r: [_Any!]!) { _entities(representations: $r) "
    "{ ... on Organization { id } ... on Reseller { id } } }"
)
ENTITY_TYPES = "Agent, Organization, Reseller, User"
NOT_AN_OBJECT = 'representations[0] must be an object {"__typename": ..., "id": ...}, not '
NO_TYPENAME = f"representations[0].__typename must name an entity type: {ENTITY_TYPES}"


def no_internal_error(result: dict[str, Any]) -> None:
    text = json.dumps(result)
    assert "INTERNAL_SERVER_ERROR" not in text and "Traceback" not in text, text


def bad_input_at(result: dict[str, Any], path: list[Any]) -> str:
    """The reason of the one BAD_USER_INPUT error, at `path`: an entity's while executing,
    or an argument's before execution (schema/arguments.py: `data: null`, the argument and
    where it is named, and the reason after them)."""
    no_internal_error(result)
    [error] = result["errors"]
    extensions = error["extensions"]
    assert extensions["code"] == "BAD_USER_INPUT"
    if "at" not in extensions:
        assert extensions == {"code": "BAD_USER_INPUT"}
        assert error.get("path") == path
        return str(error["message"])
    assert result["data"] is None and "path" not in error
    assert extensions["at"] == path
    prefix = f"argument {extensions['argument']} of {'.'.join(map(str, path))}: "
    assert error["message"].startswith(prefix)
    return str(error["message"])[len(prefix) :]


# -- _entities ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("representation", "message"),
    [
        (42, NOT_AN_OBJECT + "a number"),
        (1.5, NOT_AN_OBJECT + "a number"),
        ("cust0000", NOT_AN_OBJECT + "a string"),
        (True, NOT_AN_OBJECT + "a boolean"),
        (["Organization", "cust0000"], NOT_AN_OBJECT + "a list"),
        ({}, NO_TYPENAME),
        ({"id": "cust0000"}, NO_TYPENAME),
        ({"__typename": 5, "id": "cust0000"}, NO_TYPENAME),
        (
            {"__typename": "Nope", "id": "x"},
            f"representations[0].__typename 'Nope' is not an entity type: {ENTITY_TYPES}",
        ),
        (
            {"__typename": "Money", "id": "x"},  # a type, but not an entity
            f"representations[0].__typename 'Money' is not an entity type: {ENTITY_TYPES}",
        ),
        (
            {"__typename": "_Service", "id": "x"},
            f"representations[0].__typename '_Service' is not an entity type: {ENTITY_TYPES}",
        ),
        (
            {"__typename": "N" * 5000, "id": "x"},  # echoed only in part
            f"representations[0].__typename '{'N' * 40}...' is not an entity type: " + ENTITY_TYPES,
        ),
        ({"__typename": "Organization"}, "representations[0].id must be a string"),
        ({"__typename": "Organization", "id": None}, "representations[0].id must be a string"),
        ({"__typename": "Organization", "id": True}, "representations[0].id must be a string"),
        ({"__typename": "Organization", "id": {"a": 1}}, "representations[0].id must be a string"),
        ({"__typename": "Organization", "id": ["x"]}, "representations[0].id must be a string"),
    ],
)
async def test_a_malformed_representation_is_bad_user_input_at_its_index(
    graph: GraphQuery, sandbox: SandboxServer, representation: Any, message: str
) -> None:
    await graph("{ resellers { id } }")  # discovery first: the refusal itself calls no vendor
    sandbox.control.reset()
    result = await graph(ENTITIES, {"r": [representation]})
    assert bad_input_at(result, ["_entities", 0]) == message
    assert result["data"] == {"_entities": [None]}
    assert sandbox.control.count() == 0


async def test_the_other_representations_still_resolve(graph: GraphQuery) -> None:
    representations = [
        {"__typename": "Organization", "id": "cust0000"},
        7,
        {"__typename": "Reseller", "id": "northwind", "extra": "ignored"},
        {"__typename": "Organization", "id": 12345},  # an integer ID reads as "12345": unknown
    ]
    result = await graph(ENTITIES, {"r": representations})
    assert bad_input_at(result, ["_entities", 1]) == (
        NOT_AN_OBJECT.replace("[0]", "[1]") + "a number"
    )
    assert result["data"] == {"_entities": [{"id": "cust0000"}, None, {"id": "northwind"}, None]}


@pytest.mark.parametrize("value", [None, [None]])
async def test_null_representations_are_refused_by_their_type(
    graph: GraphQuery, value: Any
) -> None:
    result = await graph(ENTITIES, {"r": value})
    no_internal_error(result)
    [error] = result["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert result["data"] is None


async def test_a_null_literal_for_a_required_argument_is_bad_user_input(
    graph: GraphQuery,
) -> None:
    for query in (
        "{ _entities(representations: null) { __typename } }",
        "{ _entities(representations: [null]) { __typename } }",
        "{ organization(id: null) { id } }",
    ):
        result = await graph(query)
        [error] = result["errors"]
        assert error["extensions"] == {"code": "BAD_USER_INPUT"}, query


# -- monthly: extreme and malformed months --------------------------------------------------------

ORGANIZATION = '{ organization(id: "cust0000") { %s } }'
ARABIC = "\u0662\u0660\u0662\u0666-\u0660\u0661"  # 2026-01 in Arabic-Indic digits
SERIES = "monthly(firstMonth: %s, lastMonth: %s) { month usage { voice { seconds } } }"


async def test_the_last_months_a_date_can_hold_are_answered_as_not_reported_yet(
    graph: GraphQuery, sandbox: SandboxServer
) -> None:
    await graph("{ resellers { id } }")
    sandbox.control.reset()
    result = await graph(ORGANIZATION % (SERIES % ('"9999-11"', '"9999-12"')))
    no_internal_error(result)
    assert result == {
        "data": {
            "organization": {
                "monthly": [
                    {"month": "9999-11", "usage": {"voice": None}},
                    {"month": "9999-12", "usage": {"voice": None}},
                ]
            }
        }
    }
    assert sandbox.control.count() == 0  # days after today cost no upstream call
    resellers = await graph(
        '{ resellers { monthly(firstMonth: "9999-12", lastMonth: "9999-12") { month } } }'
    )
    no_internal_error(resellers)
    assert {m["month"] for r in resellers["data"]["resellers"] for m in r["monthly"]} == {"9999-12"}


async def test_early_months_keep_four_digit_years(graph: GraphQuery) -> None:
    result = await graph(ORGANIZATION % (SERIES % ('"0001-01"', '"0001-02"')))
    no_internal_error(result)
    months = [m["month"] for m in result["data"]["organization"]["monthly"]]
    assert months == ["0001-01", "0001-02"]


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("0000-01", "0001-01", "firstMonth must be a month as YYYY-MM, got '0000-01'"),
        ("9999-13", "9999-13", "firstMonth must be a month as YYYY-MM, got '9999-13'"),
        ("2026-00", "2026-01", "firstMonth must be a month as YYYY-MM, got '2026-00'"),
        ("2026-01", "2026-1", "lastMonth must be a month as YYYY-MM, got '2026-1'"),
        ("+026-01", "+026-01", "firstMonth must be a month as YYYY-MM, got '+026-01'"),
        (ARABIC, ARABIC, f"firstMonth must be a month as YYYY-MM, got '{ARABIC}'"),
        ("2026-01\n", "2026-01", "firstMonth must be a month as YYYY-MM, got '2026-01\\n'"),
        ("", "", "firstMonth must be a month as YYYY-MM, got ''"),
        ("2026-01-01", "2026-02", "firstMonth must be a month as YYYY-MM, got '2026-01-01'"),
        ("2026-03", "2026-01", "lastMonth 2026-01 is before firstMonth 2026-03"),
        ("2026-01", "2028-01", "the series spans 25 months; at most 24 are allowed"),
        ("2026-01", "9999-12", "the series spans 95688 months; at most 24 are allowed"),
        ("0001-01", "9999-12", "the series spans 119988 months; at most 24 are allowed"),
        (
            "1" * 5000 + "-01",
            "2026-01",
            f"firstMonth must be a month as YYYY-MM, got '{'1' * 40}...'",
        ),
    ],
)
async def test_a_malformed_or_too_long_series_is_bad_user_input(
    graph: GraphQuery, sandbox: SandboxServer, first: str, last: str, message: str
) -> None:
    await graph("{ resellers { id } }")
    sandbox.control.reset()
    query = 'query ($a: String!, $b: String!) { organization(id: "cust0000") { %s } }'
    result = await graph(query % (SERIES % ("$a", "$b")), {"a": first, "b": last})
    assert bad_input_at(result, ["organization", "monthly"]) == message
    assert sandbox.control.count() == 0


# -- ranges, first:, ids: ------------------------------------------------------------------------

USAGE = "usage(range: {firstDay: %s, lastDay: %s}%s) { voice { seconds } coverage { complete } }"


@pytest.mark.parametrize(
    ("first", "last", "options"),
    [
        ('"9999-12-31"', '"9999-12-31"', ""),
        ('"9999-12-01"', '"9999-12-31"', ", partialMonths: WHOLE_MONTHS"),
        ('"9999-12-15"', '"9999-12-31"', ", partialMonths: WHOLE_MONTHS"),
    ],
)
async def test_ranges_at_the_end_of_the_calendar_are_not_reported_yet(
    graph: GraphQuery, first: str, last: str, options: str
) -> None:
    result = await graph(ORGANIZATION % (USAGE % (first, last, options)))
    no_internal_error(result)
    usage = {"voice": None, "coverage": {"complete": False}}
    assert result == {"data": {"organization": {"usage": usage}}}


@pytest.mark.parametrize(
    "options", ["", ", partialMonths: WHOLE_MONTHS"], ids=["exact", "whole months"]
)
async def test_ranges_at_the_start_of_the_calendar_are_answered(
    graph: GraphQuery, options: str
) -> None:
    result = await graph(ORGANIZATION % (USAGE % ('"0001-01-01"', '"0001-01-05"', options)))
    no_internal_error(result)
    assert "errors" not in result
    assert result["data"]["organization"]["usage"]["voice"] == {"seconds": 0}


@pytest.mark.parametrize(
    ("first", "last", "needle", "at_field"),
    [
        ('"0000-12-31"', '"0001-01-01"', "year 0 is out of range", False),
        ('"2026-02-30"', '"2026-03-01"', "day is out of range for month", False),
        ('"10000-01-01"', '"2026-01-02"', "expected a calendar day as YYYY-MM-DD", False),
        ('"0001-01-01"', '"9999-12-31"', "the range spans 3652059 days", True),
        ('"2026-01-02"', '"2026-01-01"', "lastDay 2026-01-01 is before firstDay 2026-01-02", True),
    ],
)
async def test_impossible_ranges_are_bad_user_input(
    graph: GraphQuery, first: str, last: str, needle: str, at_field: bool
) -> None:
    result = await graph(ORGANIZATION % (USAGE % (first, last, "")))
    no_internal_error(result)
    [error] = result["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert needle in error["message"]
    # a value the Date scalar refuses fails variable-free coercion; a well-formed range that
    # no resolver takes is refused before execution, naming the field
    assert (error["extensions"].get("at") == ["organization", "usage"]) is at_field


async def test_first_takes_any_32_bit_count_and_refuses_the_rest(graph: GraphQuery) -> None:
    every = await graph(ORGANIZATION % "agents { id }")
    result = await graph(ORGANIZATION % "agents(first: 2147483647) { id }")
    assert result == every
    negative = await graph(ORGANIZATION % "agents(first: -2147483648) { id }")
    assert bad_input_at(negative, ["organization", "agents"]) == (
        "first must not be negative, got -2147483648"
    )
    too_big = await graph(ORGANIZATION % "agents(first: 2147483648) { id }")
    no_internal_error(too_big)
    [error] = too_big["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}


async def test_a_long_ids_list_is_answered(graph: GraphQuery) -> None:
    ids = ["cust0000", "nobody", "telzino:x", ""] * 1500  # 6,000 ids, under 64 KiB
    result = await graph("query ($ids: [ID!]) { organizations(ids: $ids) { id } }", {"ids": ids})
    no_internal_error(result)
    assert result["data"]["organizations"] == [{"id": "cust0000"}] * 1500


@pytest.mark.parametrize(
    "query",
    [
        '{ organization(id: "%s") { id } }' % ("x" * 30_000),
        '{ agent(id: ":") { id } user(id: ":") { id } reseller(id: "") { id } }',
        '{ user(id: "telzino:x") { id } agent(id: "teli-northwind:x") { id } }',
        '{ a: user(id: "teli-northwind:") { id } b: organization(id: "\\u0000") { id } }',
    ],
)
async def test_odd_ids_are_simply_unknown(graph: GraphQuery, query: str) -> None:
    result = await graph(query)
    no_internal_error(result)
    assert "errors" not in result
    assert all(value is None for value in result["data"].values())

"""Bad input is the caller's mistake: BAD_USER_INPUT (or the GraphQL parse/validation codes),
a one-line message without stack trace or secret, and no upstream call."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tests.fixtures.graph import GraphQuery, open_graph, sandbox_settings
from usagegraph.sandbox.server import SandboxServer

ORG_USAGE = """
query ($first: Date!, $last: Date!) {
  organization(id: "cust0000") {
    usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } }
  }
}
"""


def secrets_of(sandbox: SandboxServer) -> list[str]:
    keys = ("api_key", "client_secret")
    return [entry[k] for entry in sandbox.sources() for k in keys if k in entry]


# what an argument refused before execution adds (schema/arguments.py)
ARGUMENT_KEYS = {"code", "argument", "field", "at"}


def assert_clean(result: dict[str, Any], sandbox: SandboxServer, code: str) -> list[str]:
    """Every error has `code`, and no message leaks a traceback or a configured secret; an
    argument refused before execution answers `data: null`, naming where it is. Returns the
    messages, without the "argument X of a.b: " of those."""
    assert result["errors"], result
    messages = []
    for error in result["errors"]:
        extensions = error["extensions"]
        assert extensions["code"] == code, error
        assert set(extensions) <= ARGUMENT_KEYS, error  # no stacktrace or internals
        message = error["message"]
        assert "Traceback" not in message and 'File "' not in message
        assert "\n" not in message
        assert not any(secret in message for secret in secrets_of(sandbox))
        if "at" in extensions:
            assert result["data"] is None and "path" not in error
            prefix = f"argument {extensions['argument']} of {'.'.join(extensions['at'])}: "
            assert message.startswith(prefix), message
            message = message[len(prefix) :]
        messages.append(message)
    return messages


async def warm(graph: GraphQuery, sandbox: SandboxServer) -> None:
    await graph("{ resellers { id } }")
    sandbox.control.reset()


REVERSED_RANGE_FIELDS = (
    'organization(id: "cust0000") { usage(range: $r) { voice { seconds } } }',
    'reseller(id: "northwind") { usage(range: $r) { voice { seconds } } }',
    'organization(id: "cust0000") { agents(rankedBy: $r) { id } }',
    'organization(id: "cust0000") { agents { usage(range: $r) { voice { seconds } } } }',
    'organization(id: "cust0000") { users { usage(range: $r) { voice { seconds } } } }',
)


async def test_last_day_before_first_day_is_bad_user_input(
    graph: GraphQuery, sandbox: SandboxServer
) -> None:
    await warm(graph, sandbox)
    for field in REVERSED_RANGE_FIELDS:
        query = f"query ($r: DateRange!) {{ {field} }}"
        result = await graph(query, {"r": {"firstDay": "2026-03-10", "lastDay": "2026-03-09"}})
        messages = assert_clean(result, sandbox, "BAD_USER_INPUT")
        assert all("before" in m and "2026-03-09" in m for m in messages), field
        places = [e["extensions"]["at"][0] for e in result["errors"]]
        assert set(places) <= {"organization", "reseller"}, field
    usage_calls = ("/v1/analytics", "/v1/reports", "/v1/billing", "/express/usage")
    assert sum(sandbox.control.count(path=p) for p in usage_calls) == 0


async def test_the_default_maximum_is_366_days(graph: GraphQuery, sandbox: SandboxServer) -> None:
    first = date(2025, 1, 1)
    ok = await graph(ORG_USAGE, {"first": str(first), "last": str(first + timedelta(days=365))})
    assert "errors" not in ok, ok
    assert ok["data"]["organization"]["usage"]["voice"]["seconds"] >= 0
    sandbox.control.reset()
    too_long = await graph(
        ORG_USAGE, {"first": str(first), "last": str(first + timedelta(days=366))}
    )
    (message,) = assert_clean(too_long, sandbox, "BAD_USER_INPUT")
    assert "367" in message and "366" in message
    assert too_long["errors"][0]["extensions"]["at"] == ["organization", "usage"]
    assert sandbox.control.count(path="/v1/") + sandbox.control.count(path="/express/") == 0


async def test_a_configured_maximum_range_is_enforced(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    settings = sandbox_settings(sandbox, directory_file, graph={"max_range_days": 31})
    async with open_graph(settings) as run:
        ok = await run(ORG_USAGE, {"first": "2026-01-01", "last": "2026-01-31"})
        assert "errors" not in ok, ok
        too_long = await run(ORG_USAGE, {"first": "2026-01-01", "last": "2026-02-01"})
    (message,) = assert_clean(too_long, sandbox, "BAD_USER_INPUT")
    assert "32" in message and "31" in message


BAD_DAYS = ("2026-02-30", "2026-13-01", "20260101", "2026-W10-1", "2026-1-1", "yesterday", "")


async def test_malformed_dates_as_literals_are_bad_user_input(
    graph: GraphQuery, sandbox: SandboxServer
) -> None:
    for bad in BAD_DAYS:
        query = (
            '{ organization(id: "cust0000") { usage(range: {firstDay: "BAD", lastDay: '
            '"2026-03-31"}) { voice { seconds } } } }'
        ).replace("BAD", bad)
        result = await graph(query)
        assert result.get("data") is None, bad
        assert_clean(result, sandbox, "BAD_USER_INPUT")
    result = await graph(
        '{ organization(id: "cust0000") { usage(range: {firstDay: 20260101, lastDay: '
        '"2026-03-31"}) { voice { seconds } } } }'
    )
    assert_clean(result, sandbox, "BAD_USER_INPUT")


async def test_malformed_dates_as_variables_are_bad_user_input(
    graph: GraphQuery, sandbox: SandboxServer
) -> None:
    for bad in (*BAD_DAYS, "31/01/2026", 20260101, None):
        result = await graph(ORG_USAGE, {"first": bad, "last": "2026-03-31"})
        assert result.get("data") is None, bad
        messages = assert_clean(result, sandbox, "BAD_USER_INPUT")
        assert any("$first" in m for m in messages), (bad, messages)


async def test_a_malformed_range_object_is_bad_user_input(
    graph: GraphQuery, sandbox: SandboxServer
) -> None:
    query = """
    query ($r: DateRange!) {
      organization(id: "cust0000") { usage(range: $r) { voice { seconds } } }
    }
    """
    for value in ({"firstDay": "2026-03-01"}, {"firstDay": "2026-03-01", "lastDay": "x"}, "x"):
        result = await graph(query, {"r": value})
        assert_clean(result, sandbox, "BAD_USER_INPUT")


MONTHLY = """
query ($from: String!, $to: String!) {
  organization(id: "cust0000") { monthly(firstMonth: $from, lastMonth: $to) { month } }
}
"""


BAD_MONTHS = (
    ("2026-13", "2026-12", "firstMonth"),
    ("2026-1", "2026-02", "firstMonth"),
    ("26-01", "2026-02", "firstMonth"),
    ("2026/01", "2026-02", "firstMonth"),
    ("", "2026-02", "firstMonth"),
    ("2026-01", "2026-00", "lastMonth"),
    ("2026-01", "2026-01-31", "lastMonth"),
    ("2026-01", "abcd-ef", "lastMonth"),
)


async def test_bad_month_strings_are_bad_user_input(
    graph: GraphQuery, sandbox: SandboxServer
) -> None:
    for first, last, argument in BAD_MONTHS:
        result = await graph(MONTHLY, {"from": first, "to": last})
        (message,) = assert_clean(result, sandbox, "BAD_USER_INPUT")
        assert argument in message and "YYYY-MM" in message, (first, last, message)
        assert result["errors"][0]["extensions"]["at"] == ["organization", "monthly"]


async def test_reversed_or_too_long_month_series_are_bad_user_input(
    graph: GraphQuery, sandbox: SandboxServer
) -> None:
    reversed_months = await graph(MONTHLY, {"from": "2026-05", "to": "2026-04"})
    (message,) = assert_clean(reversed_months, sandbox, "BAD_USER_INPUT")
    assert message == "lastMonth 2026-04 is before firstMonth 2026-05"
    too_long = await graph(MONTHLY, {"from": "2024-01", "to": "2026-01"})  # 25 months
    (message,) = assert_clean(too_long, sandbox, "BAD_USER_INPUT")
    assert message == "the series spans 25 months; at most 24 are allowed"
    longest = await graph(MONTHLY, {"from": "2024-02", "to": "2026-01"})  # 24 months
    assert "errors" not in longest, longest
    months = [m["month"] for m in longest["data"]["organization"]["monthly"]]
    assert (len(months), months[0], months[-1]) == (24, "2024-02", "2026-01")


async def test_a_syntax_error_is_graphql_parse_failed(
    graph: GraphQuery, sandbox: SandboxServer
) -> None:
    result = await graph('{ organization(id: "cust0000" { id }')
    assert result.get("data") is None
    (message,) = assert_clean(result, sandbox, "GRAPHQL_PARSE_FAILED")
    assert message.startswith("Syntax Error")
    assert sandbox.control.count() == 0


INVALID = (
    '{ organization(id: "cust0000") { idd } }',
    "{ nothingHere }",
    '{ organization(id: "cust0000", extra: 1) { id } }',
    '{ organization(id: "cust0000") { usage(range: {firstDay: "2026-01-01", lastDay: '
    '"2026-01-31"}) { voice } } }',
)


async def test_unknown_fields_are_graphql_validation_failed(
    graph: GraphQuery, sandbox: SandboxServer
) -> None:
    for query in INVALID:
        result = await graph(query)
        assert result.get("data") is None, query
        assert_clean(result, sandbox, "GRAPHQL_VALIDATION_FAILED")
    assert sandbox.control.count() == 0


async def test_a_negative_first_is_bad_user_input(
    graph: GraphQuery, sandbox: SandboxServer
) -> None:
    result = await graph('{ organization(id: "cust0000") { agents(first: -1) { id } } }')
    (message,) = assert_clean(result, sandbox, "BAD_USER_INPUT")
    assert message == "first must not be negative, got -1"
    assert result["errors"][0]["extensions"]["at"] == ["organization", "agents"]
    none = await graph('{ organization(id: "cust0000") { agents(first: 0) { id } } }')
    assert none == {"data": {"organization": {"agents": []}}}

"""Limits: query depth, aliases, tokens, introspection, body size, request rate, range span.

Every refusal carries a code in `extensions.code` (GraphQL-shaped, HTTP refusals included), no
stack trace, and costs no upstream call.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.auth import auth_settings, bearer, client_for, started
from tests.fixtures.graph import sandbox_settings
from usagegraph.limits import RateLimiter
from usagegraph.sandbox.server import SandboxServer
from usagegraph.schema import validation as schema_validation
from usagegraph.settings import LimitsSettings, Settings

DEEP = "{ resellers { organizations { reseller { organizations { id } } } } }"  # depth 4


async def post(
    client: httpx.AsyncClient, query: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post("/graphql", json={"query": query}, headers=headers or {})


@asynccontextmanager
async def open_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with started(settings) as app, client_for(app) as client:
        yield client


@pytest.fixture
async def tight(sandbox: SandboxServer, directory_file: Path) -> AsyncIterator[httpx.AsyncClient]:
    """No [auth]; small limits; introspection off."""
    limits = {"max_depth": 3, "max_aliases": 2, "max_tokens": 60, "max_body_bytes": 2048}
    settings = sandbox_settings(
        sandbox, directory_file, limits=limits, server={"introspection": False}
    )
    async with open_client(settings) as client:
        yield client


def assert_refused(body: dict[str, Any], code: str) -> list[str]:
    """The whole operation was refused with `code` on every error, with no trace of internals."""
    assert body.get("data") is None
    assert body["errors"]
    for error in body["errors"]:
        assert error["extensions"] == {"code": code}
        assert set(error) <= {"message", "locations", "extensions"}
    assert "Traceback" not in json.dumps(body)
    return [e["message"] for e in body["errors"]]


async def test_too_deep_a_query_is_refused_before_any_upstream_call(
    tight: httpx.AsyncClient, sandbox: SandboxServer
) -> None:
    sandbox.control.reset()
    response = await post(tight, DEEP)
    assert response.status_code == 200
    messages = assert_refused(response.json(), "QUERY_TOO_COMPLEX")
    assert messages == ["'anonymous' exceeds maximum operation depth of 3 (its depth is 4)"]
    assert sandbox.control.count() == 0
    within = await post(tight, "{ resellers { organizations { reseller { id } } } }")
    assert "errors" not in within.json()


async def test_too_many_aliases_are_refused(
    tight: httpx.AsyncClient, sandbox: SandboxServer
) -> None:
    sandbox.control.reset()
    three = "{ a: resellers { id } b: resellers { id } c: resellers { id } }"
    assert assert_refused((await post(tight, three)).json(), "QUERY_TOO_COMPLEX") == [
        "3 aliases found. Allowed: 2"
    ]
    # aliases hidden in a fragment count too
    fragment = "fragment F on Reseller { x: id y: name } { a: resellers { ...F } }"
    assert_refused((await post(tight, fragment)).json(), "QUERY_TOO_COMPLEX")
    assert sandbox.control.count() == 0
    two = (await post(tight, "{ a: resellers { id } b: resellers { id } }")).json()
    assert len(two["data"]["a"]) == 3


async def test_too_many_tokens_are_refused_before_parsing_the_rest(
    tight: httpx.AsyncClient, sandbox: SandboxServer
) -> None:
    sandbox.control.reset()
    query = "{ resellers { " + "id " * 70 + "} }"
    messages = assert_refused((await post(tight, query)).json(), "QUERY_TOO_COMPLEX")
    assert messages == ["Syntax Error: Document contains more than 60 tokens. Parsing aborted."]
    assert sandbox.control.count() == 0


async def test_introspection_can_be_switched_off(tight: httpx.AsyncClient) -> None:
    for query in ("{ __schema { queryType { name } } }", '{ __type(name: "Reseller") { name } }'):
        messages = assert_refused((await post(tight, query)).json(), "INTROSPECTION_DISABLED")
        assert messages[0].startswith("GraphQL introspection has been disabled")
    # __typename is not introspection of the schema
    assert (await post(tight, "{ __typename }")).json() == {"data": {"__typename": "Query"}}


async def test_the_defaults_allow_introspection_and_ordinary_dashboards(
    graph: Any,
) -> None:
    result = await graph("{ __schema { queryType { name } } }")
    assert result == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    # depth 9; from one organization, so its estimated cost stays under the default
    deep = await graph(
        '{ organization(id: "cust0000") { reseller { organizations { reseller { organizations '
        "{ agents { organization { reseller { id } } } } } } } } }"
    )
    assert "errors" not in deep


def test_default_limits_are_the_documented_ones() -> None:
    assert LimitsSettings() == LimitsSettings(
        max_depth=12,
        max_aliases=30,
        max_cost=1_000_000,
        max_tokens=2000,
        max_body_bytes=65536,
        requests_per_second=20.0,
        burst=100,
    )


async def test_the_default_depth_limit_is_twelve(graph: Any) -> None:
    nested = "reseller { organizations { " * 6 + "id" + " } }" * 6
    result = await graph("{ organizations { " + nested + " } }")  # depth 13
    [error] = result["errors"]
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX"}
    assert error["message"] == "'anonymous' exceeds maximum operation depth of 12 (its depth is 13)"


async def test_a_body_over_the_limit_is_a_413_before_parsing(
    tight: httpx.AsyncClient, sandbox: SandboxServer
) -> None:
    sandbox.control.reset()
    padding = "#" + "x" * 3000 + "\n"
    response = await post(tight, padding + "{ resellers { id } }")
    assert response.status_code == 413
    assert response.json() == {
        "errors": [
            {
                "message": "request body exceeds 2048 bytes",
                "extensions": {"code": "PAYLOAD_TOO_LARGE"},
            }
        ]
    }

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        body = json.dumps({"query": padding + "{ resellers { id } }"}).encode()
        for start in range(0, len(body), 500):
            yield body[start : start + 500]

    streamed = await tight.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert streamed.json()["errors"][0]["extensions"] == {"code": "PAYLOAD_TOO_LARGE"}
    assert sandbox.control.count() == 0
    small = await post(tight, "{ resellers { id } }")
    assert small.status_code == 200


async def test_a_query_string_over_the_limit_is_a_414(tight: httpx.AsyncClient) -> None:
    query = "{ resellers { id } }" + " " * 3000
    response = await tight.get("/graphql", params={"query": query})
    assert response.status_code == 414
    assert response.json()["errors"][0]["extensions"] == {"code": "URI_TOO_LONG"}


async def test_each_key_has_its_own_rate_limit(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    limits = {"requests_per_second": 0.01, "burst": 2}
    async with open_client(auth_settings(sandbox, directory_file, limits=limits)) as client:
        statuses = [(await post(client, "{ __typename }", bearer("ops"))).status_code]
        statuses.append((await post(client, "{ __typename }", bearer("ops"))).status_code)
        refused = await post(client, "{ __typename }", bearer("ops"))
        assert statuses == [200, 200]
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "100"
        assert refused.json() == {
            "errors": [
                {
                    "message": "too many requests: retry after 100 s",
                    "extensions": {"code": "RATE_LIMITED"},
                }
            ]
        }
        # another key has its own bucket
        other = await post(client, "{ __typename }", bearer("northwind"))
        assert other.status_code == 200
        # a wrong key is a 401 whatever the rate
        wrong = await post(client, "{ __typename }", {"Authorization": "Bearer nope"})
        assert wrong.status_code == 401


async def test_without_auth_the_rate_limit_is_per_client_address(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    settings = sandbox_settings(
        sandbox, directory_file, limits={"requests_per_second": 1, "burst": 1}
    )
    async with started(settings) as app:
        clients = {
            ip: httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=(ip, 40000)),
                base_url="http://usagegraph",
            )
            for ip in ("10.0.0.1", "10.0.0.2")
        }
        try:
            first = await post(clients["10.0.0.1"], "{ __typename }")
            again = await post(clients["10.0.0.1"], "{ __typename }")
            elsewhere = await post(clients["10.0.0.2"], "{ __typename }")
        finally:
            for client in clients.values():
                await client.aclose()
    assert (first.status_code, again.status_code, elsewhere.status_code) == (200, 429, 200)
    assert again.headers["retry-after"] == "1"


async def test_a_zero_rate_turns_the_limit_off(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    settings = sandbox_settings(
        sandbox, directory_file, limits={"requests_per_second": 0, "burst": 1}
    )
    async with open_client(settings) as client:
        statuses = {(await post(client, "{ __typename }")).status_code for _ in range(5)}
        assert statuses == {200}


def test_the_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(2.0, 3, clock=lambda: now[0])
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") == pytest.approx(0.5)  # one token every 0.5 s
    now[0] = 0.5
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") == pytest.approx(0.5)
    now[0] = 100.0  # refills up to the burst, not beyond
    assert [limiter.acquire("a") for _ in range(4)][-1] == pytest.approx(0.5)
    assert limiter.acquire("b") == 0.0  # another caller, another bucket


def test_the_token_bucket_forgets_the_least_recent_callers() -> None:
    limiter = RateLimiter(1.0, 1, clock=lambda: 0.0, max_buckets=2)
    for caller in ("a", "b", "c"):
        assert limiter.acquire(caller) == 0.0
    assert limiter.acquire("c") == pytest.approx(1.0)  # still known
    assert limiter.acquire("a") == 0.0  # evicted: starts with a full bucket again


async def test_too_long_a_range_is_bad_user_input_without_upstream_calls(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    settings = sandbox_settings(sandbox, directory_file, graph={"max_range_days": 31})
    async with open_client(settings) as client:
        await post(client, "{ organizations { id } }")  # discovery first
        sandbox.control.reset()
        query = (
            '{ organization(id: "cust0000") { usage(range: {firstDay: "2025-01-01", '
            'lastDay: "2025-02-01"}) { voice { seconds } } } }'
        )
        body = (await post(client, query)).json()
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "31" in error["message"]
        assert sandbox.control.count() == 0


async def test_limits_are_per_app(sandbox: SandboxServer, directory_file: Path) -> None:
    two_aliases = "{ a: __typename b: __typename }"
    strict = sandbox_settings(sandbox, directory_file, limits={"max_aliases": 1})
    async with open_client(strict) as client:
        assert_refused((await post(client, two_aliases)).json(), "QUERY_TOO_COMPLEX")
    async with open_client(sandbox_settings(sandbox, directory_file)) as client:
        assert (await post(client, two_aliases)).json() == {"data": {"a": "Query", "b": "Query"}}


async def test_a_repeated_operation_is_parsed_and_validated_once_and_still_limited(
    tight: httpx.AsyncClient, parsed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    check = schema_validation.check_document

    def counting(graphql_schema: Any, document: Any, limits: Any) -> Any:
        checked.append(document.loc.source.body)
        return check(graphql_schema, document, limits)

    monkeypatch.setattr(schema_validation, "check_document", counting)
    query = "{ resellers { id name } }"
    first = (await post(tight, query)).json()

    again = (await post(tight, query)).json()

    assert again == first and "errors" not in again
    assert parsed == [query]
    assert checked == [query]
    # text that does not parse is never kept: each attempt is refused with its code
    broken = "{ resellers { id "
    for _ in range(2):
        assert assert_refused((await post(tight, broken)).json(), "GRAPHQL_PARSE_FAILED")
    assert parsed == [query, broken, broken]
    # a refusal is remembered as one too
    for _ in range(2):
        assert assert_refused((await post(tight, DEEP)).json(), "QUERY_TOO_COMPLEX") == [
            "'anonymous' exceeds maximum operation depth of 3 (its depth is 4)"
        ]
    assert checked == [query, DEEP]

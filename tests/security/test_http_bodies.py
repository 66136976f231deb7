"""Findings 2 and 6 (HTTP): hostile request bodies and parameters are 400s, never 500s.

Before: a JSON body that was not an object (`42`, `"x"`, `null`), a body that was not UTF-8,
a number of more than 4,300 digits, or JSON nested ~3,000 deep (in the body or in GET
`variables` / `extensions`) answered a plain-text 500 without a request id; `"operationName": 5`
answered 200 with a raw Python message and no code; a document with two operations and no
`operationName` ran the first one. Now every answer of /graphql that is not a 200 is
GraphQL-shaped JSON with an `extensions.code` and the `X-Request-Id` header, nothing runs, and
no vendor is called.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.auth import auth_settings, bearer, client_for, started
from tests.fixtures.graph import sandbox_settings
from usagegraph.jsonbounds import JsonRefused, loads_bounded
from usagegraph.observability.logs import configure_logging
from usagegraph.sandbox.server import SandboxServer

JSON = {"content-type": "application/json"}
QUERY = "{ resellers { id } }"
DEEP = "[" * 3000 + "]" * 3000
HUGE_INT = "1" * 5000


def body(text: str | bytes) -> dict[str, Any]:
    return {"content": text.encode() if isinstance(text, str) else text, "headers": JSON}


def assert_shaped(response: httpx.Response, status: int, code: str) -> str:
    """`response` is `status`, GraphQL-shaped JSON with one error of `code`, no data, with a
    request id; returns the error's message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"]
    payload = response.json()
    assert set(payload) == {"errors"}
    [error] = payload["errors"]
    assert error["extensions"]["code"] == code
    assert "Traceback" not in response.text
    return str(error["message"])


@pytest.fixture
async def client(sandbox: SandboxServer, directory_file: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = sandbox_settings(sandbox, directory_file, limits={"requests_per_second": 0})
    async with started(settings) as app, client_for(app) as http:
        http.app = app  # type: ignore[attr-defined]
        yield http


# -- finding 2: bodies ----------------------------------------------------------------------------

HOSTILE_POSTS: dict[str, tuple[dict[str, Any], str]] = {
    "a number": (body("42"), "the body must be a JSON object"),
    "a string": (body('"x"'), "the body must be a JSON object"),
    "null": (body("null"), "the body must be a JSON object"),
    "true": (body("true"), "the body must be a JSON object"),
    "an empty list": (body("[]"), "batched requests are not supported"),
    "a batch": (body(json.dumps([{"query": QUERY}] * 2)), "batched requests are not supported"),
    "not UTF-8": (body(b'{"query": "{ resellers { id } }\xff\xfe"}'), "the body is not UTF-8"),
    "Latin-1": (body('{"query": "{ é }"}'.encode("latin-1")), "the body is not UTF-8"),
    "5,000 digits in variables": (
        body('{"query": "{ __typename }", "variables": {"n": ' + HUGE_INT + "}}"),
        "a JSON number is longer than 100 characters",
    ),
    "5,000 digits as the body": (body(HUGE_INT), "a JSON number is longer than 100 characters"),
    "a long float": (
        body('{"query": "{ __typename }", "variables": {"n": 0.' + "1" * 500 + "}}"),
        "a JSON number is longer than 100 characters",
    ),
    "1e999": (body('{"query": "{ __typename }", "variables": {"n": 1e999}}'), "out of range"),
    "NaN": (body('{"query": "{ __typename }", "variables": {"n": NaN}}'), "NaN is not JSON"),
    "nested 3,000 deep": (body(DEEP), "JSON nested deeper than 32 levels"),
    "nested 3,000 deep in variables": (
        body('{"query": "{ __typename }", "variables": {"v": ' + DEEP + "}}"),
        "JSON nested deeper than 32 levels",
    ),
    "nested 3,000 deep in extensions": (
        body('{"query": "{ __typename }", "extensions": {"persistedQuery": ' + DEEP + "}}"),
        "JSON nested deeper than 32 levels",
    ),
    "nested 33 deep": (
        body('{"query": "{ __typename }", "variables": {"v": ' + "[" * 32 + "]" * 32 + "}}"),
        "JSON nested deeper than 32 levels",
    ),
    "a lone surrogate": (body('{"query": "{ __typename \\ud800 }"}'), "unpaired UTF-16"),
    "invalid JSON": (body('{"query": '), "invalid JSON"),
    "an empty body": (body(""), "invalid JSON"),
    "trailing garbage": (body('{"query": "{ __typename }"} x'), "invalid JSON"),
    "no query": (body("{}"), "No GraphQL query found in the request"),
    "an empty query": (body('{"query": ""}'), "No GraphQL query found in the request"),
    "a query that is a number": (body('{"query": 5}'), "`query` must be a string"),
    "a query that is a list": (body('{"query": ["{ a }"]}'), "`query` must be a string"),
    "variables that are a string": (
        body('{"query": "{ __typename }", "variables": "x"}'),
        "`variables` must be an object or null",
    ),
    "variables that are a list": (
        body('{"query": "{ __typename }", "variables": []}'),
        "`variables` must be an object or null",
    ),
    "extensions that are a number": (
        body('{"query": "{ __typename }", "extensions": 1}'),
        "`extensions` must be an object or null",
    ),
    "text/plain": (
        {"content": json.dumps({"query": QUERY}), "headers": {"content-type": "text/plain"}},
        "Content-Type: application/json",
    ),
    "a form": (
        {"data": {"query": QUERY}},  # application/x-www-form-urlencoded
        "Content-Type: application/json",
    ),
    "no content type": ({"content": json.dumps({"query": QUERY})}, "application/json"),
    "JSON in another charset": (
        {
            "content": json.dumps({"query": QUERY}),
            "headers": {"content-type": "application/json; charset=latin-1"},
        },
        "Content-Type: application/json",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE_POSTS), ids=list(HOSTILE_POSTS))
async def test_a_hostile_body_is_a_400_bad_request_and_nothing_runs(
    client: httpx.AsyncClient, sandbox: SandboxServer, case: str
) -> None:
    kwargs, expected = HOSTILE_POSTS[case]
    sandbox.control.reset()

    response = await client.post("/graphql", **kwargs)

    assert expected in assert_shaped(response, 400, "BAD_REQUEST")
    assert sandbox.control.count() == 0


HOSTILE_GETS: dict[str, tuple[dict[str, str], str]] = {
    "variables nested 3,000 deep": (
        {"query": "{ __typename }", "variables": DEEP},
        "JSON nested deeper than 32 levels",
    ),
    "extensions nested 3,000 deep": (
        {"query": "{ __typename }", "extensions": '{"a": ' + DEEP + "}"},
        "JSON nested deeper than 32 levels",
    ),
    "a persisted query nested 3,000 deep": (
        {"extensions": '{"persistedQuery": ' + DEEP + "}"},
        "JSON nested deeper than 32 levels",
    ),
    "5,000 digits in variables": (
        {"query": "{ __typename }", "variables": '{"n": ' + HUGE_INT + "}"},
        "a JSON number is longer than 100 characters",
    ),
    "variables that are not JSON": (
        {"query": "{ __typename }", "variables": "{oops"},
        "invalid JSON",
    ),
    "variables that are a list": (
        {"query": "{ __typename }", "variables": "[1]"},
        "`variables` must be an object or null",
    ),
    "extensions that are a string": (
        {"query": "{ __typename }", "extensions": '"x"'},
        "`extensions` must be an object or null",
    ),
    "an operation name that is no name": (
        {"query": "{ __typename }", "operationName": "a b"},
        "`operationName` must be the name",
    ),
    "an empty query": ({"query": ""}, "No GraphQL query found in the request"),
}


@pytest.mark.parametrize("case", list(HOSTILE_GETS), ids=list(HOSTILE_GETS))
async def test_hostile_get_parameters_are_a_400_bad_request(
    client: httpx.AsyncClient, sandbox: SandboxServer, case: str
) -> None:
    params, expected = HOSTILE_GETS[case]
    sandbox.control.reset()

    response = await client.get("/graphql", params=params)

    assert expected in assert_shaped(response, 400, "BAD_REQUEST")
    assert sandbox.control.count() == 0


async def test_a_mutation_over_get_is_a_405_allowing_post(
    client: httpx.AsyncClient, sandbox: SandboxServer
) -> None:
    sandbox.control.reset()

    response = await client.get("/graphql", params={"query": "mutation { x }"})

    # the GraphQL-over-HTTP spec: MUST be 405 (GET is a safe method)
    message = assert_shaped(response, 405, "METHOD_NOT_ALLOWED")
    assert message == "mutations are not allowed when using GET"
    assert response.headers["allow"] == "POST"
    assert sandbox.control.count() == 0


async def test_a_query_string_that_is_not_utf8_is_answered_not_crashed(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/graphql?query=%7B%20__typename%20%FF%7D")

    # starlette decodes it with replacement characters: a syntax error, with its code
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


def test_the_decoder_refuses_the_worst_bodies_quickly() -> None:
    """What a 64 KB body can do to the decoder: each refused (or decoded) in well under the
    50 ms an event loop may be held."""
    worst = {
        "64 KB of [": "[" * 65536,
        "64 KB of {": '{"a":' * 13000,
        "21,000 flat lists": "[" + "[]," * 21000 + "[]]",
        "a 64 KB number": "9" * 65536,
        "64 KB of escaped surrogates": '["' + "\\ud800" * 10000 + '"]',
        "32,000 short strings": "[" + '"a",' * 16000 + '"a"]',
    }
    for name, text in worst.items():
        best = float("inf")
        for _ in range(3):  # the least disturbed of three runs: the machine is shared
            started_at = time.perf_counter()
            with contextlib.suppress(JsonRefused):
                loads_bounded(text)
            best = min(best, time.perf_counter() - started_at)
        assert best < 0.05, f"{name}: {best * 1000:.1f} ms"


async def test_the_worst_accepted_body_is_decoded_once_and_answered_quickly(
    client: httpx.AsyncClient,
) -> None:
    """60 KB of small lists in `variables` (valid, and ignored by the operation): decoded
    once for the check and handed to Strawberry as is, the whole request stays well under
    the 50 ms an event loop may be held."""
    flat = "[" + "[]," * 20000 + "[]]"
    sent = '{"query": "{ __typename }", "variables": {"unused": ' + flat + "}}"
    best = float("inf")
    for _ in range(3):
        started_at = time.perf_counter()
        response = await client.post("/graphql", content=sent, headers=JSON)
        best = min(best, time.perf_counter() - started_at)
        assert response.json() == {"data": {"__typename": "Query"}}
    assert best < 0.05, f"{best * 1000:.1f} ms"


# -- finding 6 (HTTP): operationName --------------------------------------------------------------


@pytest.mark.parametrize("name", [5, 1.5, True, [], {}, "", "not a name", "x" * 3 + "-"])
async def test_an_operation_name_that_is_not_a_name_is_a_400(
    client: httpx.AsyncClient, name: object
) -> None:
    response = await client.post("/graphql", json={"query": QUERY, "operationName": name})

    message = assert_shaped(response, 400, "BAD_REQUEST")
    assert message == (
        "the GraphQL operation's `operationName` must be the name of one of the document's "
        "operations, or null"
    )


async def test_an_unknown_operation_name_is_a_request_error_in_json(
    client: httpx.AsyncClient, sandbox: SandboxServer
) -> None:
    sandbox.control.reset()

    response = await client.post(
        "/graphql", json={"query": "query A { __typename }", "operationName": "B"}
    )

    # application/json (httpx sends Accept: */*): a request error is a 200, like a
    # validation failure (the GraphQL-over-HTTP spec); GraphiQL shows it, not a JSON error
    assert response.status_code == 200
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": 'Unknown operation named "B".',
                "extensions": {"code": "OPERATION_RESOLUTION_FAILURE"},
            }
        ],
    }
    assert sandbox.control.count() == 0


async def test_several_operations_without_a_name_run_none(
    client: httpx.AsyncClient, sandbox: SandboxServer
) -> None:
    document = "query A { resellers { id } } query B { organizations { id } }"
    sandbox.control.reset()

    refused = await client.post("/graphql", json={"query": document})

    assert refused.status_code == 200
    payload = refused.json()
    assert payload["data"] is None
    [error] = payload["errors"]
    assert error["message"] == "Must provide operation name if query contains multiple operations."
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert sandbox.control.count() == 0  # nothing executed, so not even discovery
    # named, the same document runs that one operation
    named = await client.post("/graphql", json={"query": document, "operationName": "B"})
    assert set(named.json()["data"]) == {"organizations"}
    # and over GET too
    get = await client.get("/graphql", params={"query": document})
    assert get.json()["errors"][0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}


async def test_one_operation_with_fragments_needs_no_name(client: httpx.AsyncClient) -> None:
    document = "fragment F on Reseller { id } { resellers { ...F } }"

    response = await client.post("/graphql", json={"query": document})

    assert response.json()["data"]["resellers"]


# -- every non-200 is GraphQL-shaped ---------------------------------------------------------------


async def test_other_methods_are_a_graphql_shaped_405(client: httpx.AsyncClient) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        response = await client.request(method, "/graphql", json={"query": QUERY})
        assert_shaped(response, 405, "METHOD_NOT_ALLOWED")
        assert "GET" in response.headers["allow"]


async def test_the_gates_refusals_are_graphql_shaped_with_their_headers(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    limits = {"requests_per_second": 0.01, "burst": 1, "max_body_bytes": 2048}
    settings = auth_settings(sandbox, directory_file, limits=limits)
    async with started(settings) as app, client_for(app) as http:
        missing = await http.post("/graphql", json={"query": QUERY})
        first = await http.post("/graphql", json={"query": QUERY}, headers=bearer("ops"))
        limited = await http.post("/graphql", json={"query": QUERY}, headers=bearer("ops"))
        big = await http.post(
            "/graphql", json={"query": "#" + "x" * 3000 + "\n" + QUERY}, headers=bearer("eastgate")
        )
        long_get = await http.get(
            "/graphql", params={"query": QUERY + " " * 3000}, headers=bearer("northwind")
        )

    assert_shaped(missing, 401, "UNAUTHORIZED")
    assert missing.headers["www-authenticate"] == "Bearer"
    assert first.status_code == 200
    assert_shaped(limited, 429, "RATE_LIMITED")
    assert limited.headers["retry-after"] == "100"
    assert_shaped(big, 413, "PAYLOAD_TOO_LARGE")
    assert_shaped(long_get, 414, "URI_TOO_LONG")


async def test_the_ide_page_when_graphiql_is_off_is_a_graphql_shaped_404(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    settings = sandbox_settings(sandbox, directory_file, server={"graphiql": False})
    async with started(settings) as app, client_for(app) as http:
        response = await http.get("/graphql", headers={"accept": "text/html"})

    assert_shaped(response, 404, "NOT_FOUND")


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    logger = logging.getLogger("usagegraph")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    yield stream
    logger.handlers[:], logger.level, logger.propagate = saved


class _BrokenStore:
    async def get(self, sha256: str) -> str | None:
        raise RuntimeError("the store broke: secret-detail-42")

    async def set(self, sha256: str, query: str, *, owner: str) -> bool:
        raise RuntimeError("the store broke: secret-detail-42")

    async def close(self) -> None:
        pass


async def test_an_unexpected_error_is_a_masked_500_with_the_request_id(
    client: httpx.AsyncClient, json_log: io.StringIO
) -> None:
    app: FastAPI = client.app  # type: ignore[attr-defined]
    working = app.state.persisted_store
    app.state.persisted_store = _BrokenStore()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": "a" * 64}}
    try:
        response = await client.post(
            "/graphql", json={"extensions": extensions}, headers={"X-Request-Id": "boom-1"}
        )
    finally:
        app.state.persisted_store = working

    message = assert_shaped(response, 500, "INTERNAL_SERVER_ERROR")
    assert message == "Internal server error (request id boom-1)"
    assert response.json()["errors"][0]["extensions"]["requestId"] == "boom-1"
    assert response.headers["x-request-id"] == "boom-1"
    assert "secret-detail-42" not in response.text
    # the traceback stays in the log, under the same request id
    lines = [json.loads(line) for line in json_log.getvalue().splitlines() if line]
    [logged] = [line for line in lines if line["logger"] == "usagegraph.http"]
    assert logged["request_id"] == "boom-1"
    assert "secret-detail-42" in logged["exc_info"]


# -- a time-bounded fuzz pass over request bodies --------------------------------------------------

FUZZ_SECONDS = 4.0
_SCALARS: list[Any] = [None, True, False, 0, -1, 2**31, 1.5, "", "x", "{ __typename }", "\u0000"]


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 4 or roll < 0.4:
        return rng.choice(_SCALARS)
    if roll < 0.7:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = ["query", "operationName", "variables", "extensions", "persistedQuery", "x"]
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def _random_body(rng: random.Random) -> bytes:
    """A request body: random JSON, a valid request with a field swapped for random JSON, or
    a valid body with bytes flipped, cut or repeated."""
    valid = {
        "query": "query Q($id: ID!) { organization(id: $id) { id } }",
        "operationName": "Q",
        "variables": {"id": "cust0000"},
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}},
    }
    kind = rng.random()
    if kind < 0.3:
        return json.dumps(_random_json(rng)).encode()
    if kind < 0.6:
        changed = dict(valid)
        changed[rng.choice(list(valid))] = _random_json(rng)
        if rng.random() < 0.5:
            changed.pop("extensions", None)
        return json.dumps(changed).encode()
    raw = bytearray(json.dumps(valid).encode())
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(len(raw))
        action = rng.random()
        if action < 0.4:
            raw[at] = rng.randrange(256)
        elif action < 0.7:
            del raw[at:]
            if not raw:
                break
        else:
            raw[at:at] = raw[at : at + rng.randint(1, 20)] * rng.randint(1, 50)
    return bytes(raw)


async def test_fuzzed_bodies_are_never_a_500_nor_unshaped(client: httpx.AsyncClient) -> None:
    rng = random.Random(14)  # reproducible: a failure names its body
    deadline = time.monotonic() + FUZZ_SECONDS
    seen = 0
    while time.monotonic() < deadline:
        sent = _random_body(rng)
        response = await client.post("/graphql", content=sent, headers=JSON)
        seen += 1
        assert response.status_code in (200, 400), (sent, response.text)
        assert response.headers["x-request-id"]
        payload = response.json()
        for error in payload.get("errors", []):
            assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", (sent, payload)
        if response.status_code == 400:
            assert set(payload) == {"errors"}, (sent, payload)
    assert seen > 50

"""A time-bounded fuzz pass over what anyone may send to /graphql: request bodies and GraphQL
documents, valid and broken, through the whole app over the sandbox.

Whatever comes in, the answer is prompt, JSON, GraphQL-shaped, carries a request id and an
`extensions.code` on every error, and is never a 500, an INTERNAL_SERVER_ERROR or a stack trace.
`make test` runs a short, derandomized pass; `make fuzz` a longer one (`USAGEGRAPH_FUZZ_EXAMPLES`);
`USAGEGRAPH_FUZZ_RANDOM=1` draws new examples each run, for exploring.

Known, from earlier random runs: a document whose non-null field failed (e.g. a reversed range)
inside a list whose items were still resolving left graphql-core coroutines that were never
awaited. Such arguments are now refused before execution (schema/arguments.py, issue 16;
tests/schema/test_argument_checks.py checks no such warning is left).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, nodes

from tests.fixtures.graph import sandbox_settings
from usagegraph.app import create_app
from usagegraph.sandbox.server import SandboxServer
from usagegraph.schema import schema

EXAMPLES = int(os.environ.get("USAGEGRAPH_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # each answer's time is asserted below, with the server's own bound
    derandomize=os.environ.get("USAGEGRAPH_FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# one answer may take this long at most (upstream calls to the loopback sandbox included)
PROMPT_SECONDS = 5.0
SDL = schema.as_str()

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)
# request bodies: the GraphQL keys with any value, or anything at all
BODIES = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "query": st.one_of(st.text(max_size=200), JSON),
            "variables": JSON,
            "operationName": JSON,
            "extensions": JSON,
        },
    ),
    JSON,
)
DATES = st.dates(min_value=date(2020, 1, 1), max_value=date(2028, 12, 31)).map(
    lambda d: nodes.String(d.isoformat())
)
SCALARS = {
    "Date": DATES,
    "Decimal": st.decimals(allow_nan=False).map(lambda d: nodes.String(str(d))),
}


class AppClient:
    """The app, started on an event loop of its own, called synchronously (hypothesis's
    examples are plain functions): real ASGI requests, no server in between."""

    def __init__(self, app: FastAPI) -> None:
        self.loop = asyncio.new_event_loop()
        self._stack = AsyncExitStack()
        self._client = self.loop.run_until_complete(self._start(app))

    async def _start(self, app: FastAPI) -> httpx.AsyncClient:
        await self._stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        return await self._stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://usagegraph")
        )

    def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        return self.loop.run_until_complete(self._client.request(method, url, **options))

    def close(self) -> None:
        self.loop.run_until_complete(self._stack.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def client(
    _sandbox_server: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppClient]:
    directory = tmp_path_factory.mktemp("fuzz") / "directory.toml"
    directory.write_text(_sandbox_server.dataset.directory_toml(), encoding="utf-8")
    # no request rate limit: the fuzzer sends far faster than one caller may
    settings = sandbox_settings(_sandbox_server, Path(directory), limits={"requests_per_second": 0})
    app_client = AppClient(create_app(settings))
    app_client.request("POST", "/graphql", json={"query": "{ resellers { id } }"})  # discovery
    try:
        yield app_client
    finally:
        app_client.close()


def assert_well_answered(response: Any, took: float) -> None:
    assert took < PROMPT_SECONDS, f"took {took:.1f} s"
    assert response.status_code != 500 and response.status_code < 500, response.text[:300]
    assert response.headers.get("x-request-id")
    text = response.text
    assert "Traceback" not in text and 'File "' not in text
    body = response.json()
    assert isinstance(body, dict), text[:300]
    if response.status_code != 200 or "data" not in body:
        assert body.get("errors"), text[:300]
    for error in body.get("errors") or ():
        code = (error.get("extensions") or {}).get("code")
        assert isinstance(code, str) and code, error
        assert code != "INTERNAL_SERVER_ERROR", error


def post(client: AppClient, content: bytes, content_type: str = "application/json") -> Any:
    started = time.perf_counter()
    response = client.request(
        "POST", "/graphql", content=content, headers={"content-type": content_type}
    )
    assert_well_answered(response, time.perf_counter() - started)
    return response


@FUZZ
@given(body=BODIES)
def test_any_json_body_is_answered_well(client: AppClient, body: Any) -> None:
    post(client, json.dumps(body).encode())


@FUZZ
@given(raw=st.binary(max_size=300))
def test_any_bytes_are_answered_well(client: AppClient, raw: bytes) -> None:
    post(client, raw)


@FUZZ
@given(query=from_schema(SDL, custom_scalars=SCALARS))
def test_valid_documents_never_fail_inside(client: AppClient, query: str) -> None:
    response = post(client, json.dumps({"query": query}).encode())
    assert response.status_code == 200


@FUZZ
@given(query=from_schema(SDL, custom_scalars=SCALARS, mode=Mode.NEGATIVE))
def test_documents_breaking_the_schema_are_refused_with_a_code(
    client: AppClient, query: str
) -> None:
    response = post(client, json.dumps({"query": query}).encode())
    assert response.json().get("errors")


@FUZZ
@given(query=st.text(max_size=300), variables=JSON)
def test_any_text_as_a_query_is_answered_well(
    client: AppClient, query: str, variables: Any
) -> None:
    post(client, json.dumps({"query": query, "variables": variables}).encode())
    started = time.perf_counter()
    params = {"query": query, "variables": json.dumps(variables)}
    response = client.request("GET", "/graphql", params=params)
    assert_well_answered(response, time.perf_counter() - started)

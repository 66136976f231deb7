"""The request body is read from the client once per request, whatever layers need it.

The gate bounds it, the persisted-query middleware looks for a hash in it (and may swap the hash
for the stored query), `RequestCheck` decodes it and the router runs it: all of them share the
bytes the gate read (usagegraph/request_body.py). These tests drive the whole app with an ASGI
`receive` that counts what the app asks of the client, chunk by chunk.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.types import Message

from tests.fixtures.auth import started
from tests.fixtures.graph import sandbox_settings
from usagegraph.persisted import sha256_hex
from usagegraph.sandbox.server import SandboxServer

QUERY = "{ resellers { id } }"
MAX_BODY = 2048


@dataclass
class Exchange:
    """One request through the app: what it asked of the client, and what it answered."""

    chunks_read: int = 0  # http.request messages the app took from the client
    receive_calls: int = 0  # before its answer was complete
    status: int = 0
    body: bytes = b""
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def json(self) -> Any:
        return json.loads(self.body)


async def send_request(
    app: FastAPI, chunks: list[bytes], *, headers: dict[str, str] | None = None
) -> Exchange:
    """POST /graphql with a body sent in `chunks`, like a client streaming it."""
    exchange = Exchange()
    pending = list(chunks)

    async def receive() -> Message:
        if not exchange.done.is_set():
            exchange.receive_calls += 1
        if pending:
            exchange.chunks_read += 1
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending)}
        # a layer going back to the client for the body again finds nothing more to read
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            exchange.status = message["status"]
        elif message["type"] == "http.response.body":
            exchange.body += message.get("body", b"")
            if not message.get("more_body", False):
                exchange.done.set()

    raw_headers = {"content-type": "application/json", **(headers or {})}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"usagegraph")]
        + [(k.encode(), v.encode()) for k, v in raw_headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("usagegraph", 80),
        "state": {},
    }
    await app(scope, receive, send)
    return exchange


def split(body: bytes, parts: int) -> list[bytes]:
    size = -(-len(body) // parts)
    return [body[i : i + size] for i in range(0, len(body), size)]


@pytest.fixture
async def app(sandbox: SandboxServer, directory_file: Path) -> AsyncIterator[FastAPI]:
    limits = {"max_body_bytes": MAX_BODY, "requests_per_second": 0}
    async with started(sandbox_settings(sandbox, directory_file, limits=limits)) as started_app:
        yield started_app


async def test_a_query_sent_in_three_chunks_is_read_from_the_client_once(app: FastAPI) -> None:
    body = json.dumps({"query": QUERY}).encode()

    exchange = await send_request(app, split(body, 3))

    assert exchange.status == 200
    assert exchange.json()["data"]["resellers"]
    assert exchange.chunks_read == 3
    assert exchange.receive_calls == 3  # no layer went back to the client for a copy


async def test_a_persisted_hash_swapped_for_its_query_reads_the_client_once(
    app: FastAPI,
) -> None:
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(QUERY)}}
    register = json.dumps({"query": QUERY, "extensions": extensions}).encode()
    by_hash = json.dumps({"extensions": extensions}).encode()

    registered = await send_request(app, split(register, 2))
    ran = await send_request(app, split(by_hash, 2))

    assert registered.status == ran.status == 200
    # the router ran the stored query the middleware put in place of the hash
    assert ran.json() == registered.json()
    assert ran.json()["data"]["resellers"]
    assert (registered.receive_calls, ran.receive_calls) == (2, 2)


async def test_a_body_over_the_limit_is_refused_once_it_crosses_it(app: FastAPI) -> None:
    body = json.dumps({"query": "#" + "x" * 3000 + "\n" + QUERY}).encode()  # > 2,048 bytes
    chunks = split(body, 4)  # about 760 bytes each: the third crosses the limit

    exchange = await send_request(app, chunks)

    assert exchange.status == 413
    [error] = exchange.json()["errors"]
    assert error["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert error["message"] == f"request body exceeds {MAX_BODY} bytes"
    assert exchange.chunks_read == 3  # the fourth was never asked for


async def test_a_declared_length_over_the_limit_is_refused_before_reading(app: FastAPI) -> None:
    body = json.dumps({"query": "#" + "x" * 3000 + "\n" + QUERY}).encode()

    exchange = await send_request(app, split(body, 2), headers={"content-length": str(len(body))})

    assert exchange.status == 413
    assert exchange.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert exchange.chunks_read == 0


async def test_a_body_that_is_not_json_is_a_bad_request_read_once(app: FastAPI) -> None:
    exchange = await send_request(app, [b'{"query": ', b"oops"])

    assert exchange.status == 400
    assert exchange.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert exchange.receive_calls == 2

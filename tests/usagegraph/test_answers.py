"""The answer layer through the app, against the sandbox over real HTTP: identical concurrent
operations execute once (cache on or off), kept answers are served without executing for as long
as what they read is fresh, never across scopes, never with errors or live state; GET answers
carry an ETag and a matching If-None-Match is a 304; /metrics counts each outcome and the bytes
kept; Redis shares answers between replicas and its hostile bytes are a miss."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from starlette.types import Receive, Scope, Send

from tests.fixtures.auth import auth_settings, bearer
from tests.fixtures.cached_graph import (
    DASHBOARD,
    FAST,
    Clock,
    month_vars,
    result_cache,
    serving,
)
from tests.fixtures.graph import tuned_sandbox_settings
from usagegraph.answers import AnswerLayer, MemoryAnswers, StoredAnswer
from usagegraph.answers.key import DocumentPrints
from usagegraph.persisted import sha256_hex
from usagegraph.resolvers.freshness import note_fresh_for
from usagegraph.resolvers.scope import EVERYONE
from usagegraph.sandbox.dataset import Dataset
from usagegraph.sandbox.server import SandboxServer

pytestmark = pytest.mark.usefixtures("directory_file")

ORG_USAGE = (
    "query Org($id: ID!, $first: Date!, $last: Date!) { organization(id: $id) { id "
    "usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } } } }"
)


async def answer(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[dict[str, Any], str]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json(), response.headers.get("x-answer-cache", "")


def outcomes(metrics: str) -> dict[str, float]:
    prefix = 'usagegraph_answer_cache_requests_total{outcome="'
    found: dict[str, float] = {}
    for line in metrics.splitlines():
        if line.startswith(prefix):
            label, _, value = line[len(prefix) :].partition('"} ')
            found[label] = float(value)
    return found


# -- coalescing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cache", [{"enabled": False}, {}], ids=["cache-off", "cache-on"])
async def test_16_identical_concurrent_requests_execute_once(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset, cache: dict[str, Any]
) -> None:
    settings = tuned_sandbox_settings(sandbox, directory_file, FAST, cache=cache)
    first = date.fromisoformat(month_vars(dataset)["first"])
    week = [
        {"first": str(first + timedelta(days=d)), "last": str(first + timedelta(days=d + 6))}
        for d in (0, 7)
    ]
    async with serving(settings) as (_, client):
        # discovery, tokens and user lists out of the way: what is left is one week's reports
        await answer(client, DASHBOARD, month_vars(dataset))
        sandbox.control.reset()
        one, _ = await answer(client, DASHBOARD, week[0])
        calls_of_one = sandbox.control.count()
        sandbox.control.reset()
        sandbox.control.inject(latency_ms=300)  # every call slow: all 16 arrive while it runs
        many = await asyncio.gather(*(answer(client, DASHBOARD, week[1]) for _ in range(16)))
        calls_of_16 = sandbox.control.count()
        metrics = (await client.get("/metrics")).text

    assert "errors" not in one
    assert calls_of_16 == calls_of_one > 0  # the upstream calls of one request
    assert len({str(body) for body, _ in many}) == 1
    assert sorted(outcome for _, outcome in many) == ["coalesced"] * 15 + ["miss"]
    assert outcomes(metrics)["coalesced"] == 15


async def test_different_variables_or_scopes_are_not_coalesced(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    settings = auth_settings(sandbox, directory_file, cache={"enabled": False})
    query = "query ($first: Date!, $last: Date!) { resellers { id usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } } } }"  # noqa: E501
    async with serving(settings) as (_, client):
        sandbox.control.inject(latency_ms=200)
        results = await asyncio.gather(
            answer(client, query, month_vars(dataset), bearer("ops")),
            answer(client, query, month_vars(dataset), bearer("northwind")),
            answer(client, query, month_vars(dataset), bearer("eastgate")),
        )

    ids = [[r["id"] for r in body["data"]["resellers"]] for body, _ in results]
    assert [outcome for _, outcome in results] == ["miss", "miss", "miss"]
    assert ids[1] == ["northwind"] and ids[2] == ["eastgate"]
    assert len(ids[0]) > 2


# -- the answer cache ------------------------------------------------------------------------------


async def test_a_repeat_is_served_without_executing_and_spacing_does_not_matter(
    sandbox: SandboxServer,
    directory_file: Path,
    dataset: Dataset,
    cache_config: dict[str, Any],
) -> None:
    settings = tuned_sandbox_settings(sandbox, directory_file, FAST, cache=cache_config)
    respaced = "# the same operation, written differently\n" + DASHBOARD.replace(" ", "   ")
    async with serving(settings) as (_, client):
        cold, first = await answer(client, DASHBOARD, month_vars(dataset))
        result_cache(client_app(client)).backend = None  # type: ignore[assignment]
        sandbox.control.reset()
        warm, second = await answer(client, DASHBOARD, month_vars(dataset))
        again, third = await answer(client, respaced, month_vars(dataset))
        metrics = (await client.get("/metrics")).text

    assert "errors" not in cold
    assert (first, second, third) == ("miss", "hit", "hit")
    assert warm == cold == again
    assert sandbox.control.count() == 0  # not one call, not even the result cache was read
    if not cache_config:
        [kept] = [
            float(line.split()[1])
            for line in metrics.splitlines()
            if line.startswith("usagegraph_answer_cache_bytes ")
        ]
        assert kept > len(str(cold["data"])) / 2


def client_app(client: httpx.AsyncClient) -> Any:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    return transport.app


async def test_an_answer_is_kept_only_while_what_it_read_is_fresh(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    settings = tuned_sandbox_settings(
        sandbox, directory_file, FAST, cache={"ttl_live_seconds": 60, "ttl_past_seconds": 3600}
    )
    today = datetime.now(UTC).date()
    live = {"id": "cust0000", "first": str(today - timedelta(days=6)), "last": str(today)}
    past = {"id": "cust0000", **month_vars(dataset)}
    async with serving(settings) as (app, client):
        clock = Clock()
        result_cache(app).clock = clock
        await answer(client, ORG_USAGE, live)
        await answer(client, ORG_USAGE, past)
        clock.now += 59
        sandbox.control.reset()
        assert (await answer(client, ORG_USAGE, live))[1] == "hit"
        assert (await answer(client, ORG_USAGE, past))[1] == "hit"
        clock.now += 2  # the live range's figures are 61 s old: its answer is not kept any more
        live_again, live_outcome = await answer(client, ORG_USAGE, live)
        live_calls = sandbox.control.count()
        past_again, past_outcome = await answer(client, ORG_USAGE, past)

    assert (live_outcome, past_outcome) == ("miss", "hit")
    assert live_calls > 0 and sandbox.control.count() == live_calls  # the past one: no call
    assert "errors" not in live_again and "errors" not in past_again


async def test_answers_with_errors_or_live_state_are_never_kept(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    settings = tuned_sandbox_settings(sandbox, directory_file, FAST, cache={"stale_seconds": 0})
    variables = {"id": "cust0000", **month_vars(dataset)}
    async with serving(settings) as (_, client):
        await answer(client, "{ resellers { id } }")
        sandbox.control.inject(vendor="telzino", status=503)
        failed, first = await answer(client, ORG_USAGE, variables)
        sandbox.control.reset()
        recovered, second = await answer(client, ORG_USAGE, variables)
        status = "{ sources { name lastSuccess circuit } }"
        live = [(await answer(client, status))[1] for _ in range(2)]

    assert {e["extensions"]["code"] for e in failed["errors"]} == {"UPSTREAM_UNAVAILABLE"}
    assert first == "uncacheable"
    assert "errors" not in recovered and second == "miss"  # executed again: the vendor is back
    assert live == ["uncacheable", "uncacheable"]


async def test_kept_answers_never_cross_scopes(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    settings = auth_settings(sandbox, directory_file)
    query = "{ resellers { id organizations { id } } }"
    async with serving(settings) as (_, client):
        ops, ops_outcome = await answer(client, query, headers=bearer("ops"))
        north, north_outcome = await answer(client, query, headers=bearer("northwind"))
        east, east_outcome = await answer(client, query, headers=bearer("eastgate"))
        north_again, again_outcome = await answer(client, query, headers=bearer("northwind"))

    assert (ops_outcome, north_outcome, east_outcome, again_outcome) == ("miss",) * 3 + ("hit",)
    assert [r["id"] for r in north["data"]["resellers"]] == ["northwind"]
    assert [r["id"] for r in east["data"]["resellers"]] == ["eastgate"]
    assert north_again == north != ops


async def test_debug_mode_answers_are_neither_shared_nor_kept(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    settings = tuned_sandbox_settings(sandbox, directory_file, FAST, server={"debug": True})
    variables = {"id": "cust0000", **month_vars(dataset)}
    async with serving(settings) as (_, client):
        cold, first = await answer(client, ORG_USAGE, variables)
        warm, second = await answer(client, ORG_USAGE, variables)

    assert first == second == ""  # passed through: the layer stays out of it
    assert {e["cache"] for e in cold["extensions"]["upstream"]} == {"miss"}
    assert {e["cache"] for e in warm["extensions"]["upstream"]} == {"hit"}


# -- GET, ETag and 304 -----------------------------------------------------------------------------


async def test_get_persisted_queries_carry_an_etag_and_revalidate_with_304(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    settings = tuned_sandbox_settings(sandbox, directory_file, FAST)
    extensions = f'{{"persistedQuery":{{"version":1,"sha256Hash":"{sha256_hex(ORG_USAGE)}"}}}}'
    month = month_vars(dataset)
    variables = json.dumps({"id": "cust0000", **month}, separators=(",", ":"))
    params = {"extensions": extensions, "variables": variables}
    async with serving(settings) as (_, client):
        registered = await client.post(
            "/graphql",
            json={
                "query": ORG_USAGE,
                "variables": json.loads(variables),
                "extensions": json.loads(extensions),
            },
        )
        first = await client.get("/graphql", params=params)
        etag = first.headers["etag"]
        sandbox.control.reset()
        revalidated = await client.get("/graphql", params=params, headers={"If-None-Match": etag})
        stale_tag = await client.get(
            "/graphql", params=params, headers={"If-None-Match": '"something-else"'}
        )

    assert registered.status_code == 200 and "errors" not in registered.json()
    assert first.status_code == 200 and first.headers["x-answer-cache"] == "hit"
    assert first.json() == registered.json()
    assert first.headers["cache-control"].startswith("private, max-age=")
    assert int(first.headers["cache-control"].rsplit("=", 1)[1]) > 0
    assert first.headers["vary"] == "Authorization, Accept"  # the key and the media type
    assert revalidated.status_code == 304 and revalidated.content == b""
    assert revalidated.headers["etag"] == etag
    assert stale_tag.status_code == 200 and stale_tag.json() == first.json()
    assert sandbox.control.count() == 0


# -- Redis: shared between replicas, hostile bytes are a miss -----------------------------------


async def test_replicas_share_answers_through_redis_and_hostile_bytes_are_a_miss(
    sandbox: SandboxServer,
    directory_file: Path,
    dataset: Dataset,
    redis_url: str,
) -> None:
    settings = tuned_sandbox_settings(
        sandbox, directory_file, FAST, cache={"backend": "redis", "url": redis_url}
    )
    async with serving(settings) as (_, client):
        cold, _ = await answer(client, DASHBOARD, month_vars(dataset))
    sandbox.control.reset()
    async with serving(settings) as (_, client):  # another replica: only Redis remembers
        shared, outcome = await answer(client, DASHBOARD, month_vars(dataset))
    assert (shared, outcome) == (cold, "hit")
    assert sandbox.control.count() == 0

    raw = Redis.from_url(redis_url)
    try:
        keys = await raw.keys("usagegraph:v1:answer:*")
        assert len(keys) == 1
        for hostile in (b"\xc1", b"\x94\xc4\x02{}\xa4text\xa1x", b"\x92\x01\x02", b"{" * 5000):
            await raw.set(keys[0], hostile, keepttl=True)
            async with serving(settings) as (_, client):
                again, outcome = await answer(client, DASHBOARD, month_vars(dataset))
            assert (again, outcome) == (cold, "miss")
    finally:
        await raw.aclose()


# -- the layer itself ----------------------------------------------------------------------------


async def test_a_leader_that_goes_away_does_not_fail_the_requests_waiting_on_it() -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    executions = 0

    async def router(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal executions
        executions += 1
        note_fresh_for(30.0)
        started.set()
        await release.wait()
        body = b'{"data":{"n":1}}'
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    store = MemoryAnswers(1 << 20, 1 << 16)
    seen: list[str] = []
    layer = AnswerLayer(
        router,
        store=lambda: store,
        prints=DocumentPrints(),
        schema_print="test",
        default_identity=lambda: EVERYONE,
        debug=False,
        on_outcome=seen.append,
    )
    query = b"query=%7B%20n%20%7D"

    def call() -> tuple[Awaitable[None], list[dict[str, Any]]]:
        sent: list[dict[str, Any]] = []

        async def send(message: Any) -> None:
            sent.append(message)

        async def receive() -> Any:
            return {"type": "http.request", "body": b""}

        scope = {
            "type": "http",
            "method": "GET",
            "path": "/graphql",
            "query_string": query,
            "headers": [],
            "state": {},
        }
        return layer(scope, receive, send), sent

    leader, _ = call()
    leader_task = asyncio.ensure_future(leader)
    await started.wait()
    follower, follower_sent = call()
    follower_task = asyncio.ensure_future(follower)
    await asyncio.sleep(0)
    leader_task.cancel()  # the leader's client went away
    release.set()
    await follower_task

    assert executions == 1
    assert follower_sent[0]["status"] == 200 and follower_sent[1]["body"] == b'{"data":{"n":1}}'
    assert seen == ["coalesced"]
    later, later_sent = call()
    await later
    assert later_sent[1]["body"] == b'{"data":{"n":1}}' and seen[-1] == "hit"
    assert executions == 1


def test_memory_answers_are_bounded_in_bytes() -> None:
    now = [1000.0]
    store = MemoryAnswers(max_bytes=10_000, max_entry_bytes=4_000, clock=lambda: now[0])

    def kept(size: int) -> StoredAnswer:
        return StoredAnswer(b"x" * size, "application/json", '"e"', now[0] + 60)

    async def fill() -> None:
        for i in range(10):
            await store.set(f"k{i}", kept(3_000), 60)
        await store.set("huge", kept(5_000), 60)  # above one entry's bound: not kept

    asyncio.run(fill())
    held, entries = store.usage()
    assert held == 9_000 and entries == 3  # the three most recent
    assert asyncio.run(store.get("huge")) is None and asyncio.run(store.get("k0")) is None
    assert asyncio.run(store.get("k9")) is not None
    now[0] += 61
    assert asyncio.run(store.get("k9")) is None  # expired
    assert store.usage() == (6_000, 2)

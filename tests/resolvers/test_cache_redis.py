"""The Redis backend against a real redis-server: namespaced keys that Redis itself expires,
a Redis outage that only costs speed, and replicas (two apps) that share one cache: one
replica's calls serve the other, its stale entries stand in for the other's failures, and
readiness still reaches the vendors."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
import redis
from redis.asyncio import Redis

from tests.fixtures.cached_graph import (
    DASHBOARD,
    FAST,
    month_vars,
    post,
    recorded,
    serving,
)
from tests.fixtures.graph import tuned_sandbox_settings
from usagegraph.resolvers.cache import CachePolicy, RedisBackend, ResultCache, TtlClass
from usagegraph.sandbox.dataset import Dataset
from usagegraph.sandbox.server import SandboxServer, free_port


@pytest.fixture
async def backend(redis_url: str) -> RedisBackend:
    store = RedisBackend(redis_url)
    yield store
    await store.close()


async def test_values_live_under_the_namespace_and_expire_in_redis(
    backend: RedisBackend, redis_url: str
) -> None:
    await backend.set("fetch:1:telzino:x", b"\x00value", 0.2)
    await backend.set("pq:abc", b"query", 60)

    assert await backend.get("fetch:1:telzino:x") == b"\x00value"
    raw = Redis.from_url(redis_url)
    try:
        assert sorted(await raw.keys("*")) == [
            b"usagegraph:v1:fetch:1:telzino:x",
            b"usagegraph:v1:pq:abc",
        ]
        assert 0 < await raw.pttl("usagegraph:v1:fetch:1:telzino:x") <= 200
        await asyncio.sleep(0.25)
        assert await backend.get("fetch:1:telzino:x") is None
        assert await backend.get("pq:abc") == b"query"
        await backend.set("pq:abc", b"", 0)
        assert await raw.keys("*") == []
    finally:
        await raw.aclose()


async def test_an_unreachable_redis_is_a_miss_not_a_failure() -> None:
    store = RedisBackend(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)
    cache = ResultCache(store, CachePolicy())
    calls = 0

    async def load() -> str:
        nonlocal calls
        calls += 1
        return "answer"

    try:
        await store.set("k", b"v", 60)
        assert await store.get("k") is None
        for _ in range(2):
            fetched = await cache.fetch("telzino", "fetch_minutes", (), load, ttl=TtlClass.PAST)
            assert fetched.value == "answer"
    finally:
        await store.close()
    assert calls == 2  # nothing could be kept, every answer was still right


async def test_two_replicas_sharing_redis_make_the_upstream_calls_once(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset, redis_url: str
) -> None:
    settings = tuned_sandbox_settings(
        sandbox, directory_file, {}, cache={"backend": "redis", "url": redis_url}
    )
    async with serving(settings) as (_, first_replica):
        first = await post(first_replica, DASHBOARD, month_vars(dataset))
    first_calls = recorded(sandbox.control)
    sandbox.control.reset()
    async with serving(settings) as (_, second_replica):
        second = await post(second_replica, DASHBOARD, month_vars(dataset))

    assert "errors" not in first
    assert sum(first_calls.values()) > 10
    # discovery, Teli users and every report came from the first replica's calls
    assert sandbox.control.count() == 0, recorded(sandbox.control)
    assert second == first


async def test_a_replica_serves_the_others_stale_discovery_when_a_source_fails(
    sandbox: SandboxServer, directory_file: Path, redis_url: str
) -> None:
    # discovery is never fresh (TTL 0), so the second replica must ask and then fall back
    settings = tuned_sandbox_settings(
        sandbox,
        directory_file,
        FAST,
        graph={"discovery_ttl_seconds": 0},
        cache={"backend": "redis", "url": redis_url},
    )
    query = "{ organizations { id } sources { name lastErrorCode } }"
    async with serving(settings) as (_, first_replica):
        before = await post(first_replica, query)
    sandbox.control.inject(vendor="teli", status=503)
    async with serving(settings) as (_, second_replica):
        after = await post(second_replica, query)

    assert after["data"]["organizations"] == before["data"]["organizations"]
    codes = {s["name"]: s["lastErrorCode"] for s in after["data"]["sources"]}
    assert codes["teli-northwind"] == "UPSTREAM_UNAVAILABLE"
    assert codes["teli-southpoint"] == "UPSTREAM_UNAVAILABLE"
    assert codes["telzino"] is None


async def test_readiness_of_a_replica_reaches_the_vendors_despite_a_warm_redis(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset, redis_url: str
) -> None:
    settings = tuned_sandbox_settings(
        sandbox, directory_file, {}, cache={"backend": "redis", "url": redis_url}
    )
    async with serving(settings) as (_, first_replica):
        await post(first_replica, DASHBOARD, month_vars(dataset))
    sandbox.control.reset()
    async with serving(settings) as (_, second_replica):
        ready = await second_replica.get("/readyz")
        probe_calls = recorded(sandbox.control)
        sandbox.control.reset()
        again = await second_replica.get("/readyz")

    assert ready.status_code == 200, ready.json()
    assert all(s["ready"] and s["last_success"] for s in ready.json()["sources"])
    # this replica discovered every source itself (a cache hit proves nothing about it)
    discovery = Counter(path for (_, path) in probe_calls.elements() if not path.endswith("/token"))
    assert discovery["/express/accounts"] == len(dataset.talkdesk_orgs)
    assert discovery["/v1/organizations"] == len(dataset.teli_tenants)
    assert discovery["/v1/reports/minutes-by-organization"] == 1
    assert again.status_code == 200
    assert sandbox.control.count() == 0  # and the next probe had nothing to do


def test_the_session_redis_is_a_real_server(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.info("server")["redis_version"]
    finally:
        client.close()

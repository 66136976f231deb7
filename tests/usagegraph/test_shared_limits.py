"""Vendor protection shared by the fleet: three apps (replicas) on one Redis and one sandbox keep a
vendor's rate as one, see each other's open circuit, count a caller's requests together, and act
alone, counted in /metrics, while Redis is down."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio

from tests.fixtures.graph import settings_from_sources
from tests.fixtures.redis import NO_REDIS
from tests.fixtures.teli_fleet import (
    BURST,
    RATE,
    arrivals,
    first_org,
    fleet,
    most_in_one_second,
    teli_settings,
    usage,
)
from tests.fixtures.truth import last_full_month, teli_org_truth
from usagegraph.fleet_link import fleet_link
from usagegraph.sandbox.server import SandboxServer, free_port
from usagegraph.settings import ConfigError


async def test_the_fleet_keeps_the_vendors_rate_as_one_and_every_answer_right(
    sandbox: SandboxServer, redis_url: str
) -> None:
    org_id, unique_id = first_org(sandbox)
    first, last = last_full_month(sandbox.dataset)
    ranges = [(first + timedelta(days=i % 12), last - timedelta(days=i // 12)) for i in range(24)]
    settings = teli_settings(sandbox, redis_url, graph={"request_deadline_seconds": 30})
    with arrivals(sandbox) as seen:
        async with fleet(settings) as replicas:
            answers = await asyncio.gather(
                *(usage(replicas[i % 3], org_id, *span) for i, span in enumerate(ranges))
            )

    for (first_day, last_day), answer in zip(ranges, answers, strict=True):
        expected = teli_org_truth(sandbox.dataset, unique_id, first_day, last_day).voice_seconds
        assert answer == {"data": {"organization": {"usage": {"voice": {"seconds": expected}}}}}
    teli_calls = [moment for moment, request in seen if request.vendor == "teli"]
    assert len(teli_calls) >= 24 + 1  # every range, and one discovery (the fleet shares it)
    # GCRA allows BURST at once and RATE a second after: at most BURST + RATE in any second
    print(f"most Teli calls in one second: {most_in_one_second(teli_calls)} of {len(teli_calls)}")
    assert most_in_one_second(teli_calls) <= BURST + RATE


async def test_a_circuit_one_replica_opened_is_open_in_the_others(
    sandbox: SandboxServer, redis_url: str
) -> None:
    org_id, _ = first_org(sandbox)
    first, last = last_full_month(sandbox.dataset)
    settings = teli_settings(
        sandbox,
        redis_url,
        source={"max_attempts": 1, "breaker_failures": 2, "breaker_cooldown_seconds": 60},
    )
    async with fleet(settings) as (opener, *others):
        await usage(opener, org_id, first, last)  # discovery, cached in Redis for the others
        sandbox.control.inject(vendor="teli", status=503)
        for day in (1, 2):
            failed = await usage(opener, org_id, first + timedelta(days=day), last)
            assert failed["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
        await until_circuit_open_in_redis(redis_url)
        sandbox.control.reset()  # the vendor is well again, and the recorder empty
        refused = [
            await usage(replica, org_id, first + timedelta(days=3 + i), last)
            for i, replica in enumerate(others)
        ]
        circuits = [
            (await replica.post("/graphql", json={"query": "{ sources { circuit } }"})).json()
            for replica in others
        ]

    assert sandbox.control.count("teli") == 0  # no replica called it during the cool-down
    for answer in refused:
        (error,) = answer["errors"]
        assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
        assert "was not called: it failed 2 times in a row" in error["message"]
    assert circuits == [{"data": {"sources": [{"circuit": "OPEN"}]}}] * 2


async def until_circuit_open_in_redis(url: str) -> None:
    """The opener tells Redis in the background: wait (briefly) until it has."""
    raw = redis.asyncio.Redis.from_url(url)
    try:
        for _ in range(100):
            if await raw.keys("usagegraph:v1:breaker:*:open"):
                return
            await asyncio.sleep(0.01)
        pytest.fail("the opened circuit never reached Redis")
    finally:
        await raw.aclose()


async def test_a_callers_request_rate_is_counted_over_every_replica(
    sandbox: SandboxServer, redis_url: str
) -> None:
    # no [auth]: the caller is the client's address, the same for every replica here
    settings = teli_settings(sandbox, redis_url, limits={"requests_per_second": 0.2, "burst": 3})
    async with fleet(settings) as replicas:
        statuses = [
            (await replica.post("/graphql", json={"query": "{ __typename }"})).status_code
            for replica in replicas
        ]
        refused = await replicas[1].post("/graphql", json={"query": "{ __typename }"})

    assert statuses == [200, 200, 200]  # the burst, one request on each replica
    assert refused.status_code == 429  # as one replica refuses its caller's fourth
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert refused.headers["Retry-After"] == "5"  # one request every 5 s


class OwnRedis:
    """A redis-server of this test's own, which it stops and starts again on the same port."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip(NO_REDIS)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._command = [binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        self._command += ["--save", "", "--appendonly", "no"]
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            self._command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis.from_url(self.url)
        try:
            for _ in range(500):
                try:
                    client.ping()
                    return
                except redis.exceptions.ConnectionError:
                    time.sleep(0.02)
            pytest.fail("redis-server did not start")
        finally:
            client.close()

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    yield server
    server.stop()


def fallbacks(metrics: str, feature: str) -> float:
    prefix = f'usagegraph_fleet_fallback_total{{feature="{feature}"}} '
    return sum(
        float(line[len(prefix) :]) for line in metrics.splitlines() if line.startswith(prefix)
    )


async def test_without_redis_each_replica_limits_alone_and_shares_again_when_it_is_back(
    sandbox: SandboxServer, own_redis: OwnRedis
) -> None:
    org_id, unique_id = first_org(sandbox)
    first, last = last_full_month(sandbox.dataset)
    expected = teli_org_truth(sandbox.dataset, unique_id, first, last).voice_seconds

    async def ask(replica: httpx.AsyncClient) -> int:
        return (await replica.post("/graphql", json={"query": "{ __typename }"})).status_code

    settings = teli_settings(
        sandbox,
        own_redis.url,
        limits={"requests_per_second": 0.2, "burst": 2},
        observability={"metrics_public": True},
    )
    async with fleet(settings, replicas=2) as (one, two):
        shared = [await ask(one), await ask(two), await ask(one)]
        own_redis.stop()
        began = time.monotonic()
        answer = await usage(one, org_id, first, last)
        took = time.monotonic() - began
        alone = [await ask(two), await ask(two), await ask(two)]
        metrics = (await one.get("/metrics")).text
        own_redis.start()  # empty: nothing persisted
        await asyncio.sleep(1.1)  # the pause after a failure, then Redis is asked again
        back = [await ask(one), await ask(two), await ask(one)]

    assert shared == [200, 200, 429]
    # Redis down: the answer still right and quick, each replica its own limits
    assert answer == {"data": {"organization": {"usage": {"voice": {"seconds": expected}}}}}
    assert took < 2.0
    assert alone == [200, 200, 429]  # the second replica's own burst, untouched by the first
    assert fallbacks(metrics, "rate_limit") > 0
    assert fallbacks(metrics, "request_rate") > 0
    assert back == [200, 200, 429]  # shared again: the fleet's burst of 2


async def test_a_query_persisted_on_one_replica_runs_by_its_hash_on_another(
    sandbox: SandboxServer, redis_url: str
) -> None:
    # the persisted-query store was already in Redis with the redis backend (RedisQueryStore)
    query = "{ sources { name } }"
    sha = hashlib.sha256(query.encode()).hexdigest()
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": sha}}
    async with fleet(teli_settings(sandbox, redis_url), replicas=2) as (one, two):
        unknown = (await two.post("/graphql", json={"extensions": persisted})).json()
        registered = await one.post("/graphql", json={"query": query, "extensions": persisted})
        by_hash = (await two.post("/graphql", json={"extensions": persisted})).json()

    assert unknown["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert registered.status_code == 200
    assert by_hash == registered.json() == {"data": {"sources": [{"name": "teli-northwind"}]}}


@pytest.mark.parametrize(
    ("cache", "message"),
    [
        ({"shared_limits": False}, 'cache.shared_limits: only used with backend = "redis"'),
        (
            {"backend": "redis", "url": "redis://localhost", "shared_limit": False},
            "cache: unknown key 'shared_limit' (did you mean 'shared_limits'?)",
        ),
    ],
)
def test_shared_limits_mistakes_name_their_key(cache: dict[str, Any], message: str) -> None:
    teli = {"kind": "teli", "name": "teli", "base_url": "https://api.teli.ai", "api_key": "k"}
    with pytest.raises(ConfigError) as caught:
        settings_from_sources([teli], cache=cache)
    assert str(caught.value) == f"config error: {message}"


def test_only_a_redis_fleet_shares_its_limits(redis_url: str) -> None:
    teli = {"kind": "teli", "name": "teli", "base_url": "https://api.teli.ai", "api_key": "k"}
    redis_cache = {"backend": "redis", "url": redis_url}
    assert fleet_link(settings_from_sources([teli])) is None
    local = {**redis_cache, "shared_limits": False}
    assert fleet_link(settings_from_sources([teli], cache=local)) is None
    assert fleet_link(settings_from_sources([teli], cache=redis_cache)) is not None

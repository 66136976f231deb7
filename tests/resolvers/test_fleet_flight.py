"""The single flight shared by replicas on one Redis (resolvers/cache/fleet.py), against a real
redis-server: identical cold requests over three apps cost one request's calls, a lease left by a
dead replica holds its key only until it expires (and no other key), a holder's failure reaches
every waiter as the same error or stale marking without a call of theirs, and a Redis outage
falls back to each replica's own flight, counted in /metrics, until Redis is back."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from fleet.redis_server import RedisServer
from tests.fixtures.cached_graph import DASHBOARD, FAST, Clock, month_vars, post, serving
from tests.fixtures.graph import tuned_sandbox_settings
from tests.fixtures.truth import last_full_month
from usagegraph.clients.deadline import deadline_scope, within_deadline
from usagegraph.clients.errors import (
    UpstreamBudgetExceededError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from usagegraph.resolvers.cache import (
    CachePolicy,
    EntryCodec,
    FleetFlight,
    RedisBackend,
    ResultCache,
    TtlClass,
    cache_key,
)
from usagegraph.resolvers.cache.leases import RedisLeases
from usagegraph.sandbox.control import SandboxControl
from usagegraph.sandbox.dataset import Dataset
from usagegraph.sandbox.server import SandboxServer
from usagegraph.settings import Settings
from usagegraph.telemetry import bind_request

REPLICAS = 3


# -- through three apps over the sandbox -----------------------------------------------------------


def data_calls(control: SandboxControl) -> Counter[tuple[str, str]]:
    """The vendor calls a request's fetches made: each replica holds its own OAuth token, so
    token calls are per replica, not per fetch."""
    return Counter((r.mount, r.path) for r in control.requests if not r.path.endswith("/token"))


def fleet_settings(sandbox: SandboxServer, directory: Path, redis_url: str) -> Settings:
    # answers off: identical requests must meet at the fetches, not at the answer layer
    cache = {"backend": "redis", "url": redis_url, "answers": False}
    return tuned_sandbox_settings(sandbox, directory, {}, cache=cache)


@asynccontextmanager
async def replicas(
    settings: Settings, count: int = REPLICAS
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """`count` apps, each with its own result cache and flights, sharing `settings`' Redis."""
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(count):
            _, client = await stack.enter_async_context(serving(settings))
            clients.append(client)
        yield clients


async def spread(
    clients: Sequence[httpx.AsyncClient], count: int, variables: dict[str, str]
) -> list[dict[str, Any]]:
    """`count` identical dashboards at once, dealt round-robin over `clients`."""
    return await asyncio.gather(
        *(post(clients[i % len(clients)], DASHBOARD, variables) for i in range(count))
    )


def month_before(dataset: Dataset, months: int) -> dict[str, str]:
    """The full month `months` before the dataset's last full month, as dashboard variables."""
    first, last = last_full_month(dataset)
    for _ in range(months):
        last = first - timedelta(days=1)
        first = last.replace(day=1)
    return {"first": str(first), "last": str(last)}


async def one_request(
    settings: Settings, control: SandboxControl, variables: dict[str, str]
) -> tuple[dict[str, Any], Counter[tuple[str, str]]]:
    """A dashboard alone on one cold replica: its answer and its data calls (then forgotten)."""
    async with serving(settings) as (app, client):
        answer = await post(client, DASHBOARD, variables)
        await app.state.cache_backend.client.flushdb()
    calls = data_calls(control)
    control.reset()
    return answer, calls


async def test_identical_cold_requests_over_three_replicas_cost_one_requests_calls(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset, redis_url: str
) -> None:
    settings = fleet_settings(sandbox, directory_file, redis_url)
    variables = month_vars(dataset)
    alone, bound = await one_request(settings, sandbox.control, variables)
    sandbox.control.base_latency_ms = 30  # the vendors are slow enough for requests to meet
    try:
        async with replicas(settings) as clients:
            answers = await spread(clients, 48, variables)
    finally:
        sandbox.control.base_latency_ms = 0

    assert "errors" not in alone and sum(bound.values()) > 10
    assert all(answer == alone for answer in answers)
    # 48 requests on three replicas: every data call once, as for one request alone
    assert data_calls(sandbox.control) == bound


async def test_a_vendor_failing_the_holder_fails_every_replicas_answer_alike_at_one_call_per_fetch(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset, redis_url: str
) -> None:
    cache = {"backend": "redis", "url": redis_url, "answers": False}
    settings = tuned_sandbox_settings(sandbox, directory_file, FAST, cache=cache)
    warm, cold = month_vars(dataset), month_before(dataset, 1)

    async def teli_down(clients: list[httpx.AsyncClient], count: int) -> Phase:
        await phase(clients, len(clients), warm, sandbox.control)  # discovery, before the fault
        sandbox.control.reset()
        # slow to fail, so every replica reaches each fetch while the holder's call is out (1.2 s:
        # at 300 ms a replica starved of CPU on a loaded 2-core machine arrived after the failure)
        sandbox.control.inject(vendor="teli", status=503, latency_ms=1200)
        answers = await spread(clients, count, cold)
        return answers, data_calls(sandbox.control)

    async with replicas(settings, 1) as clients:
        ([alone], alone_calls) = await teli_down(clients, 1)
    await flush(redis_url)
    async with replicas(settings) as clients:
        answers, calls = await teli_down(clients, 24)

    codes = {e["extensions"]["code"] for e in alone["errors"]}
    assert codes == {"UPSTREAM_UNAVAILABLE"}
    assert all(answer == alone for answer in answers)  # same data, same errors, same paths
    assert alone_calls["teli", "/v1/analytics/organizations"] > 0
    # every failing fetch was tried once for the fleet (FAST: one attempt per call); failures
    # are not cached: a replica reaching the fetch after the failure was told calls again
    assert calls == alone_calls


async def test_redis_stopped_mid_run_falls_back_to_each_replicas_flight_and_comes_back(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset, own_redis: RedisServer
) -> None:
    settings = fleet_settings(sandbox, directory_file, own_redis.url)
    months = [month_vars(dataset), month_before(dataset, 1), month_before(dataset, 2)]

    async def outage(clients: list[httpx.AsyncClient], count: int) -> list[Phase]:
        """Warm, then Redis stopped, then Redis started again (empty): a cold month each."""
        phases = [await phase(clients, count, months[0], sandbox.control)]
        own_redis.stop()
        phases.append(await phase(clients, count, months[1], sandbox.control))
        metrics = [(await client.get("/metrics")).text for client in clients]
        own_redis.start()
        phases.append(await phase(clients, count, months[2], sandbox.control))
        assert all(fallbacks(text) > 0 for text in metrics)
        return phases

    async with replicas(settings, 1) as clients:
        alone = await outage(clients, 1)
    async with replicas(settings) as clients:
        fleet = await outage(clients, 12)

    for (answers, _), (reference, _) in zip(fleet, alone, strict=True):
        assert "errors" not in reference[0]
        assert all(answer == reference[0] for answer in answers)
    # without Redis each replica's own flight calls once per fetch: up to one call per replica
    (_, down), (_, down_alone) = fleet[1], alone[1]
    assert set(down) == set(down_alone)
    assert all(down_alone[call] <= n <= REPLICAS * down_alone[call] for call, n in down.items())
    assert sum(down.values()) > sum(down_alone.values())  # they did not share
    # with Redis back the fleet shares its fetches again: one replica's calls
    assert fleet[2][1] == alone[2][1]


Phase = tuple[list[dict[str, Any]], Counter[tuple[str, str]]]


async def phase(
    clients: list[httpx.AsyncClient],
    count: int,
    variables: dict[str, str],
    control: SandboxControl,
) -> Phase:
    """`count` identical dashboards over `clients`: their answers and data calls."""
    control.reset()
    answers = await spread(clients, count, variables)
    return answers, data_calls(control)


async def flush(url: str) -> None:
    raw = Redis.from_url(url)
    try:
        await raw.flushdb()
    finally:
        await raw.aclose()


def fallbacks(metrics: str) -> float:
    for line in metrics.splitlines():
        if line.startswith('usagegraph_fleet_fallback_total{feature="single_flight"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# -- three result caches over one Redis ------------------------------------------------------------


class Load:
    """A fetch that counts its calls, waits for `gate` when given, then answers or fails."""

    def __init__(self, value: Any = "fresh", error: UpstreamError | None = None) -> None:
        self.value = value
        self.error = error
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self) -> Any:
        self.calls += 1
        await self.gate.wait()
        if self.error is not None:
            raise self.error
        return self.value


@pytest.fixture
async def caches(redis_url: str) -> AsyncIterator[list[ResultCache]]:
    """Three replicas' result caches, one lease lasting 0.4 s, on a clock the test moves."""
    clock = Clock()
    backends = [RedisBackend(redis_url) for _ in range(REPLICAS)]
    try:
        yield [
            ResultCache(
                backend,
                CachePolicy(),
                clock=clock,
                codec=EntryCodec({"org_usage": str}),
                fleet=FleetFlight(
                    RedisLeases(backend.client, namespace=backend.namespace, ttl=0.4)
                ),
            )
            for backend in backends
        ]
    finally:
        for backend in backends:
            await backend.close()


def fetch(cache: ResultCache, load: Load, params: tuple[str, ...] = ("2024-01",)) -> Any:
    return cache.fetch("teli-northwind", "org_usage", params, load, ttl=TtlClass.PAST)


async def lease_taken(redis_url: str, params: tuple[str, ...] = ("2024-01",)) -> None:
    """Wait until some replica holds the lease of `fetch(..., params)`."""
    raw = Redis.from_url(redis_url)
    key = "usagegraph:v1:lease:" + cache_key("teli-northwind", "org_usage", params)
    try:
        while not await raw.exists(key):  # noqa: ASYNC110 (another replica's state, no event)
            await asyncio.sleep(0.005)
    finally:
        await raw.aclose()


async def test_a_lease_left_by_a_dead_replica_holds_its_key_until_it_expires_and_no_other(
    caches: list[ResultCache], redis_url: str
) -> None:
    raw = Redis.from_url(redis_url)
    lease = "usagegraph:v1:lease:" + cache_key("teli-northwind", "org_usage", ("2024-01",))
    try:
        await raw.set(lease, "a replica that was killed", px=1500)
        held, other = Load("held"), Load("other")
        waiting = asyncio.ensure_future(fetch(caches[0], held))
        distinct = await fetch(caches[1], other, ("2024-02",))
        still_held, calls_meanwhile = await raw.pttl(lease), held.calls
        loop = asyncio.get_running_loop()
        started = loop.time()
        taken_over = await waiting
        waited = loop.time() - started
    finally:
        await raw.aclose()

    assert (distinct.value, other.calls) == ("other", 1)
    assert still_held > 0 and calls_meanwhile == 0  # the other key went by while this one waited
    assert (taken_over.value, held.calls) == ("held", 1)
    assert waited < 2.0  # the dead replica's lease ran out, then one waiter called


async def test_a_holder_fetching_longer_than_its_lease_keeps_it_and_the_fleet_calls_once(
    caches: list[ResultCache], redis_url: str
) -> None:
    slow = Load("value")
    slow.gate.clear()
    holder = asyncio.ensure_future(fetch(caches[0], slow))
    await lease_taken(redis_url)
    waiters = [asyncio.ensure_future(fetch(cache, slow)) for cache in caches[1:]]
    await asyncio.sleep(1.0)  # 2.5 leases of 0.4 s: renewed by the living holder
    slow.gate.set()
    results = await asyncio.gather(holder, *waiters)

    assert [r.value for r in results] == ["value"] * 3
    assert slow.calls == 1


async def test_a_request_waiting_on_a_dead_replicas_lease_stops_at_its_deadline(
    caches: list[ResultCache], redis_url: str
) -> None:
    raw = Redis.from_url(redis_url)
    lease = "usagegraph:v1:lease:" + cache_key("teli-northwind", "org_usage", ("2024-01",))
    load = Load("value")
    try:
        await raw.set(lease, "a replica that was killed", px=5000)
        with deadline_scope(0.3), pytest.raises(UpstreamTimeoutError) as timeout:
            await within_deadline(
                lambda: fetch(caches[0], load), source="teli-northwind", endpoint="org_usage"
            )
    finally:
        await raw.aclose()

    assert timeout.value.code == "UPSTREAM_TIMEOUT"
    assert str(timeout.value) == (
        "teli-northwind: org_usage did not answer within the request's deadline of 0.3 s"
    )
    assert load.calls == 0


async def test_a_holders_failure_reaches_every_waiter_without_a_call_of_theirs(
    caches: list[ResultCache], redis_url: str
) -> None:
    down = UpstreamUnavailableError(
        "answered 503 (Service Unavailable)",
        source="teli-northwind",
        endpoint="GET /v1/x",
        status=503,
    )
    # a kept value, past its freshness but within the stale window, for the first key only
    await fetch(caches[0], Load("kept"))
    caches[0].clock.now += 2 * CachePolicy().ttl_past  # type: ignore[attr-defined]

    for params, kept in ((("2024-01",), "kept"), (("2024-02",), None)):
        load = Load(error=down)
        load.gate.clear()
        holder = asyncio.ensure_future(fetch(caches[0], load, params))
        await lease_taken(redis_url, params)
        waiters = [
            asyncio.ensure_future(fetch(cache, load, params))
            for cache in caches[1:]
            for _ in range(4)
        ]
        await asyncio.sleep(0.5)  # every waiter has seen the lease (0.05 s was short under load)
        load.gate.set()
        results = await asyncio.gather(holder, *waiters, return_exceptions=True)

        assert load.calls == 1  # one call for nine requests on three replicas
        if kept is not None:
            assert [(r.value, r.stale, r.error.code) for r in results] == [
                ("kept", True, "UPSTREAM_UNAVAILABLE")
            ] * 9
        else:
            assert all(isinstance(r, UpstreamUnavailableError) for r in results)
            assert {(str(r), r.status, r.attempts) for r in results} == {
                ("teli-northwind: GET /v1/x answered 503 (Service Unavailable)", 503, 1)
            }


async def test_a_spent_budget_is_the_holders_own_and_the_waiters_fetch_once_more(
    caches: list[ResultCache], redis_url: str
) -> None:
    spent = Load(error=UpstreamBudgetExceededError("budget", source="teli-northwind", endpoint="x"))
    spent.gate.clear()
    holder = asyncio.ensure_future(fetch(caches[0], spent))
    await lease_taken(redis_url)
    load = Load("value")
    waiters = [asyncio.ensure_future(fetch(cache, load)) for cache in caches[1:]]
    await asyncio.sleep(0.05)
    spent.gate.set()

    with pytest.raises(UpstreamBudgetExceededError):
        await holder
    assert [w.value for w in await asyncio.gather(*waiters)] == ["value", "value"]
    assert (spent.calls, load.calls) == (1, 1)  # one replica took over for both


async def test_an_unreachable_redis_leaves_each_replica_its_own_flight_counted(
    free_redis_url: str,
) -> None:
    backend = RedisBackend(free_redis_url, timeout=0.2)
    cache = ResultCache(
        backend,
        CachePolicy(),
        fleet=FleetFlight(RedisLeases(backend.client, namespace=backend.namespace, ttl=1)),
    )
    observer = Fallbacks()
    load = Load("value")
    load.gate.clear()
    try:
        with bind_request("r1", observer):  # type: ignore[arg-type]
            fetches = [asyncio.ensure_future(fetch(cache, load)) for _ in range(5)]
            await asyncio.sleep(0.05)
            load.gate.set()
            values = [f.value for f in await asyncio.gather(*fetches)]
    finally:
        await backend.close()

    assert values == ["value"] * 5
    assert load.calls == 1  # the replica's own flight still shares one call
    assert observer.features == ["single_flight"]
    assert cache.fleet is not None and cache.fleet.fallback.alone


class Fallbacks:
    def __init__(self) -> None:
        self.features: list[str] = []

    def record_cache(self, backend: str, hit: bool) -> None:
        pass

    def record_cache_error(self, backend: str, reason: str) -> None:
        pass

    def record_fleet_fallback(self, feature: str) -> None:
        self.features.append(feature)


@pytest.fixture
def free_redis_url() -> str:
    from usagegraph.sandbox.server import free_port

    return f"redis://127.0.0.1:{free_port()}/0"

"""A vendor's limit holds while the fleet's Redis is down: the replicas count each other by
heartbeat, and each one deciding alone keeps only its share of the rate, starting empty."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from fleet.redis_server import RedisServer
from tests.fixtures.cached_graph import serving
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
from usagegraph.fleet_link import FleetLink, connect
from usagegraph.sandbox.server import SandboxServer
from usagegraph.shared_limits import Gcra, SharedRateLimit

NAMESPACE = "usagegraph:v1:"
_REPLICAS = re.compile(r"^usagegraph_fleet_replicas (\S+)$", re.MULTILINE)


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def replicas_seen(client: httpx.AsyncClient) -> float | None:
    found = _REPLICAS.search((await client.get("/metrics")).text)
    return float(found.group(1)) if found else None


async def until(check: Callable[[], Awaitable[bool]], within: float) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {within} s")
        await asyncio.sleep(0.1)


async def all_see(clients: list[httpx.AsyncClient], replicas: int, within: float) -> None:
    async def check() -> bool:
        return [await replicas_seen(c) for c in clients] == [replicas] * len(clients)

    await until(check, within)


async def test_replicas_count_each_other_and_stop_counting_one_that_stopped(
    sandbox: SandboxServer, redis_url: str
) -> None:
    settings = teli_settings(sandbox, redis_url, observability={"metrics_public": True})
    async with AsyncExitStack() as stack:
        clients = [(await stack.enter_async_context(serving(settings)))[1] for _ in range(2)]
        async with serving(settings) as (_, leaving):
            await all_see([*clients, leaving], 3, within=3.0)
        began = time.monotonic()
        await all_see(clients, 2, within=6.0)
        dropped_after = time.monotonic() - began

    # its last heartbeat counts for REPLICA_TTL (3 s), the others' next beat drops it
    assert dropped_after < 5.0


async def links_of_a_fleet(url: str, clock: Clock, replicas: int) -> list[FleetLink]:
    links = [FleetLink(connect(url), namespace=NAMESPACE, clock=clock) for _ in range(replicas)]
    for _ in range(2):  # the first round counts 1, 2, 3; the second sees all three
        for link in links:
            await link.heartbeat()
    return links


@pytest.fixture
async def three_links(own_redis: RedisServer) -> AsyncIterator[tuple[list[FleetLink], Clock]]:
    clock = Clock()
    links = await links_of_a_fleet(own_redis.url, clock, 3)
    try:
        yield links, clock
    finally:
        for link in links:
            await link.close()


async def test_three_heartbeating_links_count_three(
    three_links: tuple[list[FleetLink], Clock],
) -> None:
    links, _ = three_links
    assert [link.replicas for link in links] == [3, 3, 3]
    assert len({link.replica_id for link in links}) == 3


async def test_without_redis_each_replica_keeps_a_third_of_the_rate_starting_empty(
    three_links: tuple[list[FleetLink], Clock], own_redis: RedisServer
) -> None:
    links, clock = three_links
    limits = [
        SharedRateLimit(Gcra(link), "teli", RATE, BURST, clock=clock, sleep=clock.sleep)
        for link in links
    ]
    # shared: the fleet's burst of 4, whichever replica takes it
    shared = [await limits[i % 3].acquire(0) for i in range(5)]
    own_redis.stop()

    at_switch = [await limit.acquire(0) for limit in limits]
    period = 3 / RATE  # each replica's share: a third of the rate
    clock.now += period * 0.99
    almost = [await limit.acquire(0) for limit in limits]
    clock.now += period * 0.01
    one_period = [await limit.acquire(0) for limit in limits]
    again = [await limit.acquire(0) for limit in limits]
    clock.now += 10 * period  # idle: each saves up burst // 3 = 1 token, no more
    saved = [[await limit.acquire(0), await limit.acquire(0)] for limit in limits]

    assert shared == [True, True, True, True, False]
    assert [link.outages for link in links] == [1, 1, 1]
    assert at_switch == [False, False, False]  # empty: the fleet just spent its burst
    assert almost == [False, False, False]
    assert one_period == [True, True, True]
    assert again == [False, False, False]
    assert saved == [[True, False]] * 3


async def test_the_fleet_resumes_empty_and_each_outage_starts_an_empty_share(
    three_links: tuple[list[FleetLink], Clock], own_redis: RedisServer
) -> None:
    links, clock = three_links
    limit = SharedRateLimit(Gcra(links[0]), "teli", RATE, BURST, clock=clock, sleep=clock.sleep)
    own_redis.stop()
    assert await limit.acquire(0) is False
    clock.now += 10.0  # the first outage's share fills up, unused; the pause is over

    own_redis.start()  # empty, as a lost Redis comes back: it would grant a whole burst
    resumed = await limit.acquire(0)
    await asyncio.sleep(1 / RATE)  # Redis's clock: one interval
    one_interval = [await limit.acquire(0), await limit.acquire(0)]
    own_redis.stop()
    second_outage = await limit.acquire(0)

    assert resumed is False  # the shares may have just spent the burst: none on top
    assert one_interval == [True, False]  # then the rate, not the burst
    assert links[0].outages == 2
    assert second_outage is False  # a new, empty share, not the first outage's saved token


async def test_a_fleet_under_load_keeps_the_vendors_limit_while_redis_restarts(
    sandbox: SandboxServer, own_redis: RedisServer
) -> None:
    org_id, unique_id = first_org(sandbox)
    first, last = last_full_month(sandbox.dataset)
    spans = iter(
        [(first + timedelta(days=i % 12), last - timedelta(days=i // 12)) for i in range(144)]
    )
    settings = teli_settings(
        sandbox,
        own_redis.url,
        graph={"request_deadline_seconds": 30},
        observability={"metrics_public": True},
    )
    answers: list[tuple[date, date, dict[str, Any]]] = []

    async def worker(client: httpx.AsyncClient, load_until: float) -> None:
        while time.monotonic() < load_until:
            first_day, last_day = next(spans)
            answers.append((first_day, last_day, await usage(client, org_id, first_day, last_day)))

    with arrivals(sandbox) as seen:
        async with fleet(settings) as replicas:
            await all_see(replicas, 3, within=3.0)
            load_until = time.monotonic() + 5.0
            load = [asyncio.create_task(worker(replicas[i % 3], load_until)) for i in range(9)]
            await asyncio.sleep(1.0)
            stopped_at = time.monotonic()
            await asyncio.to_thread(own_redis.stop)
            await asyncio.sleep(1.5)
            await asyncio.to_thread(own_redis.start)
            restarted_at = time.monotonic()
            await asyncio.gather(*load)

    for first_day, last_day, answer in answers:
        expected = teli_org_truth(sandbox.dataset, unique_id, first_day, last_day).voice_seconds
        assert answer == {"data": {"organization": {"usage": {"voice": {"seconds": expected}}}}}
    teli_calls = [moment for moment, request in seen if request.vendor == "teli"]
    during = [t for t in teli_calls if stopped_at <= t < restarted_at]
    print(f"Teli calls: {len(teli_calls)}, {len(during)} while Redis was down")
    assert during, "no Teli call was made while Redis was down: the outage was not tested"
    assert most_in_one_second(teli_calls) <= BURST + RATE

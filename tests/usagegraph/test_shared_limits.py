"""Vendor protection shared by the fleet: three apps (replicas) on one Redis and one sandbox keep a
vendor's rate as one, see each other's open circuit, count a caller's requests together, and act
alone, counted in /metrics, while Redis is down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Any

import httpx
from usagegraph.sandbox.control import RecordedRequest
from usagegraph.sandbox.dataset import teli_source_name
from usagegraph.sandbox.server import SandboxServer

from tests.fixtures.cached_graph import serving
from tests.fixtures.graph import settings_from_sources
from tests.fixtures.truth import last_full_month, teli_org_truth
from usagegraph.settings import Settings

RATE, BURST = 4.0, 4
USAGE = """query ($id: ID!, $first: Date!, $last: Date!) {
  organization(id: $id) { usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } } }
}"""


def teli_settings(sandbox: SandboxServer, url: str, **overrides: Any) -> Settings:
    """One Teli tenant (one vendor account, so every call the sandbox's Teli mounts record is
    this source's), its rate at RATE and BURST, the cache and the limits on Redis at `url`."""
    teli = next(e for e in sandbox.sources() if e["kind"] == "teli")
    source = {**teli, "rate_limit_per_second": RATE, "rate_limit_burst": BURST}
    source.update(overrides.pop("source", {}))
    cache = {"backend": "redis", "url": url, **overrides.pop("cache", {})}
    return settings_from_sources([source], cache=cache, **overrides)


@asynccontextmanager
async def fleet(settings: Settings, replicas: int = 3) -> AsyncIterator[list[httpx.AsyncClient]]:
    """`replicas` apps, each built by its own create_app, started together."""
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(replicas):
            _, client = await stack.enter_async_context(serving(settings))
            clients.append(client)
        yield clients


@contextmanager
def arrivals(sandbox: SandboxServer) -> Iterator[list[tuple[float, RecordedRequest]]]:
    """When each request reached the sandbox (its monotonic clock), in order."""
    control = sandbox.control
    seen: list[tuple[float, RecordedRequest]] = []
    record = control.record

    def stamped(request: RecordedRequest) -> None:
        seen.append((time.monotonic(), request))
        record(request)

    control.record = stamped  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        del control.record


def most_in_one_second(times: list[float]) -> int:
    times = sorted(times)
    most = start = 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def first_org(sandbox: SandboxServer) -> tuple[str, str]:
    tenant = sandbox.dataset.teli_tenants[0]
    org = tenant.organizations[0]
    return f"{teli_source_name(tenant)}:{org.unique_id}", org.unique_id


async def usage(client: httpx.AsyncClient, org_id: str, first: Any, last: Any) -> dict[str, Any]:
    variables = {"id": org_id, "first": str(first), "last": str(last)}
    response = await client.post("/graphql", json={"query": USAGE, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()


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
    assert len(teli_calls) >= 24 + 3  # every range, and each replica's discovery
    # GCRA allows BURST at once and RATE a second after: at most BURST + RATE in any second
    assert most_in_one_second(teli_calls) <= BURST + RATE

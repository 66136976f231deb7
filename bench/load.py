"""Sending GraphQL requests, timing them, and attributing upstream calls to them.

Upstream calls are read from the sandbox's recorder: one request at a time (reset before, read
after) for per-request counts, or a whole concurrent run for calls per request under load. Each
recorded call is classified as data (the endpoints of `bench.bounds`), discovery (listing
organizations, accounts, users, agents, or the Telzino report over discovery's 7-day window) or
auth (OAuth token calls).
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import httpx

from bench.scenarios import Request

if TYPE_CHECKING:  # annotations only: bench.procs needs psutil (the bench extra)
    from bench.procs import Sandbox

__all__ = [
    "KEEPALIVE",
    "Classified",
    "LoadResult",
    "Sample",
    "burst",
    "classify",
    "percentile",
    "post",
    "run_load",
    "sequential",
]

# Shorter than uvicorn's 5 s keep-alive timeout: never reuse a connection the server may be
# closing at that very moment (which would show up as a spurious ReadError).
KEEPALIVE = 2.0

_USERS_PATH = re.compile(r"^/v1/organizations/[^/]+/users$")


@dataclass
class Classified:
    data: Counter[str] = field(default_factory=Counter)
    discovery: Counter[str] = field(default_factory=Counter)
    auth: int = 0

    @property
    def data_total(self) -> int:
        return sum(self.data.values())

    @property
    def discovery_total(self) -> int:
        return sum(self.discovery.values())


def classify(recorded: Sequence[dict[str, Any]], today: date) -> Classified:
    """Sort recorded sandbox requests into data, discovery and auth calls."""
    out = Classified()
    discovery_window = ((today - timedelta(days=6)).isoformat(), today.isoformat())
    for r in recorded:
        mount, path = r["mount"], r["path"]
        vendor = mount.split("-", 1)[0]
        if path.endswith("/oauth/token"):
            out.auth += 1
            continue
        label = f"{vendor} {path}"
        if vendor == "teli" and (path == "/v1/organizations" or _USERS_PATH.match(path)):
            out.discovery[
                f"{vendor} /v1/organizations{'/{id}/users' if 'users' in path else ''}"
            ] += 1
        elif (vendor == "talkdesk" and path == "/express/accounts") or (
            vendor == "telzino" and path.startswith("/v1/agents")
        ):
            out.discovery[label] += 1
        elif vendor == "telzino" and path == "/v1/reports/minutes-by-organization":
            params = parse_qs(r.get("query", ""))
            window = (params.get("start_date", [""])[0], params.get("end_date", [""])[0])
            if window == discovery_window and "organization_ids" not in params:
                out.discovery[label] += 1
            else:
                out.data[label] += 1
        else:
            out.data[label] += 1
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


async def post(
    client: httpx.AsyncClient, url: str, body: dict[str, Any]
) -> tuple[float, dict[str, Any]]:
    """POST one GraphQL request; (seconds, decoded body). Non-JSON answers become an error."""
    t0 = time.perf_counter()
    try:
        response = await client.post(url, json=body)
    except httpx.TransportError as exc:  # a dropped connection is an answer too: a failed one
        message = f"transport error: {type(exc).__name__}: {exc}"
        return time.perf_counter() - t0, {"errors": [{"message": message}]}
    elapsed = time.perf_counter() - t0
    try:
        payload = response.json()
    except ValueError:
        payload = {"errors": [{"message": f"HTTP {response.status_code}: not JSON"}]}
    if response.status_code != 200 and "errors" not in payload:
        payload["errors"] = [{"message": f"HTTP {response.status_code}"}]
    return elapsed, payload


@dataclass
class Sample:
    seconds: float
    calls: Classified
    errors: list[dict[str, Any]]
    payload: dict[str, Any]


async def sequential(
    url: str,
    sandbox: Sandbox,
    requests: Sequence[Request],
    *,
    headers: dict[str, str] | None = None,
    count_calls: bool = True,
) -> list[Sample]:
    """Send the requests one after another, each with its own upstream call count."""
    out: list[Sample] = []
    today = date.fromisoformat(sandbox.info["dataset"]["last_day"])
    limits = httpx.Limits(keepalive_expiry=KEEPALIVE)
    async with httpx.AsyncClient(timeout=600, headers=headers, limits=limits) as client:
        for req in requests:
            if count_calls:
                await asyncio.to_thread(sandbox.reset)
            seconds, payload = await post(client, url, req.body())
            recorded = await asyncio.to_thread(sandbox.requests) if count_calls else []
            out.append(
                Sample(seconds, classify(recorded, today), payload.get("errors") or [], payload)
            )
    return out


@dataclass
class LoadResult:
    concurrency: int
    requests: int
    seconds: float
    latencies: list[float]
    errors: int
    calls: Classified
    bound_calls: int

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def calls_per_request(self) -> float:
        return self.calls.data_total / self.requests if self.requests else math.nan

    @property
    def ratio(self) -> float:
        return self.calls.data_total / self.bound_calls if self.bound_calls else math.nan


async def run_load(
    url: str,
    sandbox: Sandbox,
    make: Callable[[int, int], Request],
    *,
    concurrency: int,
    duration: float,
    min_per_client: int = 1,
    keep: list[tuple[Request, dict[str, Any]]] | None = None,
) -> LoadResult:
    """`concurrency` clients, each sending `make(client, i)` back to back until `duration` has
    passed (and at least `min_per_client` each); in-flight requests finish. Each request and
    its decoded answer are appended to `keep`, when given, to be checked after the load."""
    await asyncio.to_thread(sandbox.reset)
    today = date.fromisoformat(sandbox.info["dataset"]["last_day"])
    latencies: list[float] = []
    errors = 0
    bound = 0
    sent = 0
    limits = httpx.Limits(
        max_connections=concurrency + 4,
        max_keepalive_connections=concurrency + 4,
        keepalive_expiry=KEEPALIVE,
    )

    async def client_loop(client: httpx.AsyncClient, index: int, deadline: float) -> None:
        nonlocal errors, bound, sent
        i = 0
        while i < min_per_client or time.monotonic() < deadline:
            req = make(index, i)
            seconds, payload = await post(client, url, req.body())
            latencies.append(seconds)
            if keep is not None:
                keep.append((req, payload))
            bound += req.plan.total
            sent += 1
            if payload.get("errors"):
                errors += 1
            i += 1

    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        t0 = time.monotonic()
        deadline = t0 + duration
        await asyncio.gather(*(client_loop(client, c, deadline) for c in range(concurrency)))
        elapsed = time.monotonic() - t0
    recorded = await asyncio.to_thread(sandbox.requests)
    return LoadResult(
        concurrency, sent, elapsed, latencies, errors, classify(recorded, today), bound
    )


async def burst(url: str, sandbox: Sandbox, req: Request, *, clients: int) -> LoadResult:
    """`clients` copies of `req` released at the same instant: each client first opens its own
    connection (with `{ __typename }`, no upstream call), then all send together, so the
    requests are in flight at once however slowly connections are set up."""
    today = date.fromisoformat(sandbox.info["dataset"]["last_day"])
    go = asyncio.Event()
    connected = 0
    all_connected = asyncio.Event()

    async def one(client: httpx.AsyncClient) -> tuple[float, dict[str, Any]]:
        nonlocal connected
        await post(client, url, {"query": "{ __typename }"})
        connected += 1
        if connected == clients:
            all_connected.set()
        await go.wait()
        return await post(client, url, req.body())

    limits = httpx.Limits(max_connections=1, keepalive_expiry=KEEPALIVE)
    pool = [httpx.AsyncClient(timeout=600, limits=limits) for _ in range(clients)]
    try:
        tasks = [asyncio.create_task(one(client)) for client in pool]
        await asyncio.wait_for(all_connected.wait(), timeout=120)
        await asyncio.to_thread(sandbox.reset)  # the calls of the burst alone
        t0 = time.monotonic()
        go.set()
        answers = await asyncio.gather(*tasks)
        elapsed = time.monotonic() - t0
    finally:
        for client in pool:
            await client.aclose()
    recorded = await asyncio.to_thread(sandbox.requests)
    return LoadResult(
        clients,
        clients,
        elapsed,
        [seconds for seconds, _ in answers],
        sum(1 for _, payload in answers if payload.get("errors")),
        classify(recorded, today),
        req.plan.total * clients,
    )

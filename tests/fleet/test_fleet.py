"""The fleet end to end (issue 18, point 3): the vendor sandbox, Redis, three `usagegraph serve`
replicas behind a round-robin balancer and Hive Gateway in front, all local processes
(fleet/, `make test-fleet`). Under load through the gateway, one replica is killed (-9) and Redis
restarted; the fleet must give no wrong number, no error beyond the killed replica's requests in
flight, no more upstream calls than the fleet bound, and never exceed a vendor's per-second limit.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.bounds import ENDPOINTS, Range, dashboard_plan
from bench.scenarios import distinct_ranges, range_pool
from fleet.gateway import GATEWAY_BIN
from fleet.runner import Fleet, FleetOptions, VendorCall
from tests.fixtures.serve import node_or_skip
from tests.fixtures.truth import customer_parts, expected_customer, organization_id_of
from usagegraph.sandbox.dataset import Dataset

pytestmark = pytest.mark.fleet

OPTIONS = FleetOptions()  # three replicas; Teli 4 calls/s, burst 4, per account
CLIENTS = 16
LOAD_SECONDS = 24.0
KILL_AT = 8.0  # seconds into the load: replica 1, kill -9
REDIS_RESTART_AT = 16.0  # seconds into the load: stopped, down one second, started empty
COLD_BURST = 48
COLD_VENDOR_MS = 1000
KILLED = 1

DASHBOARD = (
    "query {name}($range: DateRange!) {{ resellers {{ id organizations {{ id "
    "usage(range: $range) {{ voice {{ seconds }} sms {{ outboundSegments }} "
    "costs {{ amount currency }} }} }} }} }}"
)


def dashboard(rng: Range, name: str = "Dashboard") -> dict[str, Any]:
    first, last = rng
    return {
        "query": DASHBOARD.format(name=name),
        "variables": {"range": {"firstDay": first.isoformat(), "lastDay": last.isoformat()}},
    }


def usage_calls(calls: list[VendorCall]) -> int:
    """Calls to the endpoints that answer usage (bench/bounds.py's), not discovery or tokens."""
    return sum(
        1
        for call in calls
        if any(f"{call.vendor} {call.path}".startswith(endpoint) for endpoint in ENDPOINTS)
    )


# -- what the answers must say ---------------------------------------------------------------


Figures = tuple[int | None, int | None, dict[str, Decimal] | None]


class Truth:
    """Each organization's dashboard figures per range, from the dataset (tests/fixtures)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.ids = {
            customer: organization_id_of(dataset, customer)
            for customer in dataset.customer_names
            if customer_parts(dataset, customer)
        }
        self._cache: dict[Range, dict[str, Figures]] = {}

    def figures(self, rng: Range) -> dict[str, Figures]:
        if rng not in self._cache:
            out: dict[str, Figures] = {}
            for customer, org_id in self.ids.items():
                exp = expected_customer(self.dataset, customer, *rng)
                costs = None if not exp.measured_costs else {c: a for c, a in exp.costs.items()}
                out[org_id] = (exp.voice_seconds, exp.sms_out, costs)
            self._cache[rng] = out
        return self._cache[rng]


def answered_figures(payload: dict[str, Any]) -> dict[str, Figures]:
    """The dashboard's figures per organization. A null voice reads 0 seconds (an organization
    with no voice part in the range), so a voice figure silently missing still differs from a
    non-zero truth; a null SMS or cost list stays null and so must be null in the truth too."""
    out: dict[str, Figures] = {}
    for reseller in payload["data"]["resellers"]:
        for org in reseller["organizations"]:
            usage = org["usage"] or {}
            voice = (usage.get("voice") or {}).get("seconds") or 0
            sms = (usage.get("sms") or {}).get("outboundSegments")
            costs = usage.get("costs")
            amounts = None
            if costs is not None:
                amounts = {}
                for cost in costs:
                    amounts[cost["currency"]] = amounts.get(cost["currency"], 0) + Decimal(
                        cost["amount"]
                    )
            out[org["id"]] = (voice, sms, amounts)
    return out


# -- the load ------------------------------------------------------------------------------------


@dataclass
class Answer:
    rng: Range
    started: float  # monotonic
    ended: float
    status: int
    payload: dict[str, Any] | None
    failure: str | None  # why it is not a full, error-free answer


@dataclass
class LoadRun:
    answers: list[Answer] = field(default_factory=list)
    killed_at: float = 0.0
    redis_down: tuple[float, float] = (0.0, 0.0)
    calls: list[VendorCall] = field(default_factory=list)
    lost: int = 0  # requests the balancer saw cut on the killed replica
    seconds: float = 0.0

    @property
    def failures(self) -> list[Answer]:
        return [answer for answer in self.answers if answer.failure is not None]


async def ask(client: httpx.AsyncClient, url: str, rng: Range, name: str) -> Answer:
    started = time.monotonic()
    failure = None
    payload = None
    status = 0
    try:
        response = await client.post(url, json=dashboard(rng, name))
        status = response.status_code
        payload = response.json()
        if status != 200 or payload.get("errors") or not payload.get("data"):
            failure = f"{status}: {str(payload.get('errors'))[:300]}"
    except (httpx.HTTPError, ValueError) as exc:
        failure = repr(exc)
    return Answer(rng, started, time.monotonic(), status, payload, failure)


async def load(fleet: Fleet, dataset: Dataset) -> LoadRun:
    """CLIENTS clients for LOAD_SECONDS, each sending three identical dashboards (a few shared
    ranges, cached) for one of a range no other request asks (a vendor call per source); replica
    KILLED is killed at KILL_AT, Redis restarted at REDIS_RESTART_AT."""
    shared = range_pool(dataset.end)[:3]
    fresh = iter(distinct_ranges(dataset.start, dataset.end))
    run = LoadRun()
    t0 = time.monotonic()
    deadline = t0 + LOAD_SECONDS

    async def client(number: int, http: httpx.AsyncClient) -> None:
        turn = number
        while time.monotonic() < deadline:
            rng = next(fresh) if turn % 4 == 3 else shared[turn % len(shared)]
            run.answers.append(await ask(http, fleet.gateway_url, rng, "Dashboard"))
            turn += 1

    async def chaos() -> None:
        await asyncio.sleep(KILL_AT)
        run.killed_at = time.monotonic()
        await asyncio.to_thread(fleet.kill_replica, KILLED)
        await asyncio.sleep(REDIS_RESTART_AT - (time.monotonic() - t0))
        down = time.monotonic()
        await asyncio.to_thread(fleet.restart_redis, 1.0)
        run.redis_down = (down, time.monotonic())

    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        await asyncio.gather(chaos(), *(client(n, http) for n in range(CLIENTS)))
    run.seconds = time.monotonic() - t0
    run.calls = fleet.vendor_calls()
    run.lost = fleet.balancer_stats()[KILLED]["lost"]
    return run


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    node_or_skip()
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    if not GATEWAY_BIN.is_file():
        pytest.fail("federation/node_modules is not installed: run `make test-fleet`")
    with Fleet(tmp_path_factory.mktemp("fleet"), OPTIONS) as running:
        warm_each_replica(running)
        yield running


def warm_each_replica(fleet: Fleet) -> None:
    """Discovery and tokens on every replica, so the counts below are usage calls."""
    for url in fleet.replica_urls:
        answer = httpx.post(
            f"{url}/graphql", json={"query": "{ organizations { id users { id } } }"}, timeout=60
        ).json()
        assert "errors" not in answer, answer


@pytest.fixture(scope="module")
def truth(dataset: Dataset) -> Truth:
    return Truth(dataset)


@dataclass(frozen=True)
class Burst:
    rng: Range
    calls: int
    bound: int
    failures: list[str]
    served_by: list[int]  # requests per replica


@pytest.fixture(scope="module")
def cold_burst(fleet: Fleet, dataset: Dataset) -> Burst:
    """COLD_BURST identical cold dashboards at once, before any chaos. Each names its operation
    differently, so the gateway passes every one on (it merges identical requests in flight) and
    the replicas, not the gateway, must share the upstream calls. The vendors answer slowly
    meanwhile (COLD_VENDOR_MS), longer than the gateway takes to hand the burst out: every
    replica has requests before any vendor call is back, so sharing cannot happen by luck."""
    first = dataset.end.replace(day=1) - timedelta(days=1)
    rng = (first.replace(day=2), first.replace(day=20))  # no other request asks this range
    fleet.forget_vendor_calls()
    before = [replica["served"] for replica in fleet.balancer_stats()]
    fleet.slow_vendors(COLD_VENDOR_MS)

    async def burst() -> list[Answer]:
        async with httpx.AsyncClient(timeout=120) as http:
            return await asyncio.gather(
                *(ask(http, fleet.gateway_url, rng, f"Cold{n}") for n in range(COLD_BURST))
            )

    try:
        answers = asyncio.run(burst())
    finally:
        fleet.slow_vendors(0)
    after = [replica["served"] for replica in fleet.balancer_stats()]
    return Burst(
        rng=rng,
        calls=usage_calls(fleet.vendor_calls()),
        bound=dashboard_plan(dataset, rng).total,
        failures=[a.failure for a in answers if a.failure is not None],
        served_by=[b - a for a, b in zip(before, after, strict=True)],
    )


@pytest.fixture(scope="module")
def chaos_run(fleet: Fleet, dataset: Dataset, cold_burst: Burst) -> LoadRun:
    fleet.forget_vendor_calls()
    run = asyncio.run(load(fleet, dataset))
    write_figures(fleet.folder / "figures.json", cold_burst, run)
    return run


def write_figures(path: Path, burst: Burst, run: LoadRun) -> None:
    """What docs/deploying.md reports, measured on this run, beside the fleet's logs."""
    figures = {
        "cold_burst": {"requests": COLD_BURST, "usage_calls": burst.calls, "bound": burst.bound},
        "load": {
            "clients": CLIENTS,
            "seconds": round(run.seconds, 1),
            "answers": len(run.answers),
            "failed": len(run.failures),
            "lost_by_the_killed_replica": run.lost,
            "usage_calls": usage_calls(run.calls),
            "distinct_ranges": len({a.rng for a in run.answers}),
            "busiest_teli_second": dict(busiest_second(run.calls, "teli")),
        },
    }
    path.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(f"fleet figures ({path}): {json.dumps(figures)}")


# -- the cold burst --------------------------------------------------------------------------------


def test_a_cold_burst_reaches_every_replica_and_every_answer_is_complete(
    cold_burst: Burst,
) -> None:
    assert cold_burst.failures == []
    assert sum(cold_burst.served_by) == COLD_BURST
    assert all(count > 0 for count in cold_burst.served_by), cold_burst.served_by


def test_identical_cold_dashboards_over_the_fleet_cost_one_requests_calls(
    cold_burst: Burst,
) -> None:
    assert cold_burst.bound == 3  # Telzino's report and one Teli call per tenant
    assert cold_burst.calls == cold_burst.bound


# -- under load, a replica killed and Redis restarted ----------------------------------------------


def test_the_load_answered_and_the_chaos_happened(chaos_run: LoadRun) -> None:
    assert len(chaos_run.answers) >= 10 * CLIENTS
    assert chaos_run.killed_at > 0 and chaos_run.redis_down[1] > chaos_run.redis_down[0]
    after_restart = [a for a in chaos_run.answers if a.started > chaos_run.redis_down[1]]
    assert after_restart and all(a.failure is None for a in after_restart)


def test_every_answer_under_load_has_the_datasets_numbers(chaos_run: LoadRun, truth: Truth) -> None:
    wrong = []
    for answer in chaos_run.answers:
        if answer.failure is not None:
            continue
        assert answer.payload is not None
        got = answered_figures(answer.payload)
        want = truth.figures(answer.rng)
        if got != want:
            differing = sorted(
                org for org in want.keys() | got.keys() if got.get(org) != want.get(org)
            )
            wrong.append((answer.rng, differing[:3]))
    assert wrong == []


def test_only_requests_in_flight_on_the_killed_replica_failed(chaos_run: LoadRun) -> None:
    failures = chaos_run.failures
    # each was sent before the kill and not yet answered at it, and no more than the clients
    assert all(a.started <= chaos_run.killed_at <= a.ended for a in failures), [
        (a.started - chaos_run.killed_at, a.failure) for a in failures
    ]
    assert len(failures) <= CLIENTS
    if failures:
        assert chaos_run.lost >= 1


def test_upstream_calls_under_load_stay_within_the_fleet_bound(
    chaos_run: LoadRun, dataset: Dataset
) -> None:
    """One request's calls per range and cache lifetime: once before Redis restarted (it comes
    back empty), once after; plus, for each request that could not share (in flight at the
    kill, or while Redis was down), its own calls."""
    down, up = chaos_run.redis_down
    before = {a.rng for a in chaos_run.answers if a.started < down}
    after = {a.rng for a in chaos_run.answers if a.ended > up}
    alone = [
        a.rng
        for a in chaos_run.answers
        if a.started <= chaos_run.killed_at <= a.ended or (a.started <= up and a.ended >= down)
    ]
    bound = sum(dashboard_plan(dataset, rng).total for rng in [*before, *after, *alone])

    assert usage_calls(chaos_run.calls) <= bound


def test_no_teli_account_ever_gets_more_than_its_rate_plus_burst_in_a_second(
    chaos_run: LoadRun,
) -> None:
    allowed = OPTIONS.teli_rate_per_second + OPTIONS.teli_burst
    busiest = busiest_second(chaos_run.calls, "teli")
    assert busiest, "no Teli call at all"
    assert max(busiest.values()) <= allowed, busiest


def busiest_second(calls: list[VendorCall], vendor: str) -> Counter[str]:
    """Per account of `vendor`, the most calls any one-second window [t, t + 1) held."""
    most: Counter[str] = Counter()
    by_account: dict[str, list[float]] = {}
    for call in calls:
        if call.vendor == vendor:
            by_account.setdefault(call.account, []).append(call.at)
    for account, times in by_account.items():
        times.sort()
        start = 0
        for end, at in enumerate(times):
            while times[start] <= at - 1.0:
                start += 1
            most[account] = max(most[account], end - start + 1)
    return most

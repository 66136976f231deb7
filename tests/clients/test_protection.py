"""Rate limit, circuit breaker and per-operation budget, in the transport and through GraphQL."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from usagegraph.clients.deadline import deadline_scope
from usagegraph.clients.errors import (
    UpstreamBudgetExceededError,
    UpstreamCircuitOpenError,
    UpstreamUnavailableError,
)
from usagegraph.clients.http_client import Timeouts, build_http_client
from usagegraph.clients.policy import TransportPolicy
from usagegraph.clients.protection import CallBudget, CircuitBreaker, TokenBucket, current_budget
from usagegraph.clients.retries import RetryPolicy
from usagegraph.clients.teli import teli_auth
from usagegraph.clients.transport import SourceTransport
from usagegraph.sandbox.server import SandboxServer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_token_bucket_lets_a_burst_through_then_paces_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=4, burst=2, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        assert await bucket.acquire(max_wait=10)
    assert clock.slept == pytest.approx([0.25, 0.25, 0.25])


async def test_token_bucket_refuses_a_wait_longer_than_allowed() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1, burst=1, clock=clock, sleep=clock.sleep)
    assert await bucket.acquire(max_wait=0)
    assert not await bucket.acquire(max_wait=0.5)
    assert clock.slept == []


def test_token_bucket_take_reports_the_wait_and_refills_up_to_the_burst_only() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]  # the burst
    assert bucket.take() == pytest.approx(0.5)  # one token every 0.5 s
    assert bucket.take() == pytest.approx(0.5)  # asking again took nothing
    clock.now += 0.25
    assert bucket.take() == pytest.approx(0.25)
    clock.now += 0.25
    assert bucket.take() == 0.0
    clock.now += 3600  # an hour idle refills the burst, not 7,200 tokens
    assert [bucket.take() for _ in range(4)] == [0.0, 0.0, 0.0, pytest.approx(0.5)]


async def test_token_bucket_try_take_yields_to_a_caller_already_waiting() -> None:
    clock = FakeClock()
    release = asyncio.Event()

    async def slow_sleep(seconds: float) -> None:
        await release.wait()
        clock.now += seconds

    bucket = TokenBucket(rate=1, burst=1, clock=clock, sleep=slow_sleep)
    assert bucket.try_take()
    waiter = asyncio.ensure_future(bucket.acquire(max_wait=5))
    await asyncio.sleep(0)  # the waiter holds the queue, sleeping for the next token
    clock.now += 1  # the next token is there, but it is the waiter's
    assert not bucket.try_take()
    release.set()
    assert await waiter
    assert bucket.take() == pytest.approx(1.0)


def ok_transport(counter: list[int], status: int = 200) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        counter.append(1)
        return httpx.Response(status, json={"ok": True})

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_transport_paces_requests_through_the_rate_limiter() -> None:
    clock = FakeClock()
    calls: list[int] = []
    async with ok_transport(calls) as http:
        transport = SourceTransport(
            source="teli-x",
            http=http,
            policy=TransportPolicy(
                rate_limiter=TokenBucket(rate=10, burst=3, clock=clock, sleep=clock.sleep)
            ),
        )
        for _ in range(6):
            await transport.get_json("http://vendor.test/v1/x", endpoint="GET /v1/x")
    assert len(calls) == 6
    assert sum(clock.slept) == pytest.approx(0.3)


async def test_breaker_opens_after_repeated_failures_and_fails_fast(sandbox: SandboxServer) -> None:
    sandbox.control.inject(vendor="teli", status=503)
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, cool_down=30, clock=clock)
    async with build_http_client(Timeouts(total=5)) as http:
        transport = SourceTransport(
            source="teli-northwind",
            http=http,
            auth=teli_auth(sandbox.dataset.teli_tenants[0].api_key),
            policy=TransportPolicy(retry=RetryPolicy(max_attempts=1), breaker=breaker),
        )
        url = f"{sandbox.base_url}/teli/v1/organizations"
        for _ in range(2):
            with pytest.raises(UpstreamUnavailableError):
                await transport.get_json(url, endpoint="GET /v1/organizations")
        assert breaker.state == "open"
        with pytest.raises(UpstreamCircuitOpenError) as raised:
            await transport.get_json(url, endpoint="GET /v1/organizations")
        assert sandbox.control.count("teli") == 2  # the third call never left
        assert raised.value.code == "UPSTREAM_UNAVAILABLE"
        assert "resume in 30 s" in str(raised.value)

        clock.now += 30  # cool-down over: one probe goes out; the vendor is still down
        assert breaker.state == "half_open"
        with pytest.raises(UpstreamUnavailableError):
            await transport.get_json(url, endpoint="GET /v1/organizations")
        assert sandbox.control.count("teli") == 3
        assert breaker.state == "open"

        sandbox.control.clear_faults()
        clock.now += 30
        await transport.get_json(url, endpoint="GET /v1/organizations", params=None)
        assert breaker.state == "closed"


async def test_budget_stops_calls_past_the_limit_per_source() -> None:
    calls: list[int] = []
    token = current_budget.set(CallBudget(limit=2))
    try:
        async with ok_transport(calls) as http:
            teli = SourceTransport(source="teli-x", http=http)
            telzino = SourceTransport(source="telzino", http=http)
            await teli.get_json("http://vendor.test/a", endpoint="GET /a")
            await teli.get_json("http://vendor.test/a", endpoint="GET /a")
            await telzino.get_json("http://vendor.test/b", endpoint="GET /b")  # its own budget
            with pytest.raises(UpstreamBudgetExceededError) as raised:
                await teli.get_json("http://vendor.test/a", endpoint="GET /a")
    finally:
        current_budget.reset(token)
    assert len(calls) == 3
    assert raised.value.code == "UPSTREAM_BUDGET_EXCEEDED"
    assert raised.value.source == "teli-x"


async def test_graphql_operation_past_its_budget_nulls_only_what_needs_more(
    sandbox: SandboxServer, directory_file
) -> None:
    from tests.fixtures.graph import sandbox_settings
    from usagegraph.app import create_app

    # 3 ranges x Teli tenant call each; a budget of 1 call per source per operation
    settings = sandbox_settings(sandbox, directory_file, graph={"max_upstream_calls_per_source": 1})
    app = create_app(settings)
    query = """
    { organization(id: "teli-northwind:%s") {
        a: usage(range: {firstDay: "2026-01-01", lastDay: "2026-01-31"}) { ...sms }
        b: usage(range: {firstDay: "2026-02-01", lastDay: "2026-02-28"}) { ...sms }
    } }
    fragment sms on Usage { sms { outboundSegments } }
    """
    org = sandbox.dataset.teli_tenants[0].organizations[1].unique_id
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            await client.post("/graphql", json={"query": "{ resellers { id } }"})
            sandbox.control.reset()
            body = (await client.post("/graphql", json={"query": query % org})).json()
    assert sandbox.control.count("teli", path="/v1/analytics/organizations") == 1
    answered = [k for k in ("a", "b") if body["data"]["organization"][k]["sms"] is not None]
    assert len(answered) == 1
    codes = {e["extensions"]["code"] for e in body["errors"]}
    assert codes == {"UPSTREAM_BUDGET_EXCEEDED"}
    assert {e["extensions"]["source"] for e in body["errors"]} == {"teli-northwind"}


async def test_calls_that_time_out_queued_behind_our_own_cap_do_not_trip_the_breaker() -> None:
    import asyncio

    release = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        await release.wait()  # the vendor hangs: the first call times out after it was sent
        return httpx.Response(200, json={})

    breaker = CircuitBreaker(failure_threshold=2, cool_down=30)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        transport = SourceTransport(
            source="teli-x",
            http=http,
            policy=TransportPolicy(
                timeouts=Timeouts(total=0.2),
                retry=RetryPolicy(max_attempts=1),
                max_concurrency=1,  # the second call waits for the first one's slot
                breaker=breaker,
            ),
        )

        async def queued() -> object:
            # gives up (its request's deadline) while the first call still holds the only slot:
            # with equal deadlines the slot could free a moment before the second one's ran out
            with deadline_scope(0.1):
                return await transport.get_json("http://vendor.test/a", endpoint="GET /a")

        outcomes = await asyncio.gather(
            transport.get_json("http://vendor.test/a", endpoint="GET /a"),
            queued(),
            return_exceptions=True,
        )
        release.set()
    assert all(isinstance(o, UpstreamUnavailableError) for o in outcomes)
    assert breaker.failures == 1  # only the call that reached the vendor counts
    assert breaker.state == "closed"

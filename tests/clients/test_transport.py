"""The shared transport: retries, deadlines, the concurrency cap, OAuth tokens, hooks, no leaks.

Unit tests use httpx.MockTransport with an injected recording sleep (instant, deterministic);
the fault paths the sandbox can produce (5xx bursts, latency, malformed bodies, revoked tokens)
and the connection pool go over real HTTP to the sandbox fixture.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from usagegraph.clients.auth import ApiKeyAuth, OAuthClientCredentials
from usagegraph.clients.errors import (
    UpstreamBadRequestError,
    UpstreamContractError,
    UpstreamError,
    UpstreamForbiddenError,
    UpstreamNotFoundError,
    UpstreamRateLimitedError,
    UpstreamTimeoutError,
    UpstreamUnauthorizedError,
    UpstreamUnavailableError,
)
from usagegraph.clients.http_client import Timeouts, build_http_client
from usagegraph.clients.network import PooledTransport
from usagegraph.clients.policy import TransportPolicy
from usagegraph.clients.retries import RETRYABLE_STATUS_CODES, RetryPolicy
from usagegraph.clients.transport import CallRecord, SourceTransport
from usagegraph.clients.urls import join_url
from usagegraph.sandbox.control import SandboxControl
from usagegraph.sandbox.dataset import (
    TELZINO_CLIENT_ID,
    TELZINO_CLIENT_SECRET,
    Dataset,
    teli_source_name,
)
from usagegraph.sandbox.server import SandboxServer, free_port

API = "https://api.vendor.test"
TOKEN_URL = "https://id.vendor.test/oauth/token"
ENDPOINT = "GET /v1/report"
CLIENT_SECRET = "cs-SECRET-4f1c9e"
API_KEY = "sk-live-SECRET-77aa"

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


class Sleeps:
    """An injected sleep that records the delays and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def scripted(*answers: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler giving these answers in order (the last one repeats) and the requests it saw."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[min(len(seen), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, seen


class FakeOAuthVendor:
    """A token endpoint plus an API that only accepts the newest token it issued."""

    def __init__(self, *, expires_in: Any = 3600, api: Handler | None = None) -> None:
        self.expires_in = expires_in
        self.token_requests: list[httpx.Request] = []
        self.api_requests: list[httpx.Request] = []
        self.issued: list[str] = []
        self.token_answer: httpx.Response | None = None  # set to fail the token endpoint
        self._api = api

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            self.token_requests.append(request)
            await asyncio.sleep(0.01)  # widen the window in which concurrent callers overlap
            if self.token_answer is not None:
                return self.token_answer
            token = f"at-SECRET-{len(self.issued) + 1}-9b8e"
            self.issued.append(token)
            body = {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
            return httpx.Response(200, json=body)
        self.api_requests.append(request)
        if self._api is not None:
            answer = self._api(request)
            return await answer if asyncio.iscoroutine(answer) else answer  # type: ignore[misc]
        if request.headers.get("authorization") == f"Bearer {self.issued[-1]}":
            return httpx.Response(200, json={"ok": True})
        return httpx.Response(401, json={"error": "Unauthorized", "message": "Invalid token"})


def oauth(style: str = "json", **kwargs: Any) -> OAuthClientCredentials:
    return OAuthClientCredentials(
        token_url=TOKEN_URL,
        client_id="client-1",
        client_secret=CLIENT_SECRET,
        style=style,  # type: ignore[arg-type]
        **kwargs,
    )


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., tuple[SourceTransport, Sleeps]]]:
    """Build a transport over a MockTransport handler with a recording sleep; closes clients."""
    clients: list[httpx.AsyncClient] = []

    def build(handler: Handler, **kwargs: Any) -> tuple[SourceTransport, Sleeps]:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        clients.append(http)
        sleeps = Sleeps()
        kwargs.setdefault("random", lambda: 0.5)
        kwargs.setdefault("sleep", sleeps)
        transport = SourceTransport(source="vendor", http=http, **kwargs)
        return transport, sleeps

    yield build
    for http in clients:
        await http.aclose()


@pytest.fixture
async def pooled() -> AsyncIterator[httpx.AsyncClient]:
    """The production client (real sockets) for tests against the sandbox."""
    http = build_http_client(Timeouts(connect=2.0, read=5.0, total=10.0))
    yield http
    await http.aclose()


def teli_transport(
    dataset: Dataset, http: httpx.AsyncClient, **kwargs: Any
) -> tuple[SourceTransport, Sleeps]:
    tenant = dataset.teli_tenants[0]
    sleeps = Sleeps()
    transport = SourceTransport(
        source=teli_source_name(tenant),
        http=http,
        auth=ApiKeyAuth("X-API-Key", tenant.api_key),
        sleep=sleeps,
        **kwargs,
    )
    return transport, sleeps


# -- URLs, params, decoding ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "path", "expected"),
    [
        ("http://h/api/proxy", "/v1/x", "http://h/api/proxy/v1/x"),
        ("http://h/api/proxy/", "/v1/x", "http://h/api/proxy/v1/x"),
        ("http://h/api/proxy", "v1/x", "http://h/api/proxy/v1/x"),
        ("https://api.teli.ai", "/v1/organizations", "https://api.teli.ai/v1/organizations"),
        ("http://127.0.0.1:9/teli", "/v1/a", "http://127.0.0.1:9/teli/v1/a"),
    ],
)
def test_join_url_keeps_the_path_prefix(base: str, path: str, expected: str) -> None:
    assert join_url(base, path) == expected


async def test_params_may_repeat_keys_as_pairs(make) -> None:
    handler, seen = scripted(httpx.Response(200, json={}))
    transport, _ = make(handler)
    pairs = [("ids[]", "a"), ("ids[]", "b"), ("start_date", "2026-04-01")]
    await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT, params=pairs)
    assert seen[0].url.params.multi_items() == pairs


async def test_params_may_be_a_mapping(make) -> None:
    handler, seen = scripted(httpx.Response(200, json={}))
    transport, _ = make(handler)
    await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT, params={"ids": "a,b"})
    assert str(seen[0].url) == f"{API}/v1/report?ids=a%2Cb"


async def test_parse_float_keeps_money_exact(make) -> None:
    handler, _ = scripted(httpx.Response(200, content=b'{"cost": 0.1, "n": 3, "x": [445.67]}'))
    transport, _ = make(handler)
    body = await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT, parse_float=Decimal)
    assert body == {"cost": Decimal("0.1"), "n": 3, "x": [Decimal("445.67")]}
    assert isinstance(body["n"], int)


async def test_body_that_is_not_json_is_a_contract_error(make) -> None:
    handler, seen = scripted(httpx.Response(200, content=b'{"data": [ {"trunc'))
    transport, sleeps = make(handler)
    with pytest.raises(UpstreamContractError) as caught:
        await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    assert str(caught.value).startswith("vendor: GET /v1/report returned a body that is not JSON (")
    assert "trunc" not in str(caught.value)
    assert len(seen) == 1
    assert sleeps.calls == []


async def test_body_that_is_not_utf8_is_a_contract_error(make) -> None:
    handler, _ = scripted(httpx.Response(200, content=b"\xff\xfe\x00garbage"))
    transport, _ = make(handler)
    with pytest.raises(UpstreamContractError):
        await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)


async def test_malformed_body_from_the_sandbox_is_a_contract_error(
    dataset: Dataset, sandbox: SandboxServer, control: SandboxControl, pooled
) -> None:
    control.inject(vendor="teli", malformed=True)
    transport, _ = teli_transport(dataset, pooled)
    with pytest.raises(UpstreamContractError) as caught:
        await transport.get_json(
            f"{sandbox.base_url}/teli/v1/organizations", endpoint="GET /v1/organizations"
        )
    assert caught.value.status == 200
    assert control.count("teli") == 1


async def test_redirect_is_not_followed(make) -> None:
    handler, seen = scripted(httpx.Response(301, headers={"Location": "https://elsewhere.test/"}))
    transport, _ = make(handler)
    with pytest.raises(UpstreamContractError) as caught:
        await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    assert str(caught.value) == "vendor: GET /v1/report answered 301 (Moved Permanently)"
    assert [str(r.url) for r in seen] == [f"{API}/v1/report"]


def test_build_http_client_sets_timeouts_limits_and_no_redirects() -> None:
    http = build_http_client(Timeouts(connect=1.5, read=7.0, total=20.0), max_connections=12)
    try:
        assert http.timeout == httpx.Timeout(connect=1.5, read=7.0, write=7.0, pool=20.0)
        assert http.follow_redirects is False
        transport = http._transport  # httpx has no public accessor for a client's transport
        assert isinstance(transport, PooledTransport)
        limits = transport.limits
        assert (limits.max_connections, limits.max_keepalive_connections) == (12, 12)
    finally:
        asyncio.run(http.aclose())


async def test_one_client_one_connection_across_sequential_calls(
    sandbox: SandboxServer, pooled, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="httpcore.connection")
    transport = SourceTransport(source="sandbox", http=pooled)
    for _ in range(10):
        body = await transport.get_json(f"{sandbox.base_url}/", endpoint="GET /")
        assert body["dataset"]["seed"] == 7
    opened = [r for r in caplog.records if r.getMessage().startswith("connect_tcp.started")]
    assert len(opened) == 1


# -- retries -------------------------------------------------------------------------------------


async def test_429_with_retry_after_waits_exactly_that_long(make) -> None:
    handler, seen = scripted(
        httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json={"ok": 1})
    )
    transport, sleeps = make(handler)
    assert await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT) == {"ok": 1}
    assert sleeps.calls == [7.0]
    assert len(seen) == 2


async def test_429_retry_after_past_the_deadline_gives_up_at_once(make) -> None:
    handler, seen = scripted(httpx.Response(429, headers={"Retry-After": "120"}))
    transport, sleeps = make(handler, policy=TransportPolicy(timeouts=Timeouts(total=30.0)))
    started = time.monotonic()
    with pytest.raises(UpstreamRateLimitedError) as caught:
        await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    assert time.monotonic() - started < 1.0
    assert caught.value.retry_after == 120.0
    assert len(seen) == 1
    assert sleeps.calls == []


async def test_429_without_retry_after_backs_off_exponentially(make) -> None:
    handler, seen = scripted(
        httpx.Response(429), httpx.Response(429), httpx.Response(429), httpx.Response(200, json=1)
    )
    transport, sleeps = make(
        handler, policy=TransportPolicy(retry=RetryPolicy(max_attempts=4, backoff_base=0.2))
    )
    assert await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT) == 1
    # random() == 0.5 picks the middle of [0, 0.2), [0, 0.4), [0, 0.8)
    assert sleeps.calls == pytest.approx([0.1, 0.2, 0.4])
    assert len(seen) == 4


async def test_backoff_jitter_stays_within_the_capped_window(make) -> None:
    handler, _ = scripted(httpx.Response(429))
    rng = random.Random(1234)
    policy = RetryPolicy(max_attempts=8, backoff_base=0.5, backoff_max=3.0)
    transport, sleeps = make(handler, random=rng.random, policy=TransportPolicy(retry=policy))
    with pytest.raises(UpstreamRateLimitedError) as caught:
        await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    caps = [0.5, 1.0, 2.0, 3.0, 3.0, 3.0, 3.0]
    assert len(sleeps.calls) == len(caps)
    assert all(0.0 <= wait < cap for wait, cap in zip(sleeps.calls, caps, strict=True))
    assert len(set(sleeps.calls)) == len(caps)  # jittered, not a fixed schedule
    assert caught.value.attempts == 8


async def test_503_burst_from_the_sandbox_is_retried_then_succeeds(
    dataset: Dataset, sandbox: SandboxServer, control: SandboxControl, pooled
) -> None:
    control.inject(vendor="teli", status=503, times=2)
    transport, sleeps = teli_transport(dataset, pooled)
    body = await transport.get_json(
        f"{sandbox.base_url}/teli/v1/organizations", endpoint="GET /v1/organizations"
    )
    assert body["success"] is True
    assert body["count"] == len(dataset.teli_tenants[0].organizations)
    assert control.count("teli", path="/v1/organizations") == 3
    assert len(sleeps.calls) == 2


async def test_persistent_503_is_unavailable_after_max_attempts(
    dataset: Dataset, sandbox: SandboxServer, control: SandboxControl, pooled
) -> None:
    control.inject(vendor="teli", status=503)
    transport, sleeps = teli_transport(
        dataset, pooled, policy=TransportPolicy(retry=RetryPolicy(max_attempts=4))
    )
    with pytest.raises(UpstreamUnavailableError) as caught:
        await transport.get_json(
            f"{sandbox.base_url}/teli/v1/organizations", endpoint="GET /v1/organizations"
        )
    assert type(caught.value) is UpstreamUnavailableError
    assert caught.value.attempts == 4
    assert caught.value.status == 503
    assert str(caught.value) == (
        "teli-northwind: GET /v1/organizations answered 503 (Service Unavailable) "
        "after 4 attempts: Injected fault"
    )
    assert control.count("teli") == 4
    assert len(sleeps.calls) == 3


async def test_503_retry_after_from_the_sandbox_is_honoured(
    dataset: Dataset, sandbox: SandboxServer, control: SandboxControl, pooled
) -> None:
    control.inject(vendor="teli", status=503, retry_after=2, times=1)
    transport, sleeps = teli_transport(dataset, pooled)
    body = await transport.get_json(
        f"{sandbox.base_url}/teli/v1/organizations", endpoint="GET /v1/organizations"
    )
    assert body["success"] is True
    assert sleeps.calls == [2.0]


@pytest.mark.parametrize("status", sorted(RETRYABLE_STATUS_CODES - {429}))
async def test_gateway_errors_are_retried(make, status: int) -> None:
    handler, seen = scripted(httpx.Response(status), httpx.Response(200, json=[]))
    transport, sleeps = make(handler)
    assert await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT) == []
    assert len(seen) == 2
    assert len(sleeps.calls) == 1


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, UpstreamBadRequestError),
        (403, UpstreamForbiddenError),
        (404, UpstreamNotFoundError),
        (422, UpstreamBadRequestError),
        (500, UpstreamUnavailableError),
    ],
)
async def test_other_errors_are_not_retried(make, status: int, cls: type) -> None:
    handler, seen = scripted(httpx.Response(status, json={"message": "nope"}))
    transport, sleeps = make(handler)
    with pytest.raises(cls) as caught:
        await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    assert type(caught.value) is cls
    assert caught.value.status == status
    assert caught.value.attempts == 1
    assert len(seen) == 1
    assert sleeps.calls == []


async def test_connect_error_is_retried(make) -> None:
    refused = httpx.ConnectError("All connection attempts failed")
    handler, seen = scripted(refused, refused, httpx.Response(200, json={"ok": True}))
    transport, sleeps = make(handler)
    assert await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT) == {"ok": True}
    assert len(seen) == 3
    assert len(sleeps.calls) == 2


async def test_unreachable_host_is_unavailable_after_every_attempt() -> None:
    # A loopback port nobody listens on: a real, immediate "connection refused".
    http = build_http_client(Timeouts(connect=1.0, read=1.0, total=5.0))
    records: list[CallRecord] = []
    transport = SourceTransport(
        source="vendor",
        http=http,
        sleep=Sleeps(),
        on_call=records.append,
        policy=TransportPolicy(retry=RetryPolicy(max_attempts=3)),
    )
    try:
        with pytest.raises(UpstreamUnavailableError) as caught:
            await transport.get_json(f"http://127.0.0.1:{free_port()}/v1/x", endpoint="GET /v1/x")
    finally:
        await http.aclose()
    assert type(caught.value) is UpstreamUnavailableError
    assert (
        str(caught.value)
        == "vendor: GET /v1/x could not be reached (ConnectError) after 3 attempts"
    )
    assert [(r.attempt, r.status, r.error) for r in records] == [
        (1, None, "ConnectError"),
        (2, None, "ConnectError"),
        (3, None, "ConnectError"),
    ]


async def test_backoff_that_cannot_end_before_the_deadline_gives_up_at_once(make) -> None:
    handler, seen = scripted(httpx.Response(503))
    policy = RetryPolicy(max_attempts=4, backoff_base=10.0, backoff_max=10.0)
    transport, sleeps = make(
        handler, policy=TransportPolicy(retry=policy, timeouts=Timeouts(total=2.0))
    )
    with pytest.raises(UpstreamUnavailableError) as caught:
        await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    assert type(caught.value) is UpstreamUnavailableError  # the real cause, not a timeout
    assert len(seen) == 1
    assert sleeps.calls == []


# -- timeouts ------------------------------------------------------------------------------------


async def test_handler_that_never_answers_times_out_within_the_total_deadline(make) -> None:
    async def never(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200)

    transport, _ = make(
        never, policy=TransportPolicy(timeouts=Timeouts(connect=1.0, read=10.0, total=0.3))
    )
    started = time.monotonic()
    with pytest.raises(UpstreamTimeoutError) as caught:
        await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    assert time.monotonic() - started < 0.3 + 0.5
    assert str(caught.value) == "vendor: GET /v1/report did not answer within 0.3 s (1 attempt)"


async def test_read_timeouts_over_http_are_retried_then_surface_as_timeout(
    dataset: Dataset, sandbox: SandboxServer, control: SandboxControl
) -> None:
    control.inject(vendor="teli", latency_ms=1500)
    http = build_http_client(Timeouts(connect=1.0, read=0.15, total=3.0))
    transport, sleeps = teli_transport(
        dataset,
        http,
        policy=TransportPolicy(
            timeouts=Timeouts(connect=1.0, read=0.15, total=3.0), retry=RetryPolicy(max_attempts=3)
        ),
    )
    started = time.monotonic()
    try:
        with pytest.raises(UpstreamTimeoutError) as caught:
            await transport.get_json(
                f"{sandbox.base_url}/teli/v1/organizations", endpoint="GET /v1/organizations"
            )
    finally:
        await http.aclose()
    assert time.monotonic() - started < 3.0
    assert str(caught.value) == (
        "teli-northwind: GET /v1/organizations timed out (ReadTimeout) after 3 attempts"
    )
    assert control.count("teli") == 3
    assert len(sleeps.calls) == 2


async def test_total_deadline_cuts_a_slow_sandbox_answer_short(
    dataset: Dataset, sandbox: SandboxServer, control: SandboxControl
) -> None:
    control.inject(vendor="teli", latency_ms=2000)
    timeouts = Timeouts(connect=1.0, read=10.0, total=0.4)
    http = build_http_client(timeouts)
    transport, _ = teli_transport(dataset, http, policy=TransportPolicy(timeouts=timeouts))
    started = time.monotonic()
    try:
        with pytest.raises(UpstreamTimeoutError):
            await transport.get_json(
                f"{sandbox.base_url}/teli/v1/organizations", endpoint="GET /v1/organizations"
            )
    finally:
        await http.aclose()
    assert time.monotonic() - started < 0.4 + 0.5


async def test_deadline_covers_a_token_fetch_that_never_answers(make) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200)

    transport, _ = make(handler, auth=oauth(), policy=TransportPolicy(timeouts=Timeouts(total=0.2)))
    started = time.monotonic()
    with pytest.raises(UpstreamTimeoutError) as caught:
        await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    assert time.monotonic() - started < 0.2 + 0.5
    assert str(caught.value) == (
        "vendor: GET /v1/report did not answer within 0.2 s "
        "(1 attempt, while fetching a token at POST /oauth/token)"
    )


async def test_deadline_includes_backoff_waits(make) -> None:
    handler, seen = scripted(httpx.Response(503))

    async def real_but_short(seconds: float) -> None:
        await asyncio.sleep(0.05)

    transport, _ = make(
        handler,
        sleep=real_but_short,  # each wait really takes 50 ms
        policy=TransportPolicy(
            timeouts=Timeouts(total=0.3),
            retry=RetryPolicy(max_attempts=100, backoff_base=0.01, backoff_max=0.01),
        ),
    )
    started = time.monotonic()
    with pytest.raises(UpstreamTimeoutError) as caught:
        await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    assert time.monotonic() - started < 0.3 + 0.5
    assert 3 <= caught.value.attempts < 100
    assert len(seen) == caught.value.attempts
    assert "last: answered 503 (Service Unavailable)" in str(caught.value)


# -- concurrency ---------------------------------------------------------------------------------


async def test_concurrency_cap_is_never_exceeded(make) -> None:
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        return httpx.Response(200, json={"i": request.url.params["i"]})

    transport, _ = make(handler, policy=TransportPolicy(max_concurrency=3))
    results = await asyncio.gather(
        *(
            transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT, params={"i": str(i)})
            for i in range(30)
        )
    )
    assert [r["i"] for r in results] == [str(i) for i in range(30)]
    assert peak == 3


async def test_backoff_wait_does_not_hold_a_concurrency_slot(make) -> None:
    served_b = asyncio.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/a" and not served_b.is_set():
            return httpx.Response(503)
        if request.url.path == "/b":
            served_b.set()
        return httpx.Response(200, json=request.url.path)

    async def wait_for_b(seconds: float) -> None:
        # If the retrying call kept its slot while waiting, /b could never be served.
        await served_b.wait()

    transport, _ = make(
        handler,
        sleep=wait_for_b,
        policy=TransportPolicy(max_concurrency=1, timeouts=Timeouts(total=2.0)),
    )
    a = asyncio.create_task(transport.get_json(f"{API}/a", endpoint="GET /a"))
    await asyncio.sleep(0)
    b = asyncio.create_task(transport.get_json(f"{API}/b", endpoint="GET /b"))
    assert await asyncio.gather(a, b) == ["/a", "/b"]


# -- auth ----------------------------------------------------------------------------------------


async def test_api_key_is_sent_in_its_header(make) -> None:
    handler, seen = scripted(httpx.Response(200, json={}))
    transport, _ = make(handler, auth=ApiKeyAuth("X-API-Key", API_KEY))
    await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    assert seen[0].headers["x-api-key"] == API_KEY


async def test_api_key_401_is_unauthorized_without_retry(make) -> None:
    handler, seen = scripted(httpx.Response(401, json={"error": "Invalid API key"}))
    transport, sleeps = make(handler, auth=ApiKeyAuth("X-API-Key", API_KEY))
    with pytest.raises(UpstreamUnauthorizedError) as caught:
        await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    assert (
        str(caught.value) == "vendor: GET /v1/report answered 401 (Unauthorized): Invalid API key"
    )
    assert len(seen) == 1
    assert sleeps.calls == []


async def test_json_style_posts_the_credentials_as_json(make) -> None:
    vendor = FakeOAuthVendor()
    auth = oauth("json", audience="https://api.telzino.com/")
    transport, _ = make(vendor, auth=auth)
    await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    (token_request,) = vendor.token_requests
    assert token_request.method == "POST"
    assert token_request.headers["content-type"] == "application/json"
    assert json.loads(token_request.content) == {
        "grant_type": "client_credentials",
        "client_id": "client-1",
        "client_secret": CLIENT_SECRET,
        "audience": "https://api.telzino.com/",
    }
    assert vendor.api_requests[0].headers["authorization"] == f"Bearer {vendor.issued[0]}"


async def test_basic_style_sends_basic_auth_and_a_form_body(make) -> None:
    vendor = FakeOAuthVendor()
    auth = oauth("basic", scope="express-accounts-usage:read express-accounts:read")
    transport, _ = make(vendor, auth=auth)
    await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    (token_request,) = vendor.token_requests
    expected = base64.b64encode(f"client-1:{CLIENT_SECRET}".encode()).decode()
    assert token_request.headers["authorization"] == f"Basic {expected}"
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert dict(parse_qsl(token_request.content.decode())) == {
        "grant_type": "client_credentials",
        "scope": "express-accounts-usage:read express-accounts:read",
    }


async def test_401_triggers_exactly_one_token_refresh_then_succeeds(make) -> None:
    vendor = FakeOAuthVendor()
    transport, sleeps = make(vendor, auth=oauth())
    assert await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT) == {"ok": True}
    vendor.issued.append("rotated-elsewhere")  # the vendor now rejects our cached token
    assert await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT) == {"ok": True}
    assert len(vendor.token_requests) == 2
    assert len(vendor.api_requests) == 3
    assert vendor.api_requests[-1].headers["authorization"] == f"Bearer {vendor.issued[-1]}"
    assert sleeps.calls == []


async def test_second_401_is_unauthorized(make) -> None:
    vendor = FakeOAuthVendor(api=lambda request: httpx.Response(401, json={"message": "nope"}))
    transport, _ = make(vendor, auth=oauth())
    with pytest.raises(UpstreamUnauthorizedError) as caught:
        await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    assert caught.value.status == 401
    assert len(vendor.token_requests) == 2
    assert len(vendor.api_requests) == 2


async def test_concurrent_first_calls_share_one_token_fetch(make) -> None:
    vendor = FakeOAuthVendor()
    transport, _ = make(vendor, auth=oauth())
    results = await asyncio.gather(
        *(transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT) for _ in range(20))
    )
    assert results == [{"ok": True}] * 20
    assert len(vendor.token_requests) == 1
    assert len(vendor.api_requests) == 20


async def test_concurrent_401s_share_one_refresh(make) -> None:
    vendor = FakeOAuthVendor()
    transport, _ = make(vendor, auth=oauth())
    await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    vendor.issued.append("rotated-elsewhere")
    results = await asyncio.gather(
        *(transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT) for _ in range(10))
    )
    assert results == [{"ok": True}] * 10
    assert len(vendor.token_requests) == 2


async def test_token_is_cached_until_shortly_before_expiry(make) -> None:
    vendor = FakeOAuthVendor(expires_in=600)  # margin min(60, 600/10) = 60 s
    clock = Clock()
    transport, _ = make(vendor, auth=oauth(clock=clock))
    await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    clock.now += 539
    await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    assert len(vendor.token_requests) == 1
    clock.now += 1
    await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    assert len(vendor.token_requests) == 2
    assert vendor.api_requests[-1].headers["authorization"] == f"Bearer {vendor.issued[1]}"


async def test_short_lived_token_uses_a_tenth_as_margin(make) -> None:
    vendor = FakeOAuthVendor(expires_in=30)  # margin 3 s
    clock = Clock()
    transport, _ = make(vendor, auth=oauth(clock=clock))
    await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    clock.now += 26.9
    await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    clock.now += 0.1
    await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    assert len(vendor.token_requests) == 2


@pytest.mark.parametrize("status", [400, 401])
async def test_token_endpoint_rejection_is_unauthorized(make, status: int) -> None:
    vendor = FakeOAuthVendor()
    vendor.token_answer = httpx.Response(
        status,
        json={"error": "invalid_client", "error_description": "Client authentication failed."},
    )
    transport, sleeps = make(vendor, auth=oauth("basic"))
    with pytest.raises(UpstreamUnauthorizedError) as caught:
        await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    assert caught.value.endpoint == "POST /oauth/token"
    assert caught.value.status == status
    assert str(caught.value).endswith(": invalid_client: Client authentication failed.")
    assert len(vendor.token_requests) == 1
    assert vendor.api_requests == []
    assert sleeps.calls == []


async def test_token_endpoint_outage_is_retried_like_any_call(make) -> None:
    vendor = FakeOAuthVendor()
    failures = 2
    original = vendor.__call__

    async def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal failures
        if request.url.path == "/oauth/token" and failures:
            failures -= 1
            vendor.token_requests.append(request)
            return httpx.Response(503)
        return await original(request)

    transport, sleeps = make(flaky, auth=oauth())
    assert await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT) == {"ok": True}
    assert len(vendor.token_requests) == 3
    assert len(sleeps.calls) == 2


async def test_token_endpoint_persistent_outage_is_unavailable(make) -> None:
    vendor = FakeOAuthVendor()
    vendor.token_answer = httpx.Response(502)
    transport, _ = make(
        vendor, auth=oauth(), policy=TransportPolicy(retry=RetryPolicy(max_attempts=2))
    )
    with pytest.raises(UpstreamUnavailableError) as caught:
        await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    assert (
        str(caught.value) == "vendor: POST /oauth/token answered 502 (Bad Gateway) after 2 attempts"
    )
    assert vendor.api_requests == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"token_type": "Bearer", "expires_in": 3600}, "access_token"),
        ({"access_token": "", "expires_in": 3600}, "access_token"),
        ({"access_token": 42}, "access_token"),
        ({"access_token": "t", "expires_in": "soon"}, "expires_in"),
        ({"access_token": "t", "expires_in": -1}, "expires_in"),
        (["access_token"], None),
    ],
)
async def test_token_response_without_usable_token_is_a_contract_error(
    make, body: Any, field: str | None
) -> None:
    vendor = FakeOAuthVendor()
    vendor.token_answer = httpx.Response(200, json=body)
    transport, _ = make(vendor, auth=oauth())
    with pytest.raises(UpstreamContractError) as caught:
        await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
    assert caught.value.field == field
    assert caught.value.endpoint == "POST /oauth/token"
    assert vendor.api_requests == []


async def test_telzino_token_over_http_is_fetched_once_and_refreshed_after_revocation(
    sandbox: SandboxServer, control: SandboxControl, pooled
) -> None:
    base = sandbox.base_url
    auth = OAuthClientCredentials(
        token_url=f"{base}/telzino-api/oauth/token",
        client_id=TELZINO_CLIENT_ID,
        client_secret=TELZINO_CLIENT_SECRET,
        style="json",
        audience="https://api.telzino.com/",
    )
    transport = SourceTransport(source="telzino", http=pooled, auth=auth, sleep=Sleeps())
    params = {"start_date": "2026-04-01", "end_date": "2026-04-30"}
    url = f"{base}/telzino-dashboard/v1/billing-report"
    first = await transport.get_json(url, endpoint="GET /v1/billing-report", params=params)
    await transport.get_json(url, endpoint="GET /v1/billing-report", params=params)
    assert control.count(mount="telzino-api", path="/oauth/token") == 1
    control.tokens.revoke_all()
    again = await transport.get_json(url, endpoint="GET /v1/billing-report", params=params)
    assert again == first
    assert control.count(mount="telzino-api", path="/oauth/token") == 2
    assert control.count(mount="telzino-dashboard") == 4  # 2 + one 401 + its retry


async def test_talkdesk_basic_token_over_http(
    dataset: Dataset, sandbox: SandboxServer, control: SandboxControl, pooled
) -> None:
    org = dataset.talkdesk_orgs[0]
    auth = OAuthClientCredentials(
        token_url=f"{sandbox.base_url}/talkdesk-id/oauth/token",
        client_id=org.client_id,
        client_secret=org.client_secret,
        style="basic",
        scope="express-accounts-usage:read express-accounts:read",
    )
    transport = SourceTransport(source=f"talkdesk-{org.slug}", http=pooled, auth=auth)
    body = await transport.get_json(
        f"{sandbox.base_url}/talkdesk/express/accounts", endpoint="GET /express/accounts"
    )
    ids = sorted(a["id"] for a in body["_embedded"]["accounts"])
    assert ids == sorted(a.id for a in org.accounts)
    assert control.count(mount="talkdesk-id") == 1


# -- observability and secrets -------------------------------------------------------------------


async def test_on_call_reports_every_attempt_including_token_calls(make) -> None:
    answers = iter([httpx.Response(503), httpx.Response(200, json={"ok": True})])
    vendor = FakeOAuthVendor(api=lambda request: next(answers))
    records: list[CallRecord] = []
    transport, _ = make(vendor, auth=oauth(), on_call=records.append)
    await transport.get_json(
        f"{API}/v1/report", endpoint=ENDPOINT, params={"start_date": "2026-04-01"}
    )
    summary = [(r.endpoint, r.method, r.url, r.status, r.attempt, r.error) for r in records]
    assert summary == [
        ("POST /oauth/token", "POST", TOKEN_URL, 200, 1, None),
        (ENDPOINT, "GET", f"{API}/v1/report", 503, 1, "HTTP 503"),
        (ENDPOINT, "GET", f"{API}/v1/report", 200, 2, None),
    ]
    assert all(r.source == "vendor" and r.duration_s >= 0 for r in records)


async def test_a_failing_hook_does_not_break_the_call(make, caplog) -> None:
    def broken(record: CallRecord) -> None:
        raise RuntimeError("hook bug")

    handler, _ = scripted(httpx.Response(200, json={"ok": True}))
    transport, _ = make(handler, on_call=broken)
    with caplog.at_level(logging.ERROR, logger="usagegraph.upstream"):
        assert await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT) == {"ok": True}
    assert [r.getMessage() for r in caplog.records] == [
        "on_call hook failed for vendor GET /v1/report"
    ]


async def test_each_attempt_logs_one_debug_line_without_query(make, caplog) -> None:
    handler, _ = scripted(httpx.Response(502), httpx.Response(200, json={}))
    transport, _ = make(handler)
    with caplog.at_level(logging.DEBUG, logger="usagegraph.upstream"):
        await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT, params={"q": "x"})
    lines = [r.getMessage() for r in caplog.records if r.name == "usagegraph.upstream"]
    assert len(lines) == 2
    assert lines[0].startswith(f"vendor GET {API}/v1/report -> 502 in ")
    assert lines[0].endswith("(attempt 1)")
    assert lines[1].startswith(f"vendor GET {API}/v1/report -> 200 in ")
    assert "q=x" not in " ".join(lines)


async def test_no_secret_reaches_error_text_or_logs(make, caplog) -> None:
    """Drive every failure path with vendors that echo our credentials back at us."""
    caplog.set_level(logging.DEBUG)
    errors: list[UpstreamError] = []
    issued: list[str] = []
    basic = base64.b64encode(f"client-1:{CLIENT_SECRET}".encode()).decode()

    async def attempt(transport: SourceTransport) -> None:
        with pytest.raises(UpstreamError) as caught:
            await transport.get_json(f"{API}/v1/report", endpoint=ENDPOINT)
        errors.append(caught.value)

    def echo(status: int) -> Handler:
        def handler(request: httpx.Request) -> httpx.Response:
            creds = request.headers.get("authorization", "") + request.headers.get("x-api-key", "")
            return httpx.Response(
                status,
                json={"error": f"bad credentials {creds}", "message": f"you sent {creds}"},
                headers={"Retry-After": "0"} if status == 429 else None,
            )

        return handler

    for status in (400, 401, 403, 404, 429, 503):
        transport, _ = make(echo(status), auth=ApiKeyAuth("X-API-Key", API_KEY))
        await attempt(transport)

        vendor = FakeOAuthVendor(api=echo(status))
        transport, _ = make(vendor, auth=oauth())
        await attempt(transport)
        issued.extend(vendor.issued)

    for style in ("json", "basic"):
        for status in (400, 401):
            vendor = FakeOAuthVendor()
            vendor.token_answer = httpx.Response(
                status,
                json={
                    "error": "invalid_client",
                    "error_description": f"secret {CLIENT_SECRET} / Basic {basic} is wrong",
                },
            )
            transport, _ = make(vendor, auth=oauth(style))
            await attempt(transport)

    async def never(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    transport, _ = make(
        never,
        auth=ApiKeyAuth("X-API-Key", API_KEY),
        policy=TransportPolicy(timeouts=Timeouts(total=0.05)),
    )
    await attempt(transport)
    handler, _ = scripted(httpx.ConnectError(f"refused while sending {API_KEY}"))
    transport, _ = make(handler, auth=ApiKeyAuth("X-API-Key", API_KEY))
    await attempt(transport)
    handler, _ = scripted(httpx.Response(200, content=f"not json {API_KEY}".encode()))
    transport, _ = make(handler, auth=ApiKeyAuth("X-API-Key", API_KEY))
    await attempt(transport)

    secrets = [API_KEY, CLIENT_SECRET, basic, *issued]
    assert len(issued) == 7  # one token per OAuth run, two where a 401 forced a refresh
    assert len(errors) == 19
    texts = [f"{e} {e!r} {e.extensions()}" for e in errors]
    texts += [repr(oauth()), repr(ApiKeyAuth("X-API-Key", API_KEY)), repr(transport)]
    texts += [f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records]
    assert len(caplog.records) > 20
    leaks = [(secret, text) for text in texts for secret in secrets if secret in text]
    assert leaks == []
    # The vendors' hints survive, minus the credentials.
    assert any("[redacted]" in str(e) for e in errors)

"""The HTTP layer every vendor client shares: auth, retries, deadlines, a concurrency cap, hooks.

One `SourceTransport` per configured source wraps the app's single pooled `httpx.AsyncClient`
(built by `build_http_client`). A logical call (`request`/`get_json`) runs under one asyncio
deadline (`Timeouts.total`) that covers every attempt, token fetch and backoff wait. Inside it:

- connect errors, timeouts, 429 and 502/503/504 are retried with exponential backoff and full
  jitter (or exactly the Retry-After the source asked for), up to `RetryPolicy.max_attempts`;
- every HTTP attempt (token calls too) holds one of the source's concurrency slots and took one
  of its rate tokens, the backoff waits do not; slots and tokens are handed round-robin across
  the callers waiting for them (`clients.fairness`), and each caller may make `CallerQuota`
  calls a minute;
- the request's deadline (`clients.deadline`), when one is set, cuts the call's own deadline
  short: a call gets the time its request has left, never more than `Timeouts.total`;
- a 401 with OAuth credentials drops the cached token and retries once with a fresh one;
- failures become `clients.errors` exceptions whose text never contains a credential.

Each attempt is logged at DEBUG on "usagegraph.upstream" and reported to the `on_call` hook.
"""

from __future__ import annotations

import asyncio
import base64
import json as jsonlib
import logging
import math
import random as random_module
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, Protocol

import httpx
from usagegraph.clients.bodies import parse_json
from usagegraph.clients.deadline import current_deadline
from usagegraph.clients.errors import (
    UpstreamBadRequestError,
    UpstreamBudgetExceededError,
    UpstreamCircuitOpenError,
    UpstreamContractError,
    UpstreamError,
    UpstreamQuotaExceededError,
    UpstreamRateLimitedError,
    UpstreamTimeoutError,
    UpstreamUnauthorizedError,
    UpstreamUnavailableError,
    error_from_response,
    parse_retry_after,
)
from usagegraph.clients.fairness import CallerQuota, FairGate, caller_lanes, current_caller
from usagegraph.clients.network import pooled_transport
from usagegraph.clients.protection import CircuitBreaker, TokenBucket, current_budget

__all__ = [
    "MAX_RETRIES",
    "RETRYABLE_STATUS_CODES",
    "ApiKeyAuth",
    "Auth",
    "CallRecord",
    "OAuthClientCredentials",
    "Params",
    "RetryPolicy",
    "SourceTransport",
    "Timeouts",
    "build_http_client",
    "join_url",
    "strip_query",
]

logger = logging.getLogger("usagegraph.upstream")

MAX_RETRIES = 3  # retries after the first attempt
RETRYABLE_STATUS_CODES = frozenset({429, 502, 503, 504})
# Failures where the request never produced an answer, so sending it again is safe and useful.
RETRYABLE_EXCEPTIONS: tuple[type[httpx.TransportError], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)
# Token lifetime assumed when a token response has no `expires_in` (OAuth makes it optional).
DEFAULT_TOKEN_TTL = 300.0

Params = Sequence[tuple[str, str]] | Mapping[str, str]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Timeouts:
    """Seconds: per connect, per read (also used for writes), and for a whole logical call."""

    connect: float = 3.0
    read: float = 15.0
    total: float = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a logical call is retried."""

    max_attempts: int = MAX_RETRIES + 1
    backoff_base: float = 0.2  # the first retry waits up to this long
    backoff_max: float = 5.0  # no single backoff wait is longer

    def backoff_cap(self, attempt: int) -> float:
        """The longest wait after failed attempt number `attempt` (1-based)."""
        return min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))


@dataclass(frozen=True)
class CallRecord:
    """One HTTP attempt, as reported to `SourceTransport(on_call=...)`."""

    source: str
    endpoint: str
    method: str
    url: str  # without query string
    status: int | None
    duration_s: float
    attempt: int
    error: str | None  # None for an answered request; else e.g. "ReadTimeout", "HTTP 503"


def join_url(base_url: str, path: str) -> str:
    """`base_url` + `path`, keeping any path prefix of the base (unlike RFC 3986 resolution).

    join_url("http://h/api/proxy", "/v1/x") == "http://h/api/proxy/v1/x"
    """
    return f"{base_url.rstrip('/')}/{path.lstrip('/')}"


def strip_query(url: str | httpx.URL) -> str:
    """The URL without query string, fragment or userinfo: safe for logs."""
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.netloc.decode('ascii')}{parsed.path}"


@cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default verified context, built once: each build loads the CA bundle
    (docs/measurements.md#tls-context-built-once), which every source's client would otherwise
    pay again at start-up."""
    return httpx.create_ssl_context()


def build_http_client(timeouts: Timeouts, *, max_connections: int = 20) -> httpx.AsyncClient:
    """The app's one pooled client: explicit per-phase timeouts, bounded pool, no redirects."""
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    return httpx.AsyncClient(
        transport=pooled_transport(verify=_tls_context(), limits=limits),
        # Also what a proxy taken from the environment (HTTPS_PROXY, ...) is built with.
        verify=_tls_context(),
        timeout=httpx.Timeout(
            connect=timeouts.connect,
            read=timeouts.read,
            write=timeouts.read,
            # Waiting for a free pooled connection is bounded by the call's own deadline.
            pool=timeouts.total,
        ),
        limits=limits,
        follow_redirects=False,
        headers={"User-Agent": "usagegraph"},
    )


class Send(Protocol):
    """An unauthenticated request through the transport (retries, cap, hooks, same deadline)."""

    def __call__(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Awaitable[httpx.Response]: ...


class Auth(Protocol):
    """Credentials a transport attaches to each request."""

    source: str  # set by the transport that uses it; names the source in token errors

    async def headers(self, send: Send) -> dict[str, str]:
        """Headers to send; may fetch a token with `send`."""
        ...

    def invalidate(self, headers: Mapping[str, str]) -> bool:
        """Forget the credential these headers carried; True if fresh ones may fix a 401."""
        ...

    def secrets(self) -> tuple[str, ...]:
        """Every value that must never appear in logs or error text."""
        ...


class ApiKeyAuth:
    """A static key in a header (Teli: `ApiKeyAuth("X-API-Key", key)`)."""

    def __init__(self, header: str, key: str) -> None:
        self.header = header
        self._key = key
        self.source = ""

    def __repr__(self) -> str:
        return f"ApiKeyAuth(header={self.header!r}, key=[redacted])"

    async def headers(self, send: Send) -> dict[str, str]:
        return {self.header: self._key}

    def invalidate(self, headers: Mapping[str, str]) -> bool:
        return False  # a static key cannot be refreshed: a 401 is final

    def secrets(self) -> tuple[str, ...]:
        return (self._key,)


@dataclass
class _Token:
    value: str
    refresh_at: float  # clock() time after which we fetch a new one


class OAuthClientCredentials:
    """OAuth 2.0 client-credentials tokens, cached until shortly before they expire.

    style "json" (Telzino): POST a JSON body with client_id, client_secret, audience, grant_type.
    style "basic" (Talkdesk): HTTP Basic base64(id:secret), form body grant_type (+ scope).
    Concurrent callers share one fetch; the token call goes through the same transport (retries,
    cap, deadline, hook). Token endpoint 400/401 -> UpstreamUnauthorizedError.
    """

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        style: Literal["json", "basic"],
        audience: str | None = None,
        scope: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if style not in ("json", "basic"):
            raise ValueError(f"unknown OAuth client authentication style {style!r}")
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.style = style
        self.audience = audience
        self.scope = scope
        self.source = ""
        self.endpoint = f"POST {httpx.URL(token_url).path}"
        self._clock = clock
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
        # Every token we were handed, so one echoed back in an error is still redacted.
        self._issued: list[str] = []

    def __repr__(self) -> str:
        return (
            f"OAuthClientCredentials(token_url={strip_query(self.token_url)!r}, "
            f"client_id={self.client_id!r}, style={self.style!r})"
        )

    async def headers(self, send: Send) -> dict[str, str]:
        token = self._current()
        if token is None:
            # Single flight: whoever gets the lock fetches, the others find the fresh token.
            async with self._lock:
                token = self._current()
                if token is None:
                    token = await self._fetch(send)
        return {"Authorization": f"Bearer {token}"}

    def invalidate(self, headers: Mapping[str, str]) -> bool:
        # Only drop the token if it is the one that failed: when many calls hit 401 at once,
        # the first drops it, the rest reuse the token fetched after it.
        if self._token is not None and headers.get("Authorization") == (
            f"Bearer {self._token.value}"
        ):
            self._token = None
        return True

    def secrets(self) -> tuple[str, ...]:
        return (self._client_secret, self._basic, *self._issued)

    def _current(self) -> str | None:
        if self._token is not None and self._clock() < self._token.refresh_at:
            return self._token.value
        return None

    async def _fetch(self, send: Send) -> str:
        body: dict[str, str] = {"grant_type": "client_credentials"}
        if self.audience is not None:
            body["audience"] = self.audience
        if self.scope is not None:
            body["scope"] = self.scope
        try:
            if self.style == "json":
                body.update(client_id=self.client_id, client_secret=self._client_secret)
                response = await send("POST", self.token_url, endpoint=self.endpoint, json=body)
            else:
                response = await send(
                    "POST",
                    self.token_url,
                    endpoint=self.endpoint,
                    data=body,
                    headers={"Authorization": f"Basic {self._basic}"},
                )
        except UpstreamBadRequestError as exc:
            if exc.status != 400:
                raise
            # OAuth answers bad client credentials with 400 invalid_client as often as with 401.
            raise UpstreamUnauthorizedError(
                exc.message, source=exc.source, endpoint=exc.endpoint, status=exc.status
            ) from None
        fetched_at = self._clock()
        value, ttl = self._parse(response)
        self._issued = [*self._issued[-7:], value]
        margin = min(60.0, ttl / 10)
        self._token = _Token(value, fetched_at + ttl - margin)
        return value

    def _parse(self, response: httpx.Response) -> tuple[str, float]:
        def broken(problem: str, field: str | None) -> UpstreamContractError:
            return UpstreamContractError(
                problem, source=self.source, endpoint=self.endpoint, status=200, field=field
            )

        try:
            body = jsonlib.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            raise broken("returned a token response that is not JSON", None) from None
        if not isinstance(body, dict):
            raise broken("returned a token response that is not a JSON object", None)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise broken("returned no access_token", "access_token")
        expires_in = body.get("expires_in", DEFAULT_TOKEN_TTL)
        try:
            ttl = float(expires_in)
        except (TypeError, ValueError):
            raise broken("returned an expires_in that is not a number", "expires_in") from None
        if isinstance(expires_in, bool) or not 0 < ttl < float("inf"):
            raise broken("returned an expires_in that is not a positive number", "expires_in")
        return token, ttl


@dataclass
class _CallState:
    """What one logical call has done so far (for messages when the deadline cuts it short)."""

    attempts: int = 0
    last_error: UpstreamError | None = None
    token_endpoint: str | None = None  # set while this call waits on a token fetch
    sent: bool = False  # a request left for the vendor (not just queued behind our own limits)
    gave_up: bool = False  # the request's deadline, shorter than the source's own, cut it short


class SourceTransport:
    """Authenticated, retrying, capped HTTP for one source over a shared pooled client."""

    def __init__(
        self,
        *,
        source: str,
        http: httpx.AsyncClient,
        auth: Auth | None = None,
        timeouts: Timeouts = Timeouts(),  # frozen, so safe to share
        retry: RetryPolicy = RetryPolicy(),
        max_concurrency: int = 8,
        on_call: Callable[[CallRecord], None] | None = None,
        rate_limiter: TokenBucket | None = None,
        breaker: CircuitBreaker | None = None,
        quota: CallerQuota | None = None,
        sleep: Sleep = asyncio.sleep,
        random: Callable[[], float] = random_module.random,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if retry.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.source = source
        self.http = http
        self.auth = auth
        if auth is not None:
            auth.source = source
        self.timeouts = timeouts
        self.retry = retry
        self.max_concurrency = max_concurrency
        self.quota = quota
        self._on_call = on_call
        self.rate_limiter = rate_limiter
        # slots and rate tokens, handed round-robin across the callers waiting for them
        self._gate = FairGate(limiter=rate_limiter, max_concurrency=max_concurrency)
        self.breaker = breaker
        self._sleep = sleep
        self._random = random

    def __repr__(self) -> str:
        return f"SourceTransport(source={self.source!r}, auth={self.auth!r})"

    async def get_json(
        self,
        url: str,
        *,
        endpoint: str,
        params: Params | None = None,
        parse_float: Callable[[str], Any] | None = None,
    ) -> Any:
        """GET `url` and decode its JSON body (`parse_float=decimal.Decimal` keeps money exact).

        A body that is not JSON raises UpstreamContractError; see `request` for the rest.
        """
        response = await self.request("GET", url, endpoint=endpoint, params=params)
        return parse_json(
            response.content,
            source=self.source,
            endpoint=endpoint,
            status=response.status_code,
            parse_float=parse_float,
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        params: Params | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        """Send one logical request and return its 2xx response.

        Retries connect errors, timeouts, 429 and 502/503/504 (Retry-After honoured) within
        `retry.max_attempts` and the `timeouts.total` deadline; refreshes an OAuth token once on
        401; raises the matching `UpstreamError` for anything else.
        """
        deadline = current_deadline.get()
        if deadline is not None and deadline.left() <= 0:
            raise UpstreamTimeoutError(
                f"was not called: {deadline.describe()} had passed",
                source=self.source,
                endpoint=endpoint,
                attempts=0,
            )
        budget = current_budget.get()
        if budget is not None and not budget.spend(self.source):
            raise UpstreamBudgetExceededError(
                f"was not called: this operation already made {budget.limit} calls to it",
                source=self.source,
                endpoint=endpoint,
            )
        caller = current_caller.get()
        if self.quota is not None and caller is not None:
            wait = self.quota.spend(caller)
            if wait > 0:
                if budget is not None:
                    budget.refund(self.source)
                raise UpstreamQuotaExceededError(
                    f"was not called: this caller already made its {self.quota.per_minute} "
                    f"calls a minute to it (the next in {math.ceil(wait)} s)",
                    source=self.source,
                    endpoint=endpoint,
                    retry_after=math.ceil(wait),
                )
        breaker = self.breaker
        if breaker is not None and not breaker.allow():
            if self.quota is not None and caller is not None:
                self.quota.refund(caller)  # not called: not counted
            raise UpstreamCircuitOpenError(
                f"was not called: it failed {breaker.failures} times in a row, calls resume "
                f"in {breaker.retry_in():.0f} s",
                source=self.source,
                endpoint=endpoint,
            )
        state = _CallState()
        try:
            response = await self._request(
                method,
                url,
                state=state,
                endpoint=endpoint,
                params=params,
                json=json,
                data=data,
                headers=headers,
                authenticated=authenticated,
            )
        except UpstreamUnavailableError:
            if breaker is not None:
                # a call that timed out queued behind our own rate limit or concurrency cap, or
                # that its request stopped waiting for, says nothing about the vendor's health
                if state.sent and not state.gave_up:
                    breaker.record_failure()
                else:
                    breaker.release_probe()
            raise
        except BaseException:
            if breaker is not None:
                breaker.release_probe()  # any other answer says nothing about its health
            raise
        if breaker is not None:
            breaker.record_success()
        return response

    async def _request(
        self,
        method: str,
        url: str,
        *,
        state: _CallState,
        endpoint: str,
        params: Params | None,
        json: Any,
        data: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        authenticated: bool,
    ) -> httpx.Response:
        deadline = asyncio.get_running_loop().time() + self.timeouts.total
        # the request's deadline when it comes first: the call gets the time the request has left
        cut_by = current_deadline.get()
        if cut_by is not None and cut_by.at < deadline:
            deadline = cut_by.at
        else:
            cut_by = None
        timeout = asyncio.timeout_at(deadline)
        try:
            async with timeout:
                return await self._call(
                    method,
                    url,
                    endpoint=endpoint,
                    params=params,
                    json=json,
                    data=data,
                    headers=headers,
                    authenticated=authenticated,
                    deadline=deadline,
                    state=state,
                )
        except TimeoutError:
            if not timeout.expired():
                raise
            state.gave_up = cut_by is not None
            notes = [f"{state.attempts} attempt{'s' if state.attempts != 1 else ''}"]
            if state.token_endpoint:
                notes.append(f"while fetching a token at {state.token_endpoint}")
            if state.last_error is not None:
                notes.append(f"last: {state.last_error.message}")
            within = cut_by.describe() if cut_by is not None else f"{self.timeouts.total:g} s"
            raise UpstreamTimeoutError(
                f"did not answer within {within} ({', '.join(notes)})",
                source=self.source,
                endpoint=endpoint,
                attempts=state.attempts,
            ) from None

    async def _call(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        params: Params | None,
        json: Any,
        data: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        authenticated: bool,
        deadline: float,
        state: _CallState,
    ) -> httpx.Response:
        loop = asyncio.get_running_loop()
        budget = self.retry.max_attempts
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            sent_headers = dict(headers or {})
            if authenticated and self.auth is not None:
                sent_headers.update(await self._auth_headers(deadline, state))
            state.attempts = attempt
            try:
                response = await self._attempt(
                    method,
                    url,
                    state=state,
                    endpoint=endpoint,
                    attempt=attempt,
                    deadline=deadline,
                    params=params,
                    json=json,
                    data=data,
                    headers=sent_headers,
                )
            except httpx.TransportError as exc:
                error = self._transport_error(exc, endpoint=endpoint, attempts=attempt)
                state.last_error = error
                if not isinstance(exc, RETRYABLE_EXCEPTIONS) or attempt >= budget:
                    raise error from None
                delay = self._backoff(attempt)
            else:
                if response.is_success:
                    return response
                if (
                    response.status_code == 401
                    and authenticated
                    and self.auth is not None
                    and not refreshed
                    and self.auth.invalidate(sent_headers)
                ):
                    # One fresh token, one more try; it does not eat into the retry budget.
                    refreshed = True
                    budget += 1
                    continue
                error = error_from_response(
                    response,
                    source=self.source,
                    endpoint=endpoint,
                    attempts=attempt,
                    secrets=self._secrets(),
                )
                state.last_error = error
                if response.status_code not in RETRYABLE_STATUS_CODES or attempt >= budget:
                    raise error
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                if retry_after is not None:
                    if retry_after >= deadline - loop.time():
                        # The source told us when it will serve us: after our deadline.
                        raise error
                    await self._sleep(retry_after)
                    continue
                delay = self._backoff(attempt)
            # A wait that cannot end before the deadline would only turn this error into a timeout.
            if delay >= deadline - loop.time():
                raise error
            await self._sleep(delay)

    async def _auth_headers(self, deadline: float, state: _CallState) -> dict[str, str]:
        assert self.auth is not None

        async def send(
            method: str,
            url: str,
            *,
            endpoint: str,
            json: Any = None,
            data: Mapping[str, str] | None = None,
            headers: Mapping[str, str] | None = None,
        ) -> httpx.Response:
            # Shared state: if the deadline strikes now, the timeout names the token call.
            state.token_endpoint = endpoint
            response = await self._call(
                method,
                url,
                endpoint=endpoint,
                params=None,
                json=json,
                data=data,
                headers=headers,
                authenticated=False,
                deadline=deadline,
                state=state,
            )
            state.token_endpoint = None
            return response

        return await self.auth.headers(send)

    async def _attempt(
        self,
        method: str,
        url: str,
        *,
        state: _CallState,
        endpoint: str,
        attempt: int,
        deadline: float,
        params: Params | None,
        json: Any,
        data: Mapping[str, str] | None,
        headers: Mapping[str, str],
    ) -> httpx.Response:
        status: int | None = None
        error: str | None = None
        started = time.perf_counter()
        slot = False
        try:
            await self._enter(endpoint, deadline)
            slot = True
            started = time.perf_counter()  # time the request, not the queue
            state.sent = True
            response = await self.http.request(
                method, url, params=params, json=json, data=data, headers=headers
            )
            status = response.status_code
            error = None if response.is_success else f"HTTP {status}"
            return response
        except BaseException as exc:
            # A deadline cancels the attempt from outside; anything else names itself.
            cancelled = isinstance(exc, asyncio.CancelledError)
            error = "cancelled" if cancelled else type(exc).__name__
            raise
        finally:
            if slot:
                self._gate.leave()
            self._report(
                CallRecord(
                    source=self.source,
                    endpoint=endpoint,
                    method=method,
                    url=strip_query(url),
                    status=status,
                    duration_s=time.perf_counter() - started,
                    attempt=attempt,
                    error=error,
                )
            )

    async def _enter(self, endpoint: str, deadline: float) -> None:
        """A rate token and a concurrency slot (held on return until `_gate.leave`), handed
        round-robin across the callers waiting for them (`clients.fairness.FairGate`)."""
        limiter = self.rate_limiter
        interest, lanes = caller_lanes()
        if limiter is not None:
            # the calls queued ahead in this caller's own lane each need a token first: when
            # even the bucket's burst and the rate until the deadline cannot cover them, fail now
            left = deadline - asyncio.get_running_loop().time()
            if self._gate.backlog(lanes) + 1 - limiter.burst > left * limiter.rate:
                raise self._booked(limiter, endpoint)
        await self._gate.enter(lanes, interest)

    def _booked(self, limiter: TokenBucket, endpoint: str) -> UpstreamRateLimitedError:
        return UpstreamRateLimitedError(
            f"was not called: our own limit of {limiter.rate:g} requests/s to it is "
            "booked beyond this call's deadline",
            source=self.source,
            endpoint=endpoint,
            status=None,
        )

    def _report(self, record: CallRecord) -> None:
        logger.debug(
            "%s %s %s -> %s in %.3fs (attempt %d)",
            record.source,
            record.method,
            record.url,
            record.status if record.status is not None else record.error,
            record.duration_s,
            record.attempt,
        )
        if self._on_call is None:
            return
        try:
            self._on_call(record)
        except Exception:
            # Observability must never break the call it observes.
            logger.exception("on_call hook failed for %s %s", record.source, record.endpoint)

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, cap), so synchronized clients spread out."""
        return self.retry.backoff_cap(attempt) * self._random()

    def _transport_error(
        self, exc: httpx.TransportError, *, endpoint: str, attempts: int
    ) -> UpstreamError:
        # The exception type says enough; its text may quote URLs or socket details.
        after = f" after {attempts} attempts" if attempts > 1 else ""
        kind = type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            return UpstreamTimeoutError(
                f"timed out ({kind}){after}",
                source=self.source,
                endpoint=endpoint,
                attempts=attempts,
            )
        return UpstreamUnavailableError(
            f"could not be reached ({kind}){after}",
            source=self.source,
            endpoint=endpoint,
            attempts=attempts,
        )

    def _secrets(self) -> tuple[str, ...]:
        return self.auth.secrets() if self.auth is not None else ()

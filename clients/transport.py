"""One source's HTTP channel: a logical call, its attempts, and what each attempt reports.

One `SourceTransport` per configured source wraps the app's pooled `httpx.AsyncClient`
(`clients.http_client`), configured by one `TransportPolicy` (`clients.policy`). A logical call
(`request`/`get_json`) runs under one asyncio deadline (`clients.deadline.CallDeadline`) that
covers every attempt, token fetch and backoff wait. Inside it:

- the source's limits may refuse the call, and every HTTP attempt (token calls too) waits for
  a rate token and a concurrency slot (`clients.guard`);
- failed attempts are retried as `clients.retries` says;
- credentials come from the source's `Auth` (`clients.auth`); a 401 with OAuth credentials
  drops the cached token and retries once with a fresh one;
- failures become `clients.errors` exceptions whose text never contains a credential.

Each attempt is logged at DEBUG on "usagegraph.upstream" and reported to the `on_call` hook.
"""

from __future__ import annotations

import asyncio
import logging
import random as random_module
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from usagegraph.clients.auth import Auth
from usagegraph.clients.bodies import parse_json
from usagegraph.clients.deadline import CallDeadline, refuse_if_passed
from usagegraph.clients.errors import (
    UpstreamError,
    UpstreamTimeoutError,
    error_from_response,
    parse_retry_after,
)
from usagegraph.clients.guard import SourceGuard
from usagegraph.clients.policy import TransportPolicy
from usagegraph.clients.protection import CircuitBreaker
from usagegraph.clients.retries import RETRYABLE_EXCEPTIONS, RETRYABLE_STATUS_CODES, failure_error
from usagegraph.clients.urls import strip_query

__all__ = ["CallRecord", "Params", "SourceTransport"]

logger = logging.getLogger("usagegraph.upstream")

Params = Sequence[tuple[str, str]] | Mapping[str, str]
Sleep = Callable[[float], Awaitable[None]]
# The defaults, and no limiter, breaker or quota: no state, so every transport may share it.
_DEFAULT_POLICY = TransportPolicy()


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


@dataclass(frozen=True, slots=True)
class _Outgoing:
    """One logical request as its caller asked for it, sent again as is on each attempt."""

    method: str
    url: str
    endpoint: str
    # a tuple: httpx takes any tuple or list of pairs (a list only of its own pair type)
    params: tuple[tuple[str, str], ...] | Mapping[str, str] | None = None
    json: Any = None
    data: Mapping[str, str] | None = None
    headers: Mapping[str, str] | None = None
    authenticated: bool = True


@dataclass
class _CallState:
    """What one logical call has done so far (for messages when the deadline cuts it short)."""

    deadline: CallDeadline
    attempts: int = 0
    last_error: UpstreamError | None = None
    token_endpoint: str | None = None  # set while this call waits on a token fetch
    sent: bool = False  # a request left for the vendor (not just queued behind our own limits)
    gave_up: bool = False  # the request's deadline, shorter than the source's own, cut it short

    def timed_out(self, source: str, endpoint: str) -> UpstreamTimeoutError:
        notes = [f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}"]
        if self.token_endpoint:
            notes.append(f"while fetching a token at {self.token_endpoint}")
        if self.last_error is not None:
            notes.append(f"last: {self.last_error.message}")
        return UpstreamTimeoutError(
            f"did not answer within {self.deadline.describe()} ({', '.join(notes)})",
            source=source,
            endpoint=endpoint,
            attempts=self.attempts,
        )


class SourceTransport:
    """Authenticated, retrying, capped HTTP for one source over a shared pooled client."""

    def __init__(
        self,
        *,
        source: str,
        http: httpx.AsyncClient,
        auth: Auth | None = None,
        policy: TransportPolicy = _DEFAULT_POLICY,
        on_call: Callable[[CallRecord], None] | None = None,
        sleep: Sleep = asyncio.sleep,
        random: Callable[[], float] = random_module.random,
    ) -> None:
        self.source = source
        self.http = http
        self.auth = auth
        if auth is not None:
            auth.source = source
        self.policy = policy
        self.guard = SourceGuard(source, policy)
        self._on_call = on_call
        self._sleep = sleep
        self._random = random

    def __repr__(self) -> str:
        return f"SourceTransport(source={self.source!r}, auth={self.auth!r})"

    @property
    def breaker(self) -> CircuitBreaker | None:
        """The source's circuit breaker, whose state health, metrics and `sources` report."""
        return self.policy.breaker

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
        `policy.retry.max_attempts` and the `policy.timeouts.total` deadline; refreshes an OAuth
        token once on 401; raises the matching `UpstreamError` for anything else.
        """
        refuse_if_passed(source=self.source, endpoint=endpoint)
        self.guard.admit(endpoint)
        if params is not None and not isinstance(params, Mapping):
            params = tuple(params)
        outgoing = _Outgoing(method, url, endpoint, params, json, data, headers, authenticated)
        state = _CallState(CallDeadline.start(self.policy.timeouts.total))
        try:
            response = await self._within_deadline(outgoing, state)
        except BaseException as exc:
            self.guard.settle(exc, sent=state.sent, gave_up=state.gave_up)
            raise
        self.guard.settle(None, sent=state.sent, gave_up=state.gave_up)
        return response

    async def _within_deadline(self, outgoing: _Outgoing, state: _CallState) -> httpx.Response:
        timeout = asyncio.timeout_at(state.deadline.at)
        try:
            async with timeout:
                return await self._call(outgoing, state)
        except TimeoutError:
            if not timeout.expired():
                raise
            state.gave_up = state.deadline.cut_by is not None
            raise state.timed_out(self.source, outgoing.endpoint) from None

    async def _call(self, outgoing: _Outgoing, state: _CallState) -> httpx.Response:
        """Attempts until one answers 2xx, a failure is final, or no retry fits the deadline."""
        retry = self.policy.retry
        budget = retry.max_attempts
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            sent_headers = dict(outgoing.headers or {})
            if outgoing.authenticated and self.auth is not None:
                sent_headers.update(await self._auth_headers(state))
            state.attempts = attempt
            try:
                response = await self._attempt(outgoing, sent_headers, attempt, state)
            except httpx.TransportError as exc:
                error = failure_error(
                    exc, source=self.source, endpoint=outgoing.endpoint, attempts=attempt
                )
                state.last_error = error
                if not isinstance(exc, RETRYABLE_EXCEPTIONS) or attempt >= budget:
                    raise error from None
                delay = retry.backoff(attempt, self._random)
            else:
                if response.is_success:
                    return response
                if (
                    response.status_code == 401
                    and outgoing.authenticated
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
                    endpoint=outgoing.endpoint,
                    attempts=attempt,
                    secrets=self.auth.secrets() if self.auth is not None else (),
                )
                state.last_error = error
                if response.status_code not in RETRYABLE_STATUS_CODES or attempt >= budget:
                    raise error
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                if retry_after is not None:
                    if retry_after >= state.deadline.left():
                        # The source told us when it will serve us: after our deadline.
                        raise error
                    await self._sleep(retry_after)
                    continue
                delay = retry.backoff(attempt, self._random)
            # A wait that cannot end before the deadline would only turn this error into a timeout.
            if delay >= state.deadline.left():
                raise error
            await self._sleep(delay)

    async def _auth_headers(self, state: _CallState) -> dict[str, str]:
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
            token_call = _Outgoing(
                method, url, endpoint, json=json, data=data, headers=headers, authenticated=False
            )
            response = await self._call(token_call, state)
            state.token_endpoint = None
            return response

        return await self.auth.headers(send)

    async def _attempt(
        self, outgoing: _Outgoing, headers: Mapping[str, str], attempt: int, state: _CallState
    ) -> httpx.Response:
        status: int | None = None
        error: str | None = None
        started = time.perf_counter()
        slot = False
        try:
            await self.guard.enter(outgoing.endpoint, state.deadline.at)
            slot = True
            started = time.perf_counter()  # time the request, not the queue
            state.sent = True
            response = await self.http.request(
                outgoing.method,
                outgoing.url,
                params=outgoing.params,
                json=outgoing.json,
                data=outgoing.data,
                headers=headers,
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
                self.guard.leave()
            self._report(
                CallRecord(
                    source=self.source,
                    endpoint=outgoing.endpoint,
                    method=outgoing.method,
                    url=strip_query(outgoing.url),
                    status=status,
                    duration_s=time.perf_counter() - started,
                    attempt=attempt,
                    error=error,
                )
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

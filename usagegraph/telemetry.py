"""Per-request telemetry that any layer can feed without knowing who listens.

It imports nothing of the project, so every layer (clients, resolvers, schema, the app) may
import it without an upward import or a cycle.

The app's request middleware binds a request id and an `Observer` (the app's metrics) to the
running HTTP request with `bind_request`; each GraphQL operation opens an `OperationTrace` with
`operation_trace`. Both live in context variables, so every task the request starts (loader
batches, a discovery refresh) inherits them, and the transport's `on_call` hook, the response
cache and the error masking reach them with a plain function call. Outside a request every
function here is a cheap no-op.

    record_call(record)            the transport's on_call hook: one HTTP attempt
    record_upstream_event(...)     anything else worth listing, e.g. a cache hit
    cache_miss()                   calls made inside it are listed with cache="miss"
    record_cache(backend, hit)     cache hit/miss counters of the current app
    record_cache_error(backend, why) an entry the cache could not read or store
    record_fleet_fallback(feature)   a replica acting alone because Redis failed (fleet.py)
    current_request_id()           the id the masked-error log line and every log line carry
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "AttemptReport",
    "CacheOutcome",
    "Observer",
    "OperationTrace",
    "UpstreamEvent",
    "bind_request",
    "cache_miss",
    "current_observer",
    "current_operation",
    "current_request_id",
    "operation_trace",
    "record_cache",
    "record_cache_error",
    "record_call",
    "record_fleet_fallback",
    "record_upstream_event",
]

CacheOutcome = Literal["hit", "miss"]


@dataclass(frozen=True)
class UpstreamEvent:
    """One upstream call (or cache answer standing in for one), as debug mode lists it."""

    source: str
    endpoint: str  # a label like "GET /v1/billing-report", never a URL
    method: str
    status: int | None
    duration_ms: float
    attempt: int
    cache: CacheOutcome | None
    error: str | None = None  # e.g. "HTTP 503", "ReadTimeout"; never a message from the vendor

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class OperationTrace:
    """Every upstream event of one GraphQL operation, in the order they finished."""

    events: list[UpstreamEvent] = field(default_factory=list)

    def calls(self) -> dict[str, int]:
        """HTTP requests sent per source (token calls and retries included, cache hits not)."""
        return dict(Counter(e.source for e in self.events if e.cache != "hit"))

    def cache_hits(self) -> int:
        return sum(1 for e in self.events if e.cache == "hit")


class AttemptReport(Protocol):
    """One HTTP attempt as the transport reports it (`clients.transport.CallRecord`)."""

    @property
    def source(self) -> str: ...
    @property
    def endpoint(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def status(self) -> int | None: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def attempt(self) -> int: ...
    @property
    def error(self) -> str | None: ...


class Observer(Protocol):
    """What the current app offers to code that only knows this module."""

    def record_cache(self, backend: str, hit: bool) -> None:
        """Count one cache lookup of `backend` ("memory", "redis", ...)."""
        ...

    def record_cache_error(self, backend: str, reason: str) -> None:
        """Count one entry of `backend` that could not be read or stored, by `reason`."""
        ...

    def record_fleet_fallback(self, feature: str) -> None:
        """Count one time `feature` ran on this replica's own state because Redis failed."""
        ...


_request_id: ContextVar[str | None] = ContextVar("usagegraph_request_id", default=None)
_observer: ContextVar[Observer | None] = ContextVar("usagegraph_observer", default=None)
_operation: ContextVar[OperationTrace | None] = ContextVar("usagegraph_operation", default=None)
_cache: ContextVar[CacheOutcome | None] = ContextVar("usagegraph_cache_state", default=None)


@contextmanager
def bind_request(request_id: str, observer: Observer | None = None) -> Iterator[None]:
    """Make `request_id` and `observer` current for the request running inside the block."""
    id_token = _request_id.set(request_id)
    observer_token = _observer.set(observer)
    try:
        yield
    finally:
        _observer.reset(observer_token)
        _request_id.reset(id_token)


def current_request_id() -> str | None:
    """The current HTTP request's id, or None outside a request."""
    return _request_id.get()


def current_observer() -> Observer | None:
    """The app serving the current request, or None outside a request."""
    return _observer.get()


@contextmanager
def operation_trace() -> Iterator[OperationTrace]:
    """Collect the upstream events of the operation running inside the block."""
    trace = OperationTrace()
    token = _operation.set(trace)
    try:
        yield trace
    finally:
        _operation.reset(token)


def current_operation() -> OperationTrace | None:
    return _operation.get()


def record_call(record: AttemptReport) -> None:
    """Add one HTTP attempt reported by the transport to the current operation."""
    trace = _operation.get()
    if trace is None:
        return
    trace.events.append(
        UpstreamEvent(
            source=record.source,
            endpoint=record.endpoint,
            method=record.method,
            status=record.status,
            duration_ms=round(record.duration_s * 1000, 1),
            attempt=record.attempt,
            cache=_cache.get(),
            error=record.error,
        )
    )


def record_upstream_event(
    *,
    source: str,
    endpoint: str,
    method: str = "GET",
    status: int | None = None,
    duration_ms: float = 0.0,
    attempt: int = 0,
    cache: CacheOutcome | None = None,
    error: str | None = None,
) -> None:
    """Add an event that did not come from the transport (e.g. `cache="hit"`, `attempt=0`)."""
    trace = _operation.get()
    if trace is None:
        return
    trace.events.append(
        UpstreamEvent(
            source, endpoint, method, status, round(duration_ms, 1), attempt, cache, error
        )
    )


@contextmanager
def cache_miss() -> Iterator[None]:
    """Transport calls made inside the block (and in tasks it starts) are listed as cache
    misses, so debug mode tells a miss from an uncached call."""
    token = _cache.set("miss")
    try:
        yield
    finally:
        _cache.reset(token)


def record_cache(backend: str, hit: bool) -> None:
    """Count one cache lookup in the current app's metrics (no-op outside a request)."""
    observer = _observer.get()
    if observer is not None:
        observer.record_cache(backend, hit)


def record_cache_error(backend: str, reason: str) -> None:
    """Count one cache entry that could not be read ("unreadable", "oversized") or stored
    ("unstorable", "oversized") in the current app's metrics (no-op outside a request)."""
    observer = _observer.get()
    if observer is not None:
        observer.record_cache_error(backend, reason)


def record_fleet_fallback(feature: str) -> None:
    """Count one time `feature` ("single_flight", "rate_limit"...) fell back to this replica's
    own state because the fleet's shared state (Redis) failed (no-op outside a request)."""
    observer = _observer.get()
    if observer is not None:
        observer.record_fleet_fallback(feature)

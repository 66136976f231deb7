"""The app-wide graph service: connections, the directory, and discovery cached for a TTL.

Discovery runs before any resolver needs it (one awaited step at the root), once per TTL across
requests, with concurrent requests sharing one refresh. A source whose discovery fails keeps its
last good discovery (reported as a failure in `sources`) so one vendor outage does not empty the
catalog: the cache's stale entry (shared by replicas through Redis) or, past the cache's stale
window, the last one this process saw.

`fetch` is the one door to the cross-request result cache (`resolvers/cache`): loaders and
discovery pass every upstream fetch through it; without a cache (or in the naive benchmark
mode) it just calls.

Work shared between requests (a discovery refresh, a single-flight fetch, a Teli user list)
runs on its sources' own timeouts, not on the deadline of the request that started it: each
request only stops *waiting* at its own deadline (`clients.deadline.within_deadline`), and the
work goes on for the others and for the cache. A request whose deadline passes while discovery
is still running gets the catalog so far: the sources not yet discovered stand in with their
last discovery (stale) or fail with UPSTREAM_TIMEOUT. Discovery is the service's own work: no
caller's quota or call budget pays for it, and it gets its own lane in each source's fair queue.
A single-flight fetch is paid by the caller that started it; every caller waiting on it joins
its `Interest`, so its calls go out on the first of their turns (`clients.fairness`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from usagegraph.clients.deadline import (
    Deadline,
    current_deadline,
    deadline_share,
    no_deadline,
    within_deadline,
)
from usagegraph.clients.errors import UpstreamError, UpstreamTimeoutError
from usagegraph.clients.fairness import Interest, current_caller, current_interest, shared_by
from usagegraph.clients.protection import current_budget
from usagegraph.resolvers.cache import Fetched, ResultCache, TtlClass, cache_key
from usagegraph.resolvers.catalog import (
    Catalog,
    SourceDiscovery,
    StaleDiscovery,
    UserNode,
    build_catalog,
)
from usagegraph.resolvers.connections import Connection
from usagegraph.resolvers.directory import Directory
from usagegraph.resolvers.freshness import note_fresh_for
from usagegraph.resolvers.ranges import DayRange, Month
from usagegraph.resolvers.scope import scope_catalog
from usagegraph.resolvers.sources import talkdesk, teli, telzino

__all__ = ["GraphService", "SourceHealth"]

log = logging.getLogger("usagegraph.discovery")

_DISCOVER = {"telzino": telzino.discover, "teli": teli.discover, "talkdesk": talkdesk.discover}

V = TypeVar("V")

# The part of a request's deadline it may spend waiting for discovery: the rest is for the
# fetches, so a slow source's discovery leaves time to answer with the others' figures.
DISCOVERY_SHARE = 0.5


@dataclass
class SourceHealth:
    """One connection's last success and failure, kept by the service (GraphQL `sources`
    shows it as `SourceStatus`; health checks read it too)."""

    name: str
    kind: str
    last_success: datetime | None = None
    last_error: str | None = None
    last_error_code: str | None = None
    last_error_at: datetime | None = None


@dataclass
class _Cached:
    value: object
    expires: float


@dataclass(eq=False)
class _Shared:
    """The callers of one single-flight fetch, while any of them still waits on it."""

    interest: Interest
    waiting: int = 0


@contextmanager
def _service_work() -> Iterator[None]:
    """Tasks started inside the block are the service's own, shared by every request: no
    caller pays for their calls (quota, call budget), no request's deadline cuts them short."""
    caller = current_caller.set(None)
    interest = current_interest.set(None)
    budget = current_budget.set(None)
    deadline = current_deadline.set(None)
    try:
        yield
    finally:
        current_deadline.reset(deadline)
        current_budget.reset(budget)
        current_interest.reset(interest)
        current_caller.reset(caller)


@dataclass
class GraphService:
    connections: Mapping[str, Connection]
    directory: Directory = field(default_factory=Directory)
    discovery_ttl: float = 300.0
    max_range_days: int = 366
    max_page_size: int = 100  # a connection's largest first:/last:
    default_page_size: int = 20  # a connection's page without either
    naive_loaders: bool = False  # benchmark baseline: no batching, no priming
    max_calls_per_source: int = 500  # per GraphQL operation
    request_deadline: float | None = None  # seconds one operation may wait; None: no deadline
    clock: Callable[[], float] = time.monotonic
    # the cross-request result cache; None: every fetch goes upstream (cache disabled)
    cache: ResultCache | None = None
    _catalog: _Cached | None = None
    _refresh: asyncio.Task[Catalog] | None = None
    # the running refresh's discovery of each source (for the catalog so far at a deadline)
    _discovering: dict[str, asyncio.Future[Fetched[SourceDiscovery]]] = field(default_factory=dict)
    # single-flight fetches by cache key (and refresh): who waits on them (clients.fairness)
    _shared: dict[str, _Shared] = field(default_factory=dict)
    _probe: asyncio.Task[Catalog] | None = None
    _discoveries: dict[str, Fetched[SourceDiscovery]] = field(default_factory=dict)
    _users: dict[tuple[str, str], _Cached] = field(default_factory=dict)
    _user_flights: dict[tuple[str, str], asyncio.Task[tuple[UserNode, ...]]] = field(
        default_factory=dict
    )
    statuses: dict[str, SourceHealth] = field(default_factory=dict)
    # reseller scope -> (the catalog it was built from, the scoped view); see resolvers/scope.py
    _views: dict[frozenset[str], tuple[Catalog, Catalog]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for conn in self.connections.values():
            self.statuses[conn.name] = SourceHealth(conn.name, conn.kind)

    # -- status bookkeeping --------------------------------------------------------------------
    def record_success(self, source: str) -> None:
        self.statuses[source].last_success = datetime.now(UTC)

    def record_failure(self, error: UpstreamError) -> None:
        status = self.statuses.get(error.source)
        if status is not None:
            status.last_error = str(error)
            status.last_error_code = error.code
            status.last_error_at = datetime.now(UTC)

    # -- catalog -------------------------------------------------------------------------------
    async def catalog(self) -> Catalog:
        cached = self._catalog
        if cached is not None and cached.expires > self.clock():
            note_fresh_for(cached.expires - self.clock())
            return cached.value  # type: ignore[return-value]
        refresh = self._refresh
        if refresh is None or refresh.done():
            self._discovering = {}  # filled by the refresh as it starts
            with _service_work():
                refresh = self._refresh = asyncio.ensure_future(self._build_catalog())
        with deadline_share(DISCOVERY_SHARE, "the request's time for discovery") as deadline:
            try:
                # shield: one cancelled request must not cancel the refresh others wait on
                catalog = await within_deadline(
                    lambda: asyncio.shield(refresh), source="discovery", endpoint="catalog"
                )
            except UpstreamTimeoutError:
                assert deadline is not None  # only a deadline times out
                note_fresh_for(0.0)  # a catalog cut short by the deadline is never kept
                return self._catalog_so_far(deadline)
        built = self._catalog
        note_fresh_for(built.expires - self.clock() if built is not None else 0.0)
        return catalog

    def scoped_catalog(self, catalog: Catalog, resellers: frozenset[str]) -> Catalog:
        """What a caller limited to `resellers` sees of `catalog`: built once per catalog and
        scope (one entry per configured scope), not once per request."""
        cached = self._views.get(resellers)
        if cached is not None and cached[0] is catalog:
            return cached[1]
        view = scope_catalog(catalog, resellers)
        self._views[resellers] = (catalog, view)
        return view

    async def probe(self, sources: Collection[str]) -> Catalog:
        """Rediscover `sources` from the vendors themselves, not from the cache (readiness:
        with a shared cache this replica might otherwise never call them); one probe at a time,
        shielded like the refresh."""
        if self.cache is None:
            return await self.catalog()
        if self._probe is None or self._probe.done():
            with _service_work():
                self._probe = asyncio.ensure_future(self._build_catalog(probe=frozenset(sources)))
        return await asyncio.shield(self._probe)

    async def _discover(self, conn: Connection, *, probe: bool) -> Fetched[SourceDiscovery]:
        return await self.fetch(
            conn.name,
            "discover",
            (),
            lambda: _DISCOVER[conn.kind](conn),
            discovery=True,
            refresh=probe,
        )

    async def _build_catalog(self, probe: frozenset[str] = frozenset()) -> Catalog:
        conns = list(self.connections.values())
        tasks: dict[str, asyncio.Future[Fetched[SourceDiscovery]]] = {
            c.name: asyncio.ensure_future(self._discover(c, probe=c.name in probe)) for c in conns
        }
        if not probe:
            self._discovering = tasks
        outcomes = await asyncio.gather(*tasks.values(), return_exceptions=True)
        catalog, failed = self._compose(dict(zip(tasks, outcomes, strict=True)), final=True)
        # a failed refresh is retried sooner than a good one
        ttl = self.discovery_ttl if not failed else min(self.discovery_ttl, 10.0)
        self._catalog = _Cached(catalog, self.clock() + ttl)
        return catalog

    def _catalog_so_far(self, deadline: Deadline) -> Catalog:
        """The catalog of what the running refresh discovered so far, for a request whose
        time for discovery ran out first: a source still being discovered stands in with its
        last discovery (stale) or fails with UPSTREAM_TIMEOUT. Nothing is recorded: the
        refresh goes on and decides."""
        outcomes: dict[str, Fetched[SourceDiscovery] | BaseException] = {}
        for name in self.connections:
            task = self._discovering.get(name)
            if task is not None and task.done() and not task.cancelled():
                outcomes[name] = task.exception() or task.result()
            else:
                outcomes[name] = UpstreamTimeoutError(
                    f"did not finish within {deadline.describe()}",
                    source=name,
                    endpoint="discovery",
                    attempts=0,
                )
        return self._compose(outcomes, final=False)[0]

    def _compose(
        self, outcomes: Mapping[str, Fetched[SourceDiscovery] | BaseException], *, final: bool
    ) -> tuple[Catalog, bool]:
        """The catalog of every source's discovery outcome, and whether any failed. `final`
        records the outcomes (statuses, last good discoveries); else nothing changes."""
        conns = list(self.connections.values())
        discoveries = self._discoveries if final else dict(self._discoveries)
        failures: dict[str, UpstreamError] = {}
        for conn in conns:
            outcome = outcomes[conn.name]
            if isinstance(outcome, UpstreamError):
                if final:
                    log.warning("discovery of %s failed: %s", conn.name, outcome)
                    self.record_failure(outcome)
                failures[conn.name] = outcome
            elif isinstance(outcome, BaseException):
                raise outcome
            elif outcome.stale and outcome.error is not None:
                # the cached discovery stands in, but the answer must still say the source failed
                if final:
                    log.warning(
                        "discovery of %s failed, cached one used: %s", conn.name, outcome.error
                    )
                    self.record_failure(outcome.error)
                failures[conn.name] = outcome.error
                discoveries[conn.name] = outcome
            else:
                discoveries[conn.name] = outcome
                if final:
                    self.record_success(conn.name)
        # a failed source with a discovery from before (the cache's stale entry, else the last
        # one this process saw) keeps it, marked stale; one with none is a failure of the lists
        stale = {
            name: StaleDiscovery(error, discoveries[name].fetched_at)
            for name, error in failures.items()
            if name in discoveries
        }
        missing = {name: error for name, error in failures.items() if name not in stale}
        catalog = build_catalog(
            (d.value for d in discoveries.values()),
            self.directory,
            failures=missing,
            kinds={c.name: c.kind for c in conns},
            stale=stale,
        )
        return catalog, bool(failures)

    # -- Teli users, discovered per organization on demand ---------------------------------------
    async def teli_users(self, catalog: Catalog, source: str, org_id: str) -> tuple[UserNode, ...]:
        if self.cache is not None and not self.naive_loaders:
            node_id = catalog.aliases.get(f"{source}:{org_id}", f"{source}:{org_id}")
            fetched = await self.fetch(
                source,
                "list_users",
                (org_id, node_id),
                lambda: teli.list_users(self.connections[source], org_id, node_id),
                discovery=True,
            )
            if fetched.error is not None:
                self.record_failure(fetched.error)  # a stale list: like a stale discovery
            return fetched.value
        key = (source, org_id)
        cached = self._users.get(key)
        if cached is not None and cached.expires > self.clock():
            note_fresh_for(cached.expires - self.clock())
            return cached.value  # type: ignore[return-value]
        flight = self._user_flights.get(key)
        if flight is None or flight.done():
            with no_deadline():  # shared by the requests that wait on it
                flight = asyncio.ensure_future(self._load_users(catalog, source, org_id))
            self._user_flights[key] = flight
        shared = flight
        return await within_deadline(
            lambda: asyncio.shield(shared), source=source, endpoint="list_users"
        )

    async def _load_users(self, catalog: Catalog, source: str, org_id: str) -> tuple[UserNode, ...]:
        node_id = catalog.aliases.get(f"{source}:{org_id}", f"{source}:{org_id}")
        users = await teli.list_users(self.connections[source], org_id, node_id)
        self._users[(source, org_id)] = _Cached(users, self.clock() + self.discovery_ttl)
        return users

    # -- the cross-request result cache ----------------------------------------------------------
    async def fetch(
        self,
        source: str,
        name: str,
        params: Sequence[Any],
        load: Callable[[], Awaitable[V]],
        *,
        span: DayRange | Sequence[Month] | None = None,
        discovery: bool = False,
        serve_stale: bool = True,
        refresh: bool = False,
    ) -> Fetched[V]:
        """`load()` through the result cache, keyed by (connection `source`, fetch `name`,
        `params`); fresh for the TTL of `span` (or of discovery). The naive benchmark mode and a
        disabled cache call `load()` every time."""
        cache = self.cache
        if cache is None or self.naive_loaders:
            note_fresh_for(0.0)  # nothing says how long it stays right: never kept
            # the caller's own call: the transport gives it what is left of the deadline
            return Fetched.now(await load())
        ttl = TtlClass.DISCOVERY if discovery else cache.ttl_class(span)
        key = cache_key(source, name, params) + ("#refresh" if refresh else "")
        caller = current_caller.get()
        shared = self._shared.get(key)
        if shared is None:
            shared = self._shared[key] = _Shared(Interest([caller]))
        else:
            shared.interest.join(caller)  # our turns may send the call we wait on too
        interest = shared.interest

        async def load_shared() -> V:
            # runs in the flight, which outlives any one waiter: no one request's deadline
            with no_deadline(), shared_by(interest):
                return await load()

        shared.waiting += 1
        try:
            fetched = await within_deadline(
                lambda: cache.fetch(
                    source,
                    name,
                    params,
                    load_shared,
                    ttl=ttl,
                    serve_stale=serve_stale,
                    refresh=refresh,
                ),
                source=source,
                endpoint=name,
            )
        finally:
            shared.waiting -= 1
            if not shared.waiting and self._shared.get(key) is shared:
                del self._shared[key]
        # a stale value (or one never cached) is not fresh at all: no answer built on it is kept
        until = fetched.fresh_until
        note_fresh_for(0.0 if until is None or fetched.stale else until - cache.clock())
        return fetched

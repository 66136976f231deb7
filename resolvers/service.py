"""The app-wide graph service: connections, the directory, and discovery cached for a TTL.

Discovery runs before any resolver needs it (one awaited step at the root), once per TTL across
requests, with concurrent requests sharing one refresh. A source whose discovery fails keeps its
last good discovery (reported as a failure in `sources`) so one vendor outage does not empty the
catalog: the cache's stale entry (shared by replicas through Redis) or, past the cache's stale
window, the last one this process saw.

`fetch` is the one door to the cross-request result cache (`resolvers/cache`): loaders and
discovery pass every upstream fetch through it; without a cache (or in the naive benchmark
mode) it just calls.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from clients.errors import UpstreamError
from resolvers.cache import Fetched, ResultCache, TtlClass
from resolvers.catalog import Catalog, SourceDiscovery, StaleDiscovery, UserNode, build_catalog
from resolvers.connections import Connection
from resolvers.directory import Directory
from resolvers.ranges import DayRange, Month
from resolvers.scope import scope_catalog
from resolvers.sources import talkdesk, teli, telzino

__all__ = ["GraphService", "SourceStatus"]

log = logging.getLogger("usagegraph.discovery")

_DISCOVER = {"telzino": telzino.discover, "teli": teli.discover, "talkdesk": talkdesk.discover}

V = TypeVar("V")


@dataclass
class SourceStatus:
    """What `sources` reports per connection."""

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


@dataclass
class GraphService:
    connections: Mapping[str, Connection]
    directory: Directory = field(default_factory=Directory)
    discovery_ttl: float = 300.0
    max_range_days: int = 366
    naive_loaders: bool = False  # benchmark baseline: no batching, no priming
    max_calls_per_source: int = 500  # per GraphQL operation
    clock: Callable[[], float] = time.monotonic
    # the cross-request result cache; None: every fetch goes upstream (cache disabled)
    cache: ResultCache | None = None
    _catalog: _Cached | None = None
    _refresh: asyncio.Task[Catalog] | None = None
    _probe: asyncio.Task[Catalog] | None = None
    _discoveries: dict[str, Fetched[SourceDiscovery]] = field(default_factory=dict)
    _users: dict[tuple[str, str], _Cached] = field(default_factory=dict)
    _user_flights: dict[tuple[str, str], asyncio.Task[tuple[UserNode, ...]]] = field(
        default_factory=dict
    )
    statuses: dict[str, SourceStatus] = field(default_factory=dict)
    # reseller scope -> (the catalog it was built from, the scoped view); see resolvers/scope.py
    _views: dict[frozenset[str], tuple[Catalog, Catalog]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for conn in self.connections.values():
            self.statuses[conn.name] = SourceStatus(conn.name, conn.kind)

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
            return cached.value  # type: ignore[return-value]
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.ensure_future(self._build_catalog())
        # shield: one cancelled request must not cancel the refresh others wait on
        return await asyncio.shield(self._refresh)

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
        outcomes = await asyncio.gather(
            *(self._discover(c, probe=c.name in probe) for c in conns), return_exceptions=True
        )
        failures: dict[str, UpstreamError] = {}
        for conn, outcome in zip(conns, outcomes, strict=True):
            if isinstance(outcome, UpstreamError):
                log.warning("discovery of %s failed: %s", conn.name, outcome)
                self.record_failure(outcome)
                failures[conn.name] = outcome
            elif isinstance(outcome, BaseException):
                raise outcome
            elif outcome.stale and outcome.error is not None:
                # the cached discovery stands in, but the answer must still say the source failed
                log.warning("discovery of %s failed, cached one used: %s", conn.name, outcome.error)
                self.record_failure(outcome.error)
                failures[conn.name] = outcome.error
                self._discoveries[conn.name] = outcome
            else:
                self._discoveries[conn.name] = outcome
                self.record_success(conn.name)
        # a failed source with a discovery from before (the cache's stale entry, else the last
        # one this process saw) keeps it, marked stale; one with none is a failure of the lists
        stale = {
            name: StaleDiscovery(error, self._discoveries[name].fetched_at)
            for name, error in failures.items()
            if name in self._discoveries
        }
        missing = {name: error for name, error in failures.items() if name not in stale}
        catalog = build_catalog(
            (d.value for d in self._discoveries.values()),
            self.directory,
            failures=missing,
            kinds={c.name: c.kind for c in conns},
            stale=stale,
        )
        # a failed refresh is retried sooner than a good one
        ttl = self.discovery_ttl if not failures else min(self.discovery_ttl, 10.0)
        self._catalog = _Cached(catalog, self.clock() + ttl)
        return catalog

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
            return cached.value  # type: ignore[return-value]
        flight = self._user_flights.get(key)
        if flight is None or flight.done():
            flight = asyncio.ensure_future(self._load_users(catalog, source, org_id))
            self._user_flights[key] = flight
        return await asyncio.shield(flight)

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
            return Fetched.now(await load())
        ttl = TtlClass.DISCOVERY if discovery else cache.ttl_class(span)
        return await cache.fetch(
            source, name, params, load, ttl=ttl, serve_stale=serve_stale, refresh=refresh
        )

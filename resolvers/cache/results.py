"""The cross-request cache of normalized upstream results, with single flight and stale-on-failure.

What is cached is the value of each upstream fetch the loaders and discovery make (a Telzino
report as a mapping of rows, a Teli analytics table, Talkdesk rows by account, a discovery...),
keyed by (connection name, fetch name, normalized params). A connection is one credential, and a
value depends only on the connection and the params, never on who asked: scoping is applied to
the catalog after discovery, and a request only ever asks for the params it would fetch itself.

Each entry holds its fetch time and its freshness deadline. It is fresh for a TTL chosen by what
it covers (`TtlClass`): a range wholly before today (UTC) for `ttl_past`, a range including today
or all-time counters for `ttl_live`, a discovery for `ttl_discovery`. The backend keeps it for
`stale` seconds more: when the source then fails (unavailable, timeout, rate limited, circuit
open) the old value is served as `Fetched(stale=True)` with its original fetch time, and the
caller must say so (usage coverage, `sources`); it is never served silently.

Concurrent fetches of one key in this process share one call (single flight): the first caller
starts it as its own task, every caller awaits a shield of it, so one cancelled request does not
cancel the others'. With Redis, the flights of all replicas take turns through a lease
(`fleet.py`): one replica calls, the others read what it stored or raise how it failed.

Values are stored as typed MessagePack (`codec.py`), each decoded as the type registered for
its fetch name (`values.py`): bytes in the cache can never run code or build any other object,
and an entry that does not decode as that type is a miss (logged, counted in
`usagegraph_cache_errors_total`). `CACHE_FORMAT` is part of every key; bump it when a cached
model changes shape, so old entries are simply never read again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any, Generic, Literal, TypeVar

from usagegraph.clients.errors import (
    UpstreamBudgetExceededError,
    UpstreamError,
    UpstreamRateLimitedError,
    UpstreamUnavailableError,
)
from usagegraph.resolvers.cache.backends import CacheBackend
from usagegraph.resolvers.cache.codec import Entry, EntryCodec, EntryError
from usagegraph.resolvers.cache.decoded import DecodedEntries, Memo
from usagegraph.resolvers.cache.fleet import FleetFlight, Turn
from usagegraph.resolvers.cache.values import FETCH_VALUES
from usagegraph.resolvers.ranges import DayRange, Month, month_range, parse_month
from usagegraph.telemetry import (
    cache_miss,
    record_cache,
    record_cache_error,
    record_upstream_event,
)

__all__ = [
    "CACHE_FORMAT",
    "CachePolicy",
    "Fetched",
    "ResultCache",
    "TtlClass",
    "cache_key",
    "serves_stale",
    "ttl_class",
]

log = logging.getLogger("usagegraph.cache")

V = TypeVar("V")
W = TypeVar("W")
T = TypeVar("T")

CACHE_FORMAT = 3  # 2: models carry their problems (tolerant readers); 3: MessagePack, not pickle
_LONG_PARAMS = 160  # longer params are hashed, so a 500-id filter does not make a 10 kB key

Outcome = Literal["hit", "miss", "stale"]


class TtlClass(Enum):
    """How long a result stays fresh, by what it covers."""

    PAST = "past"  # a range wholly before today (UTC): the vendor's figures have settled
    LIVE = "live"  # a range including today (or later), or all-time counters: still moving
    DISCOVERY = "discovery"  # the entities a connection lists


@dataclass(frozen=True)
class CachePolicy:
    """The TTLs in seconds (`[cache]` in the configuration)."""

    ttl_past: float = 3600.0
    ttl_live: float = 60.0
    ttl_discovery: float = 300.0
    stale: float = 86400.0  # how long past its freshness an entry may stand in for a failure

    def ttl(self, cls: TtlClass) -> float:
        if cls is TtlClass.PAST:
            return self.ttl_past
        if cls is TtlClass.LIVE:
            return self.ttl_live
        return self.ttl_discovery


def ttl_class(span: DayRange | Sequence[Month] | None, today: date) -> TtlClass:
    """PAST when `span` (a day range, or calendar months) ends before `today`; else LIVE.
    No span means all-time counters, which grow every day: LIVE."""
    if span is None:
        return TtlClass.LIVE
    if isinstance(span, DayRange):
        last = span.last
    else:
        if not span:
            return TtlClass.LIVE
        last = month_range(max(parse_month(m, argument="month") for m in span)).last
    return TtlClass.PAST if last < today else TtlClass.LIVE


def serves_stale(error: UpstreamError) -> bool:
    """Failures of the source itself (unreachable, 5xx, timeout, 429, circuit open) may be
    answered from a stale entry; the caller's own limits (call budget) and answers that say our
    request or credentials are wrong may not."""
    if isinstance(error, UpstreamBudgetExceededError):
        return False
    return isinstance(error, UpstreamUnavailableError | UpstreamRateLimitedError)


@dataclass(frozen=True)
class Fetched(Generic[V]):
    """A fetch's value with when it was fetched; `stale` when it was served from the cache
    because the source failed (`error` says how)."""

    value: V
    fetched_at: datetime
    stale: bool = False
    error: UpstreamError | None = None
    # when the value stops being fresh (the cache's clock, epoch seconds); None: not cached
    fresh_until: float | None = None
    # the memo of the cached entry the value was read from (decoded.py), when it is kept
    memo: Memo | None = field(default=None, compare=False, repr=False)

    def with_value(self, value: W) -> Fetched[W]:
        """The same stamp on a part of the value (e.g. one row of a report)."""
        return Fetched(value, self.fetched_at, self.stale, self.error, self.fresh_until, self.memo)

    def derive(self, what: Any, compute: Callable[[V], T]) -> T:
        """`compute(self.value)`, computed once per cached entry: `compute` must be a pure
        function of the value, and `what` must name it (with any other input it takes)."""
        memo = self.memo
        if memo is None:
            return compute(self.value)
        key = (what, id(self.value))
        kept = memo.get(key)
        # the memo holds the value itself, so its id cannot be another object's meanwhile
        if kept is not None and kept[0] is self.value:
            return kept[1]  # type: ignore[no-any-return]
        result = compute(self.value)
        memo[key] = (self.value, result)
        return result

    @classmethod
    def now(cls, value: V) -> Fetched[V]:
        """A value fetched just now, without the cache."""
        return cls(value, datetime.now(UTC))


def _normalized(value: Any) -> Any:
    """A JSON-able canonical form of fetch params (ranges, dates, id lists, None)."""
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, DayRange):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_normalized(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted(_normalized(v) for v in value)
    raise TypeError(f"cannot use {type(value).__name__} in a cache key")


def cache_key(source: str, name: str, params: Sequence[Any]) -> str:
    """`fetch:<format>:<connection>:<fetch name>:<params as JSON, or their sha256 when long>`."""
    text = json.dumps(_normalized(list(params)), separators=(",", ":"))
    if len(text) > _LONG_PARAMS:
        text = "sha256=" + hashlib.sha256(text.encode()).hexdigest()
    return f"fetch:{CACHE_FORMAT}:{source}:{name}:{text}"


class ResultCache:
    """Upstream results shared across requests (and, with Redis, across replicas)."""

    def __init__(
        self,
        backend: CacheBackend,
        policy: CachePolicy | None = None,
        *,
        clock: Callable[[], float] = time.time,
        codec: EntryCodec | None = None,
        decoded: DecodedEntries | None = None,
        fleet: FleetFlight | None = None,
    ) -> None:
        self.backend = backend
        self.policy = policy or CachePolicy()
        self.clock = clock
        # what may be stored, by fetch name; the default is every fetch the graph makes
        self.codec = codec or EntryCodec(FETCH_VALUES)
        # the same bytes read again are not decoded again (decoded.py)
        self.decoded = decoded if decoded is not None else DecodedEntries()
        self._flights: dict[str, asyncio.Future[tuple[Fetched[Any], Outcome]]] = {}
        # with Redis: one flight per key across replicas too (fleet.py); None: this process's
        self.fleet = fleet

    def today(self) -> date:
        return datetime.fromtimestamp(self.clock(), UTC).date()

    def ttl_class(self, span: DayRange | Sequence[Month] | None) -> TtlClass:
        return ttl_class(span, self.today())

    async def fetch(
        self,
        source: str,
        name: str,
        params: Sequence[Any],
        load: Callable[[], Awaitable[V]],
        *,
        ttl: TtlClass,
        serve_stale: bool = True,
        refresh: bool = False,
    ) -> Fetched[V]:
        """The value of `load()` for this key: from the cache while fresh, else fetched (one
        call for all concurrent askers) and stored. When the fetch fails in a way
        `serves_stale` allows and `serve_stale` is set, an entry at most `policy.stale` seconds
        past its freshness is returned marked stale; otherwise the error propagates.
        `refresh` skips the read (a readiness probe that must reach the vendor)."""
        key = cache_key(source, name, params)
        flight_key = key + "#refresh" if refresh else key
        flight = self._flights.get(flight_key)
        if flight is not None:
            try:
                fetched, _ = await asyncio.shield(flight)
            except UpstreamBudgetExceededError:
                pass  # the other operation's own limit, not ours: make our own call below
            else:
                # shared the call another request made: no upstream cost for this one
                self._record_hit(source, name, fetched)
                return fetched
        flight = asyncio.ensure_future(
            self._lookup_or_load(key, name, load, ttl=ttl, serve_stale=serve_stale, refresh=refresh)
        )
        self._flights[flight_key] = flight
        flight.add_done_callback(lambda done: self._forget(flight_key, done))
        try:
            fetched, outcome = await asyncio.shield(flight)
        except UpstreamError:
            record_cache(self.backend.name, False)
            raise
        if outcome == "hit":
            self._record_hit(source, name, fetched)
        else:
            record_cache(self.backend.name, False)
            if outcome == "stale":
                self._record_stale(source, name, fetched)
        return fetched

    def _forget(self, flight_key: str, done: asyncio.Future[Any]) -> None:
        if self._flights.get(flight_key) is done:
            del self._flights[flight_key]
        if not done.cancelled():
            done.exception()  # retrieved: a flight nobody awaits any more must not warn

    def _record_hit(self, source: str, name: str, fetched: Fetched[Any]) -> None:
        record_cache(self.backend.name, True)
        if fetched.stale:
            self._record_stale(source, name, fetched)
        else:
            record_upstream_event(source=source, endpoint=name, cache="hit")

    @staticmethod
    def _record_stale(source: str, name: str, fetched: Fetched[Any]) -> None:
        code = fetched.error.code if fetched.error is not None else "UPSTREAM_ERROR"
        record_upstream_event(source=source, endpoint=name, cache="hit", error=f"stale: {code}")

    async def _lookup_or_load(
        self,
        key: str,
        name: str,
        load: Callable[[], Awaitable[V]],
        *,
        ttl: TtlClass,
        serve_stale: bool,
        refresh: bool,
    ) -> tuple[Fetched[V], Outcome]:
        read = None if refresh else await self._read(key, name)
        entry = read[0] if read is not None else None
        hit = _fresh_hit(read, self.clock())
        if hit is not None:
            return hit, "hit"
        turn = await self._turn(key, name, refresh)
        if turn.stored is not None:
            return turn.stored, "hit"  # another replica fetched it meanwhile
        failure: UpstreamError | None = None
        try:
            try:
                if turn.failure is not None:
                    raise turn.failure  # another replica's fetch: fail or serve stale like it
                with cache_miss():  # its HTTP calls are listed as cache misses in debug mode
                    value = await load()
            except UpstreamError as error:
                failure = error
                if not (serve_stale and serves_stale(error)):
                    raise
                if refresh:
                    read = await self._read(key, name)
                    entry = read[0] if read is not None else None
                if entry is None or entry.fresh_until + self.policy.stale <= self.clock():
                    raise
                log.info("serving stale %s after %s", key, error.code)
                stale = Fetched(
                    entry.value,
                    _moment(entry.fetched_at),
                    stale=True,
                    error=error,
                    fresh_until=entry.fresh_until,
                )
                return stale, "stale"
            fetched_at = self.clock()
            fresh_for = self.policy.ttl(ttl)
            entry = Entry(fetched_at, fetched_at + fresh_for, value)
            await self._write(key, name, entry, fresh_for)
            return Fetched(value, _moment(fetched_at), fresh_until=fetched_at + fresh_for), "miss"
        finally:
            await turn.end(failure)  # after the write: the fleet's waiters read what we stored

    async def _turn(self, key: str, name: str, refresh: bool) -> Turn[Fetched[Any]]:
        """Whether this replica fetches `key`, with the fleet (Redis) when there is one; a
        readiness refresh must reach the vendor itself, so it never waits on another."""
        if self.fleet is None or refresh:
            return Turn()

        async def stored() -> Fetched[Any] | None:
            # an unreadable entry was logged and counted by the read that missed it
            return _fresh_hit(await self._read(key, name, quiet=True), self.clock())

        return await self.fleet.turn(key, stored)

    async def _read(
        self, key: str, name: str, *, quiet: bool = False
    ) -> tuple[Entry[Any], Memo | None] | None:
        raw = await self.backend.get(key)
        if raw is None:
            return None
        kept = self.decoded.get(key, raw)
        if kept is not None:
            return kept
        try:
            entry = self.codec.decode(name, raw)
        except EntryError as exc:  # foreign, damaged or hostile bytes: a miss, never a failure
            if not quiet:
                log.warning("unreadable cache entry %s (%s)", key, exc)
                record_cache_error(self.backend.name, exc.reason)
            return None
        return entry, self.decoded.put(key, raw, entry)

    async def _write(self, key: str, name: str, entry: Entry[Any], fresh_for: float) -> None:
        keep_for = fresh_for + self.policy.stale
        if keep_for <= 0:
            return
        try:
            raw = self.codec.encode(name, entry)
        except EntryError as exc:  # a value that cannot be stored is still a good answer
            log.warning("cannot cache %s (%s)", key, exc)
            record_cache_error(self.backend.name, exc.reason)
            return
        await self.backend.set(key, raw, keep_for)


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _fresh_hit(read: tuple[Entry[Any], Memo | None] | None, now: float) -> Fetched[Any] | None:
    """The value of a cache read while it is fresh, else None."""
    if read is None:
        return None
    entry, memo = read
    if entry.fresh_until <= now:
        return None
    return Fetched(entry.value, _moment(entry.fetched_at), fresh_until=entry.fresh_until, memo=memo)

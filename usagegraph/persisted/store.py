"""Where registered APQ queries live: a store of their own, bounded in bytes, per caller.

Persisted queries used to go into the result cache's backend, sharing its LRU (bounded by count
only): one API key registering many large queries grew the process without bound in bytes and
evicted another tenant's cached reports (measured: see
docs/measurements.md#persisted-query-store). They now have their own store, apart from the
result cache:

- `MemoryQueryStore` (the memory cache backend): at most `max_bytes` overall, and per owner (the
  registering caller: its API key, or its client address without `[auth]`) at most
  `max_bytes_per_owner` and `max_queries_per_owner`. An owner over its own bound loses its own
  least recently used queries; when the whole store is over its bound, the owner holding the
  most bytes loses its least recently used one, so a small tenant's queries are the last to go.
- `RedisQueryStore` (the Redis cache backend): every entry expires after `ttl` (Redis expires
  it), and each owner has the same quota, kept atomically by a Lua script (oldest registration
  evicted first); so every replica knows the queries, and Redis never holds more than the
  quotas allow.

Queries are keyed by SHA-256 alone: a query one caller registered runs for another that sends
its hash (under that caller's own key, scope and limits). It is charged to whoever registered
it first; registering a known query again only renews it for its owner. A query's charge is
its UTF-8 size plus `ENTRY_OVERHEAD` bytes, near what an entry really costs in the process.
`build_query_store` picks the store for the settings (`app.state.persisted_store`).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from usagegraph.resolvers.cache import DEFAULT_NAMESPACE
from usagegraph.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "ENTRY_OVERHEAD",
    "MemoryQueryStore",
    "QueryStore",
    "RedisQueryStore",
    "build_query_store",
    "charge",
]

log = logging.getLogger("usagegraph.persisted")

# What an entry costs beyond its text: the hash key, the str headers, the bookkeeping.
ENTRY_OVERHEAD = 256


def charge(query: str) -> int:
    """The bytes a stored `query` counts against its owner's and the store's bounds."""
    return len(query.encode("utf-8")) + ENTRY_OVERHEAD


class QueryStore(Protocol):
    """Persisted query texts by SHA-256 (lowercase hex), registered by an owner."""

    async def get(self, sha256: str) -> str | None:
        """The query registered under `sha256`, or None (unknown, expired, unreachable)."""
        ...

    async def set(self, sha256: str, query: str, *, owner: str) -> bool:
        """Register `query` for `owner`; False when it was not stored (too big for a quota,
        or the store unreachable)."""
        ...

    async def close(self) -> None:
        """Release connections; called once at shutdown."""
        ...


@dataclass
class _Entry:
    owner: str
    query: str
    size: int
    expires: float


@dataclass
class _Owner:
    size: int = 0
    # the owner's queries, least recently used first (values unused)
    queries: OrderedDict[str, None] = field(default_factory=OrderedDict)


class MemoryQueryStore:
    """Registered queries in this process, bounded overall and per owner (module docstring)."""

    def __init__(
        self,
        *,
        max_bytes: int,
        max_bytes_per_owner: int,
        max_queries_per_owner: int,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_bytes_per_owner = min(max_bytes_per_owner, max_bytes)
        self.max_queries_per_owner = max_queries_per_owner
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._owners: dict[str, _Owner] = {}
        self.size = 0  # bytes charged, over every owner

    def __len__(self) -> int:
        return len(self._entries)

    def owner_size(self, owner: str) -> int:
        """Bytes charged to `owner`."""
        held = self._owners.get(owner)
        return held.size if held is not None else 0

    async def get(self, sha256: str) -> str | None:
        entry = self._entries.get(sha256)
        if entry is None:
            return None
        if entry.expires <= self._clock():
            self._drop(sha256)
            return None
        self._owners[entry.owner].queries.move_to_end(sha256)
        return entry.query

    async def set(self, sha256: str, query: str, *, owner: str) -> bool:
        now = self._clock()
        known = self._entries.get(sha256)
        if known is not None and known.expires > now:
            if known.owner == owner:  # renewed for its owner; another caller changes nothing
                known.expires = now + self.ttl
                self._owners[owner].queries.move_to_end(sha256)
            return True
        if known is not None:
            self._drop(sha256)
        size = charge(query)
        if size > self.max_bytes_per_owner:
            return False
        # the owner makes room in its own share first
        while (held := self._owners.get(owner)) is not None and (
            held.size + size > self.max_bytes_per_owner
            or len(held.queries) >= self.max_queries_per_owner
        ):
            self._drop(next(iter(held.queries)))
        held = self._owners.setdefault(owner, _Owner())
        self._entries[sha256] = _Entry(owner, query, size, now + self.ttl)
        held.queries[sha256] = None
        held.size += size
        self.size += size
        # then the store as a whole: the biggest owner gives way
        while self.size > self.max_bytes:
            biggest = max(self._owners.values(), key=lambda o: o.size)
            self._drop(next(iter(biggest.queries)))
        return sha256 in self._entries

    def _drop(self, sha256: str) -> None:
        entry = self._entries.pop(sha256, None)
        if entry is None:
            return
        held = self._owners[entry.owner]
        held.queries.pop(sha256, None)
        held.size -= entry.size
        self.size -= entry.size
        if not held.queries:
            del self._owners[entry.owner]

    async def close(self) -> None:
        self._entries.clear()
        self._owners.clear()
        self.size = 0


# Registers one query for one owner, atomically. KEYS: the entry, the owner's registrations
# (a sorted set: sha -> registered at, ms) and the owner's charges (a hash: sha -> bytes).
# ARGV: sha, query, charge, ttl ms, quota bytes, quota count, the entry key prefix.
# Returns 1 stored, 0 already known, -1 too big for the quota.
_REGISTER = """
local sha, query = ARGV[1], ARGV[2]
local size, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local max_bytes, max_count, prefix = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
-- forget the owner's registrations whose entries Redis has expired since
for _, old in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - ttl)) do
  redis.call('ZREM', KEYS[2], old)
  redis.call('HDEL', KEYS[3], old)
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('ZSCORE', KEYS[2], sha) then
    redis.call('PEXPIRE', KEYS[1], ttl)
    redis.call('ZADD', KEYS[2], now, sha)
    redis.call('PEXPIRE', KEYS[2], ttl)
    redis.call('PEXPIRE', KEYS[3], ttl)
  end
  return 0
end
if size > max_bytes then
  return -1
end
redis.call('SET', KEYS[1], query, 'PX', ttl)
redis.call('ZADD', KEYS[2], now, sha)
redis.call('HSET', KEYS[3], sha, size)
local total = 0
for _, charged in ipairs(redis.call('HVALS', KEYS[3])) do
  total = total + tonumber(charged)
end
local count = redis.call('ZCARD', KEYS[2])
while total > max_bytes or count > max_count do
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if not oldest then
    break
  end
  total = total - tonumber(redis.call('HGET', KEYS[3], oldest) or '0')
  redis.call('ZREM', KEYS[2], oldest)
  redis.call('HDEL', KEYS[3], oldest)
  redis.call('DEL', prefix .. oldest)
  count = count - 1
end
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('PEXPIRE', KEYS[3], ttl)
return 1
"""


class RedisQueryStore:
    """Registered queries in Redis, shared by replicas: each expires after `ttl`, and each owner
    keeps at most `max_bytes_per_owner` / `max_queries_per_owner` (its oldest registration goes
    first). An unreachable Redis is a miss, and a registration that is dropped (logged)."""

    def __init__(
        self,
        url: str,
        *,
        namespace: str,
        max_bytes_per_owner: int,
        max_queries_per_owner: int,
        ttl: float,
        timeout: float = 1.0,
        client: Redis | None = None,
    ) -> None:
        from redis.asyncio import Redis  # the memory backend needs no redis

        self.prefix = f"{namespace}pq:"
        self.max_bytes_per_owner = max_bytes_per_owner
        self.max_queries_per_owner = max_queries_per_owner
        self.ttl_ms = max(1, round(ttl * 1000))
        # short socket timeouts: a hung Redis must not hold a request longer than a vendor would
        self._redis: Redis = client or Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._register = self._redis.register_script(_REGISTER)

    def entry_key(self, sha256: str) -> str:
        return f"{self.prefix}q:{sha256}"

    def owner_keys(self, owner: str) -> tuple[str, str]:
        """The owner's registrations (sorted set) and charges (hash)."""
        return f"{self.prefix}owner:{owner}:order", f"{self.prefix}owner:{owner}:size"

    async def get(self, sha256: str) -> str | None:
        from redis.exceptions import RedisError

        try:
            value = await self._redis.get(self.entry_key(sha256))
        except (RedisError, OSError) as exc:
            log.warning("redis persisted-query read failed (a miss): %s", type(exc).__name__)
            return None
        if not isinstance(value, bytes):
            return None
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None  # not ours: whatever wrote it, it is not a query we stored

    async def set(self, sha256: str, query: str, *, owner: str) -> bool:
        from redis.exceptions import RedisError

        order, sizes = self.owner_keys(owner)
        try:
            stored = await self._register(
                keys=[self.entry_key(sha256), order, sizes],
                args=[
                    sha256,
                    query,
                    charge(query),
                    self.ttl_ms,
                    self.max_bytes_per_owner,
                    self.max_queries_per_owner,
                    f"{self.prefix}q:",
                ],
            )
        except (RedisError, OSError) as exc:
            log.warning("redis persisted-query write failed (dropped): %s", type(exc).__name__)
            return False
        return int(stored) >= 0

    async def close(self) -> None:
        await self._redis.aclose()


def build_query_store(settings: Settings) -> QueryStore:
    """The persisted-query store for `settings`: in Redis when the cache backend is Redis (so
    replicas share it), else in this process; bounded per caller either way."""
    config = settings.persisted_queries
    if settings.cache.backend == "redis":
        assert settings.cache.url is not None  # the settings refuse redis without a url
        return RedisQueryStore(
            settings.cache.url.get_secret_value(),
            namespace=DEFAULT_NAMESPACE,
            max_bytes_per_owner=config.max_bytes_per_key,
            max_queries_per_owner=config.max_queries_per_key,
            ttl=config.ttl_seconds,
        )
    return MemoryQueryStore(
        max_bytes=config.memory_max_bytes,
        max_bytes_per_owner=config.max_bytes_per_key,
        max_queries_per_owner=config.max_queries_per_key,
        ttl=config.ttl_seconds,
    )

"""Where cached bytes live: a bounded in-process LRU (the default) or Redis (shared by replicas).

A backend is a plain byte store with a time to live; it knows nothing about what it holds. The
result cache (`resolvers/cache/results.py`) stores typed MessagePack entries in it, and other
features may store their own values next to them: prefix keys by purpose (`fetch:` is taken by the
result cache; e.g. `pq:` for persisted queries) so they never collide.

The API other code may rely on (kept stable):

    class CacheBackend(Protocol):
        name: str                                      # "memory" | "redis": the metrics label
        async def get(self, key: str) -> bytes | None  # None: absent, expired or unreachable
        async def set(self, key: str, value: bytes, ttl: float) -> None  # seconds; <= 0 deletes
        async def close(self) -> None                  # once, at shutdown

A backend never raises for an unreachable store: `get` answers None and `set` drops the value
(both logged), so an outage of Redis makes usagegraph slower, never wrong or down.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["DEFAULT_NAMESPACE", "CacheBackend", "MemoryBackend", "RedisBackend"]

log = logging.getLogger("usagegraph.cache")

# Every key usagegraph writes to Redis starts with this; bump the version when the layout changes.
DEFAULT_NAMESPACE = "usagegraph:v1:"


@runtime_checkable
class CacheBackend(Protocol):
    """A byte store with per-entry time to live."""

    name: str

    async def get(self, key: str) -> bytes | None:
        """The value stored under `key`, or None when absent, expired or unreachable."""
        ...

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        """Store `value` for `ttl` seconds (a ttl <= 0 removes the key)."""
        ...

    async def close(self) -> None:
        """Release connections; called once at shutdown."""
        ...


class MemoryBackend:
    """A bounded LRU in this process: at most `max_entries` keys, the least recently used evicted
    first; an expired entry is dropped when it is next read (or evicted like any other)."""

    name = "memory"

    def __init__(
        self, max_entries: int = 10_000, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> bytes | None:
        item = self._entries.get(key)
        if item is None:
            return None
        expires, value = item
        if expires <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        if ttl <= 0:
            self._entries.pop(key, None)
            return
        self._entries[key] = (self._clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def close(self) -> None:
        self._entries.clear()


class RedisBackend:
    """Redis through `redis.asyncio`, every key under `namespace`; Redis expires the entries
    itself (SET ... PX). Failures of Redis are logged and answered like a miss."""

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        timeout: float = 1.0,
        client: Redis | None = None,
    ) -> None:
        from redis.asyncio import Redis  # imported here: the memory backend needs no redis

        self.namespace = namespace
        # short socket timeouts: a hung Redis must not hold a request longer than a vendor would
        self._redis: Redis = client or Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    @property
    def client(self) -> Redis:
        """The connection pool, for features that need more than get and set (fetch leases)."""
        return self._redis

    async def get(self, key: str) -> bytes | None:
        from redis.exceptions import RedisError

        try:
            value = await self._redis.get(self.namespace + key)
        except (RedisError, OSError) as exc:
            log.warning("redis cache read failed (treated as a miss): %s", type(exc).__name__)
            return None
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        from redis.exceptions import RedisError

        try:
            if ttl <= 0:
                await self._redis.delete(self.namespace + key)
            else:
                await self._redis.set(self.namespace + key, value, px=max(1, round(ttl * 1000)))
        except (RedisError, OSError) as exc:
            log.warning("redis cache write failed (value dropped): %s", type(exc).__name__)

    async def close(self) -> None:
        await self._redis.aclose()

"""Where whole answers are kept: a byte-bounded LRU in this process, or the shared Redis.

An answer is the serialized GraphQL response exactly as the router wrote it (its bytes, its
media type) with its ETag and the moment it stops being fresh (epoch seconds, so replicas
sharing Redis agree). It is stored apart from the result cache's fetches: answers never evict
the fetches they were built from.

- `MemoryAnswers`: at most `max_bytes` of bodies in all (least recently used evicted first),
  none above `max_entry_bytes`; `bytes` and `entries` are reported in /metrics.
- `RedisAnswers`: over the app's cache backend (`answer:` keys, typed MessagePack), Redis
  expiring each entry itself; bytes that do not decode as an answer are a miss, never an error.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

import msgspec

from usagegraph.resolvers.cache import CacheBackend

__all__ = ["AnswerStore", "MemoryAnswers", "RedisAnswers", "StoredAnswer"]

log = logging.getLogger("usagegraph.answers")

KEY_PREFIX = "answer:"


class StoredAnswer(msgspec.Struct, frozen=True, array_like=True):
    """One kept answer: the response body as sent, its media type and ETag, and when it stops
    being fresh (epoch seconds)."""

    body: bytes
    content_type: str
    etag: str
    fresh_until: float

    def fresh_for(self, now: float) -> float:
        return self.fresh_until - now


class AnswerStore(Protocol):
    """Kept answers by key."""

    name: str

    async def get(self, key: str) -> StoredAnswer | None: ...

    async def set(self, key: str, answer: StoredAnswer, ttl: float) -> None: ...

    def usage(self) -> tuple[int, int] | None:
        """(bytes, entries) held, when this process can know them."""
        ...


class MemoryAnswers:
    """A least-recently-used store bounded in bytes (module docstring)."""

    name = "memory"

    def __init__(
        self,
        max_bytes: int,
        max_entry_bytes: int,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = min(max_entry_bytes, max_bytes)
        self._clock = clock
        self._entries: OrderedDict[str, StoredAnswer] = OrderedDict()
        self._bytes = 0

    async def get(self, key: str) -> StoredAnswer | None:
        answer = self._entries.get(key)
        if answer is None:
            return None
        if answer.fresh_until <= self._clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return answer

    async def set(self, key: str, answer: StoredAnswer, ttl: float) -> None:
        self._drop(key)
        if ttl <= 0 or len(answer.body) > self.max_entry_bytes:
            return
        self._entries[key] = answer
        self._bytes += len(answer.body)
        while self._bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)

    def usage(self) -> tuple[int, int]:
        return self._bytes, len(self._entries)

    def _drop(self, key: str) -> None:
        answer = self._entries.pop(key, None)
        if answer is not None:
            self._bytes -= len(answer.body)


class RedisAnswers:
    """Answers in the shared cache backend (module docstring)."""

    name = "redis"

    def __init__(
        self,
        backend: CacheBackend,
        max_entry_bytes: int,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.backend = backend
        self.max_entry_bytes = max_entry_bytes
        self._clock = clock
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(StoredAnswer)

    async def get(self, key: str) -> StoredAnswer | None:
        raw = await self.backend.get(KEY_PREFIX + key)
        if raw is None or len(raw) > self.max_entry_bytes + 1024:
            return None
        try:
            answer = self._decoder.decode(raw)
        except msgspec.DecodeError as exc:  # foreign or damaged bytes: a miss
            log.warning("unreadable kept answer %s (%s)", key, exc)
            return None
        return answer if answer.fresh_until > self._clock() else None

    async def set(self, key: str, answer: StoredAnswer, ttl: float) -> None:
        if ttl <= 0 or len(answer.body) > self.max_entry_bytes:
            return
        await self.backend.set(KEY_PREFIX + key, self._encoder.encode(answer), ttl)

    def usage(self) -> None:
        return None  # Redis holds them, bounded by its own maxmemory

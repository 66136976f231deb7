"""The entries the result cache decoded last, kept so the same bytes are not decoded again.

A warm dashboard reads the same few entries on every request: at L decoding them (MessagePack
into typed models, then the finite-Decimal check) was a good share of the request's CPU
(measured: see docs/measurements.md#decoded-entries-kept). An entry is
kept with the bytes it was decoded from and served again only for those same bytes (the memory
backend hands back the very object; bytes from Redis are compared), so what a read answers is
exactly what decoding would answer. Decoded values are shared by every request that reads them,
as values of one in-flight fetch already are: nothing mutates a fetched value.

Each kept entry also carries a memo (`Fetched.derive`): what a pure function computes from a
part of its value (an organization's metrics from its report row) is computed once per entry,
not once per request. It lives and dies with the entry.

Bounded by the total length of the kept bytes (the decoded models take a few times more).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from usagegraph.resolvers.cache.codec import Entry

__all__ = ["DECODED_BYTES", "DecodedEntries", "Memo"]

# (what was computed, id of the value it was computed from) -> (that value, the result)
Memo = dict[tuple[Any, int], tuple[Any, Any]]

# enough for every entry of the L dashboard with room to spare (docs/measurements.md)
DECODED_BYTES = 32 * 1024 * 1024


class DecodedEntries:
    """An LRU of (bytes, decoded entry) per cache key, at most `max_bytes` of bytes in all."""

    def __init__(self, max_bytes: int = DECODED_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._kept: OrderedDict[str, tuple[bytes, Entry[Any], Memo]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, key: str, raw: bytes) -> tuple[Entry[Any], Memo] | None:
        """The entry decoded from `raw` under `key` and its memo, if kept."""
        kept = self._kept.get(key)
        if kept is None:
            return None
        # the memory backend returns the stored object itself; other bytes are compared
        if kept[0] is not raw and kept[0] != raw:
            return None
        self._kept.move_to_end(key)
        return kept[1], kept[2]

    def put(self, key: str, raw: bytes, entry: Entry[Any]) -> Memo | None:
        """Keep `entry`, decoded from `raw`; its new memo (None when it is not kept)."""
        if len(raw) > self.max_bytes // 4:
            return None  # one huge entry would push out everything else
        old = self._kept.pop(key, None)
        if old is not None:
            self.size -= len(old[0])
        memo: Memo = {}
        self._kept[key] = (raw, entry, memo)
        self.size += len(raw)
        while self.size > self.max_bytes:
            _, (dropped, _, _) = self._kept.popitem(last=False)
            self.size -= len(dropped)
        return memo

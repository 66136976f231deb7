"""The cross-request cache: byte-store backends and the result cache built on them.

See `backends.py` for the stable backend API (also for other features' values),
`results.py` for what is cached, for how long, and when a stale value is served, and
`codec.py` / `values.py` for how entries are stored and which types they may hold, and
`fleet.py` (with `leases.py`, `failures.py`) for the single flight shared by replicas on Redis.
"""

from __future__ import annotations

from usagegraph.resolvers.cache.backends import (
    DEFAULT_NAMESPACE,
    CacheBackend,
    MemoryBackend,
    RedisBackend,
)
from usagegraph.resolvers.cache.codec import DEFAULT_MAX_ENTRY_BYTES, Entry, EntryCodec, EntryError
from usagegraph.resolvers.cache.fleet import FleetFlight, LeasesUnavailable
from usagegraph.resolvers.cache.results import (
    CACHE_FORMAT,
    CachePolicy,
    Fetched,
    ResultCache,
    TtlClass,
    cache_key,
    serves_stale,
    ttl_class,
)
from usagegraph.resolvers.cache.values import FETCH_VALUES

__all__ = [
    "CACHE_FORMAT",
    "DEFAULT_MAX_ENTRY_BYTES",
    "DEFAULT_NAMESPACE",
    "FETCH_VALUES",
    "CacheBackend",
    "CachePolicy",
    "Entry",
    "EntryCodec",
    "EntryError",
    "Fetched",
    "FleetFlight",
    "LeasesUnavailable",
    "MemoryBackend",
    "RedisBackend",
    "ResultCache",
    "TtlClass",
    "cache_key",
    "serves_stale",
    "ttl_class",
]

"""The cross-request cache: byte-store backends and the result cache built on them.

See `backends.py` for the stable backend API (also for other features' values) and
`results.py` for what is cached, for how long, and when a stale value is served.
"""

from __future__ import annotations

from resolvers.cache.backends import DEFAULT_NAMESPACE, CacheBackend, MemoryBackend, RedisBackend
from resolvers.cache.results import (
    CACHE_FORMAT,
    CachePolicy,
    Fetched,
    ResultCache,
    TtlClass,
    cache_key,
    serves_stale,
    ttl_class,
)

__all__ = [
    "CACHE_FORMAT",
    "DEFAULT_NAMESPACE",
    "CacheBackend",
    "CachePolicy",
    "Fetched",
    "MemoryBackend",
    "RedisBackend",
    "ResultCache",
    "TtlClass",
    "cache_key",
    "serves_stale",
    "ttl_class",
]

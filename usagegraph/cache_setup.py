"""Builds the `[cache]` section: the backend (memory or Redis) and the result cache over it
(with Redis, taking fetch turns with the other replicas: `resolvers/cache/fleet.py`).
(The cache itself, backends and entry formats, is the `resolvers/cache/` package.)

The backend is built even when `enabled = false` (then only result caching is off), so other
features can keep their own values in it; the app exposes it as `app.state.cache_backend` and
closes it at shutdown.
"""

from __future__ import annotations

from usagegraph.resolvers.cache import (
    FETCH_VALUES,
    CacheBackend,
    CachePolicy,
    EntryCodec,
    FleetFlight,
    MemoryBackend,
    RedisBackend,
    ResultCache,
)
from usagegraph.settings import Settings

__all__ = ["build_backend", "catalog_ttl", "discovery_ttl", "fleet_flight", "result_cache"]


def build_backend(settings: Settings) -> CacheBackend:
    """The configured backend; Redis connects lazily, on first use."""
    cache = settings.cache
    if cache.backend == "redis":
        assert cache.url is not None  # the settings refuse redis without a url
        return RedisBackend(cache.url.get_secret_value())
    return MemoryBackend(cache.max_entries)


def discovery_ttl(settings: Settings) -> float:
    """How long a discovery is fresh in the cache: its own key, else [graph]'s."""
    own = settings.cache.ttl_discovery_seconds
    return settings.graph.discovery_ttl_seconds if own is None else own


def catalog_ttl(settings: Settings) -> float:
    """How long the in-process catalog is kept before it is rebuilt (through the cache, so a
    rebuild within the discovery TTL costs no call): never longer than a discovery is fresh."""
    if not settings.cache.enabled:
        return settings.graph.discovery_ttl_seconds
    return min(settings.graph.discovery_ttl_seconds, discovery_ttl(settings))


def result_cache(settings: Settings, backend: CacheBackend) -> ResultCache | None:
    """The result cache over `backend`, or None when caching is off. The naive benchmark mode
    (the N+1 baseline) never caches."""
    if not settings.cache.enabled or settings.graph.naive_loaders:
        return None
    cache = settings.cache
    policy = CachePolicy(
        ttl_past=cache.ttl_past_seconds,
        ttl_live=cache.ttl_live_seconds,
        ttl_discovery=discovery_ttl(settings),
        stale=cache.stale_seconds,
    )
    return ResultCache(
        backend,
        policy,
        codec=EntryCodec(FETCH_VALUES, max_bytes=cache.max_entry_bytes),
        fleet=fleet_flight(settings, backend),
    )


def fleet_flight(settings: Settings, backend: CacheBackend) -> FleetFlight | None:
    """With Redis, one fetch per key across the replicas sharing it; None with memory."""
    if not isinstance(backend, RedisBackend):
        return None
    from usagegraph.resolvers.cache.leases import RedisLeases  # the memory backend needs no redis

    leases = RedisLeases(
        backend.client, namespace=backend.namespace, ttl=settings.cache.lease_seconds
    )
    return FleetFlight(leases)

"""`[cache]`: its defaults, how the discovery TTLs reconcile, the backend it builds, and every
mistake as one line naming its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from usagegraph.cache_setup import build_backend, catalog_ttl, discovery_ttl, result_cache
from usagegraph.resolvers.cache import MemoryBackend, RedisBackend
from usagegraph.settings import ConfigError, Settings, load_settings, settings_from_sources

TELI = {"kind": "teli", "name": "teli", "base_url": "https://api.teli.ai", "api_key": "k"}


def settings(**sections: Any) -> Settings:
    return settings_from_sources([TELI], **sections)


def test_defaults_cache_in_memory_with_the_documented_ttls() -> None:
    cache = settings().cache
    assert cache.enabled is True
    assert cache.backend == "memory"
    assert cache.url is None
    assert cache.max_entries == 10_000
    assert (cache.ttl_past_seconds, cache.ttl_live_seconds) == (3600, 60)
    assert cache.ttl_discovery_seconds is None
    assert cache.stale_seconds == 86400


async def test_the_default_builds_a_bounded_memory_backend_and_a_result_cache() -> None:
    config = settings(cache={"max_entries": 500})
    backend = build_backend(config)
    assert isinstance(backend, MemoryBackend)
    assert backend.max_entries == 500
    results = result_cache(config, backend)
    assert results is not None
    assert results.policy.ttl_past == 3600
    assert results.policy.ttl_live == 60
    assert results.policy.ttl_discovery == 300  # [graph] discovery_ttl_seconds
    assert results.policy.stale == 86400


def test_the_naive_benchmark_mode_and_enabled_false_build_no_result_cache() -> None:
    naive = settings(graph={"naive_loaders": True})
    off = settings(cache={"enabled": False})
    assert result_cache(naive, build_backend(naive)) is None
    assert result_cache(off, build_backend(off)) is None


@pytest.mark.parametrize(
    ("graph_ttl", "cache_ttl", "fresh", "catalog"),
    [
        (300, None, 300, 300),  # one TTL for both by default
        (300, 60, 60, 60),  # a shorter discovery TTL also rebuilds the catalog sooner
        (300, 3600, 3600, 300),  # a longer one: rebuilt every 300 s, from the cache
        (0, None, 0, 0),  # 0: discover on every request
    ],
)
def test_discovery_ttls_reconcile(
    graph_ttl: float, cache_ttl: float | None, fresh: float, catalog: float
) -> None:
    cache: dict[str, Any] = {} if cache_ttl is None else {"ttl_discovery_seconds": cache_ttl}
    config = settings(graph={"discovery_ttl_seconds": graph_ttl}, cache=cache)
    assert discovery_ttl(config) == fresh
    assert catalog_ttl(config) == catalog


def test_without_the_cache_the_catalog_keeps_the_graph_ttl() -> None:
    config = settings(cache={"enabled": False, "ttl_discovery_seconds": 10})
    assert catalog_ttl(config) == 300


async def test_redis_url_comes_from_the_environment_like_every_secret(tmp_path: Path) -> None:
    path = tmp_path / "usagegraph.toml"
    path.write_text(
        """\
[[sources]]
name = "teli"
kind = "teli"
base_url = "https://api.teli.ai"
api_key = "k"

[cache]
backend = "redis"
url = "redis://:${REDIS_PASSWORD}@redis.internal:6379/2"
ttl_past_seconds = 7200
""",
        encoding="utf-8",
    )
    config = load_settings(path, environ={"REDIS_PASSWORD": "pw-s3cret"})
    assert config.cache.url is not None
    assert config.cache.url.get_secret_value() == "redis://:pw-s3cret@redis.internal:6379/2"
    assert "pw-s3cret" not in repr(config)  # a secret, like the vendors' keys
    backend = build_backend(config)
    try:
        assert isinstance(backend, RedisBackend)
        assert backend.name == "redis"
        assert backend.namespace == "usagegraph:v1:"
    finally:
        await backend.close()


@pytest.mark.parametrize(
    ("cache", "message"),
    [
        ({"backend": "redis"}, 'cache.url: backend = "redis" needs a url'),
        ({"url": "redis://localhost"}, 'cache.url: only used with backend = "redis"'),
        (
            {"backend": "redis", "url": "http://localhost:6379"},
            "cache.url: must be a redis://, rediss:// or unix:// URL",
        ),
        ({"backend": "memcached"}, "cache.backend: input should be 'memory' or 'redis'"),
        ({"max_entries": 0}, "cache.max_entries: input should be greater than or equal to 1"),
        ({"stale_seconds": -1}, "cache.stale_seconds: input should be greater than or equal to 0"),
        ({"ttl_live": 60}, "cache: unknown key 'ttl_live' (did you mean 'ttl_live_seconds'?)"),
    ],
)
def test_cache_mistakes_name_their_key(cache: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(cache=cache)
    assert str(caught.value) == f"config error: {message}"

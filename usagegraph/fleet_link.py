"""The fleet's Redis as the shared limits use it: a short-timeout client, a pause after failures.

Every shared limit (usagegraph/shared_limits.py, usagegraph/shared_breaker.py) asks Redis once per
decision. A dead or hung Redis must never stall a request, so the client's timeouts are short
(`TIMEOUT`), and after a failure the link is `down` for `RETRY_AFTER` seconds: the limits then
decide on this replica's own state at once, without waiting on Redis again for every call. The
first decision after the pause tries Redis again; when it answers, the fleet's state resumes.

`run` raises `FleetDown` whenever a decision must be made locally; each feature's
`FleetFallback` counts it (`usagegraph_fleet_fallback_total{feature}`) and logs the transitions.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from usagegraph.fleet_fallback import FleetFallback
from usagegraph.resolvers.cache import DEFAULT_NAMESPACE
from usagegraph.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RETRY_AFTER", "TIMEOUT", "FleetDown", "FleetLink", "connect", "fleet_link"]

T = TypeVar("T")

# seconds: a loopback or in-cluster Redis answers in well under a millisecond
TIMEOUT = 0.1
# seconds a replica decides alone after Redis failed, before it asks Redis again
RETRY_AFTER = 1.0


class FleetDown(Exception):
    """Redis cannot be asked now: decide on this replica's own state."""


def connect(url: str, *, timeout: float = TIMEOUT) -> Redis:
    """A client for the shared limits, apart from the cache's (whose timeouts are longer)."""
    from redis.asyncio import Redis  # the memory backend needs no redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    # one immediate retry (a pooled connection Redis dropped on a restart), never a backoff
    retry = Retry(NoBackoff(), 1)
    return Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=retry)


class FleetLink:
    """The client every shared limit of one app uses, and whether Redis is to be asked now."""

    def __init__(
        self,
        redis: Redis,
        *,
        namespace: str,
        retry_after: float = RETRY_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.namespace = namespace  # every key starts with it
        self.retry_after = retry_after
        self._clock = clock
        self._down_until = 0.0

    @property
    def up(self) -> bool:
        """False while decisions are made alone after a failure."""
        return self._clock() >= self._down_until

    async def run(self, fallback: FleetFallback, command: Callable[[], Awaitable[T]]) -> T:
        """`command`'s answer from Redis; `FleetDown` (counted for `fallback`'s feature) when
        Redis failed now or a moment ago."""
        from redis.exceptions import RedisError

        if not self.up:
            fallback.fell_back(FleetDown("paused after a failure"))
            raise FleetDown
        try:
            answer = await command()
        except (RedisError, OSError) as exc:
            self._down_until = self._clock() + self.retry_after
            fallback.fell_back(exc)
            raise FleetDown from exc
        fallback.shared()
        return answer

    async def close(self) -> None:
        await self.redis.aclose()


def fleet_link(settings: Settings) -> FleetLink | None:
    """The link the shared limits use: with `[cache] backend = "redis"` and `shared_limits`
    (the default there); None keeps every limit this replica's own."""
    cache = settings.cache
    if cache.backend != "redis" or not cache.shared_limits:
        return None
    assert cache.url is not None  # the settings refuse redis without a url
    return FleetLink(connect(cache.url.get_secret_value()), namespace=DEFAULT_NAMESPACE)

"""The fleet's Redis as the shared limits use it: a short-timeout client, a pause after failures.

Every shared limit (usagegraph/shared_limits.py, usagegraph/shared_breaker.py) asks Redis once per
decision. A dead or hung Redis must never stall a request, so the client's timeouts are short
(`TIMEOUT`), and after a failure the link is `down` for `RETRY_AFTER` seconds: the limits then
decide on this replica's own state at once, without waiting on Redis again for every call. The
first decision after the pause tries Redis again; when it answers, the fleet's state resumes.

`run` raises `FleetDown` whenever a decision must be made locally; each feature's
`FleetFallback` counts it (`usagegraph_fleet_fallback_total{feature}`) and logs the transitions.
`outages` counts the times the link went from shared to alone, so a limit can start each outage
afresh.

Each replica also says it is alive: `heartbeat_forever` (a task of the app's lifespan) writes its
id into one sorted set every `HEARTBEAT_EVERY` seconds, scored by Redis's clock, drops ids not
seen for `REPLICA_TTL` seconds and reads how many are left: `replicas`, the fleet's size as last
seen, by which a replica divides a vendor's rate when it must keep it alone
(usagegraph/shared_limits.py); in `/metrics` as `usagegraph_fleet_replicas`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from usagegraph.fleet_fallback import FleetFallback
from usagegraph.resolvers.cache import DEFAULT_NAMESPACE
from usagegraph.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "HEARTBEAT_EVERY",
    "REPLICA_TTL",
    "RETRY_AFTER",
    "TIMEOUT",
    "FleetDown",
    "FleetLink",
    "connect",
    "fleet_link",
]

log = logging.getLogger("usagegraph.fleet")

T = TypeVar("T")

# seconds: a loopback or in-cluster Redis answers in well under a millisecond
TIMEOUT = 0.1
# seconds a replica decides alone after Redis failed, before it asks Redis again
RETRY_AFTER = 1.0
# seconds between a replica's heartbeats, and since its last one before it no longer counts
HEARTBEAT_EVERY = 1.0
REPLICA_TTL = 3.0

# KEYS[1]: the sorted set of replica ids, scored by their last heartbeat (ms on Redis's clock).
# ARGV: this replica's id, REPLICA_TTL in ms. Returns how many replicas are alive.
_HEARTBEAT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
redis.call('PEXPIRE', KEYS[1], ttl)
return redis.call('ZCARD', KEYS[1])
"""


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
        self._alone = False
        self.outages = 0  # times the link went from shared to alone
        self.replica_id = uuid.uuid4().hex
        self.replicas = 1  # the fleet's size as last seen; this one alone until then
        self._heartbeat = redis.register_script(_HEARTBEAT)

    @property
    def up(self) -> bool:
        """False while decisions are made alone after a failure."""
        return self._clock() >= self._down_until

    async def run(self, fallback: FleetFallback | None, command: Callable[[], Awaitable[T]]) -> T:
        """`command`'s answer from Redis; `FleetDown` (counted for `fallback`'s feature, if
        any) when Redis failed now or a moment ago."""
        from redis.exceptions import RedisError

        if not self.up:
            if fallback is not None:
                fallback.fell_back(FleetDown("paused after a failure"))
            raise FleetDown
        try:
            answer = await command()
        except (RedisError, OSError) as exc:
            self._down_until = self._clock() + self.retry_after
            if not self._alone:
                self._alone = True
                self.outages += 1
            if fallback is not None:
                fallback.fell_back(exc)
            raise FleetDown from exc
        self._alone = False
        if fallback is not None:
            fallback.shared()
        return answer

    async def heartbeat(self) -> int:
        """Say this replica is alive and update `replicas`; `FleetDown` when Redis cannot be
        asked (the last count stays)."""
        key = self.namespace + "replicas"
        ttl_ms = int(REPLICA_TTL * 1000)
        alive = await self.run(
            None, lambda: self._heartbeat(keys=[key], args=[self.replica_id, ttl_ms])
        )
        self.replicas = max(1, int(alive))
        return self.replicas

    async def heartbeat_forever(self, every: float = HEARTBEAT_EVERY) -> None:
        """`heartbeat` every `every` seconds until cancelled; also what finds Redis back after
        an outage when no request asks it."""
        while True:
            try:
                await self.heartbeat()
            except FleetDown:
                pass  # the link is down (the limits know): the next beat tries again
            except Exception:
                # a stale count must not end the beat: it would never be updated again
                log.exception("fleet heartbeat failed")
            await asyncio.sleep(every)

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

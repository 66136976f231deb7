"""Fetch leases in Redis: which replica is fetching a key now, and how its last fetch failed.

    <namespace>lease:<key>    the holder's token, set only if absent (SET NX PX), expiring after
                              `ttl` seconds unless the holder renews it: a replica that dies
                              while fetching blocks the others for at most `ttl`
    <namespace>failed:<key>   the holder's token and its failure (`failures.py`), for the
                              replicas that waited on that holder (kept `ttl` seconds)

Renewing and releasing compare the token first (in Lua, atomically), so a holder whose lease
expired can never extend or delete the next holder's. When Redis fails, is unreachable or hangs
past its socket timeout, every method raises `LeasesUnavailable`: the caller decides how to go
on without the fleet (`fleet.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from usagegraph.resolvers.cache.fleet import LeasesUnavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisLeases"]

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""

# the failure is stored before the lease goes, so a waiter that sees no lease sees the failure
_RELEASE = """
if ARGV[2] ~= '' then
  redis.call('set', KEYS[2], ARGV[2], 'PX', ARGV[3])
end
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class RedisLeases:
    """Leases under `namespace` in the Redis that `client` talks to, each lasting `ttl` s."""

    def __init__(self, client: Redis, *, namespace: str, ttl: float) -> None:
        if ttl <= 0:
            raise ValueError("a lease must last more than 0 seconds")
        self.ttl = ttl
        self._redis = client
        self._namespace = namespace
        self._ttl_ms = max(1, round(ttl * 1000))
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    @staticmethod
    @contextmanager
    def _unavailable_on_failure() -> Iterator[None]:
        try:
            yield
        except (RedisError, OSError) as exc:  # OSError: refused, reset; TimeoutError is one too
            raise LeasesUnavailable(type(exc).__name__) from exc

    def _keys(self, key: str) -> tuple[str, str]:
        return self._namespace + "lease:" + key, self._namespace + "failed:" + key

    async def take(self, key: str, token: str) -> bool:
        """Whether `token` now holds `key` (False: another holder has it)."""
        lease, _ = self._keys(key)
        with self._unavailable_on_failure():
            return bool(await self._redis.set(lease, token, nx=True, px=self._ttl_ms))

    async def renew(self, key: str, token: str) -> bool:
        """Extend `token`'s lease by `ttl`; False when it is no longer `token`'s."""
        lease, _ = self._keys(key)
        with self._unavailable_on_failure():
            return bool(await self._renew(keys=[lease], args=[token, self._ttl_ms]))

    async def release(self, key: str, token: str, failure: bytes = b"") -> None:
        """End `token`'s lease (if still its own), first leaving `failure` for its waiters."""
        with self._unavailable_on_failure():
            await self._release(keys=list(self._keys(key)), args=[token, failure, self._ttl_ms])

    async def peek(self, key: str) -> tuple[str | None, bytes | None]:
        """The current holder's token (None: nobody holds `key`) and the last failure left."""
        with self._unavailable_on_failure():
            holder, failure = await self._redis.mget(list(self._keys(key)))
        token = holder.decode("utf-8", "replace") if isinstance(holder, bytes) else None
        return token, failure if isinstance(failure, bytes) else None

"""Single flight across replicas: of all the replicas that miss one key, one calls the vendor.

In front of it each replica keeps its own single flight (`results.py`), so per key and replica
one flight asks here. `FleetFlight.turn` gives that flight its turn:

- it takes the key's lease (`leases.py`): it is the holder. It fetches and stores the value as
  without the fleet, then `Turn.end` releases the lease. While it fetches, the lease is renewed
  every third of its time to live, so a long fetch keeps it and a holder that dies (killed,
  crashed, cut off) blocks the others for at most one lease.
- or another replica holds it: it polls (every 10 ms, backing off to 50 ms; Redis has no
  notification on by default and polling survives a reconnect) until the lease is gone. Then the
  holder's value is read from the cache (`Turn.stored`), or the holder's failure, left next to
  the lease (`failures.py`), is raised by this replica too (`Turn.failure`): every waiter serves
  stale or fails exactly as the holder did, with no call of its own. When the holder left
  neither (it died, its value could not be stored, or it failed on its own caller's budget),
  the next waiter takes the lease and calls: one call more per such holder, per fleet.

No request's deadline bounds the polling: the flight serves every request of this replica that
shares the key, each of which stops waiting at its own deadline (`resolvers/service.py`).

When Redis fails, the replica fetches with its own flight only (`FleetFallback`: logged when it
starts and when Redis is back, counted in `usagegraph_fleet_fallback_total`): slower toward
the vendors, never wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from usagegraph.clients.errors import UpstreamError
from usagegraph.fleet_fallback import FleetFallback
from usagegraph.resolvers.cache.failures import decode_failure, encode_failure

__all__ = ["FleetFlight", "Leases", "LeasesUnavailable", "Turn"]

log = logging.getLogger("usagegraph.cache")

T = TypeVar("T")

POLL_FIRST = 0.01  # seconds between looks at a held lease, at first
POLL_MAX = 0.05  # ... growing by half each time up to this


class LeasesUnavailable(Exception):
    """The lease store (Redis) failed: this fetch cannot be coordinated with the fleet."""


class Leases(Protocol):
    """One holder per key at a time (`leases.RedisLeases`)."""

    ttl: float

    async def take(self, key: str, token: str) -> bool: ...
    async def renew(self, key: str, token: str) -> bool: ...
    async def release(self, key: str, token: str, failure: bytes = b"") -> None: ...
    async def peek(self, key: str) -> tuple[str | None, bytes | None]: ...


class _Held:
    """A lease this replica holds, renewed until released."""

    def __init__(self, leases: Leases, key: str, token: str) -> None:
        self.leases = leases
        self.key = key
        self.token = token
        self._renewal = asyncio.ensure_future(self._keep())

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self.leases.ttl / 3)
            try:
                if not await self.leases.renew(self.key, self.token):
                    return  # it expired and another replica holds it now: ours is lost
            except LeasesUnavailable:
                continue  # Redis may be back before the lease runs out

    async def release(self, error: UpstreamError | None) -> None:
        self._renewal.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._renewal
        marker = encode_failure(self.token, error) if error is not None else None
        try:
            await self.leases.release(self.key, self.token, marker or b"")
        except LeasesUnavailable as exc:  # it expires by itself; waiters then take over
            log.info("fetch lease %s not released (%s)", self.key, exc)


@dataclass
class Turn(Generic[T]):
    """This replica's part in fetching one key: use `stored` (another replica fetched it),
    raise `failure` (another replica's fetch failed so), or else fetch and then `end`."""

    stored: T | None = None
    failure: UpstreamError | None = None
    _held: _Held | None = None

    async def end(self, error: UpstreamError | None = None) -> None:
        """After this replica's fetch (and its store): release the lease, leaving `error`
        (when the fetch failed) for the replicas that waited. Nothing to do without a lease."""
        if self._held is not None:
            held, self._held = self._held, None
            await held.release(error)


class FleetFlight:
    """Fetch turns taken through `leases` (see the module's docstring)."""

    def __init__(self, leases: Leases) -> None:
        self.leases = leases
        self.fallback = FleetFallback("single_flight")

    async def turn(self, key: str, stored: Callable[[], Awaitable[T | None]]) -> Turn[T]:
        """This replica's turn at `key`, after waiting for any other holder; `stored()` reads
        the key's fresh value from the cache (None when there is none)."""
        seen: set[str] = set()  # the holders waited on: only their failures are ours
        holder: str | None = None
        delay = POLL_FIRST
        while True:
            try:
                if holder is None:  # nobody held it at the last look: try to take it
                    token = secrets.token_hex(8)
                    if await self.leases.take(key, token):
                        self.fallback.shared()
                        return await self._hold(key, token, stored)
                holder, marker = await self.leases.peek(key)
            except LeasesUnavailable as exc:
                self.fallback.fell_back(exc)
                return Turn()
            self.fallback.shared()
            if holder is not None:
                seen.add(holder)
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, POLL_MAX)
                continue
            failure = decode_failure(marker) if marker is not None else None
            if failure is not None and failure[0] in seen:
                return Turn(failure=failure[1])
            if seen:
                value = await stored()
                if value is not None:
                    return Turn(stored=value)
            # the holder left nothing (it died, or its value could not be kept): take it over

    async def _hold(
        self, key: str, token: str, stored: Callable[[], Awaitable[T | None]]
    ) -> Turn[T]:
        held = _Held(self.leases, key, token)
        try:
            # read again: a replica may have fetched, stored and released the key since this
            # one missed it (a busy event loop makes that window longer than a vendor call)
            value = await stored()
        except BaseException:
            await held.release(None)
            raise
        if value is None:
            return Turn(_held=held)
        await held.release(None)
        return Turn(stored=value)

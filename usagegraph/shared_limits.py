"""Rate limits the whole fleet shares through Redis: per source, per caller and source, per caller.

A vendor's limit is per account, not per replica: with three replicas each keeping its own
bucket, 24 dashboards sent Teli 22 calls within one second where `rate_limit_per_second = 4`,
`rate_limit_burst = 4` (issue 18). So each limit is one GCRA state in Redis (the generic cell
rate algorithm: a token bucket kept as one number, the theoretical arrival time of the next
call), updated by one Lua script per decision: atomic, one round trip, and timed by Redis's own
clock (`TIME`), so the replicas' clocks never matter. It allows `burst` calls at once and `rate`
a second after that: in any window of T seconds at most `burst + rate * T` calls, fleet-wide.

- `SharedRateLimit`: a source's `rate_limit_per_second` / `rate_limit_burst`
  (key `usagegraph:v1:rate:<source>`), the transport's `RateLimit`.
- `SharedQuota`: `[limits] upstream_calls_per_minute` per caller and source
  (`usagegraph:v1:quota:<source>:<caller>`), the transport's `Quota`.
- `SharedRequestLimiter`: `[limits] requests_per_second` / `burst` per caller at the gate
  (`usagegraph:v1:requests:<caller>`).

When Redis fails (usagegraph/fleet_link.py), each decides on this replica's own limiter. For a
vendor's rate (`SharedRateLimit`) that is its share: the rate and the burst divided by the
replica count last seen, starting empty, so the fleet keeps the vendor's limit through the
outage. The per-caller limits (`SharedQuota`, `SharedRequestLimiter`) are our own fairness, not
a vendor's: they fall back to the replica's own full limits, so each replica may then grant a
caller up to the whole limit, until Redis answers again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from usagegraph.clients.fairness import CallerQuota
from usagegraph.clients.protection import TokenBucket
from usagegraph.fleet_fallback import FleetFallback
from usagegraph.fleet_link import FleetDown, FleetLink

__all__ = ["Gcra", "SharedQuota", "SharedRateLimit", "SharedRequestLimiter"]

# One decision on one limit. KEYS[1]: its state (the theoretical arrival time, microseconds).
# ARGV: the emission interval (µs between calls at the rate), the burst tolerance (µs:
# (burst - 1) intervals), and "take", "resume" or "refund". Returns the µs to wait (0: taken),
# for "refund" 0. "resume" takes as "take" does from a state no fuller than empty (the next token
# one interval away), and keeps that state even when it must wait. The state expires when it no
# longer holds anything back.
_GCRA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then
  tat = now
end
local wait = 0
if ARGV[3] == 'refund' then
  tat = tat - interval
else
  if ARGV[3] == 'resume' then
    tat = math.max(tat, now + tolerance + interval)
  end
  local allowed_at = tat - tolerance
  if now < allowed_at then
    wait = math.ceil(allowed_at - now)
    if ARGV[3] == 'take' then
      return wait
    end
  else
    tat = tat + interval
  end
end
if tat > now then
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000))
else
  redis.call('DEL', KEYS[1])
end
return wait
"""


class Gcra:
    """The GCRA script on one app's link."""

    def __init__(self, link: FleetLink) -> None:
        self.link = link
        self._script = link.redis.register_script(_GCRA)

    def _decide(self, key: str, rate: float, burst: int, mode: str) -> Awaitable[int]:
        interval = 1_000_000 / rate
        result: Awaitable[int] = self._script(
            keys=[self.link.namespace + key], args=[interval, (burst - 1) * interval, mode]
        )
        return result

    async def take(
        self, fallback: FleetFallback, key: str, rate: float, burst: int, *, empty: bool = False
    ) -> float:
        """0.0 when a call was counted, else the seconds until one may be; `FleetDown` when
        Redis cannot decide. `empty`: first empty the limit if it holds more than nothing."""
        mode = "resume" if empty else "take"
        waited = await self.link.run(fallback, lambda: self._decide(key, rate, burst, mode))
        return int(waited) / 1_000_000

    async def refund(self, fallback: FleetFallback, key: str, rate: float, burst: int) -> None:
        """Give back a call counted but never made."""
        await self.link.run(fallback, lambda: self._decide(key, rate, burst, "refund"))


class SharedRateLimit:
    """A source's rate, fleet-wide; this replica's share of it while Redis is down.

    `acquire` asks Redis for a token and, told how long until the next, sleeps that and asks
    again. `try_take` says no while Redis is up (asking it means waiting): callers then queue in
    the source's `FairGate`, whose pacer `acquire`s each token and hands it round-robin to this
    process's callers: the fleet decides when this replica may call, the gate decides for whom.
    """

    def __init__(
        self,
        gcra: Gcra,
        source: str,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._gcra = gcra
        self._key = f"rate:{source}"
        self._fallback = FleetFallback("rate_limit")
        self._clock = clock
        self._sleep = sleep
        self._outage = -1  # the link's outage `_local` was made for
        self._local = self._share()
        self._resumed = 0  # the last outage after which the fleet's limit was emptied

    def _share(self) -> TokenBucket:
        """This replica's share of the rate, for deciding alone during one outage.

        Each of n replicas keeps rate / n and burst // n, starting empty: the fleet may have
        spent its whole burst just before Redis failed, and from empty the n shares add at most
        the rate after the switch, so any second spanning it stays within burst + rate.
        Recovery is the mirror image: the shares may have spent their bursts (n * burst // n
        <= burst) just before, and a restarted Redis would grant a fresh burst on top, so the
        first decision on Redis after an outage empties the fleet's limit (`acquire`)."""
        replicas = self._gcra.link.replicas
        share = max(1, self.burst // replicas)
        return TokenBucket(
            self.rate / replicas, share, initial=0, clock=self._clock, sleep=self._sleep
        )

    def _alone(self) -> TokenBucket:
        """The bucket of the current outage, made when this limit first decides in it."""
        outage = self._gcra.link.outages
        if outage != self._outage:
            self._outage = outage
            self._local = self._share()
        return self._local

    def try_take(self) -> bool:
        if self._gcra.link.up:
            return False  # asking the fleet means waiting: queue for the gate's pacer
        self._fallback.fell_back(FleetDown("paused after a failure"))
        return self._alone().try_take()

    async def acquire(self, max_wait: float) -> bool:
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + max_wait
        while True:
            outages = self._gcra.link.outages
            try:
                wait = await self._gcra.take(
                    self._fallback,
                    self._key,
                    self.rate,
                    self.burst,
                    empty=outages != self._resumed,
                )
            except FleetDown:
                return await self._alone().acquire(max(0.0, give_up_at - loop.time()))
            self._resumed = outages
            if wait == 0.0:
                return True
            if wait > give_up_at - loop.time():
                return False
            await self._sleep(wait)  # another replica may take it first: then ask again


class SharedQuota:
    """`upstream_calls_per_minute` of each caller to one source, fleet-wide; this replica's
    `CallerQuota` while Redis is down."""

    def __init__(self, gcra: Gcra, source: str, per_minute: int) -> None:
        self.per_minute = per_minute
        self._gcra = gcra
        self._prefix = f"quota:{source}:"
        self._rate = per_minute / 60.0
        self._local = CallerQuota(per_minute)
        self._fallback = FleetFallback("caller_quota")

    async def reserve(self, caller: str) -> float:
        try:
            key = self._prefix + caller
            return await self._gcra.take(self._fallback, key, self._rate, self.per_minute)
        except FleetDown:
            return self._local.spend(caller)

    async def release(self, caller: str) -> None:
        try:
            key = self._prefix + caller
            await self._gcra.refund(self._fallback, key, self._rate, self.per_minute)
        except FleetDown:
            self._local.refund(caller)


class SharedRequestLimiter:
    """`[limits] requests_per_second` and `burst` per caller at the gate, fleet-wide; the
    gate's own per-caller buckets while Redis is down."""

    def __init__(self, gcra: Gcra, rate: float, burst: int, local: Callable[[str], float]) -> None:
        self.rate = rate  # as the gate's own `RateLimiter` checked them
        self.burst = burst
        self._gcra = gcra
        self._local = local
        self._fallback = FleetFallback("request_rate")

    async def take(self, caller: str) -> float:
        """0.0 when the request may run, else the seconds until one may."""
        try:
            wait = await self._gcra.take(
                self._fallback, f"requests:{caller}", self.rate, self.burst
            )
        except FleetDown:
            return self._local(caller)
        return wait

"""A source's circuit breaker shared by the fleet through Redis.

A vendor that is down is down for every replica: once the fleet's failures open the circuit, no
replica calls it until the cool-down ends, and then one replica probes (not one per replica).
In Redis, under `usagegraph:v1:breaker:<source>:`:

- `failures`: consecutive failures (INCR; it expires `cool_down` after the last one, so
  failures further apart than that never add up), reset by a success;
- `open`: set for `cool_down` (PX) when the failures reach the threshold, or when any call
  fails while the circuit is tripped (a failed probe starts a new cool-down);
- `tripped`: the circuit opened and no success has closed it since: once `open` has expired it
  is half-open;
- `probe`: the one replica probing (SET NX, for `cool_down`: a probe that died frees the turn
  as late as a failed one would).

Each decision is one Lua script (atomic, one round trip). The replica's own `CircuitBreaker`
follows what Redis said, so health, metrics and `sources { circuit }` report the fleet's state,
and stands in alone while Redis is down (usagegraph/fleet_link.py). What a call taught is
written to Redis in the background: the transport's outcome hook never waits on Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from usagegraph.clients.protection import CircuitBreaker, CircuitState
from usagegraph.fleet_fallback import FleetFallback
from usagegraph.fleet_link import FleetDown, FleetLink

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

__all__ = ["SharedCircuitBreaker"]

# KEYS: open, tripped, probe, failures. ARGV: the probe's lease (ms).
# Returns {state, ms until a probe may go, failures}: 0 closed, 1 open, 2 half-open and this
# replica probes, 3 half-open and another one does.
_CHECK = """
local failures = tonumber(redis.call('GET', KEYS[4]) or '0')
local open = redis.call('PTTL', KEYS[1])
if open > 0 then
  return {1, open, failures}
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  if redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[1]) then
    return {2, 0, failures}
  end
  return {3, 0, failures}
end
return {0, 0, failures}
"""

# KEYS: open, tripped, probe, failures. ARGV: threshold, cool-down (ms), tripped's lifetime (ms).
_FAILURE = """
local failures = redis.call('INCR', KEYS[4])
redis.call('PEXPIRE', KEYS[4], ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 1 or failures >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  redis.call('DEL', KEYS[3])
end
return failures
"""

_STATES: dict[int, CircuitState] = {0: "closed", 1: "open", 2: "half_open", 3: "half_open"}
_TRIPPED_FOR_MS = 24 * 3600 * 1000  # a tripped circuit nobody probes for a day closes


class SharedCircuitBreaker:
    """The `Circuit` of one source, decided in Redis; `local` follows it and stands in."""

    def __init__(self, link: FleetLink, source: str, local: CircuitBreaker) -> None:
        self.local = local
        self._link = link
        prefix = f"{link.namespace}breaker:{source}:"
        self._keys = [prefix + part for part in ("open", "tripped", "probe", "failures")]
        self._check = link.redis.register_script(_CHECK)
        self._failure = link.redis.register_script(_FAILURE)
        self._fallback = FleetFallback("circuit_breaker")
        self._fleet_failures = 0  # as of the last check
        self._probing = False  # this replica holds the fleet's probe
        self._writes: set[asyncio.Task[None]] = set()

    @property
    def state(self) -> CircuitState:
        return self.local.state

    @property
    def failures(self) -> int:
        return max(self.local.failures, self._fleet_failures)

    def retry_in(self) -> float:
        return self.local.retry_in()

    async def admit(self) -> bool:
        cool_down_ms = max(1, round(self.local.cool_down * 1000))
        try:
            state, open_ms, failures = await self._link.run(
                self._fallback, lambda: self._run(self._check, [cool_down_ms])
            )
        except FleetDown:
            return self.local.allow()
        self._fleet_failures = int(failures)
        verdict = _STATES[int(state)]
        self.local.follow(verdict, int(open_ms) / 1000)
        self._probing = int(state) == 2
        return verdict == "closed" or self._probing

    def record_success(self) -> None:
        told = self._fleet_failures or self._probing or self.local.failures
        self.local.record_success()
        self._fleet_failures = 0
        self._probing = False
        if told:  # only then is there anything in Redis to reset
            self._write(lambda: self._link.redis.delete(*self._keys))

    def record_failure(self) -> None:
        self.local.record_failure()
        self._probing = False
        cool_down_ms = max(1, round(self.local.cool_down * 1000))
        threshold = self.local.failure_threshold
        self._write(lambda: self._run(self._failure, [threshold, cool_down_ms, _TRIPPED_FOR_MS]))

    def release_probe(self) -> None:
        self.local.release_probe()
        if self._probing:
            self._probing = False
            self._write(lambda: self._link.redis.delete(self._keys[2]))

    def _run(self, script: AsyncScript, args: list[int]) -> Awaitable[Any]:
        return script(keys=self._keys, args=args)

    def _write(self, command: Callable[[], Awaitable[Any]]) -> None:
        """Tell Redis in the background (a lost write is counted and logged like any other)."""

        async def write() -> None:
            with contextlib.suppress(FleetDown):  # this replica's own breaker already knows
                await self._link.run(self._fallback, command)

        task = asyncio.get_running_loop().create_task(write())
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

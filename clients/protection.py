"""Protecting the vendors from us: a rate limit, a circuit breaker and a per-operation budget.

- `TokenBucket`: at most `rate` requests per second per source (bursts up to `burst`), so many
  dashboards at once never trip a vendor's 429. Waiting for a token counts against the call's
  deadline like any other wait. The server's per-caller request limit (usagegraph/limits.py)
  uses the same class: it lives here, in the lowest layer, so both may import it without an
  upward import.
- `CircuitBreaker`: after `failure_threshold` consecutive failed calls (unavailable, timed out)
  the source fails fast for `cool_down` seconds; then one probe call decides whether it closes
  again. The graph still serves stale cache entries while it is open.
- `CallBudget`: how many upstream calls one GraphQL operation may make per source. It lives in a
  context variable set per request, so a hostile or careless query cannot fan out without bound.

`RateLimit` and `Circuit` are what the transport asks of the first two: a replica's own
`TokenBucket` and `CircuitBreaker` are one kind, the fleet's (kept in Redis, built by the server
layer: usagegraph/shared_limits.py, usagegraph/shared_breaker.py) another.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = [
    "CallBudget",
    "Circuit",
    "CircuitBreaker",
    "CircuitState",
    "RateLimit",
    "TokenBucket",
    "current_budget",
]

CircuitState = Literal["closed", "open", "half_open"]


class RateLimit(Protocol):
    """A source's request rate: `rate` per second, `burst` at once."""

    @property
    def rate(self) -> float: ...
    @property
    def burst(self) -> int: ...

    def try_take(self) -> bool:
        """Take a token if one is there now, without waiting (False: queue and `acquire`)."""
        ...

    async def acquire(self, max_wait: float) -> bool:
        """Take a token, waiting up to `max_wait` seconds; False when that is not enough."""
        ...


class Circuit(Protocol):
    """A source's circuit breaker, as the transport asks it and health and metrics read it."""

    @property
    def state(self) -> CircuitState: ...
    @property
    def failures(self) -> int: ...

    def retry_in(self) -> float:
        """Seconds until an open circuit lets a probe through."""
        ...

    async def admit(self) -> bool:
        """May a call go out now? In half-open state only one probe at a time does."""
        ...

    def record_success(self) -> None: ...
    def record_failure(self) -> None: ...

    def release_probe(self) -> None:
        """A probe that ended without telling health (e.g. a 4xx) frees the slot."""
        ...


class TokenBucket:
    """A classic token bucket: `burst` tokens at most, refilled at `rate` per second.

    The one token bucket of the code base: the transport paces each source with `acquire`
    (which waits) and `try_take`, and the server's per-caller request limit
    (usagegraph/limits.py) keeps one per caller and asks `take` (which never waits).
    """

    # the server keeps one per caller (up to 10,000): no per-instance __dict__
    __slots__ = ("_clock", "_lock", "_sleep", "_tokens", "_updated", "burst", "rate")

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        initial: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`initial` tokens to start with: `burst` (a full bucket) unless given."""
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        if initial is not None and not 0 <= initial <= burst:
            raise ValueError("initial must be between 0 and burst")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst if initial is None else initial)
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def take(self) -> float:
        """Take a token now if there is one: 0.0 when taken, else the seconds until one is
        there (nothing is taken then)."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate

    def try_take(self) -> bool:
        """Take a token if one is there now, without waiting."""
        if self._lock.locked():
            return False  # someone is already waiting for the next one
        return self.take() == 0.0

    async def acquire(self, max_wait: float) -> bool:
        """Take a token, waiting up to `max_wait` seconds; False when that is not enough."""
        async with self._lock:  # first come, first served
            wait = self.take()
            if wait == 0.0:
                return True
            if wait > max_wait:
                return False
            await self._sleep(wait)
            # the token slept for is ours even when rounding leaves it a hair short of one
            self._refill()
            self._tokens -= 1
            return True


@dataclass
class CircuitBreaker:
    """Consecutive-failure breaker with a single half-open probe."""

    failure_threshold: int = 5
    cool_down: float = 30.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    _probing: bool = False

    @property
    def state(self) -> CircuitState:
        if self.opened_at is None:
            return "closed"
        if self.clock() - self.opened_at >= self.cool_down:
            return "half_open"
        return "open"

    def retry_in(self) -> float:
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.cool_down - (self.clock() - self.opened_at))

    def allow(self) -> bool:
        """May a call go out now? In half-open state only one probe at a time does."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._probing:
            self._probing = True
            return True
        return False

    async def admit(self) -> bool:
        """`allow`, as the transport asks every `Circuit`."""
        return self.allow()

    def follow(self, state: CircuitState, retry_in: float = 0.0) -> None:
        """Take a state decided elsewhere (the fleet's breaker): this one then reports it, and
        stands in with it when the fleet cannot be asked. Half-open here means a probe is out."""
        self._probing = state == "half_open"
        if state == "closed":
            self.failures = 0
            self.opened_at = None
        else:
            left = retry_in if state == "open" else 0.0
            self.opened_at = self.clock() - self.cool_down + left

    def record_success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self._probing = False

    def record_failure(self) -> None:
        self._probing = False
        self.failures += 1
        if self.opened_at is not None or self.failures >= self.failure_threshold:
            self.opened_at = self.clock()  # (re)open: a failed probe starts a new cool-down

    def release_probe(self) -> None:
        """A probe that ended without telling health (e.g. a 4xx) frees the slot."""
        self._probing = False


@dataclass
class CallBudget:
    """Upstream calls one operation may still make, per source."""

    limit: int
    spent: dict[str, int] = field(default_factory=dict)

    def spend(self, source: str) -> bool:
        """Count one call; False when the source's budget is already used up."""
        used = self.spent.get(source, 0)
        if used >= self.limit:
            return False
        self.spent[source] = used + 1
        return True

    def refund(self, source: str) -> None:
        """Give back a call counted but never made (another limit refused it)."""
        used = self.spent.get(source, 0)
        if used:
            self.spent[source] = used - 1


# Set per GraphQL request; None (the default) means no budget, e.g. in the clients' own tests.
current_budget: ContextVar[CallBudget | None] = ContextVar("usagegraph_call_budget", default=None)

"""Fair shares of a source between callers: round-robin turns and a per-caller quota.

A source's rate limit and concurrency cap are shared by every caller of the process. Taken
first come, first served, one tenant's big query (hundreds of queued calls) would hold them for
seconds while another tenant's dashboard waited behind it. So:

- `FairGate`: the source's concurrency slots and rate tokens are handed round-robin across the
  callers that are waiting, one call each. A caller with 600 queued calls delays another's
  call by at most one token per other waiting caller; a caller alone gets the whole rate
  (nothing is reserved for idle callers).
- `CallerQuota`: how many upstream calls one caller may make to one source per minute (a token
  bucket per caller of `per_minute` tokens, refilled evenly), so a tenant cannot spend a
  vendor's quota for everyone. `Quota` is what the transport asks of it (the fleet's shared
  one, usagegraph/shared_limits.py, is another kind).

Who is calling reaches the transport through context variables, set per GraphQL operation and
inherited by every task it starts:

- `current_caller`: who pays (the quota is charged to it); None is the service's own work
  (discovery, readiness probes), which no caller's quota pays for.
- `current_interest`: the callers waiting on a call shared between requests (the result
  cache's single flight). Its call is queued in the lane of every one of them and goes out on
  the first of their turns: a caller sharing a call another caller started is never stuck
  behind that caller's own backlog. The quota is still charged to the caller that started it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol

from usagegraph.clients.protection import RateLimit

__all__ = [
    "CallerQuota",
    "FairGate",
    "Interest",
    "Lane",
    "Quota",
    "caller_lanes",
    "current_caller",
    "current_interest",
    "shared_by",
]

# A caller's name ("key:acme", "ip:10.0.0.7"); None: the service's own work.
Lane = str | None


@dataclass(eq=False)
class Interest:
    """The callers waiting on one shared call: whoever started it first, then whoever joined."""

    lanes: list[Lane]
    waiters: set[_Waiter] = field(default_factory=set, repr=False)  # its queued calls

    def join(self, lane: Lane) -> None:
        """`lane` waits on this call too: its turns may now send it."""
        if lane in self.lanes:
            return
        self.lanes.append(lane)
        for waiter in list(self.waiters):
            waiter.gate.add_lane(waiter, lane)


current_caller: ContextVar[Lane] = ContextVar("usagegraph_caller", default=None)
current_interest: ContextVar[Interest | None] = ContextVar("usagegraph_interest", default=None)


def caller_lanes() -> tuple[Interest | None, list[Lane]]:
    """The current call's interest (if it is shared) and the lanes it queues in."""
    interest = current_interest.get()
    if interest is not None:
        return interest, interest.lanes
    return None, [current_caller.get()]


@contextmanager
def shared_by(interest: Interest | None) -> Iterator[None]:
    """Calls made inside the block queue in the lanes of `interest` (None: the caller's own)."""
    token = current_interest.set(interest)
    try:
        yield
    finally:
        current_interest.reset(token)


@dataclass(eq=False)
class _Waiter:
    """One call waiting for a slot and a token, queued in one lane per interested caller."""

    gate: FairGate
    future: asyncio.Future[None]
    lanes: set[Lane] = field(default_factory=set)


class FairGate:
    """A source's concurrency slots and rate tokens, handed round-robin across callers.

    Uncontended, a call takes a token and a slot at once. Otherwise it queues in its lanes, and
    one pacer task waits for the next token and the next free slot, then hands both to the
    head of the first lane in the ring: the choice is made when the token is there, not
    before, so a caller arriving while others wait is served on the very next token. A lane
    that starts waiting goes to the front of the ring (it was idle: its first call is owed),
    a lane served that still waits goes to the back.
    """

    def __init__(self, *, limiter: RateLimit | None, max_concurrency: int) -> None:
        self.limiter = limiter
        self._slots = asyncio.Semaphore(max_concurrency)
        # ring order: the first lane is served next
        self._lanes: OrderedDict[Lane, deque[_Waiter]] = OrderedDict()
        self._pending: dict[Lane, int] = {}  # live waiters per lane
        self._waiting = 0  # live waiters
        self._pacer: asyncio.Task[None] | None = None

    def backlog(self, lanes: Iterable[Lane]) -> int:
        """Calls already waiting in the shortest of `lanes`: at least that many are served
        before a call queued now in all of them."""
        return min((self._pending.get(lane, 0) for lane in lanes), default=0)

    async def enter(self, lanes: Iterable[Lane], interest: Interest | None = None) -> None:
        """Wait for a token and a slot (in every one of `lanes`); the slot is held on return
        until `leave`."""
        if (
            not self._waiting
            and not self._slots.locked()
            and (self.limiter is None or self.limiter.try_take())
        ):
            await self._slots.acquire()  # free: returns at once
            return
        waiter = _Waiter(self, asyncio.get_running_loop().create_future())
        for lane in lanes:
            self.add_lane(waiter, lane)
        if interest is not None:
            interest.waiters.add(waiter)
        if self._pacer is None:
            self._pacer = asyncio.ensure_future(self._pace())
        try:
            await waiter.future
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled():
                self.leave()  # handed a slot just as we were cancelled: give it back
            else:
                self._forget(waiter)
                if not self._waiting and self._pacer is not None:
                    self._pacer.cancel()  # nobody left to serve
                    self._pacer = None
            raise
        finally:
            if interest is not None:
                interest.waiters.discard(waiter)

    def leave(self) -> None:
        """Give back the slot `enter` took."""
        self._slots.release()

    def add_lane(self, waiter: _Waiter, lane: Lane) -> None:
        """Queue `waiter` in `lane` as well (a caller joined the call it stands for)."""
        if waiter.future.done() or lane in waiter.lanes:
            return
        if not waiter.lanes:
            self._waiting += 1
        waiter.lanes.add(lane)
        queue = self._lanes.get(lane)
        if queue is None:
            queue = self._lanes[lane] = deque()
        queue.append(waiter)
        count = self._pending.get(lane, 0)
        if not count:
            self._lanes.move_to_end(lane, last=False)  # idle until now: served first
        self._pending[lane] = count + 1

    def _forget(self, waiter: _Waiter) -> None:
        """A waiter served or gone: its queue entries are skipped lazily."""
        if waiter.lanes:
            self._waiting -= 1
        for lane in waiter.lanes:
            left = self._pending[lane] - 1
            if left:
                self._pending[lane] = left
            else:  # what the lane still queues is served or gone: drop it now
                del self._pending[lane]
                self._lanes.pop(lane, None)
        waiter.lanes.clear()

    def _pick(self) -> _Waiter | None:
        """The first live waiter of the first lane in the ring, dequeued."""
        while self._lanes:
            lane, queue = self._lanes.popitem(last=False)
            while queue and queue[0].future.done():
                queue.popleft()
            if not queue:
                continue
            waiter = queue.popleft()
            if queue:
                self._lanes[lane] = queue  # still waiting: to the back of the ring
            self._forget(waiter)
            return waiter
        return None

    async def _pace(self) -> None:
        """While calls wait: take the next token and the next free slot, then hand both to the
        waiter whose turn it is."""
        try:
            while self._waiting:
                if self.limiter is not None:
                    await self.limiter.acquire(max_wait=math.inf)
                await self._slots.acquire()
                waiter = self._pick()
                if waiter is None:  # all gone while we waited (the token is simply unused)
                    self._slots.release()
                    return
                waiter.future.set_result(None)
        finally:
            if self._pacer is asyncio.current_task():
                self._pacer = None


class Quota(Protocol):
    """Upstream calls per caller and minute, for one source, as the transport asks it."""

    @property
    def per_minute(self) -> int: ...

    async def reserve(self, caller: str) -> float:
        """Count one call of `caller`: 0.0 when allowed, else the seconds until one is."""
        ...

    async def release(self, caller: str) -> None:
        """Give back a call counted but never made."""
        ...


class CallerQuota:
    """Upstream calls per caller and minute, for one source.

    Each caller has a bucket of `per_minute` calls refilled at `per_minute / 60` per second.
    Buckets live in an LRU of at most `max_callers` (callers by client address must not grow it
    without bound); the one dropped is the least recently used, so it has mostly refilled.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_callers: int = 10_000,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self._rate = per_minute / 60.0
        self._clock = clock
        self._max_callers = max_callers
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def spend(self, caller: str) -> float:
        """Count one call of `caller`: 0.0 when allowed, else the seconds until one is."""
        now = self._clock()
        tokens, updated = self._buckets.pop(caller, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - updated) * self._rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self._rate
        self._buckets[caller] = (tokens, now)
        while len(self._buckets) > self._max_callers:
            self._buckets.popitem(last=False)
        return wait

    def refund(self, caller: str) -> None:
        """Give back a call counted but never made."""
        entry = self._buckets.get(caller)
        if entry is not None:
            self._buckets[caller] = (min(float(self.per_minute), entry[0] + 1.0), entry[1])

    async def reserve(self, caller: str) -> float:
        """`spend`, as the transport asks every `Quota`."""
        return self.spend(caller)

    async def release(self, caller: str) -> None:
        """`refund`, as the transport asks every `Quota`."""
        self.refund(caller)

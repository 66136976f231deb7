"""The current request's deadline: how long one GraphQL operation may wait on the vendors.

Set per operation (`deadline_scope`) in a context variable, so every task the operation starts
inherits it. Two things read it:

- the transport: a call gets the time that is left, never more than its source's own
  `timeout_total` (`CallDeadline`), and a call started after the deadline fails at once
  (`refuse_if_passed`);
- `within_deadline`: a request waiting on work it shares with others (a single-flight fetch, a
  discovery refresh) stops waiting at its deadline, while the shared work, started under
  `no_deadline`, runs on for the others within its sources' own timeouts.

Past the deadline the waiter gets `UpstreamTimeoutError` (UPSTREAM_TIMEOUT) naming the source,
so exactly the fields that needed it are null and everything already fetched is answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

from usagegraph.clients.errors import UpstreamTimeoutError

__all__ = [
    "CallDeadline",
    "Deadline",
    "current_deadline",
    "deadline_scope",
    "deadline_share",
    "no_deadline",
    "refuse_if_passed",
    "within_deadline",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Deadline:
    """When the operation stops waiting (event-loop time), and the configured seconds."""

    at: float
    seconds: float
    what: str = "the request's deadline"

    def left(self) -> float:
        return self.at - asyncio.get_running_loop().time()

    def describe(self) -> str:
        return f"{self.what} of {self.seconds:g} s"

    def share(self, fraction: float, what: str) -> Deadline:
        """The first `fraction` of this deadline's time, called `what` in messages."""
        seconds = self.seconds * fraction
        return Deadline(self.at - self.seconds + seconds, seconds, what)


current_deadline: ContextVar[Deadline | None] = ContextVar("usagegraph_deadline", default=None)


@dataclass(frozen=True)
class CallDeadline:
    """When one logical upstream call (every attempt, token fetch and backoff wait) gives up:
    `total` seconds from its start, or the request's deadline (`cut_by`) when that comes first."""

    at: float  # event-loop time
    total: float
    cut_by: Deadline | None

    @classmethod
    def start(cls, total: float) -> CallDeadline:
        """The deadline of a call starting now, with its source's `total` seconds."""
        at = asyncio.get_running_loop().time() + total
        request = current_deadline.get()
        if request is not None and request.at < at:
            return cls(request.at, total, request)
        return cls(at, total, None)

    def left(self) -> float:
        return self.at - asyncio.get_running_loop().time()

    def describe(self) -> str:
        return self.cut_by.describe() if self.cut_by is not None else f"{self.total:g} s"


def refuse_if_passed(*, source: str, endpoint: str) -> None:
    """Raise UpstreamTimeoutError when the request's deadline has passed: nothing is sent."""
    deadline = current_deadline.get()
    if deadline is not None and deadline.left() <= 0:
        raise UpstreamTimeoutError(
            f"was not called: {deadline.describe()} had passed",
            source=source,
            endpoint=endpoint,
            attempts=0,
        )


@contextmanager
def deadline_scope(seconds: float | None) -> Iterator[Deadline | None]:
    """Upstream waits inside the block end `seconds` from now (None: no deadline)."""
    deadline = None
    if seconds is not None:
        try:
            deadline = Deadline(asyncio.get_running_loop().time() + seconds, seconds)
        except RuntimeError:  # executed without an event loop: nothing upstream can wait
            deadline = None
    token = current_deadline.set(deadline)
    try:
        yield deadline
    finally:
        current_deadline.reset(token)


@contextmanager
def deadline_share(fraction: float, what: str) -> Iterator[Deadline | None]:
    """Inside the block, waits end after `fraction` of the current deadline's time (a step
    that must leave the rest of the time to the steps after it); nothing without a deadline."""
    current = current_deadline.get()
    narrowed = current.share(fraction, what) if current is not None else None
    token = current_deadline.set(narrowed)
    try:
        yield narrowed
    finally:
        current_deadline.reset(token)


@contextmanager
def no_deadline() -> Iterator[None]:
    """Work shared by several requests runs inside the block: no one request's deadline cuts
    it short (each waiter bounds its own wait with `within_deadline`)."""
    token = current_deadline.set(None)
    try:
        yield
    finally:
        current_deadline.reset(token)


async def within_deadline(start: Callable[[], Awaitable[T]], *, source: str, endpoint: str) -> T:
    """Await `start()` until the current deadline; past it raise UpstreamTimeoutError for
    `source`. The awaitable is cancelled then: shield work that others still wait on. Nothing
    is started when the deadline has already passed."""
    deadline = current_deadline.get()
    if deadline is None:
        return await start()
    if deadline.left() <= 0:
        raise _late(deadline, source, endpoint)
    timeout = asyncio.timeout_at(deadline.at)
    try:
        async with timeout:
            return await start()
    except TimeoutError:
        if not timeout.expired():
            raise
        raise _late(deadline, source, endpoint) from None


def _late(deadline: Deadline, source: str, endpoint: str) -> UpstreamTimeoutError:
    return UpstreamTimeoutError(
        f"did not answer within {deadline.describe()}",
        source=source,
        endpoint=endpoint,
        attempts=0,
    )

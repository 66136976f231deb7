"""How long the answer being built stays right: the ledger the whole-answer cache reads.

An answer is only as fresh as the least fresh thing it read. While an operation runs, every
result it takes from the result cache, the catalog it reads and the user lists it loads note
how many seconds they stay fresh (`note_fresh_for`); a field that shows live state (a source's
last error, its circuit) notes `note_volatile`. The answer cache (usagegraph/answers) keeps an
answer for the shortest of those, and never keeps a volatile one or one that read a stale value
(fresh for 0 seconds or less).

The ledger rides on a context variable set by whoever wants one: tasks the operation starts
(dataloader batches) inherit it; work shared by several requests (a single-flight fetch, a
catalog refresh) notes nothing itself, each waiting request notes what it received.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["Freshness", "note_fresh_for", "note_volatile", "tracking_freshness"]


class Freshness:
    """The shortest remaining freshness of what one operation read, and whether it read live
    state. `fresh_for` is infinite until anything is noted."""

    __slots__ = ("fresh_for", "volatile")

    def __init__(self) -> None:
        self.fresh_for = math.inf
        self.volatile = False

    def note(self, seconds: float) -> None:
        if seconds < self.fresh_for:
            self.fresh_for = seconds

    def keep_for(self, cap: float) -> float:
        """How long an answer built on this may be served again (0: not at all)."""
        if self.volatile:
            return 0.0
        return max(0.0, min(self.fresh_for, cap))


_current: ContextVar[Freshness | None] = ContextVar("usagegraph_freshness", default=None)


@contextmanager
def tracking_freshness() -> Iterator[Freshness]:
    """A ledger for the operation run inside the block (and the tasks it starts)."""
    ledger = Freshness()
    token = _current.set(ledger)
    try:
        yield ledger
    finally:
        _current.reset(token)


def note_fresh_for(seconds: float) -> None:
    """What the running operation just read stays fresh for `seconds` more."""
    ledger = _current.get()
    if ledger is not None:
        ledger.note(seconds)


def note_volatile() -> None:
    """The running operation read live state: its answer must not be served again."""
    ledger = _current.get()
    if ledger is not None:
        ledger.volatile = True

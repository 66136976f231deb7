"""One page of an ordered list, Relay style, by keyset: a page starts after (or ends before) a
key, never at an offset.

An item's key is its sort value and its id (ties broken by id, ascending whatever the
direction), so a key is a point in the ordering that stays put when the list changes: paging on
after an item was added or removed neither repeats nor skips an item still present. `first` and
`last` together follow the Relay spec: the first N of the window, then the last M of those.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

__all__ = ["Entry", "Key", "Page", "PageRequest", "SortValue", "page_of", "sorted_entries"]

N = TypeVar("N")
SortValue = str | int | Decimal
Key = tuple[SortValue, str]  # (sort value, id)


@dataclass(frozen=True, slots=True)
class Entry(Generic[N]):
    key: Key
    node: N


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Relay's four arguments, the cursors already decoded to keys (and checked)."""

    first: int | None = None
    after: Key | None = None
    last: int | None = None
    before: Key | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[N]):
    entries: list[Entry[N]]
    total: int  # every item of the (filtered) list, not only the page
    has_previous: bool
    has_next: bool


class _Descending:
    """A sort value in reverse: strings have no negation."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Descending) -> bool:
        return bool(other.value < self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and bool(self.value == other.value)

    __hash__ = None  # type: ignore[assignment]


def _rank(key: Key, descending: bool) -> tuple[Any, str]:
    value, node_id = key
    return (_Descending(value) if descending else value, node_id)


def sorted_entries(entries: Sequence[Entry[N]], descending: bool) -> list[Entry[N]]:
    return sorted(entries, key=lambda e: _rank(e.key, descending))


def page_of(
    entries: list[Entry[N]], descending: bool, request: PageRequest, default_size: int
) -> Page[N]:
    """The page `request` asks of `entries` (already in order: `sorted_entries`). Without
    `first` or `last`, the first `default_size` items of the window."""
    ranks = [_rank(e.key, descending) for e in entries]
    start, end = 0, len(entries)
    if request.after is not None:
        start = bisect_right(ranks, _rank(request.after, descending))
    if request.before is not None:
        end = max(start, bisect_left(ranks, _rank(request.before, descending)))
    first, last = request.first, request.last
    if first is None and last is None:
        first = default_size
    if first is not None:
        end = min(end, start + first)
    if last is not None:
        start = max(start, end - last)
    return Page(entries[start:end], len(entries), start > 0, end < len(entries))

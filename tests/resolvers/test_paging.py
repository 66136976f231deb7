"""Keyset paging (resolvers/paging.py): a page starts after a key, not at an offset, so a list
that changes between two pages neither repeats nor skips an item still present."""

from __future__ import annotations

from decimal import Decimal

from usagegraph.resolvers.paging import Entry, PageRequest, page_of, sorted_entries


def entries(figures: dict[str, Decimal], descending: bool = True) -> list[Entry[str]]:
    return sorted_entries([Entry((v, i), i) for i, v in figures.items()], descending)


FIGURES = {
    "a": Decimal("5"),
    "b": Decimal("9"),
    "c": Decimal("5"),
    "d": Decimal("1"),
    "e": Decimal("9"),
    "f": Decimal("0"),
}


def test_ties_are_broken_by_id_ascending_in_both_directions() -> None:
    assert [e.node for e in entries(FIGURES, True)] == ["b", "e", "a", "c", "d", "f"]
    assert [e.node for e in entries(FIGURES, False)] == ["f", "d", "a", "c", "b", "e"]


def test_an_item_removed_before_the_cursor_shifts_nothing() -> None:
    first = page_of(entries(FIGURES), True, PageRequest(first=3), 20)
    assert [e.node for e in first.entries] == ["b", "e", "a"]
    changed = {k: v for k, v in FIGURES.items() if k != "b"}  # gone from page one

    second = page_of(entries(changed), True, PageRequest(first=3, after=first.entries[-1].key), 20)

    assert [e.node for e in second.entries] == ["c", "d", "f"]  # no skip ("c" kept)
    assert second.has_next is False
    assert second.total == 5


def test_an_item_added_before_the_cursor_is_not_repeated_later() -> None:
    first = page_of(entries(FIGURES), True, PageRequest(first=3), 20)
    changed = {**FIGURES, "g": Decimal("7")}  # lands on page one's part of the list

    second = page_of(entries(changed), True, PageRequest(first=3, after=first.entries[-1].key), 20)

    assert [e.node for e in second.entries] == ["c", "d", "f"]  # no repeat of "a"
    assert second.has_previous is True


def test_the_cursor_item_itself_may_be_gone() -> None:
    first = page_of(entries(FIGURES), True, PageRequest(first=3), 20)
    changed = {k: v for k, v in FIGURES.items() if k != "a"}  # the cursor's own item

    second = page_of(entries(changed), True, PageRequest(first=3, after=first.entries[-1].key), 20)

    assert [e.node for e in second.entries] == ["c", "d", "f"]


def test_before_and_after_bound_a_window_and_last_takes_its_end() -> None:
    ordered = entries(FIGURES)
    request = PageRequest(last=2, after=ordered[0].key, before=ordered[5].key)

    page = page_of(ordered, True, request, 20)

    assert [e.node for e in page.entries] == ["c", "d"]
    assert (page.has_previous, page.has_next) == (True, True)


def test_crossed_cursors_give_an_empty_page() -> None:
    ordered = entries(FIGURES)

    page = page_of(ordered, True, PageRequest(after=ordered[4].key, before=ordered[1].key), 20)

    assert page.entries == []
    assert page.total == 6

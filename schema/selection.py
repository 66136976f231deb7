"""Which vendors a `usage` selection needs, so a query never calls a source it cannot use.

`usage { costs }` needs no Telzino call (Telzino has no costs); `usage { firstDay }` needs no call
at all. Fragments are flattened; anything we cannot attribute needs every source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from usagegraph.resolvers.usage import MEASURES
from usagegraph.schema.compat import (
    FragmentSpread,
    InlineFragment,
    SelectedField,
    Selection,
    field_nodes,
)

__all__ = ["cached_kinds", "field_group_key", "kinds_for_monthly", "kinds_for_usage"]

_FREE = frozenset({"firstDay", "lastDay", "days", "__typename"})
_ALL = frozenset(MEASURES)


def _fields(selections: Iterable[Selection]) -> Iterable[SelectedField]:
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        elif isinstance(selection, FragmentSpread | InlineFragment):
            yield from _fields(selection.selections)


def kinds_for_usage(selected: Iterable[SelectedField]) -> frozenset[str]:
    """The vendor kinds the usage field's sub-selection reads from."""
    kinds: set[str] = set()
    for usage_field in selected:
        for leaf in _fields(usage_field.selections):
            if leaf.name in _FREE:
                continue
            measured_by = {k for k, names in MEASURES.items() if leaf.name in names}
            kinds |= measured_by or _ALL
    return frozenset(kinds)


def kinds_for_monthly(selected: Iterable[SelectedField]) -> frozenset[str]:
    """The vendor kinds the `usage { ... }` inside a `monthly` selection reads from: none when
    only `month` is asked, so `monthly { month }` calls no vendor at all."""
    return kinds_for_usage(
        field
        for monthly in selected
        for field in _fields(monthly.selections)
        if field.name == "usage"
    )


def field_group_key(field_nodes: Iterable[Any]) -> tuple[int, ...]:
    """One field's AST nodes, as graphql-core merged them under a response key: the same
    nodes at every list item, so the key names the field across a whole list."""
    return tuple(map(id, field_nodes))


def cached_kinds(
    info: Any, compute: Callable[[Iterable[SelectedField]], frozenset[str]]
) -> frozenset[str]:
    """`compute(info.selected_fields)`, once per field and request: building the selection
    objects is costly and the answer depends only on the field's AST nodes (all of them: a
    fragment's node can merge with different siblings in different places)."""
    cache: dict[tuple[str, tuple[int, ...]], frozenset[str]] = info.context.selection_kinds
    key = (compute.__name__, field_group_key(field_nodes(info)))
    kinds = cache.get(key)
    if kinds is None:
        kinds = cache[key] = compute(info.selected_fields)
    return kinds

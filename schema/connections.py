"""Connections (the Relay spec): a list answered one page at a time, with cursors to go on.

`Connection[Organization]` is the GraphQL `OrganizationConnection` (Strawberry names a generic
by its argument): `totalCount`, `edges { cursor node }`, `nodes` (GitHub's shortcut) and
`pageInfo`. `paginate` is what every connection field runs: check the arguments
(schema/ordering.py), keep and key the items (resolvers/ranking.py), cut the page
(resolvers/paging.py), mint a cursor per edge (schema/cursors.py). Only the page's nodes resolve
their own fields afterwards; `totalCount` is counted from what was already known.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

import strawberry

from usagegraph.resolvers.context import GraphContext
from usagegraph.resolvers.paging import page_of, sorted_entries
from usagegraph.resolvers.ranking import ListNode, ordered_entries
from usagegraph.schema.cursors import encode_cursor
from usagegraph.schema.ordering import ArgumentBounds, ListFilter, ListOrder, list_plan

__all__ = [
    "AfterArg",
    "BeforeArg",
    "Connection",
    "Edge",
    "FilterArg",
    "FirstPageArg",
    "LastPageArg",
    "OrderByArg",
    "PageInfo",
    "bounds_of",
    "page_values",
    "paginate",
]

Info = strawberry.Info[GraphContext]
T = TypeVar("T")
N = TypeVar("N", bound=ListNode)

# argument types carrying their descriptions (GraphiQL's docs panel shows them)
FirstPageArg = Annotated[
    int | None,
    strawberry.argument(
        description=(
            "The first N items after `after` (0 to the configured maximum, 100 by default). "
            "Without `first` and `last`: the first 20 (the configured default)."
        )
    ),
]
AfterArg = Annotated[
    str | None,
    strawberry.argument(
        description="Start after this cursor (an `endCursor` or edge cursor of this ordering)."
    ),
]
LastPageArg = Annotated[
    int | None,
    strawberry.argument(
        description=(
            "The last N items before `before` (0 to the configured maximum). With `first`: "
            "the last N of those first ones (the Relay spec)."
        )
    ),
]
BeforeArg = Annotated[
    str | None,
    strawberry.argument(description="End before this cursor (a `startCursor` or edge cursor)."),
]
OrderByArg = Annotated[
    ListOrder | None,
    strawberry.argument(description="The order; null: by name, then id."),
]
FilterArg = Annotated[
    ListFilter | None, strawberry.argument(description="Which items to keep; null keeps all.")
]


@strawberry.type(description="Where a page sits in its list (the Relay spec's PageInfo).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Items of the list follow this page.")
    has_previous_page: bool = strawberry.field(description="Items of the list precede this page.")
    start_cursor: str | None = strawberry.field(
        description="The first edge's cursor (pass it as `before`); null on an empty page."
    )
    end_cursor: str | None = strawberry.field(
        description="The last edge's cursor (pass it as `after`); null on an empty page."
    )


@strawberry.type(description="One item of a page, with its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(
        description="Opaque; valid as `after` or `before` under the same ordering and filter."
    )
    node: T = strawberry.field(description="The item.")


@strawberry.type(
    description=(
        "One page of a list (the Relay connection spec). Cursors are opaque and stay valid "
        "while the list changes: paging on never repeats or skips an item still present."
    )
)
class Connection(Generic[T]):
    total_count: int = strawberry.field(
        description="Items in the whole list (after the filter), not only this page."
    )
    edges: list[Edge[T]] = strawberry.field(description="The page's items with their cursors.")
    page_info: PageInfo = strawberry.field(description="Cursors and whether more items follow.")

    @strawberry.field(description="The page's items without cursors (a shortcut to edges.node).")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def bounds_of(context: Any) -> ArgumentBounds:
    """The limits of the serving deployment (the defaults without a service)."""
    service = getattr(context, "service", None)
    if service is None:
        return ArgumentBounds()
    return ArgumentBounds(
        max_page_size=service.max_page_size,
        default_page_size=service.default_page_size,
        max_range_days=service.max_range_days,
        sources=frozenset(service.connections),
    )


def page_values(
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    order_by: ListOrder | None,
    filter: ListFilter | None,
) -> dict[str, Any]:
    """The arguments as graphql-core coerces them (what `list_plan` reads)."""
    return {
        "first": first,
        "after": after,
        "last": last,
        "before": before,
        "orderBy": order_by.values() if order_by is not None else None,
        "filter": filter.values() if filter is not None else None,
    }


async def paginate(
    info: Info,
    item: str,
    nodes: Sequence[N],
    wrap: Callable[[N], T],
    values: dict[str, Any],
) -> Connection[T]:
    """The page of `nodes` (catalog nodes of GraphQL type `item`) these arguments ask for."""
    bounds = bounds_of(info.context)
    plan = list_plan(item, values, bounds)
    descending = plan.ordering.descending
    entries = await ordered_entries(info.context, nodes, plan.ordering, plan.filtering)
    page = page_of(
        sorted_entries(entries, descending), descending, plan.request, bounds.default_page_size
    )
    edges = [Edge(cursor=encode_cursor(plan.mark, e.key), node=wrap(e.node)) for e in page.entries]
    return Connection(
        total_count=page.total,
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )

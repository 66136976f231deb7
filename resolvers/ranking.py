"""Which items of a list a connection keeps, and the key each one is ordered by.

Name ordering and the name and source filters read the catalog only. Ordering by a usage figure
and the `hasUsageIn` filter need the figure of every item (a page can only be cut from the
whole ordered list): each item's usage is asked from the loaders in the same tick, exactly as
`agents(rankedBy:)` does, so ranking 2,000 organizations costs the same one call per source as
showing all of them, and a page of them no more. Only the vendors that measure the figure are
asked (SMS and cost need no Telzino call). A failed source fails the whole ordering (a
`SourceFailure` naming it): a list ranked without it would look complete and be wrong.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, TypeVar

from usagegraph.clients.errors import UpstreamError
from usagegraph.resolvers.catalog import AgentNode, OrganizationNode, ResellerNode, UserNode
from usagegraph.resolvers.errors import SourceFailure
from usagegraph.resolvers.paging import Entry, SortValue
from usagegraph.resolvers.ranges import DayRange
from usagegraph.resolvers.usage import (
    MEASURES,
    UsageResult,
    agent_usage,
    organizations_usage,
    reseller_usage,
    user_usage,
)

if TYPE_CHECKING:
    from usagegraph.resolvers.context import GraphContext

__all__ = ["Filtering", "OrderField", "Ordering", "ordered_entries"]

OrderField = Literal["name", "voice_seconds", "sms_segments", "cost"]
ListNode = ResellerNode | OrganizationNode | AgentNode | UserNode
N = TypeVar("N", bound=ListNode)

_SMS = ("sms_inbound_segments", "sms_outbound_segments", "sms_other_segments")
# each usage ordering: the usage field whose sources it needs, and the metrics it reads
_FIGURES: dict[str, tuple[str, tuple[str, ...]]] = {
    "voice_seconds": ("voice", ("voice_seconds",)),
    "sms_segments": ("sms", _SMS),
    "cost": ("costs", ("costs",)),
}
# "has usage": any voice time, SMS or MMS segment, or charge
_ACTIVITY: dict[str, tuple[str, ...]] = {
    "voice": ("voice_seconds",),
    "sms": _SMS,
    "mms": ("mms_inbound_segments", "mms_outbound_segments"),
    "costs": ("costs",),
}


@dataclass(frozen=True, slots=True)
class Ordering:
    field: OrderField = "name"
    descending: bool = False
    rng: DayRange | None = None  # the usage orderings' days
    currency: str | None = None  # cost's currency (amounts are never summed across them)
    count_whole_months: bool = False  # a month-granular source over a partial month


@dataclass(frozen=True, slots=True)
class Filtering:
    name_contains: str | None = None  # case-insensitive
    source: str | None = None  # a configured source's name: items with a part there
    has_usage_in: DayRange | None = None


def _sources(node: ListNode) -> list[str]:
    if isinstance(node, AgentNode | UserNode):
        return [node.part.source]
    return [p.source for p in node.parts]


def _kept(node: ListNode, filtering: Filtering) -> bool:
    needle = filtering.name_contains
    if needle and needle.casefold() not in node.name.casefold():
        return False
    return filtering.source is None or filtering.source in _sources(node)


async def ordered_entries(
    ctx: GraphContext, nodes: Sequence[N], ordering: Ordering, filtering: Filtering
) -> list[Entry[N]]:
    """The items `filtering` keeps, each with its key under `ordering` (not yet sorted)."""
    kept = [n for n in nodes if _kept(n, filtering)]
    usage_field = _FIGURES[ordering.field][0] if ordering.field != "name" else None
    loads: list[asyncio.Future[list[UsageResult]]] = []
    # both started before either is awaited: their loader calls share one batch
    if filtering.has_usage_in is not None:
        loads.append(_usage_of(ctx, kept, filtering.has_usage_in, False, frozenset(MEASURES)))
    if usage_field is not None:
        assert ordering.rng is not None  # the arguments' checks require it
        kinds = frozenset(k for k, fields in MEASURES.items() if usage_field in fields)
        loads.append(_usage_of(ctx, kept, ordering.rng, ordering.count_whole_months, kinds))
    loaded = list(await asyncio.gather(*loads))
    if filtering.has_usage_in is not None:
        active = _active(loaded.pop(0))
        kept = [n for n, on in zip(kept, active, strict=True) if on]
        if usage_field is not None:
            loaded[0] = [r for r, on in zip(loaded[0], active, strict=True) if on]
    if usage_field is None:
        return [Entry((n.name.casefold(), n.id), n) for n in kept]
    values = _figures(loaded[0], ordering)
    return [Entry((v, n.id), n) for n, v in zip(kept, values, strict=True)]


def _usage_of(
    ctx: GraphContext,
    nodes: Sequence[ListNode],
    rng: DayRange,
    count_whole_months: bool,
    kinds: frozenset[str],
) -> asyncio.Future[list[UsageResult]]:
    """Every node's usage, its loaders asked now (so all lists of a query share batches)."""
    if all(isinstance(n, OrganizationNode) for n in nodes):
        orgs = [n for n in nodes if isinstance(n, OrganizationNode)]
        return asyncio.ensure_future(organizations_usage(ctx, orgs, rng, count_whole_months, kinds))
    return asyncio.gather(*(_one(ctx, n, rng, count_whole_months, kinds) for n in nodes))


async def _one(
    ctx: GraphContext,
    node: ListNode,
    rng: DayRange,
    count_whole_months: bool,
    kinds: frozenset[str],
) -> UsageResult:
    if isinstance(node, ResellerNode):
        return await reseller_usage(ctx, node, rng, count_whole_months, kinds)
    if isinstance(node, AgentNode):
        return await agent_usage(ctx, node, rng)
    if isinstance(node, UserNode):
        return await user_usage(ctx, node, rng)
    raise TypeError(f"no usage ordering for {type(node).__name__}")  # organizations: above


def _failures(results: Sequence[UsageResult], usage_field: str, metrics: tuple[str, ...]) -> None:
    failures: list[UpstreamError] = []
    for result in results:
        failures += result.failures_for(usage_field)
        failures += result.total.problems_of(*metrics)
    if failures:
        raise SourceFailure(failures)


def _figures(results: Sequence[UsageResult], ordering: Ordering) -> list[SortValue]:
    """Each result's figure; a figure no source of the item measures counts as 0."""
    usage_field, metrics = _FIGURES[ordering.field]
    _failures(results, usage_field, metrics)
    if ordering.field == "voice_seconds":
        return [r.total.voice_seconds or 0 for r in results]
    if ordering.field == "sms_segments":
        return [sum(getattr(r.total, m) or 0 for m in metrics) for r in results]
    return [
        sum((c.amount for c in r.total.costs or () if c.currency == ordering.currency), Decimal(0))
        for r in results
    ]


def _active(results: Sequence[UsageResult]) -> list[bool]:
    for usage_field, metrics in _ACTIVITY.items():
        _failures(results, usage_field, metrics)
    return [
        bool(
            r.total.voice_seconds
            or any(getattr(r.total, m) for m in (*_ACTIVITY["sms"], *_ACTIVITY["mms"]))
            or any(c.amount for c in r.total.costs or ())
        )
        for r in results
    ]

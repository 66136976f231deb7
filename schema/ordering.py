"""A connection's arguments: the ordering and filter inputs, and the one check of all of them.

`list_plan` turns a connection field's arguments, as graphql-core coerces them (GraphQL names,
enum values as strings, a DateRange as a dict of dates), into what the resolvers run: the
ordering, the filter, the page with its cursors decoded. The checks before execution
(schema/arguments.py) and the resolver (schema/connections.py) both call it, so a refusal is
the same words either way and comes before any vendor call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, cast

import strawberry

from usagegraph.resolvers.errors import BadUserInput
from usagegraph.resolvers.paging import PageRequest
from usagegraph.resolvers.ranges import DayRange
from usagegraph.resolvers.ranking import Filtering, OrderField, Ordering
from usagegraph.schema.cursors import BadArgument, decode_cursor, fingerprint
from usagegraph.schema.inputs import DateRange, PartialMonths

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_NAME_FILTER",
    "MAX_PAGE_SIZE",
    "ArgumentBounds",
    "ListFilter",
    "ListOrder",
    "ListOrderField",
    "ListPlan",
    "OrderDirection",
    "list_plan",
]

MAX_PAGE_SIZE = 100  # [graph] max_page_size's default
DEFAULT_PAGE_SIZE = 20  # [graph] default_page_size's default
MAX_NAME_FILTER = 200  # characters of nameContains: longer matches no name anyway
_CURRENCY = re.compile(r"[A-Z]{3}", re.ASCII)
# the figures each list's items have: an agent (Telzino) measures voice only
_FIELDS_OF: dict[str, frozenset[str]] = {
    "Agent": frozenset({"name", "voice_seconds"}),
}
_ALL_FIELDS = frozenset({"name", "voice_seconds", "sms_segments", "cost"})


@strawberry.enum(description="What a list is ordered by.")
class ListOrderField(Enum):
    NAME = strawberry.enum_value(
        "name", description="The name, case-insensitive (the default order)."
    )
    VOICE_SECONDS = strawberry.enum_value(
        "voice_seconds", description="Voice seconds over `range` (`usage { voice { seconds } }`)."
    )
    SMS_SEGMENTS = strawberry.enum_value(
        "sms_segments",
        description="SMS segments over `range`, every direction (not for agents: voice only).",
    )
    COST = strawberry.enum_value(
        "cost",
        description="Charges in `currency` over `range` (not for agents: Telzino has no costs).",
    )


@strawberry.enum(description="Ascending or descending.")
class OrderDirection(Enum):
    ASC = strawberry.enum_value("ASC", description="Smallest (or A) first.")
    DESC = strawberry.enum_value("DESC", description="Largest (or Z) first.")


@strawberry.input(
    description=(
        "How a connection orders its items; ties are broken by id, ascending. A usage figure "
        "needs `range` (and COST a `currency`); an item no source of which measures the figure "
        "counts as 0."
    )
)
class ListOrder:
    field: ListOrderField = strawberry.field(description="What to order by.")
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.ASC, description="ASC (default) or DESC."
    )
    range: DateRange | None = strawberry.field(
        default=None, description="The days a usage figure covers (required for them)."
    )
    currency: str | None = strawberry.field(
        default=None,
        description="ISO-4217 code of the charges COST orders by, e.g. USD (required for COST).",
    )
    partial_months: PartialMonths = strawberry.field(
        default=PartialMonths.EXCLUDE,
        description="As `usage(partialMonths:)`: what a monthly-only source counts for.",
    )

    def values(self) -> dict[str, Any]:
        """As graphql-core coerces it (what `list_plan` reads)."""
        return {
            "field": self.field.value,
            "direction": self.direction.value,
            "range": _range_values(self.range),
            "currency": self.currency,
            "partialMonths": self.partial_months.value,
        }


@strawberry.input(description="Which items a connection keeps; every condition given must hold.")
class ListFilter:
    name_contains: str | None = strawberry.field(
        default=None, description="Part of the name, case-insensitive."
    )
    source: str | None = strawberry.field(
        default=None, description="A configured source's name: items with a part there."
    )
    has_usage_in: DateRange | None = strawberry.field(
        default=None,
        description=(
            "Items with some voice time, SMS or MMS segments or charges in these days (a "
            "monthly-only source counts over whole months only)."
        ),
    )

    def values(self) -> dict[str, Any]:
        return {
            "nameContains": self.name_contains,
            "source": self.source,
            "hasUsageIn": _range_values(self.has_usage_in),
        }


def _plain(value: Any) -> Any:
    """An enum's value (graphql-core gives Strawberry's enums as members)."""
    return value.value if isinstance(value, Enum) else value


def _range_values(value: DateRange | None) -> dict[str, Any] | None:
    return None if value is None else {"firstDay": value.first_day, "lastDay": value.last_day}


@dataclass(frozen=True, slots=True)
class ArgumentBounds:
    """The deployment's limits a connection's arguments are checked against."""

    max_page_size: int = MAX_PAGE_SIZE
    default_page_size: int = DEFAULT_PAGE_SIZE
    max_range_days: int = 366
    sources: frozenset[str] | None = None  # the configured source names (None: not checked)


@dataclass(frozen=True, slots=True)
class ListPlan:
    ordering: Ordering
    filtering: Filtering
    request: PageRequest
    mark: str  # the cursors' fingerprint


def list_plan(item: str, values: Mapping[str, Any], bounds: ArgumentBounds) -> ListPlan:
    """What a connection of `item`s (the GraphQL type name) runs for these arguments; a
    BadArgument naming the first argument refused."""
    order = values.get("orderBy") or {"field": "name"}
    wanted = values.get("filter") or {}
    ordering = _ordering(item, order, bounds)
    filtering = _filtering(wanted, bounds)
    first = _size("first", values.get("first"), bounds)
    last = _size("last", values.get("last"), bounds)
    mark = fingerprint(
        item,
        ordering.field,
        ordering.descending,
        ordering.rng,
        ordering.currency,
        ordering.count_whole_months,
        filtering.name_contains,
        filtering.source,
        filtering.has_usage_in,
    )
    cursors = {
        argument: decode_cursor(argument, text, mark, ordering.field)
        for argument in ("after", "before")
        if isinstance(text := values.get(argument), str)
    }
    request = PageRequest(first, cursors.get("after"), last, cursors.get("before"))
    return ListPlan(ordering, filtering, request, mark)


def _size(argument: str, value: Any, bounds: ArgumentBounds) -> int | None:
    if value is None:
        return None
    if value < 0:
        raise BadArgument(argument, f"{argument} must not be negative, got {value}")
    if value > bounds.max_page_size:
        raise BadArgument(
            argument, f"{argument} must be at most {bounds.max_page_size} (a page), got {value}"
        )
    return int(value)


def _days(argument: str, name: str, value: Mapping[str, Any], bounds: ArgumentBounds) -> DayRange:
    try:
        return DayRange.checked(value["firstDay"], value["lastDay"], max_days=bounds.max_range_days)
    except BadUserInput as error:  # worded for the argument it is in
        raise BadArgument(argument, f"{name}: {error}") from None


def _ordering(item: str, order: Mapping[str, Any], bounds: ArgumentBounds) -> Ordering:
    field = cast(OrderField, _plain(order["field"]))
    allowed = _FIELDS_OF.get(item, _ALL_FIELDS)
    if field not in allowed:
        shown = " or ".join(sorted(ListOrderField(f).name for f in allowed))
        raise BadArgument("orderBy", f"{item} lists are ordered by {shown}")
    descending = _plain(order.get("direction")) == OrderDirection.DESC.value
    if field == "name":
        return Ordering("name", descending)
    span = order.get("range")
    if span is None:
        name = ListOrderField(field).name
        raise BadArgument("orderBy", f"ordering by {name} needs a range")
    rng = _days("orderBy", "range", span, bounds)
    currency = order.get("currency")
    if field == "cost":
        if currency is None:
            raise BadArgument("orderBy", "ordering by COST needs a currency, e.g. USD")
        if not _CURRENCY.fullmatch(currency):
            raise BadArgument(
                "orderBy", f"currency must be an ISO-4217 code such as USD, got {currency!r}"
            )
    else:
        currency = None  # not part of this ordering (nor of its cursors)
    whole = _plain(order.get("partialMonths")) == PartialMonths.WHOLE_MONTHS.value
    return Ordering(field, descending, rng, currency, whole)


def _filtering(wanted: Mapping[str, Any], bounds: ArgumentBounds) -> Filtering:
    needle = wanted.get("nameContains")
    if needle is not None and len(needle) > MAX_NAME_FILTER:
        raise BadArgument("filter", f"nameContains must be at most {MAX_NAME_FILTER} characters")
    source = wanted.get("source")
    if source is not None and bounds.sources is not None and source not in bounds.sources:
        raise BadArgument("filter", f"{source!r} is not a configured source")
    span = wanted.get("hasUsageIn")
    rng = _days("filter", "hasUsageIn", span, bounds) if span is not None else None
    return Filtering(needle or None, source, rng)

"""The normalized usage model every source part is converted into, and how parts add up.

`None` on a metric means "this part does not measure it"; a sum over parts is `None` only when no
part measures the metric. Knowledge-base seconds are stricter: a part that measured voice but cannot
split out its knowledge-base share makes the total unknown, because adding only the parts that can
tell would understate it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from decimal import Decimal

__all__ = ["COUNTER_FIELDS", "Metrics", "Money", "add_costs", "sum_metrics"]


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str  # ISO-4217


def add_costs(*groups: Iterable[Money] | None) -> tuple[Money, ...] | None:
    """Sum per currency, never across currencies; sorted by currency code for stable output."""
    totals: dict[str, Decimal] = {}
    seen = False
    for group in groups:
        if group is None:
            continue
        seen = True
        for money in group:
            totals[money.currency] = totals.get(money.currency, Decimal(0)) + money.amount
    if not seen:
        return None
    return tuple(Money(amount, currency) for currency, amount in sorted(totals.items()))


@dataclass(frozen=True, slots=True)
class Metrics:
    """One part's (or a total's) usage over one range. Units are in the names."""

    voice_seconds: int | None = None
    voice_calls: int | None = None
    knowledge_base_seconds: int | None = None
    sms_inbound_segments: int | None = None
    sms_outbound_segments: int | None = None
    mms_inbound_segments: int | None = None
    mms_outbound_segments: int | None = None
    api_requests: int | None = None
    phone_number_rentals: int | None = None
    phone_number_purchases: int | None = None
    brand_registrations: int | None = None
    knowledge_bases: int | None = None
    costs: tuple[Money, ...] | None = None

    @property
    def knowledge_base_known(self) -> bool:
        """False when this part has voice time whose knowledge-base share it cannot tell."""
        return self.knowledge_base_seconds is not None or not self.voice_seconds

    def __add__(self, other: Metrics) -> Metrics:
        return sum_metrics((self, other))

    def __sub__(self, other: Metrics) -> Metrics:
        """What `self` has beyond `other` (used for an organization's unattributed remainder)."""
        values: dict[str, object] = {}
        for name in COUNTER_FIELDS:
            mine, theirs = getattr(self, name), getattr(other, name)
            values[name] = None if mine is None else mine - (theirs or 0)
        costs = None
        if self.costs is not None:
            negated = tuple(Money(-m.amount, m.currency) for m in other.costs or ())
            costs = tuple(m for m in add_costs(self.costs, negated) or ())
        return replace(Metrics(), **values, costs=costs)  # type: ignore[arg-type]


COUNTER_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Metrics) if f.name != "costs")


def sum_metrics(parts: Iterable[Metrics]) -> Metrics:
    parts = list(parts)
    values: dict[str, int | None] = {}
    for name in COUNTER_FIELDS:
        measured = [getattr(p, name) for p in parts if getattr(p, name) is not None]
        values[name] = sum(measured) if measured else None
    if values["knowledge_base_seconds"] is not None and not all(
        p.knowledge_base_known for p in parts
    ):
        values["knowledge_base_seconds"] = None
    return Metrics(**values, costs=add_costs(*(p.costs for p in parts)))

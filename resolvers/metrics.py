"""The normalized usage model every source part is converted into, and how parts add up.

`None` on a metric means "this part does not measure it"; a sum over parts is `None` only when no
part measures the metric. Knowledge-base seconds are stricter: a part that measured voice but cannot
split out its knowledge-base share makes the total unknown, because adding only the parts that can
tell would understate it.

A figure a vendor's answer could not give (a field missing or mistyped, docs/vendors.md) is a
*problem*: `UsageMetrics.problems` pairs the metric's name with the `UpstreamError` that says
why, and sums carry every part's problems along, so a total is never silently short of a part:
whoever reads that metric gets the error instead of a number.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from decimal import Decimal
from operator import attrgetter
from typing import Any, TypeVar

from usagegraph.clients.errors import UpstreamError

__all__ = [
    "COUNTER_FIELDS",
    "Charge",
    "Problem",
    "Quantity",
    "UsageMetrics",
    "WalletAmount",
    "add_costs",
    "add_quantities",
    "add_wallet",
    "sum_metrics",
]


@dataclass(frozen=True, slots=True)
class Charge:
    """A usage charge in one currency (the GraphQL `Money` in `costs` is built from it)."""

    amount: Decimal
    currency: str  # ISO-4217


@dataclass(frozen=True, slots=True)
class Quantity:
    """Usage the graph has no figure for, kept in the vendor's own terms: a Talkdesk (type,
    unit) pair without a mapping, e.g. `SPEECH_TRANSCRIPTION` in `MINUTES`."""

    amount: Decimal
    type: str
    unit: str


@dataclass(frozen=True, slots=True)
class WalletAmount:
    """Money put into or committed to a prepaid wallet (Talkdesk `RECHARGE`, `CREDIT_COMMIT`):
    not a usage charge, so never part of `costs` (the GraphQL `WalletMovement` is built from it)."""

    amount: Decimal
    kind: str  # RECHARGE | CREDIT_COMMIT
    currency: str  # ISO-4217


# (metric name, why the vendor's answer could not give it)
Problem = tuple[str, UpstreamError]

A = TypeVar("A", Charge, Quantity, WalletAmount)


def _sum_by(
    groups: Iterable[Iterable[A] | None],
    key: Callable[[A], tuple[str, ...]],
    build: Callable[[A, Decimal], A],
) -> tuple[A, ...] | None:
    """Amounts added per key (never across keys), sorted by key; None when no group is given."""
    totals: dict[tuple[str, ...], tuple[A, Decimal]] = {}
    seen = False
    for group in groups:
        if group is None:
            continue
        seen = True
        for item in group:
            k = key(item)
            kept = totals.get(k)
            # Decimal(0) + amount, as a running sum from zero gives (it normalizes -0 and context)
            totals[k] = (
                (item, _ZERO + item.amount) if kept is None else (kept[0], kept[1] + item.amount)
            )
    if not seen:
        return None
    return tuple(build(*totals[k]) for k in sorted(totals))


_ZERO = Decimal(0)


def add_costs(*groups: Iterable[Charge] | None) -> tuple[Charge, ...] | None:
    """Sum per currency, never across currencies; sorted by currency code for stable output."""
    return _sum_by(groups, lambda m: (m.currency,), lambda m, total: Charge(total, m.currency))


def add_quantities(*groups: Iterable[Quantity] | None) -> tuple[Quantity, ...] | None:
    """Sum per (type, unit), never across units."""
    return _sum_by(
        groups, lambda q: (q.type, q.unit), lambda q, total: Quantity(total, q.type, q.unit)
    )


def add_wallet(*groups: Iterable[WalletAmount] | None) -> tuple[WalletAmount, ...] | None:
    """Sum per (kind, currency)."""
    return _sum_by(
        groups,
        lambda w: (w.kind, w.currency),
        lambda w, total: WalletAmount(total, w.kind, w.currency),
    )


@dataclass(frozen=True, slots=True)
class UsageMetrics:
    """One part's (or a total's) usage over one range. Units are in the names. (Not the
    Prometheus metrics: those are `observability.metrics.PrometheusMetrics`.)"""

    voice_seconds: int | None = None
    voice_calls: int | None = None
    knowledge_base_seconds: int | None = None
    sms_inbound_segments: int | None = None
    sms_outbound_segments: int | None = None
    sms_other_segments: int | None = None  # direction neither inbound nor outbound (or unknown)
    mms_inbound_segments: int | None = None
    mms_outbound_segments: int | None = None
    api_requests: int | None = None
    phone_number_rentals: int | None = None
    phone_number_purchases: int | None = None
    brand_registrations: int | None = None
    knowledge_bases: int | None = None
    costs: tuple[Charge, ...] | None = None
    other: tuple[Quantity, ...] | None = None
    wallet: tuple[WalletAmount, ...] | None = None
    problems: tuple[Problem, ...] = ()

    @property
    def knowledge_base_known(self) -> bool:
        """False when this part has voice time whose knowledge-base share it cannot tell."""
        return self.knowledge_base_seconds is not None or not self.voice_seconds

    def problems_of(self, *names: str) -> list[UpstreamError]:
        """Why the named metrics could not be given (empty when they are fine)."""
        return [error for name, error in self.problems if name in names]

    def __add__(self, other: UsageMetrics) -> UsageMetrics:
        return sum_metrics((self, other))

    def __sub__(self, other: UsageMetrics) -> UsageMetrics:
        """What `self` has beyond `other` (used for an organization's unattributed remainder);
        the remainder is as unsure as either side, so it keeps both sides' problems."""
        counters = [
            None if mine is None else mine - (theirs or 0)
            for mine, theirs in zip(_counters(self), _counters(other), strict=True)
        ]
        costs = None
        if self.costs is not None:
            negated = tuple(Charge(-m.amount, m.currency) for m in other.costs or ())
            costs = tuple(m for m in add_costs(self.costs, negated) or ())
        return _from_counters(
            *counters,
            costs=costs,
            other=self.other,  # only Talkdesk has these, and it has no agents or users
            wallet=self.wallet,
            problems=self.problems + other.problems,
        )


_AMOUNT_FIELDS = ("costs", "other", "wallet", "problems")
COUNTER_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(UsageMetrics) if f.name not in _AMOUNT_FIELDS
)


_counters = attrgetter(*COUNTER_FIELDS)
# UsageMetrics built from its counters in field order, positionally, with no dict in between (a warm
# dashboard sums thousands of parts). mypy cannot match a list to the leading fields, so this
# alias is deliberately untyped in its arguments; COUNTER_FIELDS fixes their order.
_from_counters: Callable[..., UsageMetrics] = UsageMetrics
_KB = COUNTER_FIELDS.index("knowledge_base_seconds")


# The totals added up last: (ids of the parts) -> (the parts, their total). A warm dashboard adds
# up the very same part metrics on every request (computed once per cached entry,
# `Fetched.derive`); metrics are immutable, so their total is too. The parts are kept with their
# total, so an id in a key cannot belong to another object meanwhile.
_TOTALS_KEPT = 4096
_totals: OrderedDict[tuple[int, ...], tuple[tuple[UsageMetrics, ...], UsageMetrics]] = OrderedDict()


def sum_metrics(parts: Iterable[UsageMetrics]) -> UsageMetrics:
    """The parts added up: each counter summed over the parts that measure it (None when none
    does), amounts per currency or unit, every part's problems kept."""
    parts = tuple(parts)
    key = tuple(map(id, parts))
    kept = _totals.get(key)
    if kept is not None:
        _totals.move_to_end(key)
        return kept[1]
    total = _sum(parts)
    _totals[key] = (parts, total)
    if len(_totals) > _TOTALS_KEPT:
        _totals.popitem(last=False)
    return total


def _sum(parts: tuple[UsageMetrics, ...]) -> UsageMetrics:
    """Reads all counters of a part at once and adds column by column."""
    if not parts:
        return UsageMetrics()
    values: list[int | None] = []
    for column in zip(*map(_counters, parts), strict=True):
        total: int | None = None
        for value in column:
            if value is not None:
                total = value if total is None else total + value
        values.append(total)
    if values[_KB] is not None and not all(p.knowledge_base_known for p in parts):
        values[_KB] = None
    return _from_counters(
        *values,
        costs=_amounts(add_costs, [p.costs for p in parts]),
        other=_amounts(add_quantities, [p.other for p in parts]),
        wallet=_amounts(add_wallet, [p.wallet for p in parts]),
        problems=tuple(problem for p in parts for problem in p.problems),
    )


def _amounts(add: Callable[..., tuple[A, ...] | None], groups: list[Any]) -> tuple[A, ...] | None:
    """`add(*groups)`, skipped when every group is None (most parts have no such amounts)."""
    if all(group is None for group in groups):
        return None
    return add(*groups)

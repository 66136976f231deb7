"""Usage types: totals, the per-source breakdown, coverage and each vendor's own rows.

`UsageFigures` is the one set of normalized fields, implemented by the total (`Usage`) and by
each source's share (`SourceUsage`), so the two always mean the same thing. Leaf fields are plain
or sync; only fields that may call a loader (knowledge-base seconds, Telzino billing) are async.

A figure is null with an error when a source that measures it failed, or when a vendor's answer
could not give it (a problem, `resolvers/metrics.py`): each field checks exactly the metrics it
shows, so a missing cost never nulls the minutes.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from typing import Any

import strawberry

from usagegraph.clients.errors import UpstreamError
from usagegraph.resolvers.context import GraphContext
from usagegraph.resolvers.errors import SourceFailure
from usagegraph.resolvers.metrics import UsageMetrics, sum_metrics
from usagegraph.resolvers.ranges import DayRange
from usagegraph.resolvers.usage import MEASURES, CoverageReason, PartUsage
from usagegraph.schema.inputs import SourceKind
from usagegraph.schema.money import Money, money_list
from usagegraph.schema.vendors import (
    TalkdeskLineItem,
    TeliOrganizationReport,
    TelzinoOrganizationReport,
)

__all__ = [
    "FIELD_METRICS",
    "Coverage",
    "SourceCoverage",
    "SourceUsage",
    "Usage",
    "UsageFigures",
    "VendorQuantity",
    "VoiceUsage",
    "WalletMovement",
    "checked",
]

_CENT = Decimal("0.01")

# The metrics each usage field shows: a problem with one of them nulls that field (and only it).
FIELD_METRICS: dict[str, tuple[str, ...]] = {
    "voice": ("voice_seconds",),
    "sms": ("sms_inbound_segments", "sms_outbound_segments", "sms_other_segments"),
    "mms": ("mms_inbound_segments", "mms_outbound_segments"),
    "apiRequests": ("api_requests",),
    "phoneNumbers": ("phone_number_rentals", "phone_number_purchases"),
    "brandRegistrations": ("brand_registrations",),
    "knowledgeBases": ("knowledge_bases",),
    "costs": ("costs",),
    "otherUsage": ("other",),
    "walletMovements": ("wallet",),
}


def checked(metrics: UsageMetrics, *names: str) -> UsageMetrics:
    """`metrics`, or a SourceFailure naming why the named metrics could not be given."""
    problems = metrics.problems_of(*names) if metrics.problems else None
    if problems:
        raise SourceFailure(problems)
    return metrics


def _minutes(seconds: int) -> Decimal:
    return (Decimal(seconds) / 60).quantize(_CENT, rounding=ROUND_HALF_UP)


@strawberry.type(description="Voice time. `seconds` is the exact, canonical figure.")
class VoiceUsage:
    seconds: int = strawberry.field(
        description="All voice time in seconds, knowledge-base calls included."
    )
    _metrics: strawberry.Private[UsageMetrics]
    _parts: strawberry.Private[tuple[PartUsage, ...]]

    @strawberry.field(description="`seconds / 60`, rounded half-up to 2 decimals.")
    def minutes(self) -> Decimal:
        return _minutes(self.seconds)

    @strawberry.field(description="Number of calls; null where no source counts calls.")
    def calls(self) -> int | None:
        return checked(self._metrics, "voice_calls").voice_calls

    @strawberry.field(
        description=(
            "The part of `seconds` spent in calls that used a knowledge base. null where a "
            "contributing source cannot tell (Telzino, Talkdesk)."
        )
    )
    async def knowledge_base_seconds(self, info: strawberry.Info[GraphContext]) -> int | None:
        known = 0
        pending: list[PartUsage] = []
        for p in self._parts:
            m = p.metrics
            if m is None or not m.voice_seconds:
                continue
            if m.knowledge_base_seconds is not None:
                known += checked(m, "knowledge_base_seconds").knowledge_base_seconds or 0
            elif p.part.kind == "teli":
                pending.append(p)
            else:
                return None  # this source cannot split out knowledge-base time
        if not pending:
            return known
        try:
            shares = await asyncio.gather(*(_knowledge_base_share(info, p) for p in pending))
        except UpstreamError as error:
            raise SourceFailure([error]) from None
        return known + sum(shares)


async def _knowledge_base_share(info: strawberry.Info[GraphContext], p: PartUsage) -> int:
    """A Teli part's knowledge-base seconds from `analytics/usage`; an organization's
    unattributed share is its own minus its users' (each user is one call: only this endpoint
    tells knowledge-base time)."""
    loader = info.context.loaders.teli_usage
    source, rng = p.part.source, p.asked
    if p.subject != "unattributed":
        usage = await loader.load((source, p.subject, p.part.native_id, rng))
        return _kb_seconds(usage)
    org, *users = await asyncio.gather(
        loader.load((source, "organization", p.part.native_id, rng)),
        *(loader.load((source, "user", user_id, rng)) for user_id in p.details),
    )
    return _kb_seconds(org) - sum(_kb_seconds(u) for u in users)


def _kb_seconds(usage: Any) -> int:
    problems = [error for name, error in usage.problems if name in ("voice", "kb_seconds")]
    if problems:
        raise SourceFailure(problems)
    return usage.voice.kb_seconds or 0


@strawberry.type(description="Messages counted in segments (a long message is several).")
class MessagingUsage:
    inbound_segments: int | None = strawberry.field(description="Segments received.")
    outbound_segments: int | None = strawberry.field(description="Segments sent.")
    other_direction_segments: int | None = strawberry.field(
        description=(
            "Segments a source reports with a direction that is neither inbound nor outbound "
            "(Talkdesk `OTHER` or no direction). Counted apart, never guessed into either; Teli "
            "always tells the direction, so its share is 0."
        )
    )


@strawberry.type(
    description=(
        "Usage the graph has no figure for, in the vendor's own terms: a Talkdesk usage type "
        "and unit without a mapping (e.g. SPEECH_TRANSCRIPTION in MINUTES). Never added into "
        "another unit's figure."
    )
)
class VendorQuantity:
    type: str = strawberry.field(description="The vendor's usage type, e.g. AMD or NUMBER.")
    unit: str = strawberry.field(description="The vendor's unit, e.g. MINUTES or SESSIONS.")
    quantity: Decimal = strawberry.field(description="How many of `unit`, summed exactly.")


@strawberry.enum(description="What a wallet movement is.")
class WalletMovementKind(Enum):
    RECHARGE = strawberry.enum_value("RECHARGE", description="A prepaid wallet top-up.")
    CREDIT_COMMIT = strawberry.enum_value(
        "CREDIT_COMMIT", description="Credit committed to the wallet."
    )


@strawberry.type(
    description=(
        "Money put into or committed to a prepaid wallet (Talkdesk RECHARGE and CREDIT_COMMIT "
        "rows). Not a usage charge: never part of `costs`."
    )
)
class WalletMovement:
    kind: WalletMovementKind = strawberry.field(description="RECHARGE or CREDIT_COMMIT.")
    amount: Decimal = strawberry.field(description="Exact amount, serialized as a string.")
    currency: str = strawberry.field(description="ISO-4217 currency code.")


@strawberry.type(description="Phone-number billing events.")
class PhoneNumberUsage:
    rentals: int | None = strawberry.field(
        description=(
            "Number-rental billing events (Teli monthly rentals; Talkdesk numbers billed in the "
            "month)."
        )
    )
    purchases: int | None = strawberry.field(description="Numbers purchased (Teli).")


@strawberry.enum(description="How well a source's figures match the asked range.")
class CoverageStatus(Enum):
    EXACT = strawberry.enum_value("EXACT", description="Exactly the asked days.")
    EXPANDED = strawberry.enum_value(
        "EXPANDED", description="Whole months around the asked days (see firstDay/lastDay)."
    )
    PARTIAL = strawberry.enum_value(
        "PARTIAL",
        description=(
            "Only firstDay to lastDay: the asked days after today (UTC) are not reported yet."
        ),
    )
    MISSING = strawberry.enum_value(
        "MISSING", description="Not included in the totals (see reason)."
    )


@strawberry.enum(name="CoverageReason", description="Why a source is not exactly covered.")
class CoverageReasonEnum(Enum):
    GRANULARITY_TOO_COARSE = strawberry.enum_value(
        "GRANULARITY_TOO_COARSE",
        description="The source only has calendar months and the range is not whole months.",
    )
    EXPANDED_TO_WHOLE_MONTHS = strawberry.enum_value(
        "EXPANDED_TO_WHOLE_MONTHS",
        description="The caller accepted whole months for a month-granular source.",
    )
    UPSTREAM_FAILED = strawberry.enum_value(
        "UPSTREAM_FAILED", description="The source failed; see the response's errors."
    )
    NOT_YET_REPORTED = strawberry.enum_value(
        "NOT_YET_REPORTED",
        description="Some or all of the asked days are after today (UTC): nobody reports them yet.",
    )


@strawberry.type(description="What one source contributed to a usage figure, and for which days.")
class SourceCoverage:
    source: str = strawberry.field(description="The source's name from the configuration.")
    kind: SourceKind = strawberry.field(description="The vendor API of the source.")
    status: CoverageStatus = strawberry.field(description="EXACT, EXPANDED, PARTIAL or MISSING.")
    reason: CoverageReasonEnum | None = strawberry.field(description="Why, when not EXACT.")
    first_day: date | None = strawberry.field(
        description="First UTC day the source's figures cover (null when MISSING)."
    )
    last_day: date | None = strawberry.field(
        description="Last UTC day the source's figures cover (null when MISSING)."
    )
    as_of: datetime = strawberry.field(
        description=(
            "When these figures were fetched from the source (UTC); earlier than the request "
            "when they come from the cache."
        )
    )
    stale: bool = strawberry.field(
        description=(
            "Served from cache after the source failed; asOf says when it was fetched. The "
            "response carries no error for it: this flag is the mark."
        )
    )


@strawberry.type(description="Which sources the totals include.")
class Coverage:
    complete: bool = strawberry.field(
        description=(
            "True when every source covers exactly the asked days with current figures (none "
            "stale, none ahead of today)."
        )
    )
    sources: list[SourceCoverage] = strawberry.field(description="One entry per source.")


def source_coverage(source: str, parts: list[PartUsage]) -> SourceCoverage:
    missing = next((p for p in parts if p.covered is None), None)
    unreported = next((p for p in parts if p.unreported), None)
    expanded = next((p for p in parts if p.reason is CoverageReason.EXPANDED_TO_WHOLE_MONTHS), None)
    if missing is not None:
        status, reason, covered = CoverageStatus.MISSING, missing.reason, None
    elif unreported is not None:
        status, covered = CoverageStatus.PARTIAL, unreported.covered
        reason = CoverageReason.NOT_YET_REPORTED
    elif expanded is not None:
        status, reason, covered = CoverageStatus.EXPANDED, expanded.reason, expanded.covered
    else:
        status, reason, covered = CoverageStatus.EXACT, None, parts[0].covered
    return SourceCoverage(
        source=source,
        kind=SourceKind(parts[0].part.kind),
        status=status,
        reason=CoverageReasonEnum(reason.value) if reason else None,
        first_day=covered.first if covered else None,
        last_day=covered.last if covered else None,
        as_of=min(p.as_of for p in parts),
        stale=any(p.stale for p in parts),
    )


@strawberry.interface(
    description=(
        "Normalized usage over one range. Units are in the field names. null means unknown "
        "(no source measures it, or a source that does failed: see errors); 0 means measured "
        "zero."
    )
)
class UsageFigures:
    _parts: strawberry.Private[tuple[PartUsage, ...]]

    def _metrics(self, usage_field: str) -> UsageMetrics:
        failures = [
            p.error
            for p in self._parts
            if p.error is not None and usage_field in MEASURES[p.part.kind]
        ]
        if failures:
            raise SourceFailure(failures)
        # summed once per object: voice, sms, costs... all read the same total
        total: UsageMetrics | None = self.__dict__.get("_total")
        if total is None:
            total = sum_metrics(p.metrics for p in self._parts if p.metrics is not None)
            self.__dict__["_total"] = total
        return checked(total, *FIELD_METRICS[usage_field])

    @strawberry.field(description="Voice time.")
    def voice(self) -> VoiceUsage | None:
        m = self._metrics("voice")
        if m.voice_seconds is None:
            return None
        return VoiceUsage(seconds=m.voice_seconds, _metrics=m, _parts=self._parts)

    @strawberry.field(description="SMS segments.")
    def sms(self) -> MessagingUsage | None:
        m = self._metrics("sms")
        if m.sms_inbound_segments is None and m.sms_outbound_segments is None:
            return None
        return MessagingUsage(
            inbound_segments=m.sms_inbound_segments,
            outbound_segments=m.sms_outbound_segments,
            other_direction_segments=m.sms_other_segments,
        )

    @strawberry.field(description="MMS segments.")
    def mms(self) -> MessagingUsage | None:
        m = self._metrics("mms")
        if m.mms_inbound_segments is None and m.mms_outbound_segments is None:
            return None
        return MessagingUsage(
            inbound_segments=m.mms_inbound_segments,
            outbound_segments=m.mms_outbound_segments,
            other_direction_segments=0,
        )

    @strawberry.field(description="API requests made.")
    def api_requests(self) -> int | None:
        return self._metrics("apiRequests").api_requests

    @strawberry.field(description="Phone-number rentals and purchases.")
    def phone_numbers(self) -> PhoneNumberUsage | None:
        m = self._metrics("phoneNumbers")
        if m.phone_number_rentals is None and m.phone_number_purchases is None:
            return None
        return PhoneNumberUsage(rentals=m.phone_number_rentals, purchases=m.phone_number_purchases)

    @strawberry.field(description="Brands registered (10DLC).")
    def brand_registrations(self) -> int | None:
        return self._metrics("brandRegistrations").brand_registrations

    @strawberry.field(description="Knowledge bases created.")
    def knowledge_bases(self) -> int | None:
        return self._metrics("knowledgeBases").knowledge_bases

    @strawberry.field(
        description=(
            "Usage charges, one entry per currency (never summed across currencies). Wallet "
            "top-ups and commitments are not charges: see walletMovements."
        )
    )
    def costs(self) -> list[Money] | None:
        return money_list(self._metrics("costs").costs)

    @strawberry.field(
        description=(
            "Usage no figure above covers, in the vendor's own type and unit (Talkdesk rows "
            "without a mapping); empty when there is none, null where no source reports such "
            "rows."
        )
    )
    def other_usage(self) -> list[VendorQuantity] | None:
        other = self._metrics("otherUsage").other
        if other is None:
            return None
        return [VendorQuantity(type=q.type, unit=q.unit, quantity=q.amount) for q in other]

    @strawberry.field(
        description=(
            "Wallet top-ups and commitments per kind and currency (Talkdesk); not usage, never "
            "in costs. null where no source reports them."
        )
    )
    def wallet_movements(self) -> list[WalletMovement] | None:
        wallet = self._metrics("walletMovements").wallet
        if wallet is None:
            return None
        return [
            WalletMovement(kind=WalletMovementKind(w.kind), amount=w.amount, currency=w.currency)
            for w in wallet
        ]


@strawberry.type(description="One source's share of a usage total, with the vendor's own rows.")
class SourceUsage(UsageFigures):
    source: str = strawberry.field(description="The source's name from the configuration.")
    kind: SourceKind = strawberry.field(description="The vendor API of the source.")
    native_ids: list[strawberry.ID] = strawberry.field(
        description="The vendor's own ids of the entities summed here."
    )

    @strawberry.field(description="Which days this source's figures cover.")
    def coverage(self) -> SourceCoverage:
        return source_coverage(self.source, list(self._parts))

    @strawberry.field(description="Telzino minutes-report rows (Telzino sources only).")
    def telzino(self) -> list[TelzinoOrganizationReport] | None:
        if self.kind is not SourceKind.TELZINO:
            return None
        self._metrics("voice")
        return [
            TelzinoOrganizationReport.from_row(row, source=self.source, asked=p.asked)
            for p in self._parts
            for row in p.details
        ]

    @strawberry.field(description="Teli organization analytics rows (Teli sources only).")
    def teli(self) -> list[TeliOrganizationReport] | None:
        if self.kind is not SourceKind.TELI:
            return None
        self._metrics("voice")
        return [
            TeliOrganizationReport.from_row(row)
            for p in self._parts
            for row in p.details
            if hasattr(row, "users_count")
        ]

    @strawberry.field(description="Talkdesk monthly line items (Talkdesk sources only).")
    def talkdesk(self) -> list[TalkdeskLineItem] | None:
        if self.kind is not SourceKind.TALKDESK:
            return None
        self._metrics("costs")
        return [TalkdeskLineItem.from_row(row) for p in self._parts for row in p.details]


@strawberry.type(description="Usage of an entity over an inclusive UTC day range.")
class Usage(UsageFigures):
    first_day: date = strawberry.field(description="First UTC day asked for (included).")
    last_day: date = strawberry.field(description="Last UTC day asked for (included).")

    @strawberry.field(description="Number of days in the range.")
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @strawberry.field(description="Each source's contribution; they sum to the totals.")
    def by_source(self) -> list[SourceUsage]:
        groups: dict[str, list[PartUsage]] = {}
        for p in self._parts:
            groups.setdefault(p.part.source, []).append(p)
        return [
            SourceUsage(
                source=source,
                kind=SourceKind(parts[0].part.kind),
                native_ids=[strawberry.ID(p.part.native_id or source) for p in parts],
                _parts=tuple(parts),
            )
            for source, parts in groups.items()
        ]

    @strawberry.field(description="Which sources the totals include, and for which days.")
    def coverage(self) -> Coverage:
        groups: dict[str, list[PartUsage]] = {}
        for p in self._parts:
            groups.setdefault(p.part.source, []).append(p)
        sources = [source_coverage(s, parts) for s, parts in groups.items()]
        return Coverage(
            complete=all(s.status is CoverageStatus.EXACT and not s.stale for s in sources),
            sources=sources,
        )

    @classmethod
    def of(cls, rng: DayRange, parts: tuple[PartUsage, ...]) -> Usage:
        return cls(first_day=rng.first, last_day=rng.last, _parts=parts)

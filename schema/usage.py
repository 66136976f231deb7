"""Usage types: totals, the per-source breakdown, coverage and each vendor's own rows.

`UsageFigures` is the one set of normalized fields, implemented by the total (`Usage`) and by
each source's share (`SourceUsage`), so the two always mean the same thing. Leaf fields are plain
or sync; only fields that may call a loader (knowledge-base seconds, Telzino billing) are async.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

import strawberry

from clients.errors import UpstreamError
from resolvers.context import GraphContext
from resolvers.errors import SourceFailure
from resolvers.metrics import Metrics, sum_metrics
from resolvers.ranges import DayRange
from resolvers.usage import MEASURES, CoverageReason, PartUsage
from schema.inputs import SourceKind
from schema.money import Money, money_list
from schema.vendors import TalkdeskLineItem, TeliOrganizationReport, TelzinoOrganizationReport

__all__ = [
    "Coverage",
    "SourceCoverage",
    "SourceUsage",
    "Usage",
    "UsageFigures",
    "VoiceUsage",
]

_CENT = Decimal("0.01")


def _minutes(seconds: int) -> Decimal:
    return (Decimal(seconds) / 60).quantize(_CENT, rounding=ROUND_HALF_UP)


@strawberry.type(description="Voice time. `seconds` is the exact, canonical figure.")
class VoiceUsage:
    seconds: int = strawberry.field(
        description="All voice time in seconds, knowledge-base calls included."
    )
    calls: int | None = strawberry.field(
        description="Number of calls; null where no source counts calls."
    )
    _parts: strawberry.Private[tuple[PartUsage, ...]]

    @strawberry.field(description="`seconds / 60`, rounded half-up to 2 decimals.")
    def minutes(self) -> Decimal:
        return _minutes(self.seconds)

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
                known += m.knowledge_base_seconds
            elif p.part.kind == "teli":
                pending.append(p)
            else:
                return None  # this source cannot split out knowledge-base time
        if not pending:
            return known
        loader = info.context.loaders.teli_usage
        try:
            answers = await asyncio.gather(
                *(
                    loader.load((p.part.source, p.subject, p.part.native_id, p.asked))
                    for p in pending
                )
            )
        except UpstreamError as error:
            raise SourceFailure([error]) from None
        return known + sum(a.voice.kb_seconds or 0 for a in answers)


@strawberry.type(description="Messages counted in segments (a long message is several).")
class MessagingUsage:
    inbound_segments: int | None = strawberry.field(description="Segments received.")
    outbound_segments: int | None = strawberry.field(description="Segments sent.")


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


@strawberry.type(description="What one source contributed to a usage figure, and for which days.")
class SourceCoverage:
    source: str = strawberry.field(description="The source's name from the configuration.")
    kind: SourceKind = strawberry.field(description="The vendor API of the source.")
    status: CoverageStatus = strawberry.field(description="EXACT, EXPANDED or MISSING.")
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
            "stale)."
        )
    )
    sources: list[SourceCoverage] = strawberry.field(description="One entry per source.")


def source_coverage(source: str, parts: list[PartUsage]) -> SourceCoverage:
    missing = next((p for p in parts if p.covered is None), None)
    expanded = next((p for p in parts if p.reason is CoverageReason.EXPANDED_TO_WHOLE_MONTHS), None)
    if missing is not None:
        status, reason, covered = CoverageStatus.MISSING, missing.reason, None
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

    def _metrics(self, usage_field: str) -> Metrics:
        failures = [
            p.error
            for p in self._parts
            if p.error is not None and usage_field in MEASURES[p.part.kind]
        ]
        if failures:
            raise SourceFailure(failures)
        # summed once per object: voice, sms, costs... all read the same total
        total: Metrics | None = self.__dict__.get("_total")
        if total is None:
            total = sum_metrics(p.metrics for p in self._parts if p.metrics is not None)
            self.__dict__["_total"] = total
        return total

    @strawberry.field(description="Voice time.")
    def voice(self) -> VoiceUsage | None:
        m = self._metrics("voice")
        if m.voice_seconds is None:
            return None
        return VoiceUsage(seconds=m.voice_seconds, calls=m.voice_calls, _parts=self._parts)

    @strawberry.field(description="SMS segments.")
    def sms(self) -> MessagingUsage | None:
        m = self._metrics("sms")
        if m.sms_inbound_segments is None and m.sms_outbound_segments is None:
            return None
        return MessagingUsage(
            inbound_segments=m.sms_inbound_segments, outbound_segments=m.sms_outbound_segments
        )

    @strawberry.field(description="MMS segments.")
    def mms(self) -> MessagingUsage | None:
        m = self._metrics("mms")
        if m.mms_inbound_segments is None and m.mms_outbound_segments is None:
            return None
        return MessagingUsage(
            inbound_segments=m.mms_inbound_segments, outbound_segments=m.mms_outbound_segments
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

    @strawberry.field(description="Cost, one entry per currency (never summed across currencies).")
    def costs(self) -> list[Money] | None:
        return money_list(self._metrics("costs").costs)


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

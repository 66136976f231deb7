"""Inputs and enums shared by every usage field."""

from __future__ import annotations

from datetime import date
from enum import Enum

import strawberry

from resolvers.ranges import DayRange
from resolvers.usage import PartialMonths as PartialMonthsPolicy

__all__ = ["DateRange", "PartialMonths", "SourceKind"]


@strawberry.input(
    description=(
        "Inclusive calendar days in UTC, as the vendors count them: "
        '`{firstDay: "2026-04-01", lastDay: "2026-04-30"}` is all of April.'
    )
)
class DateRange:
    first_day: date = strawberry.field(description="First UTC day included (YYYY-MM-DD).")
    last_day: date = strawberry.field(
        description="Last UTC day included (YYYY-MM-DD); not before firstDay."
    )

    def checked(self, max_days: int) -> DayRange:
        return DayRange.checked(self.first_day, self.last_day, max_days=max_days)


@strawberry.enum(
    description=(
        "What a month-granular source (Talkdesk bills per calendar month) contributes when the "
        "range does not cover whole months."
    )
)
class PartialMonths(Enum):
    EXCLUDE = strawberry.enum_value(
        "EXCLUDE",
        description=(
            "Leave the source out; `coverage` reports it missing with GRANULARITY_TOO_COARSE."
        ),
    )
    WHOLE_MONTHS = strawberry.enum_value(
        "WHOLE_MONTHS",
        description=(
            "Count every month the range touches in full; `coverage` states the days covered."
        ),
    )

    @property
    def policy(self) -> PartialMonthsPolicy:
        return PartialMonthsPolicy(self.value)


@strawberry.enum(description="The vendor API a source connects to.")
class SourceKind(Enum):
    TELZINO = strawberry.enum_value("telzino", description="Telzino: voice AI agents.")
    TELI = strawberry.enum_value("teli", description="Teli partner API: SMS, MMS and voice.")
    TALKDESK = strawberry.enum_value(
        "talkdesk", description="Talkdesk Billing Insights: monthly contact-centre usage."
    )

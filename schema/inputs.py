"""Inputs and enums shared by every usage field."""

from __future__ import annotations

import re
from datetime import date
from enum import Enum

import strawberry

from usagegraph.resolvers.ranges import DayRange
from usagegraph.schema.compat import ScalarDefinition

__all__ = ["DATE_SCALAR", "DateRange", "PartialMonths", "SourceKind", "parse_day"]

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_day(value: object) -> date:
    """`YYYY-MM-DD` only. Python's `date.fromisoformat` (Strawberry's default) also takes
    `20260101` and ISO week dates: `2026-W01-1` would silently mean 2025-12-29."""
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        raise ValueError(f"expected a calendar day as YYYY-MM-DD, got {value!r}")
    return date.fromisoformat(value)  # still rejects 2026-02-30


# replaces Strawberry's lenient `Date` (schema/__init__.py passes it as a scalar override)
DATE_SCALAR = ScalarDefinition(
    name="Date",
    description="A calendar day as YYYY-MM-DD (ISO 8601); usage ranges count whole UTC days.",
    specified_by_url=None,
    serialize=date.isoformat,
    parse_value=parse_day,
    parse_literal=None,
    origin=date,
)


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
    def counts_whole_months(self) -> bool:
        """What the resolvers take (they do not import the schema): True for WHOLE_MONTHS."""
        return self is PartialMonths.WHOLE_MONTHS


@strawberry.enum(description="The vendor API a source connects to.")
class SourceKind(Enum):
    TELZINO = strawberry.enum_value("telzino", description="Telzino: voice AI agents.")
    TELI = strawberry.enum_value("teli", description="Teli partner API: SMS, MMS and voice.")
    TALKDESK = strawberry.enum_value(
        "talkdesk", description="Talkdesk Billing Insights: monthly contact-centre usage."
    )

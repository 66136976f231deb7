"""Inclusive UTC day ranges, the unit every usage question is asked in, and their month cover."""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from usagegraph.resolvers.errors import BadUserInput

__all__ = [
    "MAX_MONTHS",
    "DayRange",
    "Month",
    "month_key",
    "month_range",
    "month_series",
    "months_from",
    "parse_month",
]

Month = str  # "YYYY-MM"
MAX_MONTHS = 24  # the longest monthly series one field answers
_MONTH = re.compile(r"(\d{4})-(\d{2})", re.ASCII)


@dataclass(frozen=True, slots=True, order=True)
class DayRange:
    """First and last UTC calendar day, both included."""

    first: date
    last: date

    @classmethod
    def checked(cls, first: date, last: date, *, max_days: int) -> DayRange:
        if last < first:
            raise BadUserInput(f"lastDay {last} is before firstDay {first}")
        span = (last - first).days + 1
        if span > max_days:
            raise BadUserInput(f"the range spans {span} days; at most {max_days} are allowed")
        return cls(first, last)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def months(self) -> tuple[Month, ...]:
        """Every calendar month the range touches."""
        return _months(self.first, self.last)

    @property
    def whole_months(self) -> bool:
        """True when the range starts on a 1st and ends on a month's last day."""
        return _whole_months(self.first, self.last)

    def expanded_to_months(self) -> DayRange:
        return _expanded(self.first, self.last)

    def __str__(self) -> str:
        return f"{self.first.isoformat()}..{self.last.isoformat()}"


# A dashboard asks these of the same few ranges for each of its thousands of parts: computed
# once per range (the results are immutable).
@lru_cache(maxsize=1024)
def _months(first: date, last: date) -> tuple[Month, ...]:
    keys: list[Month] = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return tuple(keys)


@lru_cache(maxsize=1024)
def _whole_months(first: date, last: date) -> bool:
    return first.day == 1 and last == month_range(last).last


@lru_cache(maxsize=1024)
def _expanded(first: date, last: date) -> DayRange:
    return DayRange(month_range(first).first, month_range(last).last)


def month_range(day: date) -> DayRange:
    return DayRange(day.replace(day=1), day.replace(day=monthrange(day.year, day.month)[1]))


def parse_month(value: str, *, argument: str) -> date:
    """`YYYY-MM` (ASCII digits, years 0001 to 9999) to the month's first day, or a
    BAD_USER_INPUT naming the argument. `int()` alone would also take `+026` or other
    scripts' digits."""
    match = _MONTH.fullmatch(value)
    try:
        if match is None:
            raise ValueError
        return date(int(match[1]), int(match[2]), 1)
    except ValueError:
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise BadUserInput(f"{argument} must be a month as YYYY-MM, got {shown!r}") from None


def month_key(day: date) -> Month:
    """The `YYYY-MM` of a day's month (`strftime("%Y")` drops the zeros of years before
    1000 on some platforms)."""
    return f"{day.year:04d}-{day.month:02d}"


def months_from(first: date, count: int) -> list[DayRange]:
    """`count` whole calendar months from `first`'s, or BAD_USER_INPUT when they would go
    past December 9999 (the last month a date can hold)."""
    start = first.year * 12 + first.month - 1
    if start + count - 1 > 9999 * 12 + 11:
        raise BadUserInput("the months must end by 9999-12")
    return [
        month_range(date(index // 12, index % 12 + 1, 1)) for index in range(start, start + count)
    ]


def month_series(first_month: str, last_month: str) -> list[DayRange]:
    """The whole months `firstMonth`..`lastMonth` (YYYY-MM, both included), or BAD_USER_INPUT
    naming the argument: malformed, reversed, more than MAX_MONTHS, or past 9999-12."""
    first = parse_month(first_month, argument="firstMonth")
    last = parse_month(last_month, argument="lastMonth")
    # counted in months, and named by the arguments the caller wrote (not firstDay/lastDay)
    count = (last.year - first.year) * 12 + last.month - first.month + 1
    if count < 1:
        raise BadUserInput(f"lastMonth {last_month} is before firstMonth {first_month}")
    if count > MAX_MONTHS:
        raise BadUserInput(f"the series spans {count} months; at most {MAX_MONTHS} are allowed")
    return months_from(first, count)

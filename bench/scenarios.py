"""The benchmark's GraphQL operations and the variables each client sends.

1. dashboard: every reseller → its organizations → usage over last month (voice, SMS, cost);
2. drill-down: one organization → agents ranked by minutes (with usage) → users with usage;
3. mixed: 8 aliased ranges over 50 organizations;
4. warm: the dashboard repeated (discovery cached; a response cache, when configured, warm);
5. paged: a page of `organizationsConnection` ordered by cost (USD, last month), each node with
   its usage, then the next page after its `endCursor` (bench.paged runs and checks it).

Every request carries its lower-bound `Plan` (bench.bounds), so a load of distinct variables
is compared with the sum of its requests' bounds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cached_property
from typing import Any

from bench.bounds import (
    OrgIdentity,
    Plan,
    Range,
    dashboard_plan,
    drilldown_plan,
    identities,
    paged_plan,
    usage_plan,
)
from bench.org_truth import by_cost
from usagegraph.sandbox.dataset import Dataset

__all__ = [
    "DASHBOARD",
    "DRILLDOWN",
    "MIXED",
    "PAGED",
    "Request",
    "Workload",
    "cold_ranges",
    "distinct_ranges",
    "range_pool",
]

_FIGURES = "voice { minutes } sms { outboundSegments } costs { amount currency }"

DASHBOARD = (
    "query Dashboard($range: DateRange!) { resellers { id name organizations { id name "
    f"usage(range: $range) {{ {_FIGURES} }} }} }} }}"
)

DRILLDOWN = (
    "query DrillDown($organization: ID!, $range: DateRange!, $top: Int!) { "
    "organization(id: $organization) { id name "
    "agents(rankedBy: $range, first: $top) { id name usage(range: $range) { voice { minutes "
    "seconds } } } "
    f"users {{ id name usage(range: $range) {{ voice {{ seconds }} {_FIGURES} }} }} }} }}"
)

PAGED = (
    "query PagedTable($range: DateRange!, $first: Int!, $after: String) { "
    "organizationsConnection(first: $first, after: $after, orderBy: {field: COST, "
    'direction: DESC, range: $range, currency: "USD"}) { totalCount '
    "pageInfo { hasNextPage endCursor } nodes { id name usage(range: $range) { "
    "voice { seconds } sms { outboundSegments } costs { amount currency } } } } }"
)
# the table's page; at S (20 organizations) smaller, so there are pages to walk
PAGE_SIZE = 20
SMALL_PAGE_SIZE = 4

MIXED_ALIASES = 8
MIXED_ORGS = 50


def _mixed_query() -> str:
    params = ", ".join(f"$r{i}: DateRange!" for i in range(MIXED_ALIASES))
    aliases = " ".join(
        f"r{i}: usage(range: $r{i}) {{ voice {{ seconds }} {_FIGURES} }}"
        for i in range(MIXED_ALIASES)
    )
    return f"query Mixed($ids: [ID!]!, {params}) {{ organizations(ids: $ids) {{ id {aliases} }} }}"


MIXED = _mixed_query()


def _month_before(day: date) -> Range:
    last = day.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def range_pool(today: date) -> list[Range]:
    """Eight distinct ranges inside every scale's window: last month whole, its halves and
    weeks, and the 14 days before today (never the 7-day window discovery reads)."""
    first, last = _month_before(today)
    return [
        (first, last),
        (first, first.replace(day=15)),
        (first.replace(day=16), last),
        (first, first.replace(day=7)),
        (first.replace(day=8), first.replace(day=14)),
        (first.replace(day=15), first.replace(day=21)),
        (first.replace(day=22), first.replace(day=28)),
        (today - timedelta(days=14), today - timedelta(days=1)),
    ]


def cold_ranges(first: date, today: date) -> Iterator[Range]:
    """Distinct ranges of 1 to 27 days from `first` to 8 days before `today`: never a whole
    month, never the 7-day window discovery reads, so each one is a fetch no cache holds (until
    they run out and start over)."""
    last = today - timedelta(days=8)
    while True:
        for days in range(1, 28):
            start = first
            while start + timedelta(days=days - 1) <= last:
                yield start, start + timedelta(days=days - 1)
                start += timedelta(days=1)


# generous: a 16-client load of distinct dashboards does not run out of them at S (9,342 there)
MAX_DISTINCT = 20_000


def distinct_ranges(first: date, today: date, limit: int = MAX_DISTINCT) -> list[Range]:
    """Every range `cold_ranges` yields before it starts over (at most `limit`), in its order:
    no two alike, so no cache can answer one from another."""
    out: list[Range] = []
    seen: set[Range] = set()
    for rng in cold_ranges(first, today):
        if rng in seen or len(out) >= limit:
            break
        seen.add(rng)
        out.append(rng)
    return out


def _rng(rng: Range) -> dict[str, str]:
    return {"firstDay": rng[0].isoformat(), "lastDay": rng[1].isoformat()}


@dataclass(frozen=True)
class Request:
    """One GraphQL request and the fewest upstream calls that answer it."""

    scenario: str
    query: str
    variables: dict[str, Any]
    plan: Plan

    def body(self) -> dict[str, Any]:
        return {"query": self.query, "variables": self.variables}


class Workload:
    """Requests per scenario for one dataset, the same one the sandbox serves."""

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds
        self.today = ds.end
        self.pool = range_pool(ds.end)
        self.last_month = self.pool[0]
        self.orgs = identities(ds)
        # drill-down targets: organizations with agents and users, so both branches do work
        self.drill_orgs = [o for o in self.orgs if o.agents and o.users] or self.orgs[:1]

    def dashboard(self, rng: Range | None = None, *, talkdesk: bool = True) -> Request:
        """`talkdesk=False`: the plan of a server configured with Telzino and Teli only (what
        every peer can express)."""
        rng = rng or self.last_month
        if talkdesk:
            plan = dashboard_plan(self.ds, rng)
        else:
            orgs = [replace(o, talkdesk=None, talkdesk_source=None) for o in self.orgs]
            plan = usage_plan(self.ds, orgs, [rng])
        return Request("dashboard", DASHBOARD, {"range": _rng(rng)}, plan)

    def drilldown(self, org: OrgIdentity | None = None, rng: Range | None = None) -> Request:
        org = org or self.drill_orgs[0]
        rng = rng or self.last_month
        variables = {"organization": org.id, "range": _rng(rng), "top": 5}
        return Request("drilldown", DRILLDOWN, variables, drilldown_plan(org, rng))

    def mixed(self, offset: int = 0) -> Request:
        """50 organizations (rotated by `offset` for distinct loads) x the 8 pool ranges."""
        n = min(MIXED_ORGS, len(self.orgs))
        chosen = [self.orgs[(offset + i) % len(self.orgs)] for i in range(n)]
        variables: dict[str, Any] = {"ids": [o.id for o in chosen]}
        for i, rng in enumerate(self.pool):
            variables[f"r{i}"] = _rng(rng)
        return Request("mixed", MIXED, variables, usage_plan(self.ds, chosen, self.pool))

    @cached_property
    def page_size(self) -> int:
        return PAGE_SIZE if len(self.orgs) >= 10 * PAGE_SIZE else SMALL_PAGE_SIZE

    @cached_property
    def by_cost(self) -> list[OrgIdentity]:
        """Every organization by USD charges last month, largest first, ties by id: the truth
        the paged table must show."""
        return by_cost(self.ds, self.orgs, self.last_month)

    def page(self, index: int) -> list[OrgIdentity]:
        """The truth's page number `index` (0: the first)."""
        return self.by_cost[index * self.page_size : (index + 1) * self.page_size]

    def paged(self, index: int, after: str | None) -> Request:
        """Page number `index` of the cost-ordered table; `after`: the previous page's
        `endCursor` (the server's, never built here)."""
        variables = {"range": _rng(self.last_month), "first": self.page_size, "after": after}
        plan = paged_plan(self.ds, self.orgs, self.last_month, self.page(index))
        return Request("paged", PAGED, variables, plan)

    def scenario(self, name: str) -> Request:
        builders: dict[str, Callable[[], Request]] = {
            "dashboard": self.dashboard,
            "drilldown": self.drilldown,
            "mixed": self.mixed,
        }
        return builders[name]()

    def distinct(self, name: str, client: int) -> Request:
        """What client number `client` sends in the distinct-variables load."""
        rng = self.pool[client % len(self.pool)]
        if name == "dashboard":
            return self.dashboard(rng)
        if name == "drilldown":
            return self.drilldown(self.drill_orgs[client % len(self.drill_orgs)], rng)
        return self.mixed(offset=client * 7)

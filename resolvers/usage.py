"""Usage of a node over a range, assembled from its source parts through the loaders.

Each part resolves on its own: a failing source leaves a part with an error (its fields become
null with an error naming it), a Talkdesk part asked for days that are not whole months is left
out with the reason (unless the caller accepted whole months), and everything else is exact.
A source whose discovery failed with nothing to stand in fails its parts without a call. Days
after today (UTC) are never claimed as covered: a part's coverage stops at today
(`unreported`), and a part whose days all lie ahead is left out without a call.
All parts of all nodes in one query load in the same tick, so the loaders batch them.
Each part carries when its figures were fetched (`as_of`, the cache entry's fetch time) and
whether they are a stale stand-in for a source that just failed (`stale`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import Enum
from functools import cached_property, partial
from itertools import islice
from typing import TYPE_CHECKING, Any, NamedTuple

from usagegraph.clients.errors import UpstreamError
from usagegraph.resolvers.cache import Fetched
from usagegraph.resolvers.catalog import AgentNode, OrganizationNode, Part, ResellerNode, UserNode
from usagegraph.resolvers.metrics import UsageMetrics, sum_metrics
from usagegraph.resolvers.ranges import DayRange
from usagegraph.resolvers.sources import talkdesk, teli, telzino

if TYPE_CHECKING:
    from usagegraph.resolvers.context import GraphContext

__all__ = [
    "MEASURES",
    "LifetimePart",
    "PartUsage",
    "UsageResult",
    "agent_usage",
    "lifetime_usage",
    "organization_usage",
    "organizations_usage",
    "reseller_usage",
    "unattributed_usage",
    "user_usage",
]

# Which usage fields each vendor measures: a failed source nulls exactly these.
MEASURES: dict[str, frozenset[str]] = {
    "telzino": frozenset({"voice"}),
    "teli": frozenset(
        {
            "voice",
            "sms",
            "mms",
            "apiRequests",
            "phoneNumbers",
            "brandRegistrations",
            "knowledgeBases",
            "costs",
        }
    ),
    "talkdesk": frozenset(
        {"voice", "sms", "apiRequests", "phoneNumbers", "costs", "otherUsage", "walletMovements"}
    ),
}


class CoverageReason(Enum):
    GRANULARITY_TOO_COARSE = "GRANULARITY_TOO_COARSE"
    EXPANDED_TO_WHOLE_MONTHS = "EXPANDED_TO_WHOLE_MONTHS"
    UPSTREAM_FAILED = "UPSTREAM_FAILED"
    NOT_YET_REPORTED = "NOT_YET_REPORTED"


@dataclass(frozen=True)
class PartUsage:
    """One source part's answer for one range."""

    part: Part
    asked: DayRange
    metrics: UsageMetrics | None
    covered: DayRange | None
    error: UpstreamError | None = None
    reason: CoverageReason | None = None
    details: tuple[Any, ...] = ()  # the vendor's own rows, for `bySource`
    # which vendor record the part is: "organization", "agent", "user", or "unattributed"
    # (an organization's remainder; `details` then holds the Teli users it excludes)
    subject: str = "organization"
    as_of: datetime = field(default_factory=lambda: datetime.now(UTC))
    # served from the cache because the source failed; as_of is when it was really fetched
    stale: bool = False
    # days of `covered` (or of `asked`) after today (UTC): not reported yet, so not covered
    unreported: bool = False


@dataclass(frozen=True)
class UsageResult:
    asked: DayRange
    parts: tuple[PartUsage, ...]

    @cached_property
    def total(self) -> UsageMetrics:
        return sum_metrics(p.metrics for p in self.parts if p.metrics is not None)

    def failures_for(self, usage_field: str) -> list[UpstreamError]:
        return [
            p.error
            for p in self.parts
            if p.error is not None and usage_field in MEASURES[p.part.kind]
        ]

    @cached_property
    def by_source(self) -> list[tuple[str, list[PartUsage]]]:
        """Parts grouped per connection, in the order the node lists its sources."""
        groups: dict[str, list[PartUsage]] = {}
        for p in self.parts:
            groups.setdefault(p.part.source, []).append(p)
        return list(groups.items())


class _Pending(NamedTuple):
    """A part waiting on its loader: `finish` turns the loaded value into the part's usage."""

    part: Part
    asked: DayRange
    loading: asyncio.Future[Any]  # a loader's shared future (`future`), never cancelled here
    finish: Callable[[Any], PartUsage]


def today() -> date:
    """The current UTC day: later days are not reported by any vendor yet."""
    return datetime.now(UTC).date()


def _reported(part: PartUsage) -> PartUsage:
    """The part with its coverage stopped at today (days after it are not reported yet)."""
    covered, now = part.covered, today()
    if covered is None or covered.last <= now:
        return part
    return replace(part, covered=DayRange(covered.first, now), unreported=True)


def _not_started(part: Part, rng: DayRange, first: date | None = None) -> PartUsage | None:
    """A part whose days (from `first`, default the range's) all lie after today: nothing to
    report yet, so it is left out of the figures without a call."""
    if (first or rng.first) <= today():
        return None
    return PartUsage(part, rng, None, None, reason=CoverageReason.NOT_YET_REPORTED, unreported=True)


def _undiscovered(ctx: GraphContext, part: Part, rng: DayRange) -> PartUsage | None:
    """A part of a source whose discovery failed with nothing to stand in: failed, uncalled."""
    failure = ctx.catalog.failures.get(part.source)
    if failure is None:
        return None
    return PartUsage(part, rng, None, None, error=failure, reason=CoverageReason.UPSTREAM_FAILED)


def _telzino_org(part: Part, rng: DayRange, fetched: Fetched[Any]) -> PartUsage:
    row = fetched.value
    return _reported(
        PartUsage(
            part,
            rng,
            fetched.derive(telzino.organization_metrics, telzino.organization_metrics),
            rng,
            details=(row,) if row is not None else (),
            as_of=fetched.fetched_at,
            stale=fetched.stale,
        )
    )


def _teli_org(part: Part, rng: DayRange, fetched: Fetched[Any]) -> PartUsage:
    one = fetched.with_value(fetched.value.get(part.native_id))
    row = one.value
    return _reported(
        PartUsage(
            part,
            rng,
            one.derive(teli.organization_metrics, teli.organization_metrics),
            rng,
            details=(row,) if row is not None else (),
            as_of=fetched.fetched_at,
            stale=fetched.stale,
        )
    )


def _talkdesk_org(part: Part, rng: DayRange, fetched: Fetched[Any]) -> PartUsage:
    rows = fetched.value
    covered = rng.expanded_to_months()
    return _reported(
        PartUsage(
            part,
            rng,
            fetched.derive(
                (talkdesk.rows_metrics, part.source), partial(talkdesk.rows_metrics, part.source)
            ),
            covered,
            reason=None if covered == rng else CoverageReason.EXPANDED_TO_WHOLE_MONTHS,
            details=tuple(rows),
            as_of=fetched.fetched_at,
            stale=fetched.stale,
        )
    )


def _start_org_part(
    ctx: GraphContext, part: Part, rng: DayRange, count_whole_months: bool
) -> PartUsage | _Pending:
    done = _undiscovered(ctx, part, rng)
    if done is not None:
        return done
    # a monthly-only source over a range that is not whole months: left out unless the caller
    # asked to count every month the range touches in full (GraphQL `partialMonths`)
    if part.kind == "talkdesk" and not rng.whole_months and not count_whole_months:
        return PartUsage(part, rng, None, None, reason=CoverageReason.GRANULARITY_TOO_COARSE)
    first = rng.expanded_to_months().first if part.kind == "talkdesk" else rng.first
    done = _not_started(part, rng, first)
    if done is not None:
        return done
    loaders = ctx.loaders
    if part.kind == "telzino":
        loading = loaders.telzino_minutes.future((part.source, part.native_id, rng))
        return _Pending(part, rng, loading, partial(_telzino_org, part, rng))
    if part.kind == "teli":
        loading = loaders.teli_organizations.future((part.source, rng))
        return _Pending(part, rng, loading, partial(_teli_org, part, rng))
    loading = loaders.talkdesk_rows.future((part.source, part.native_id, rng.months))
    return _Pending(part, rng, loading, partial(_talkdesk_org, part, rng))


def _org_parts(
    ctx: GraphContext,
    node: OrganizationNode,
    rng: DayRange,
    count_whole_months: bool,
    kinds: frozenset[str] | None,
) -> list[PartUsage | _Pending]:
    """Every part's loader asked now, in this tick, so all nodes of a query share batches."""
    return [
        _start_org_part(ctx, part, rng, count_whole_months)
        for part in node.parts
        if kinds is None or part.kind in kinds
    ]


async def _settle(started: list[PartUsage | _Pending]) -> tuple[PartUsage, ...]:
    """Wait for the pending parts together; a source's failure becomes its part's error.

    The loaders' shared futures are awaited as they are, each once however many parts share
    it, under one shield for the whole wait (a cancelled request must not cancel a future
    other fields wait on): a dashboard settles thousands of parts, and a task or a shield per
    part costs several event-loop turns each."""
    pending = [s for s in started if isinstance(s, _Pending)]
    if not pending:
        return tuple(s for s in started if isinstance(s, PartUsage))
    futures = list(dict.fromkeys(p.loading for p in pending))
    if not all(f.done() for f in futures):
        await asyncio.shield(asyncio.gather(*futures, return_exceptions=True))
    outcomes = iter([_outcome(p.loading) for p in pending])
    parts: list[PartUsage] = []
    for s in started:
        if isinstance(s, PartUsage):
            parts.append(s)
            continue
        outcome = next(outcomes)
        if isinstance(outcome, UpstreamError):
            parts.append(
                PartUsage(
                    s.part,
                    s.asked,
                    None,
                    None,
                    error=outcome,
                    reason=CoverageReason.UPSTREAM_FAILED,
                )
            )
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            parts.append(s.finish(outcome))
    return tuple(parts)


def _outcome(future: asyncio.Future[Any]) -> Any:
    """A settled future's result, or its exception (returned, not raised)."""
    if future.cancelled():
        return asyncio.CancelledError()
    return future.exception() or future.result()


async def organization_usage(
    ctx: GraphContext,
    node: OrganizationNode,
    rng: DayRange,
    count_whole_months: bool = False,
    kinds: frozenset[str] | None = None,
) -> UsageResult:
    return UsageResult(rng, await _settle(_org_parts(ctx, node, rng, count_whole_months, kinds)))


def organizations_usage(
    ctx: GraphContext,
    nodes: Iterable[OrganizationNode],
    rng: DayRange,
    count_whole_months: bool = False,
    kinds: frozenset[str] | None = None,
) -> Awaitable[list[UsageResult]]:
    """`organization_usage` of every node, one result per node in order. The loaders are asked
    now, before this returns, and everything settles in one await: a list of 2,000
    organizations costs one wait, not a coroutine and a task per organization."""
    started = [_org_parts(ctx, node, rng, count_whole_months, kinds) for node in nodes]
    return _split(rng, started)


async def _split(rng: DayRange, started: list[list[PartUsage | _Pending]]) -> list[UsageResult]:
    parts = iter(await _settle([s for node_parts in started for s in node_parts]))
    return [UsageResult(rng, tuple(islice(parts, len(node_parts)))) for node_parts in started]


async def unattributed_usage(
    ctx: GraphContext,
    node: OrganizationNode,
    rng: DayRange,
    count_whole_months: bool = False,
    kinds: frozenset[str] | None = None,
) -> UsageResult:
    """What none of the organization's agents or users accounts for: each source part minus
    its agents' (Telzino) or users' (Teli) shares; Talkdesk, which has neither, counts in full.
    So agents + users + this = the organization's usage, metric by metric."""
    org = await organization_usage(ctx, node, rng, count_whole_months, kinds)
    parts = await asyncio.gather(*(_remainder(ctx, p) for p in org.parts))
    return UsageResult(rng, tuple(parts))


async def _remainder(ctx: GraphContext, p: PartUsage) -> PartUsage:
    if p.metrics is None or p.part.kind == "talkdesk":
        return p
    if p.part.kind == "telzino":
        # the report row carries every listed agent's exact seconds; what the organization's
        # total has beyond them (e.g. agents the report does not list) stays unattributed
        attributed = sum_metrics(telzino.agents_metrics(row) for row in p.details)
        return replace(p, metrics=p.metrics - attributed, details=(), subject="unattributed")
    key = (p.part.source, p.part.native_id, p.asked)
    try:
        users: Fetched[Any] = await ctx.loaders.teli_users_usage.load(key)
    except UpstreamError as error:
        return replace(
            p, metrics=None, covered=None, error=error, reason=CoverageReason.UPSTREAM_FAILED
        )
    attributed = sum_metrics(teli.user_metrics(r) for r in users.value.values())
    return replace(
        p,
        metrics=p.metrics - attributed,
        # the users excluded, for the knowledge-base share (known only per user)
        details=tuple(users.value),
        subject="unattributed",
        # the remainder is only as fresh as the older of its two figures
        as_of=min(p.as_of, users.fetched_at),
        stale=p.stale or users.stale,
    )


async def reseller_usage(
    ctx: GraphContext,
    node: ResellerNode,
    rng: DayRange,
    count_whole_months: bool = False,
    kinds: frozenset[str] | None = None,
) -> UsageResult:
    """The sum of the reseller's organizations (so the two always reconcile). A reseller part
    of a source whose discovery failed stands for the organizations nobody could list: it is
    a failed part of its own, so the total names the source instead of coming up short."""
    orgs = [ctx.catalog.organizations[i] for i in node.organization_ids]
    started: list[PartUsage | _Pending] = [
        job for org in orgs for job in _org_parts(ctx, org, rng, count_whole_months, kinds)
    ]
    for part in node.parts:
        failed = _undiscovered(ctx, part, rng)
        if failed is not None and (kinds is None or part.kind in kinds):
            started.append(failed)
    return UsageResult(rng, await _settle(started))


async def agent_usage(ctx: GraphContext, node: AgentNode, rng: DayRange) -> UsageResult:
    org = ctx.catalog.organizations[node.organization_id]
    org_part = next(p for p in org.parts if p.source == node.part.source and p.kind == "telzino")
    done = _not_started(node.part, rng)
    if done is not None:
        return UsageResult(rng, (replace(done, subject="agent"),))

    def finish(fetched: Fetched[Any]) -> PartUsage:
        metrics = telzino.agent_metrics(fetched.value, node.part.native_id or "")
        return _reported(
            PartUsage(
                node.part,
                rng,
                metrics,
                rng,
                subject="agent",
                as_of=fetched.fetched_at,
                stale=fetched.stale,
            )
        )

    loading = ctx.loaders.telzino_minutes.future((org_part.source, org_part.native_id, rng))
    return UsageResult(rng, await _settle([_Pending(node.part, rng, loading, finish)]))


async def user_usage(ctx: GraphContext, node: UserNode, rng: DayRange) -> UsageResult:
    org_native = _teli_org_native(ctx, node)
    done = _not_started(node.part, rng)
    if done is not None:
        return UsageResult(rng, (replace(done, subject="user"),))

    def finish(fetched: Fetched[Any]) -> PartUsage:
        row = fetched.value.get(node.part.native_id)
        return _reported(
            PartUsage(
                node.part,
                rng,
                teli.user_metrics(row),
                rng,
                details=(row,) if row is not None else (),
                subject="user",
                as_of=fetched.fetched_at,
                stale=fetched.stale,
            )
        )

    loading = ctx.loaders.teli_users_usage.future((node.part.source, org_native, rng))
    return UsageResult(rng, await _settle([_Pending(node.part, rng, loading, finish)]))


def _teli_org_native(ctx: GraphContext, node: UserNode) -> str:
    org = ctx.catalog.organizations[node.organization_id]
    return next(p.native_id for p in org.parts if p.source == node.part.source) or ""


@dataclass(frozen=True)
class LifetimePart:
    """A source's all-time counters (only Teli keeps them), or why they are missing."""

    part: Part
    metrics: UsageMetrics | None
    error: UpstreamError | None = None


async def lifetime_usage(
    ctx: GraphContext, subject: str, parts: Iterable[Part]
) -> tuple[LifetimePart, ...]:
    """Teli's all-time counters for each Teli part of an organization or user."""

    async def one(part: Part) -> LifetimePart:
        try:
            key = (part.source, subject, part.native_id, None)
            usage = await ctx.loaders.teli_usage.load(key)
        except UpstreamError as error:
            return LifetimePart(part, None, error)
        return LifetimePart(part, teli.usage_metrics(usage))

    return tuple(await asyncio.gather(*(one(p) for p in parts if p.kind == "teli")))

"""Reseller → Organization → Agent / User, each with usage over a range.

Nodes are thin wrappers over catalog nodes; list and parent fields are sync lookups in the
catalog (loaded once at the root), and only fields that reach a vendor are async. The four are
Federation entities keyed by `id`: `resolve_reference` looks them up exactly as the root fields
do (the caller's scoped catalog, the same loaders), so `_entities` answers what
`organization(id:)` would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Self

import strawberry

from usagegraph.clients.errors import UpstreamError
from usagegraph.resolvers.catalog import (
    AgentNode,
    Catalog,
    OrganizationNode,
    Part,
    ResellerNode,
    UserNode,
)
from usagegraph.resolvers.context import GraphContext
from usagegraph.resolvers.errors import BadUserInput, SourceFailure
from usagegraph.resolvers.metrics import UsageMetrics, sum_metrics
from usagegraph.resolvers.ranges import MAX_MONTHS, DayRange, month_key, month_series
from usagegraph.resolvers.usage import (
    LifetimePart,
    UsageResult,
    agent_usage,
    lifetime_usage,
    organization_usage,
    reseller_usage,
    unattributed_usage,
    user_usage,
)
from usagegraph.schema.connections import (
    AfterArg,
    BeforeArg,
    Connection,
    FilterArg,
    FirstPageArg,
    LastPageArg,
    OrderByArg,
    page_values,
    paginate,
)
from usagegraph.schema.inputs import DateRange, PartialMonths, SourceKind
from usagegraph.schema.left_out import note_left_out, sources_of
from usagegraph.schema.selection import cached_kinds, kinds_for_monthly, kinds_for_usage
from usagegraph.schema.usage import FIELD_METRICS, MessagingUsage, Usage, checked

__all__ = [
    "Agent",
    "LifetimeUsage",
    "MonthlyUsage",
    "Organization",
    "Reseller",
    "SourceLink",
    "User",
    "find_user",
    "organization_of",
    "reseller_of",
]

Info = strawberry.Info[GraphContext]

_RANGE = (
    "The inclusive UTC calendar days to measure, firstDay to lastDay (at most the configured "
    "maximum, 366 days by default)."
)
_PARTIAL = (
    "How a month-granular source (Talkdesk) counts when the range is not whole months: "
    "EXCLUDE (default, reported in coverage) or WHOLE_MONTHS."
)

# argument types carrying their descriptions (GraphiQL's docs panel shows them)
RangeArg = Annotated[DateRange, strawberry.argument(description=_RANGE)]
PartialArg = Annotated[PartialMonths, strawberry.argument(description=_PARTIAL)]
FirstMonthArg = Annotated[
    str, strawberry.argument(description="The first calendar month, YYYY-MM (included).")
]
LastMonthArg = Annotated[
    str,
    strawberry.argument(
        description=(
            "The last calendar month, YYYY-MM (included; not before firstMonth, at most "
            f"{MAX_MONTHS} months in all)."
        )
    ),
]
RankedByArg = Annotated[
    DateRange | None,
    strawberry.argument(
        description=(
            "Rank by voice seconds over these inclusive UTC days, most first (ties by id); "
            "null keeps the catalog order."
        )
    ),
]
FirstArg = Annotated[
    int | None,
    strawberry.argument(
        description="Keep only the first N agents (N >= 0, after ranking); null keeps all."
    ),
]


@strawberry.type(description="Where a node comes from: one source connection and its native id.")
class SourceLink:
    source: str = strawberry.field(description="The source's name from the configuration.")
    kind: SourceKind = strawberry.field(description="The vendor API of the source.")
    native_id: strawberry.ID | None = strawberry.field(
        description="The vendor's own id (null for a whole Talkdesk connection)."
    )
    name: str | None = strawberry.field(description="The name the vendor gives it, if any.")

    @classmethod
    def of(cls, part: Part) -> SourceLink:
        native = strawberry.ID(part.native_id) if part.native_id is not None else None
        return cls(source=part.source, kind=SourceKind(part.kind), native_id=native, name=part.name)


def _range(info: Info, value: DateRange) -> DayRange:
    return value.checked(info.context.service.max_range_days)


# organization_usage / unattributed_usage / reseller_usage:
# (ctx, node, range, count_whole_months, kinds)
Assemble = Callable[..., Awaitable[UsageResult]]


@strawberry.type(description="Usage for one calendar month.")
class MonthlyUsage:
    month: str = strawberry.field(description="The calendar month, YYYY-MM.")
    usage: Usage = strawberry.field(description="Usage over the whole month.")


@strawberry.type(
    description=(
        "All-time counters since the account was created. Only Teli keeps them; never mixed "
        "into ranged usage."
    )
)
class LifetimeUsage:
    _parts: strawberry.Private[tuple[LifetimePart, ...]]

    def _total(self, *names: str) -> UsageMetrics:
        """The parts' counters added up, or the failure of a part or of the named counters."""
        failures = [p.error for p in self._parts if p.error is not None]
        if failures:
            raise SourceFailure(failures)
        return checked(sum_metrics(p.metrics for p in self._parts if p.metrics), *names)

    @strawberry.field(description="Voice seconds, knowledge-base calls included.")
    def voice_seconds(self) -> int:
        return self._total("voice_seconds").voice_seconds or 0

    @strawberry.field(description="The part of voiceSeconds that used a knowledge base.")
    def knowledge_base_seconds(self) -> int:
        return self._total("knowledge_base_seconds").knowledge_base_seconds or 0

    @strawberry.field(description="SMS segments.")
    def sms(self) -> MessagingUsage:
        m = self._total(*FIELD_METRICS["sms"])
        return MessagingUsage(
            inbound_segments=m.sms_inbound_segments,
            outbound_segments=m.sms_outbound_segments,
            other_direction_segments=m.sms_other_segments,
        )

    @strawberry.field(description="MMS segments.")
    def mms(self) -> MessagingUsage:
        m = self._total(*FIELD_METRICS["mms"])
        return MessagingUsage(
            inbound_segments=m.mms_inbound_segments,
            outbound_segments=m.mms_outbound_segments,
            other_direction_segments=0,
        )

    @strawberry.field(description="The sources counted.")
    def sources(self) -> list[SourceLink]:
        return [SourceLink.of(p.part) for p in self._parts]


@strawberry.federation.type(keys=["id"], description="A Telzino voice agent.")
class Agent:
    _node: strawberry.Private[AgentNode]

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Agent | None:
        """A gateway's `{__typename: "Agent", id}`: the same lookup as `agent(id:)`."""
        node = (await info.context.load_catalog()).agent(str(id))
        if node is None:
            note_left_out(info, sources_of(info, str(id)))
        return cls(_node=node) if node else None

    @strawberry.field(description="Stable id: `<source>:<Telzino agent uuid>`.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self._node.id)

    @strawberry.field(description="The agent's name (Telzino falls back to external_id, then id).")
    def name(self) -> str:
        return self._node.name

    @strawberry.field(description="Where the agent comes from.")
    def sources(self) -> list[SourceLink]:
        return [SourceLink.of(self._node.part)]

    @strawberry.field(description="The organization the agent works for.")
    def organization(self, info: Info) -> Organization:
        return Organization(_node=info.context.catalog.organizations[self._node.organization_id])

    @strawberry.field(description="The agent's voice usage over the range.")
    async def usage(self, info: Info, range: RangeArg) -> Usage:
        rng = _range(info, range)
        result = await agent_usage(info.context, self._node, rng)
        return Usage.of(rng, result.parts)


@strawberry.federation.type(keys=["id"], description="A Teli user.")
class User:
    _node: strawberry.Private[UserNode]

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> User | None:
        """A gateway's `{__typename: "User", id}`: the same lookup as `user(id:)`."""
        user = await find_user(info, str(id))
        if user is None:
            note_left_out(info, sources_of(info, str(id)))
        return user

    @strawberry.field(description="Stable id: `<source>:<Teli user unique_id>`.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self._node.id)

    @strawberry.field(description="The user's name.")
    def name(self) -> str:
        return self._node.name

    @strawberry.field(description="The user's email, if Teli has one.")
    def email(self) -> str | None:
        return self._node.email

    @strawberry.field(description="Where the user comes from.")
    def sources(self) -> list[SourceLink]:
        return [SourceLink.of(self._node.part)]

    @strawberry.field(description="The organization the user belongs to.")
    def organization(self, info: Info) -> Organization:
        return Organization(_node=info.context.catalog.organizations[self._node.organization_id])

    @strawberry.field(description="The user's usage over the range (Teli analytics).")
    async def usage(self, info: Info, range: RangeArg) -> Usage:
        rng = _range(info, range)
        result = await user_usage(info.context, self._node, rng)
        return Usage.of(rng, result.parts)

    @strawberry.field(description="Teli's all-time counters for this user.")
    async def lifetime_usage(self, info: Info) -> LifetimeUsage:
        return LifetimeUsage(_parts=await lifetime_usage(info.context, "user", [self._node.part]))


def users_of(outcomes: Iterable[tuple[UserNode, ...] | BaseException]) -> list[User]:
    """An organization's users from its Teli parts' loads (gathered with return_exceptions):
    failed sources fail the field together (SourceFailure names each); anything else raised,
    a cancelled load or a bug, is no source's failure and propagates as itself."""
    return [User(_node=u) for u in user_nodes_of(outcomes)]


def user_nodes_of(outcomes: Iterable[tuple[UserNode, ...] | BaseException]) -> list[UserNode]:
    """`users_of`, as catalog nodes."""
    users: list[UserNode] = []
    failures: list[UpstreamError] = []
    for outcome in outcomes:
        if isinstance(outcome, UpstreamError):
            failures.append(outcome)
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            users.extend(outcome)
    if failures:
        raise SourceFailure(failures)
    return users


async def _user_nodes(info: Info, organization: OrganizationNode) -> list[UserNode]:
    loader = info.context.loaders.teli_users
    parts = organization.parts_of("teli")
    outcomes = await asyncio.gather(
        *(loader.load((p.source, p.native_id)) for p in parts), return_exceptions=True
    )
    return user_nodes_of(outcomes)


@strawberry.type
class _MergedEntity:
    """What Organization and Reseller share: a catalog node merged across vendors, found by
    either id form in the caller's (scoped) catalog, with usage assembled over its source parts.

    A base class, not a GraphQL interface: no field returns "an organization or a reseller", so
    an interface would serve no query. Not in the schema itself; its subclasses declare their
    GraphQL fields, whose descriptions differ (and order stays as it was)."""

    _node: strawberry.Private[OrganizationNode | ResellerNode]

    @staticmethod
    def _find(catalog: Catalog, any_id: str) -> OrganizationNode | ResellerNode | None:
        raise NotImplementedError  # each subclass names its catalog lookup

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Self | None:
        """A gateway's `{__typename, id}` (either id form): the same lookup as the root field
        (`organization(id:)`, `reseller(id:)`)."""
        node = cls._find(await info.context.load_catalog(), str(id))
        if node is None:
            note_left_out(info, sources_of(info, str(id)))
        return cls(_node=node) if node else None

    async def _usage(
        self, info: Info, value: DateRange, partial: PartialMonths, assemble: Assemble
    ) -> Usage:
        rng = _range(info, value)
        kinds = cached_kinds(info, kinds_for_usage)
        result = await assemble(info.context, self._node, rng, partial.counts_whole_months, kinds)
        return Usage.of(rng, result.parts)

    async def _monthly(
        self, info: Info, first_month: str, last_month: str, assemble: Assemble
    ) -> list[MonthlyUsage]:
        ranges = month_series(first_month, last_month)
        kinds = cached_kinds(info, kinds_for_monthly)
        results = await asyncio.gather(
            *(assemble(info.context, self._node, r, kinds=kinds) for r in ranges)
        )
        return [
            MonthlyUsage(month=month_key(r.first), usage=Usage.of(r, res.parts))
            for r, res in zip(ranges, results, strict=True)
        ]


@strawberry.federation.type(
    keys=["id"], description="A customer organization, merged across vendors."
)
class Organization(_MergedEntity):
    _node: strawberry.Private[OrganizationNode]

    @staticmethod
    def _find(catalog: Catalog, any_id: str) -> OrganizationNode | None:
        return catalog.organization(any_id)

    @strawberry.field(
        description=(
            "Stable id: the directory id when linked, else `<source>:<native id>`. Lookups "
            "accept either form."
        )
    )
    def id(self) -> strawberry.ID:
        return strawberry.ID(self._node.id)

    @strawberry.field(description="The directory name, else the vendor's name.")
    def name(self) -> str:
        return self._node.name

    @strawberry.field(description="Each source part of this organization.")
    def sources(self) -> list[SourceLink]:
        return [SourceLink.of(p) for p in self._node.parts]

    @strawberry.field(description="The reseller the organization belongs to.")
    def reseller(self, info: Info) -> Reseller | None:
        node = info.context.catalog.resellers.get(self._node.reseller_id or "")
        return Reseller(_node=node) if node else None

    @strawberry.field(
        description=(
            "The organization's Telzino voice agents. With `rankedBy`, sorted by voice seconds "
            "in that range, most first (ties by id); `first` keeps the top N. null (with an "
            "error naming the source) when the ranking's source failed."
        ),
        deprecation_reason=(
            "Use agentsConnection: it pages, orders (orderBy: {field: VOICE_SECONDS, "
            "direction: DESC, range: ...} ranks) and filters. Removed in the next release."
        ),
    )
    async def agents(
        self, info: Info, ranked_by: RankedByArg = None, first: FirstArg = None
    ) -> list[Agent] | None:
        if first is not None and first < 0:
            raise BadUserInput(f"first must not be negative, got {first}")
        catalog = info.context.catalog
        # agents come from Telzino's discovery: a failed one leaves them out
        note_left_out(info, (p.source for p in self._node.parts_of("telzino")))
        nodes = [catalog.agents[i] for i in self._node.agent_ids]
        if ranked_by is not None:
            rng = _range(info, ranked_by)
            results = await asyncio.gather(*(agent_usage(info.context, n, rng) for n in nodes))
            failures = [p.error for r in results for p in r.parts if p.error is not None]
            failures += [e for r in results for e in r.total.problems_of("voice_seconds")]
            if failures:
                raise SourceFailure(failures)
            seconds = {
                n.id: r.total.voice_seconds or 0 for n, r in zip(nodes, results, strict=True)
            }
            nodes.sort(key=lambda n: (-seconds[n.id], n.id))
        if first is not None:
            nodes = nodes[:first]
        return [Agent(_node=n) for n in nodes]

    @strawberry.field(
        description=(
            "The organization's Telzino voice agents, a page at a time: by name by default, or "
            "by voice seconds over a range. null (with an error naming the source) when a "
            "source the ordering or filter needs failed."
        )
    )
    async def agents_connection(
        self,
        info: Info,
        first: FirstPageArg = None,
        after: AfterArg = None,
        last: LastPageArg = None,
        before: BeforeArg = None,
        order_by: OrderByArg = None,
        filter: FilterArg = None,
    ) -> Connection[Agent] | None:
        catalog = info.context.catalog
        # agents come from Telzino's discovery: a failed one leaves them out
        note_left_out(info, (p.source for p in self._node.parts_of("telzino")))
        nodes = [catalog.agents[i] for i in self._node.agent_ids]
        values = page_values(first, after, last, before, order_by, filter)
        return await paginate(info, "Agent", nodes, _agent, values)

    @strawberry.field(
        description=(
            "The organization's Teli users; null (with an error naming the source) when Teli "
            "could not list them."
        ),
        deprecation_reason=(
            "Use usersConnection: it pages, orders and filters. Removed in the next release."
        ),
    )
    async def users(self, info: Info) -> list[User] | None:
        return [User(_node=u) for u in await _user_nodes(info, self._node)]

    @strawberry.field(
        description=(
            "The organization's Teli users, a page at a time. null (with an error naming the "
            "source) when Teli could not list them, or a source the ordering or filter needs "
            "failed."
        )
    )
    async def users_connection(
        self,
        info: Info,
        first: FirstPageArg = None,
        after: AfterArg = None,
        last: LastPageArg = None,
        before: BeforeArg = None,
        order_by: OrderByArg = None,
        filter: FilterArg = None,
    ) -> Connection[User] | None:
        nodes = await _user_nodes(info, self._node)
        values = page_values(first, after, last, before, order_by, filter)
        return await paginate(info, "User", nodes, _user, values)

    @strawberry.field(description="Usage over an inclusive UTC day range, summed over sources.")
    async def usage(
        self,
        info: Info,
        range: RangeArg,
        partial_months: PartialArg = PartialMonths.EXCLUDE,
    ) -> Usage:
        return await self._usage(info, range, partial_months, organization_usage)

    @strawberry.field(
        description=(
            "What none of the organization's agents or users accounts for over the range: its "
            "usage minus its Telzino agents' and Teli users' shares (Talkdesk, which has "
            "neither, counts in full). The agents' usage, the users' usage and this add up to "
            "`usage`, metric by metric."
        )
    )
    async def unattributed_usage(
        self,
        info: Info,
        range: RangeArg,
        partial_months: PartialArg = PartialMonths.EXCLUDE,
    ) -> Usage:
        return await self._usage(info, range, partial_months, unattributed_usage)

    @strawberry.field(
        description=(
            "Usage per calendar month from firstMonth to lastMonth (YYYY-MM, inclusive, at "
            "most 24 months). Every source answers whole months exactly."
        )
    )
    async def monthly(
        self, info: Info, first_month: FirstMonthArg, last_month: LastMonthArg
    ) -> list[MonthlyUsage]:
        return await self._monthly(info, first_month, last_month, organization_usage)

    @strawberry.field(
        description="Teli's all-time counters for this organization; null without a Teli part."
    )
    async def lifetime_usage(self, info: Info) -> LifetimeUsage | None:
        parts = self._node.parts_of("teli")
        if not parts:
            return None
        return LifetimeUsage(_parts=await lifetime_usage(info.context, "organization", parts))


@strawberry.federation.type(
    keys=["id"], description="A reseller (channel partner), merged across vendors."
)
class Reseller(_MergedEntity):
    _node: strawberry.Private[ResellerNode]

    @staticmethod
    def _find(catalog: Catalog, any_id: str) -> ResellerNode | None:
        return catalog.reseller(any_id)

    @strawberry.field(
        description=(
            "Stable id: the directory id when linked, else `<source>:<native id>` (a whole "
            "Talkdesk connection is just `<source>`)."
        )
    )
    def id(self) -> strawberry.ID:
        return strawberry.ID(self._node.id)

    @strawberry.field(description="The directory name, else the vendor's name.")
    def name(self) -> str:
        return self._node.name

    @strawberry.field(description="Each source part of this reseller.")
    def sources(self) -> list[SourceLink]:
        return [SourceLink.of(p) for p in self._node.parts]

    @strawberry.field(
        description=(
            "The reseller's organizations. When one of its sources could not be listed, the "
            "others still answer and an error names it."
        ),
        deprecation_reason=(
            "Use organizationsConnection: it pages, orders and filters. Removed in the next "
            "release."
        ),
    )
    def organizations(self, info: Info) -> list[Organization]:
        catalog = info.context.catalog
        note_left_out(info, (p.source for p in self._node.parts))
        return [Organization(_node=catalog.organizations[i]) for i in self._node.organization_ids]

    @strawberry.field(
        description=(
            "The reseller's organizations, a page at a time: by name by default, or by a usage "
            "figure over a range. When one of its sources could not be listed, the others "
            "still answer and an error names it; null (with an error naming the source) when "
            "a source the ordering or filter needs failed."
        )
    )
    async def organizations_connection(
        self,
        info: Info,
        first: FirstPageArg = None,
        after: AfterArg = None,
        last: LastPageArg = None,
        before: BeforeArg = None,
        order_by: OrderByArg = None,
        filter: FilterArg = None,
    ) -> Connection[Organization] | None:
        catalog = info.context.catalog
        note_left_out(info, (p.source for p in self._node.parts))
        nodes = [catalog.organizations[i] for i in self._node.organization_ids]
        values = page_values(first, after, last, before, order_by, filter)
        return await paginate(info, "Organization", nodes, organization_of, values)

    @strawberry.field(description="Usage summed over the reseller's organizations.")
    async def usage(
        self,
        info: Info,
        range: RangeArg,
        partial_months: PartialArg = PartialMonths.EXCLUDE,
    ) -> Usage:
        return await self._usage(info, range, partial_months, reseller_usage)

    @strawberry.field(description="Usage per calendar month (YYYY-MM, inclusive, at most 24).")
    async def monthly(
        self, info: Info, first_month: FirstMonthArg, last_month: LastMonthArg
    ) -> list[MonthlyUsage]:
        return await self._monthly(info, first_month, last_month, reseller_usage)


def _agent(node: AgentNode) -> Agent:
    return Agent(_node=node)


def _user(node: UserNode) -> User:
    return User(_node=node)


def organization_of(node: OrganizationNode) -> Organization:
    return Organization(_node=node)


def reseller_of(node: ResellerNode) -> Reseller:
    return Reseller(_node=node)


async def find_user(info: Info, user_id: str) -> User | None:
    """The Teli user `<source>:<user unique_id>` among the (visible) organizations of that
    source: their user lists come from the per-request loader, so many lookups share calls."""
    catalog = await info.context.load_catalog()
    source, _, native = user_id.partition(":")
    conn = info.context.service.connections.get(source)
    if conn is None or conn.kind != "teli" or not native:
        return None
    loader = info.context.loaders.teli_users
    orgs = catalog.organizations_with_part(source)
    lists = await asyncio.gather(*(loader.load((source, o)) for o in orgs))
    match = next((u for users in lists for u in users if u.part.native_id == native), None)
    return User(_node=match) if match else None

"""The query root. Root fields load the catalog once (the only await before any loader)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from usagegraph.resolvers.context import GraphContext
from usagegraph.resolvers.freshness import note_volatile
from usagegraph.resolvers.scope import Forbidden
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
from usagegraph.schema.entities import (
    Agent,
    Organization,
    Reseller,
    User,
    find_user,
    organization_of,
    reseller_of,
)
from usagegraph.schema.inputs import SourceKind
from usagegraph.schema.left_out import note_left_out, sources_of

__all__ = ["Query", "SourceStatus"]

Info = strawberry.Info[GraphContext]

# argument types carrying their descriptions (GraphiQL's docs panel shows them)
NodeIdArg = Annotated[
    strawberry.ID,
    strawberry.argument(description="A directory id or `<source>:<native id>`; either works."),
]
NodeIdsArg = Annotated[
    list[strawberry.ID] | None,
    strawberry.argument(
        description=(
            "Directory ids or `<source>:<native id>`s; unknown ones are skipped, the rest keep "
            "this order. null lists every organization."
        )
    ),
]
AgentIdArg = Annotated[
    strawberry.ID, strawberry.argument(description="`<source>:<Telzino agent uuid>`.")
]
UserIdArg = Annotated[
    strawberry.ID, strawberry.argument(description="`<source>:<Teli user unique_id>`.")
]


@strawberry.type(description="One configured vendor connection and how it is doing.")
class SourceStatus:
    name: str = strawberry.field(description="The source's name from the configuration.")
    kind: SourceKind = strawberry.field(description="Which vendor API the source talks to.")

    @strawberry.field(description="When the source last answered successfully (UTC).")
    async def last_success(self, info: Info) -> datetime | None:
        await info.context.load_catalog()
        return info.context.service.statuses[self.name].last_success

    @strawberry.field(description="The last failure, if any (one line, no secrets).")
    async def last_error(self, info: Info) -> str | None:
        await info.context.load_catalog()
        return info.context.service.statuses[self.name].last_error

    @strawberry.field(description="The last failure's code, e.g. UPSTREAM_UNAVAILABLE.")
    async def last_error_code(self, info: Info) -> str | None:
        await info.context.load_catalog()
        return info.context.service.statuses[self.name].last_error_code

    @strawberry.field(description="When the last failure happened (UTC).")
    async def last_error_at(self, info: Info) -> datetime | None:
        await info.context.load_catalog()
        return info.context.service.statuses[self.name].last_error_at

    @strawberry.field(
        description=(
            "The source's circuit breaker: CLOSED (calls flow), OPEN (failing: calls fail fast "
            "until the cool-down ends) or HALF_OPEN (one probe call decides)."
        )
    )
    def circuit(self, info: Info) -> str:
        breaker = info.context.service.connections[self.name].transport.breaker
        return (breaker.state if breaker is not None else "closed").upper()

    @strawberry.field(
        description="Configuration problems found, e.g. directory links no source knows."
    )
    async def warnings(self, info: Info) -> list[str]:
        catalog = await info.context.load_catalog()
        return catalog.warnings.get(self.name, [])


@strawberry.type(description="The root of every read.")
class Query:
    @strawberry.field(
        description=(
            "Every reseller, merged across sources. When a source could not be listed, the "
            "others still answer and an error names it."
        ),
        deprecation_reason=(
            "Use resellersConnection: it pages, orders and filters. Removed in the next release."
        ),
    )
    async def resellers(self, info: Info) -> list[Reseller]:
        catalog = await info.context.load_catalog()
        note_left_out(info)
        return [Reseller(_node=n) for n in catalog.resellers.values()]

    @strawberry.field(
        description=(
            "Resellers, a page at a time: by name by default, or by a usage figure over a "
            "range. When a source could not be listed, the others still answer and an error "
            "names it; null (with an error naming the source) when a source the ordering or "
            "filter needs failed."
        )
    )
    async def resellers_connection(
        self,
        info: Info,
        first: FirstPageArg = None,
        after: AfterArg = None,
        last: LastPageArg = None,
        before: BeforeArg = None,
        order_by: OrderByArg = None,
        filter: FilterArg = None,
    ) -> Connection[Reseller] | None:
        catalog = await info.context.load_catalog()
        note_left_out(info)
        nodes = list(catalog.resellers.values())
        values = page_values(first, after, last, before, order_by, filter)
        return await paginate(info, "Reseller", nodes, reseller_of, values)

    @strawberry.field(description="One reseller by directory id or `<source>:<native id>`.")
    async def reseller(self, info: Info, id: NodeIdArg) -> Reseller | None:
        node = (await info.context.load_catalog()).reseller(str(id))
        if node is None:
            note_left_out(info, sources_of(info, str(id)))
        return Reseller(_node=node) if node else None

    @strawberry.field(
        description=(
            "Organizations, all or those with the given ids (either id form, in order). When a "
            "source could not be listed, the others still answer and an error names it."
        ),
        deprecation_reason=(
            "Use organizationsConnection (or organization(id:) for one): it pages, orders and "
            "filters. Removed in the next release."
        ),
    )
    async def organizations(self, info: Info, ids: NodeIdsArg = None) -> list[Organization]:
        catalog = await info.context.load_catalog()
        if ids is None:
            note_left_out(info)
            return [Organization(_node=n) for n in catalog.organizations.values()]
        found = [catalog.organization(str(i)) for i in ids]
        unknown = [str(i) for i, node in zip(ids, found, strict=True) if node is None]
        if unknown:
            named = [sources_of(info, i) for i in unknown]
            # a directory id could belong to any source; ids naming theirs, to that one
            note_left_out(info, None if None in named else {s for n in named for s in n or ()})
        return [Organization(_node=n) for n in found if n is not None]

    @strawberry.field(
        description=(
            "Organizations, a page at a time: by name by default, or by a usage figure over a "
            "range (the ten with the highest cost this month: `first: 10, orderBy: {field: "
            'COST, direction: DESC, range: ..., currency: "USD"}`). When a source could not '
            "be listed, the others still answer and an error names it; null (with an error "
            "naming the source) when a source the ordering or filter needs failed."
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
        catalog = await info.context.load_catalog()
        note_left_out(info)
        nodes = list(catalog.organizations.values())
        values = page_values(first, after, last, before, order_by, filter)
        return await paginate(info, "Organization", nodes, organization_of, values)

    @strawberry.field(description="One organization by directory id or `<source>:<native id>`.")
    async def organization(self, info: Info, id: NodeIdArg) -> Organization | None:
        node = (await info.context.load_catalog()).organization(str(id))
        if node is None:
            note_left_out(info, sources_of(info, str(id)))
        return Organization(_node=node) if node else None

    @strawberry.field(description="One Telzino agent by `<source>:<agent uuid>`.")
    async def agent(self, info: Info, id: AgentIdArg) -> Agent | None:
        node = (await info.context.load_catalog()).agent(str(id))
        if node is None:
            note_left_out(info, sources_of(info, str(id)))
        return Agent(_node=node) if node else None

    @strawberry.field(description="One Teli user by `<source>:<user unique_id>`.")
    async def user(self, info: Info, id: UserIdArg) -> User | None:
        user = await find_user(info, str(id))
        if user is None:
            note_left_out(info, sources_of(info, str(id)))
        return user

    @strawberry.field(
        description=(
            "The configured sources, in configuration order. Operators only: a key scoped to "
            "some resellers gets a FORBIDDEN error."
        )
    )
    def sources(self, info: Info) -> list[SourceStatus]:
        if info.context.identity.scoped:
            # connection names, errors and directory warnings concern every tenant
            raise Forbidden("sources is not available to keys scoped to some resellers")
        note_volatile()  # live state (last errors, circuits): an answer with it is never kept
        return [
            SourceStatus(name=s.name, kind=SourceKind(s.kind))
            for s in info.context.service.statuses.values()
        ]

"""The entity catalog: who exists, under which id, and which source parts make up each node.

Each connection discovers its own resellers, organizations and agents (`SourceDiscovery`); the
catalog merges them with the directory so one customer at three vendors is one node. Unlinked
entities keep the id `<source>:<native id>` (a Talkdesk connection's reseller is just `<source>`),
and lookups accept either form.

A source whose discovery failed with nothing to stand in (`failures`) still keeps the parts the
directory links to it, so a linked node's usage names the failed source instead of quietly
summing the others; what it alone knew is missing, and the fields that list it say so. A source
whose discovery failed but whose last good one stands in is in `stale`, with when that was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from usagegraph.clients.errors import UpstreamError
from usagegraph.resolvers.directory import Directory, DirectoryEntry, Link

__all__ = [
    "AgentNode",
    "Catalog",
    "DiscoveredAgent",
    "DiscoveredOrganization",
    "DiscoveredReseller",
    "OrganizationNode",
    "Part",
    "ResellerNode",
    "SourceDiscovery",
    "StaleDiscovery",
    "UserNode",
    "build_catalog",
]


@dataclass(frozen=True, slots=True)
class Part:
    """One source's piece of a node: the connection, its kind and the vendor's own id."""

    source: str
    kind: str
    native_id: str | None  # None: a whole connection (a Talkdesk reseller)
    name: str | None = None

    @property
    def global_id(self) -> str:
        return self.source if self.native_id is None else f"{self.source}:{self.native_id}"


# -- what one connection discovers -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiscoveredReseller:
    native_id: str | None
    name: str | None


@dataclass(frozen=True, slots=True)
class DiscoveredOrganization:
    native_id: str
    name: str | None
    reseller_native_id: str | None


@dataclass(frozen=True, slots=True)
class DiscoveredAgent:
    native_id: str
    name: str | None
    organization_native_id: str


@dataclass(frozen=True)
class SourceDiscovery:
    source: str
    kind: str
    resellers: tuple[DiscoveredReseller, ...]
    organizations: tuple[DiscoveredOrganization, ...]
    agents: tuple[DiscoveredAgent, ...] = ()


@dataclass(frozen=True)
class StaleDiscovery:
    """A source's discovery failed; its last good one, fetched at `as_of`, stands in."""

    error: UpstreamError
    as_of: datetime


# -- merged nodes ------------------------------------------------------------------------------


@dataclass
class ResellerNode:
    id: str
    name: str
    parts: list[Part]
    organization_ids: list[str] = field(default_factory=list)


@dataclass
class OrganizationNode:
    id: str
    name: str
    reseller_id: str | None
    parts: list[Part]
    agent_ids: list[str] = field(default_factory=list)

    def parts_of(self, kind: str) -> list[Part]:
        return [p for p in self.parts if p.kind == kind]


@dataclass
class AgentNode:
    id: str
    name: str
    organization_id: str
    part: Part


@dataclass
class UserNode:
    id: str
    name: str
    email: str | None
    organization_id: str
    part: Part


@dataclass
class Catalog:
    resellers: dict[str, ResellerNode]
    organizations: dict[str, OrganizationNode]
    agents: dict[str, AgentNode]
    aliases: dict[str, str]  # any accepted id form -> canonical node id
    failures: dict[str, UpstreamError]  # source -> why its discovery failed (no stale copy)
    warnings: dict[str, list[str]]  # source -> directory links no source knows, etc.
    stale: dict[str, StaleDiscovery] = field(default_factory=dict)  # source -> stand-in's age

    def reseller(self, any_id: str) -> ResellerNode | None:
        return self.resellers.get(self.aliases.get(any_id, any_id))

    def organization(self, any_id: str) -> OrganizationNode | None:
        return self.organizations.get(self.aliases.get(any_id, any_id))

    def agent(self, any_id: str) -> AgentNode | None:
        return self.agents.get(any_id)

    def organizations_with_part(self, source: str) -> dict[str, OrganizationNode]:
        """native id -> node, for one connection."""
        return {
            p.native_id: node
            for node in self.organizations.values()
            for p in node.parts
            if p.source == source and p.native_id is not None
        }


def build_catalog(
    discoveries: Iterable[SourceDiscovery],
    directory: Directory,
    *,
    failures: Mapping[str, UpstreamError] | None = None,
    kinds: Mapping[str, str] | None = None,
    stale: Mapping[str, StaleDiscovery] | None = None,
) -> Catalog:
    """Merge every connection's discovery with the directory links. `failures` are the sources
    with no discovery at all; the directory's links to them become parts of their nodes
    (`kinds` says each source's vendor)."""
    discoveries = list(discoveries)
    resellers: dict[str, ResellerNode] = {}
    organizations: dict[str, OrganizationNode] = {}
    agents: dict[str, AgentNode] = {}
    aliases: dict[str, str] = {}
    warnings: dict[str, list[str]] = {}

    for entry in directory.resellers:
        resellers[entry.id] = ResellerNode(entry.id, entry.name or entry.id, [])
    for entry in directory.organizations:
        organizations[entry.id] = OrganizationNode(entry.id, entry.name or entry.id, None, [])

    reseller_of_part: dict[tuple[str, str | None], str] = {}
    for found in discoveries:
        for r in found.resellers:
            part = Part(found.source, found.kind, r.native_id, r.name)
            node_id = directory.reseller_for(Link(found.source, r.native_id)) or (
                directory.reseller_for(Link(found.source, None)) if r.native_id else None
            )
            node_id = node_id or part.global_id
            node = resellers.get(node_id)
            if node is None:
                node = resellers[node_id] = ResellerNode(node_id, r.name or part.global_id, [])
            node.parts.append(part)
            aliases[part.global_id] = node_id
            reseller_of_part[(found.source, r.native_id)] = node_id

    for found in discoveries:
        whole = reseller_of_part.get((found.source, None))
        for o in found.organizations:
            part = Part(found.source, found.kind, o.native_id, o.name)
            node_id = directory.organization_for(Link(found.source, o.native_id)) or part.global_id
            parent = reseller_of_part.get((found.source, o.reseller_native_id), whole)
            org = organizations.get(node_id)
            if org is None:
                org = organizations[node_id] = OrganizationNode(
                    node_id, o.name or part.global_id, parent, []
                )
            if org.reseller_id is None:
                org.reseller_id = parent
            org.parts.append(part)
            aliases[part.global_id] = node_id
        for a in found.agents:
            org_id = aliases.get(f"{found.source}:{a.organization_native_id}")
            if org_id is None:
                continue  # an agent of an organization the report did not list
            part = Part(found.source, found.kind, a.native_id, a.name)
            agents[part.global_id] = AgentNode(part.global_id, a.name or a.native_id, org_id, part)
            organizations[org_id].agent_ids.append(part.global_id)

    _link_undiscovered(directory, resellers, organizations, aliases, failures or {}, kinds or {})

    # the directory's explicit parent wins over what the vendors imply
    for entry in directory.organizations:
        if entry.reseller:
            organizations[entry.id].reseller_id = entry.reseller

    # a bare `<source>` link means everything that connection sees: known once it answered
    known_parts = set(aliases) | {found.source for found in discoveries}
    failed = dict(failures or {})
    for entry in (*directory.resellers, *directory.organizations):
        for link in entry.links:
            if str(link) not in known_parts and link.source not in failed:
                warnings.setdefault(link.source, []).append(
                    f"directory link {link} (in {entry.id!r}) matches nothing {link.source} knows"
                )

    # drop directory nodes no source backs (all their links unknown): they would be empty shells
    for node_id in [i for i, n in resellers.items() if not n.parts]:
        del resellers[node_id]
    for node_id in [i for i, n in organizations.items() if not n.parts]:
        del organizations[node_id]
    for org in organizations.values():
        if org.reseller_id in resellers:
            resellers[org.reseller_id].organization_ids.append(org.id)
        else:
            org.reseller_id = None
    return Catalog(resellers, organizations, agents, aliases, failed, warnings, dict(stale or {}))


def _link_undiscovered(
    directory: Directory,
    resellers: dict[str, ResellerNode],
    organizations: dict[str, OrganizationNode],
    aliases: dict[str, str],
    failures: Mapping[str, UpstreamError],
    kinds: Mapping[str, str],
) -> None:
    """Give each directory node the parts its links name on sources that failed discovery."""
    nodes: list[tuple[DirectoryEntry, ResellerNode | OrganizationNode]] = [
        *((e, resellers[e.id]) for e in directory.resellers),
        *((e, organizations[e.id]) for e in directory.organizations),
    ]
    for entry, node in nodes:
        for link in entry.links:
            kind = kinds.get(link.source)
            if link.source in failures and kind is not None:
                part = Part(link.source, kind, link.native_id)
                node.parts.append(part)
                aliases[part.global_id] = node.id

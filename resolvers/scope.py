"""Who is asking, and the part of the catalog they may see.

A scoped caller (an API key limited to some resellers) gets a filtered `Catalog`: its resellers,
the organizations whose reseller is one of them, those organizations' agents, and only the aliases
of visible nodes. Every resolver reads the catalog through the request's context, so lists, id
lookups (any id form), nested fields and Teli users (reached only through visible organizations)
all see the same view, and an out-of-scope id answers exactly like an id that does not exist.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from usagegraph.resolvers.catalog import Catalog
from usagegraph.resolvers.errors import GraphError

__all__ = ["EVERYONE", "NOBODY", "Forbidden", "Identity", "scope_catalog"]


@dataclass(frozen=True)
class Identity:
    """The caller: an API key's name, its reseller scope (None: every reseller) and its roles
    ("operator", "federation": what the key may do beyond reading its resellers)."""

    name: str
    resellers: frozenset[str] | None = None
    roles: frozenset[str] = frozenset()

    @property
    def scoped(self) -> bool:
        return self.resellers is not None

    def has_role(self, role: str) -> bool:
        return role in self.roles


# Without [auth] every caller sees everything (the server then listens on loopback only).
EVERYONE = Identity("anonymous")
# A caller nobody vouched for (fail closed): an empty scope sees nothing.
NOBODY = Identity("nobody", frozenset())


class Forbidden(GraphError):
    """The caller's key may not use this field at all (e.g. `sources` for a scoped key)."""

    code = "FORBIDDEN"


def scope_catalog(catalog: Catalog, resellers: Collection[str]) -> Catalog:
    """The part of `catalog` a caller limited to `resellers` may see.

    Scope ids are resolved like lookups (a directory id or any `<source>:<native id>` /
    `<source>` form of the reseller), so a part merged into a directory reseller grants that
    reseller. Nodes are shared with the full catalog, not copied: a visible reseller's
    organizations and a visible organization's agents are all visible, so their id lists hold.
    """
    granted = {node.id for node in map(catalog.reseller, resellers) if node is not None}
    # keep the full catalog's order, so a scoped list reads like a filtered full one
    visible_resellers = {i: node for i, node in catalog.resellers.items() if i in granted}
    organizations = {
        node_id: node
        for node_id, node in catalog.organizations.items()
        if node.reseller_id is not None and node.reseller_id in visible_resellers
    }
    agents = {
        agent_id: node
        for agent_id, node in catalog.agents.items()
        if node.organization_id in organizations
    }
    visible = visible_resellers.keys() | organizations.keys()
    aliases = {alias: node_id for alias, node_id in catalog.aliases.items() if node_id in visible}
    # the failed sources that could hold what the caller may see: those of its resellers'
    # parts, and those its scope names but no visible node stands for (lost with the failure)
    concerned = {p.source for node in visible_resellers.values() for p in node.parts}
    concerned |= {r.partition(":")[0] for r in resellers if catalog.reseller(r) is None}
    return Catalog(
        resellers=visible_resellers,
        organizations=organizations,
        agents=agents,
        aliases=aliases,
        failures={s: e for s, e in catalog.failures.items() if s in concerned},
        # directory warnings name other customers' links: operators' business, not a tenant's
        warnings={},
        stale={s: d for s, d in catalog.stale.items() if s in concerned},
    )

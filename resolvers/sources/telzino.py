"""Telzino: one account per connection, its resellers, organizations and voice agents.

Discovery reads the minutes report over a short recent window: it lists every organization and
every agent, zero-usage ones included; `/v1/agents` is only asked for an organization whose
report says it has more agents than it listed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from usagegraph.clients.decoding import RowProblems
from usagegraph.clients.telzino import TelzinoBillingRow, TelzinoOrgMinutes
from usagegraph.resolvers.catalog import (
    DiscoveredAgent,
    DiscoveredOrganization,
    DiscoveredReseller,
    SourceDiscovery,
)
from usagegraph.resolvers.connections import Connection
from usagegraph.resolvers.metrics import Problem, UsageMetrics
from usagegraph.resolvers.ranges import DayRange

__all__ = [
    "agent_metrics",
    "agents_metrics",
    "discover",
    "fetch_billing",
    "fetch_minutes",
    "ids_per_call",
    "organization_metrics",
]

DISCOVERY_DAYS = 7


def ids_per_call(conn: Connection) -> int:
    return conn.telzino.max_ids_per_call


async def discover(conn: Connection) -> SourceDiscovery:
    today = datetime.now(UTC).date()
    report = await conn.telzino.minutes_by_organization(
        today - timedelta(days=DISCOVERY_DAYS - 1), today
    )
    resellers: dict[str, DiscoveredReseller] = {}
    organizations: list[DiscoveredOrganization] = []
    agents: list[DiscoveredAgent] = []
    short: list[str] = []
    for org in report.organizations:
        # an organization the report gives no reseller is listed on its own (reseller null)
        if org.reseller_id is not None:
            resellers.setdefault(
                org.reseller_id, DiscoveredReseller(org.reseller_id, org.reseller_name)
            )
        organizations.append(
            DiscoveredOrganization(org.organization_id, org.organization_name, org.reseller_id)
        )
        agents.extend(
            DiscoveredAgent(a.agent_id, a.agent_name, org.organization_id) for a in org.agents or ()
        )
        if org.agent_count is not None and org.agent_count > len(org.agents or ()):
            short.append(org.organization_id)
    if short:
        listed = {a.native_id for a in agents}
        pages = await asyncio.gather(*(conn.telzino.agents(organization_id=o) for o in short))
        for found in pages:
            agents.extend(
                DiscoveredAgent(a.id, a.display_name, a.organization_id)
                for a in found
                if a.id not in listed
            )
    return SourceDiscovery(
        source=conn.name,
        kind="telzino",
        resellers=tuple(resellers.values()),
        organizations=tuple(organizations),
        agents=tuple(agents),
    )


async def fetch_minutes(
    conn: Connection, rng: DayRange, organization_ids: Sequence[str] | None
) -> Mapping[str, TelzinoOrgMinutes]:
    report = await conn.telzino.minutes_by_organization(
        rng.first, rng.last, organization_ids=organization_ids
    )
    return {row.organization_id: row for row in report.organizations}


async def fetch_billing(
    conn: Connection, rng: DayRange, organization_ids: Sequence[str] | None
) -> Mapping[str, TelzinoBillingRow]:
    report = await conn.telzino.billing_report(
        rng.first, rng.last, organization_ids=organization_ids
    )
    return {row.organization_id: row for row in report.organizations}


def organization_metrics(row: TelzinoOrgMinutes | None) -> UsageMetrics:
    """Telzino measures voice only; an organization the report omits used none."""
    if row is None:
        return UsageMetrics(voice_seconds=0)
    return UsageMetrics(
        voice_seconds=row.seconds, problems=_voice_problems(row.problems, "minutes")
    )


def agent_metrics(row: TelzinoOrgMinutes | None, agent_id: str) -> UsageMetrics:
    """An agent's voice from its organization's row; an agent the row does not list used none,
    unless the row had no usable breakdown at all."""
    if row is None:
        return UsageMetrics(voice_seconds=0)
    if row.agents is None:
        return UsageMetrics(problems=_voice_problems(row.problems, "agents"))
    for agent in row.agents:
        if agent.agent_id == agent_id:
            return UsageMetrics(
                voice_seconds=agent.seconds, problems=_voice_problems(agent.problems, "minutes")
            )
    return UsageMetrics(voice_seconds=0)


def agents_metrics(row: TelzinoOrgMinutes) -> UsageMetrics:
    """What the organization's listed agents account for together (its attributed share)."""
    if row.agents is None:
        return UsageMetrics(problems=_voice_problems(row.problems, "agents"))
    problems = tuple(p for a in row.agents for p in _voice_problems(a.problems, "minutes"))
    return UsageMetrics(
        voice_seconds=sum(a.seconds for a in row.agents if a.seconds is not None),
        problems=problems,
    )


def _voice_problems(row_problems: RowProblems, name: str) -> tuple[Problem, ...]:
    return tuple(("voice_seconds", error) for key, error in row_problems if key == name)

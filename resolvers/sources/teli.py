"""Teli: one tenant per connection (our reseller), its organizations and users."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TypedDict

from usagegraph.clients.decoding import RowProblems
from usagegraph.clients.teli import (
    TeliOrganizationAnalyticsRow,
    TeliSegments,
    TeliUsage,
    TeliUserAnalyticsRow,
    TeliVoice,
)
from usagegraph.resolvers.catalog import (
    DiscoveredOrganization,
    DiscoveredReseller,
    Part,
    SourceDiscovery,
    UserNode,
)
from usagegraph.resolvers.connections import Connection
from usagegraph.resolvers.metrics import Charge, Problem, UsageMetrics
from usagegraph.resolvers.ranges import DayRange

__all__ = [
    "discover",
    "fetch_org_analytics",
    "fetch_usage",
    "fetch_user_analytics",
    "list_users",
    "organization_metrics",
    "usage_metrics",
    "user_metrics",
]

CURRENCY = "USD"  # Teli reports every cost in USD


async def discover(conn: Connection) -> SourceDiscovery:
    organizations = await conn.teli.organizations()
    # the tenant id rides on each organization; a tenant with none is named after the connection
    tenant = next((o.tenant_id for o in organizations if o.tenant_id), None) or conn.name
    return SourceDiscovery(
        source=conn.name,
        kind="teli",
        resellers=(DiscoveredReseller(tenant, None),),
        organizations=tuple(
            DiscoveredOrganization(o.unique_id, o.name, tenant) for o in organizations
        ),
    )


async def list_users(conn: Connection, org_id: str, node_id: str) -> tuple[UserNode, ...]:
    users = await conn.teli.users(org_id)
    return tuple(
        UserNode(
            id=f"{conn.name}:{u.unique_id}",
            name=u.name,
            email=u.email,
            organization_id=node_id,
            part=Part(conn.name, "teli", u.unique_id, u.name),
        )
        for u in users
    )


async def fetch_org_analytics(
    conn: Connection, rng: DayRange
) -> Mapping[str, TeliOrganizationAnalyticsRow]:
    report = await conn.teli.organization_analytics(rng.first, rng.last)
    return {row.organization_unique_id: row for row in report.rows}


async def fetch_user_analytics(
    conn: Connection, org_id: str, rng: DayRange
) -> Mapping[str, TeliUserAnalyticsRow]:
    report = await conn.teli.user_analytics(org_id, rng.first, rng.last)
    return {row.user_unique_id: row for row in report.rows}


async def fetch_usage(
    conn: Connection, subject: str, unique_id: str, rng: DayRange | None
) -> TeliUsage:
    first, last = (rng.first, rng.last) if rng else (None, None)
    if subject == "organization":
        return await conn.teli.usage(organization_id=unique_id, first=first, last=last)
    return await conn.teli.usage(user_id=unique_id, first=first, last=last)


def _usd(amount: Decimal | None) -> tuple[Charge, ...] | None:
    return None if amount is None else (Charge(amount, CURRENCY),)


_NO_SEGMENTS = TeliSegments(outbound=0, inbound=0)
_NO_VOICE = TeliVoice(total_seconds=0, calls=0)

# the client's names for a row's figures -> the metrics they feed (its other fields feed none)
_METRICS_OF: dict[str, tuple[str, ...]] = {
    "voice": ("voice_seconds",),
    "voice_calls": ("voice_calls",),
    "kb_seconds": ("knowledge_base_seconds",),
    "sms": ("sms_inbound_segments", "sms_outbound_segments"),
    "mms": ("mms_inbound_segments", "mms_outbound_segments"),
    "api_requests": ("api_requests",),
    "phone_rentals": ("phone_number_rentals",),
    "phone_purchases": ("phone_number_purchases",),
    "brand_registrations": ("brand_registrations",),
    "kb_count": ("knowledge_bases",),
    "total_cost": ("costs",),
}


def _problems(row_problems: RowProblems) -> tuple[Problem, ...]:
    return tuple(
        (metric, error) for name, error in row_problems for metric in _METRICS_OF.get(name, ())
    )


class _VoiceAndMessaging(TypedDict):
    voice_seconds: int | None
    voice_calls: int | None
    knowledge_base_seconds: int | None
    sms_inbound_segments: int | None
    sms_outbound_segments: int | None
    sms_other_segments: int | None
    mms_inbound_segments: int | None
    mms_outbound_segments: int | None


def _voice_and_messaging(
    voice: TeliVoice | None, sms: TeliSegments | None, mms: TeliSegments | None
) -> _VoiceAndMessaging:
    """The figures every Teli endpoint reports, by their normalized names. Teli splits every
    message by direction, so none is of "other" direction."""
    return {
        "voice_seconds": voice.total_seconds if voice else None,
        "voice_calls": voice.calls if voice else None,
        "knowledge_base_seconds": voice.kb_seconds if voice else None,
        "sms_inbound_segments": sms.inbound if sms else None,
        "sms_outbound_segments": sms.outbound if sms else None,
        "sms_other_segments": 0 if sms else None,
        "mms_inbound_segments": mms.inbound if mms else None,
        "mms_outbound_segments": mms.outbound if mms else None,
    }


def organization_metrics(row: TeliOrganizationAnalyticsRow | None) -> UsageMetrics:
    """An organization the tenant report does not list used nothing in the range."""
    if row is None:
        return zero_metrics()
    return UsageMetrics(
        **_voice_and_messaging(row.voice, row.sms, row.mms),
        api_requests=row.api_requests,
        phone_number_rentals=row.phone_rentals,
        phone_number_purchases=row.phone_purchases,
        brand_registrations=row.brand_registrations,
        knowledge_bases=row.kb_count,
        costs=_usd(row.total_cost),
        problems=_problems(row.problems),
    )


def user_metrics(row: TeliUserAnalyticsRow | None) -> UsageMetrics:
    """A user the organization's report does not list used nothing in the range."""
    if row is None:
        figures = _voice_and_messaging(_NO_VOICE, _NO_SEGMENTS, _NO_SEGMENTS)
        return UsageMetrics(**figures, costs=_usd(Decimal("0")))
    return UsageMetrics(
        **_voice_and_messaging(row.voice, row.sms, row.mms),
        costs=_usd(row.total_cost),
        problems=_problems(row.problems),
    )


def usage_metrics(usage: TeliUsage) -> UsageMetrics:
    """`analytics/usage` counters: messaging and voice only (no costs, no calls)."""
    return UsageMetrics(
        **_voice_and_messaging(usage.voice, usage.sms, usage.mms),
        problems=_problems(usage.problems),
    )


def zero_metrics() -> UsageMetrics:
    return UsageMetrics(
        **_voice_and_messaging(_NO_VOICE, _NO_SEGMENTS, _NO_SEGMENTS),
        api_requests=0,
        phone_number_rentals=0,
        phone_number_purchases=0,
        brand_registrations=0,
        knowledge_bases=0,
        costs=_usd(Decimal("0")),
    )

"""Telzino's large answers as msgspec shapes, for the fast path of clients/bodies.py.

Field names are the vendor's. Only what the reference path requires is typed (the ids rows are
attributed by, the arrays of rows); every other field is `Any`, left UNSET when absent, and
judged by clients/telzino.py's fast functions exactly as `JsonReader` would.
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET, Struct, UnsetType

__all__ = ["AgentInfo", "AgentMinutes", "AgentsPage", "BillingReport", "MinutesReport"]


class AgentMinutes(Struct, gc=False):
    """One `agents[]` item of minutes-by-organization."""

    agent_id: str
    agent_name: Any = UNSET
    voice_minutes: Any = UNSET


class OrgMinutes(Struct, gc=False):
    """One `data[]` row of minutes-by-organization."""

    organization_id: str
    organization_name: Any = UNSET
    reseller_id: Any = UNSET
    reseller_name: Any = UNSET
    total_voice_minutes: Any = UNSET
    agent_count: Any = UNSET
    # missing or null is the row's problem (its reader's); anything else not a list is the body's
    agents: list[AgentMinutes] | UnsetType | None = UNSET


class MinutesReport(Struct, gc=False):
    """`GET /v1/reports/minutes-by-organization`."""

    data: list[OrgMinutes]
    period: Any = UNSET


class BillingRow(Struct, gc=False):
    """One `data[]` row of the billing report."""

    organization_id: str
    organization_name: Any = UNSET
    reseller_id: Any = UNSET
    reseller_name: Any = UNSET
    voice_minutes: Any = UNSET
    agent_count: Any = UNSET


class BillingReport(Struct, gc=False):
    """`GET /v1/billing-report`."""

    data: list[BillingRow]
    period: Any = UNSET


class AgentInfo(Struct, gc=False):
    """One agent of `/v1/agents`."""

    id: str
    organization_id: str
    name: Any = UNSET
    external_id: Any = UNSET
    description: Any = UNSET
    status: Any = UNSET
    is_active: Any = UNSET
    created_at: Any = UNSET
    updated_at: Any = UNSET


class AgentsPage(Struct, gc=False):
    """`GET /v1/agents`: one page."""

    data: list[AgentInfo]
    pagination: Any = UNSET

"""Teli's listings and analytics as msgspec shapes, for the fast path of clients/bodies.py.

Field names are the vendor's. Only the id a row is attributed by and the arrays of rows are typed;
every other field is `Any`, left UNSET when absent, and judged by clients/teli.py's fast
functions exactly as `JsonReader` would. Shapes hold decoded JSON only, which cannot form a
reference cycle: the garbage collector need not track them (`gc=False`).
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET, Struct

__all__ = ["Organizations", "OrganizationsAnalytics", "Users", "UsersAnalytics"]


class _Lifetime(Struct, gc=False):
    """The lifetime counters an organization or a user of the hierarchy endpoints carries."""

    total_sms_outbound: Any = UNSET
    total_sms_inbound: Any = UNSET
    total_mms_outbound: Any = UNSET
    total_mms_inbound: Any = UNSET
    total_voice_seconds: Any = UNSET
    created_at: Any = UNSET


class Organization(_Lifetime, gc=False, kw_only=True):
    """One `organizations[]` item of `/v1/organizations`."""

    unique_id: str
    id: Any = UNSET
    name: Any = UNSET
    organization_name: Any = UNSET
    status: Any = UNSET
    tenant_id: Any = UNSET


class Organizations(Struct, gc=False):
    """`GET /v1/organizations`."""

    organizations: list[Organization]


class User(_Lifetime, gc=False, kw_only=True):
    """One `users[]` item of `/v1/organizations/{org_id}/users`."""

    unique_id: str
    id: Any = UNSET
    name: Any = UNSET
    email: Any = UNSET
    permission: Any = UNSET
    status: Any = UNSET
    organization_id: Any = UNSET


class Users(Struct, gc=False):
    """`GET /v1/organizations/{org_id}/users`."""

    users: list[User]


class _Usage(Struct, gc=False):
    """The counters both analytics rows carry."""

    total_sms_sent: Any = UNSET
    total_sms_received: Any = UNSET
    total_mms_sent: Any = UNSET
    total_mms_received: Any = UNSET
    total_voice_seconds: Any = UNSET
    total_voice_calls: Any = UNSET
    total_cost: Any = UNSET


class OrganizationUsage(_Usage, gc=False, kw_only=True):
    """One `organizations[]` row of `/v1/analytics/organizations`."""

    organization_id: str
    organization_name: Any = UNSET
    users_count: Any = UNSET
    api_requests_count: Any = UNSET
    api_storage_cost: Any = UNSET
    phone_rental_count: Any = UNSET
    phone_purchase_count: Any = UNSET
    brand_registration_count: Any = UNSET
    kb_count: Any = UNSET


class OrganizationsAnalytics(Struct, gc=False):
    """`GET /v1/analytics/organizations`."""

    organizations: list[OrganizationUsage]
    tenant_id: Any = UNSET


class UserUsage(_Usage, gc=False, kw_only=True):
    """One `users[]` row of `/v1/analytics/users`."""

    user_id: str
    user_name: Any = UNSET
    user_email: Any = UNSET
    cost_breakdown: Any = UNSET


class UsersAnalytics(Struct, gc=False):
    """`GET /v1/analytics/users`."""

    users: list[UserUsage]
    organization_id: Any = UNSET
    organization_name: Any = UNSET

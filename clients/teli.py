"""Teli partner API client: tenants' organizations, users and usage, normalized.

One client per configured Teli source (one API key = one tenant). It speaks the endpoints of
upstreams.md section 2 through the shared `SourceTransport` and returns frozen dataclasses:

- `unique_id` (Bubble style) is the key of every org and user; the UUID `id` is kept as `uuid`.
  Teli's `users[].organization_id` holds the org's *UUID*: it is kept as `organization_uuid`, and
  `organization_unique_id` is filled in when the client knows the org (`users()` knows it from its
  argument; `attach_organizations` maps UUIDs for users obtained elsewhere).
- Seconds are ints. `TeliVoice.total_seconds` is all voice, knowledge-base calls included;
  `kb_seconds` is only known from `analytics/usage` (else None).
- SMS/MMS are segments, split into outbound and inbound.
- Money is `Decimal` USD (JSON decoded with `parse_float=Decimal`, so no float ever rounds it).
- `analytics/usage` answers `period: "all_time"` whatever the dates; the client ignores `period`
  and records the window it asked for (`first`/`last`, None for lifetime) instead.

Required fields that are missing or mistyped raise `UpstreamContractError` with a JSON path;
extra fields are ignored and `powered_by` is optional.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from clients.decoding import JsonReader, join_path
from clients.transport import ApiKeyAuth, SourceTransport, join_url

__all__ = [
    "DEFAULT_BASE_URL",
    "TeliAgent",
    "TeliClient",
    "TeliOrganization",
    "TeliOrganizationAnalytics",
    "TeliOrganizationAnalyticsRow",
    "TeliSegments",
    "TeliUsage",
    "TeliUser",
    "TeliUserAnalytics",
    "TeliUserAnalyticsRow",
    "TeliVoice",
    "attach_organizations",
    "teli_auth",
]

DEFAULT_BASE_URL = "https://api.teli.ai"
API_KEY_HEADER = "X-API-Key"

EP_ORGANIZATIONS = "GET /v1/organizations"
EP_USERS = "GET /v1/organizations/{org_id}/users"
EP_ORG_ANALYTICS = "GET /v1/analytics/organizations"
EP_USER_ANALYTICS = "GET /v1/analytics/users"
EP_USAGE = "GET /v1/analytics/usage"
EP_AGENTS = "GET /v1/agents"


def teli_auth(api_key: str) -> ApiKeyAuth:
    """The `X-API-Key` header auth every Teli endpoint wants."""
    return ApiKeyAuth(API_KEY_HEADER, api_key)


# -- models ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeliSegments:
    """SMS or MMS segments (not messages)."""

    outbound: int
    inbound: int

    @property
    def total(self) -> int:
        return self.outbound + self.inbound


@dataclass(frozen=True)
class TeliVoice:
    """Voice seconds; `total_seconds` includes knowledge-base (KB) calls."""

    total_seconds: int
    kb_seconds: int | None = None  # only analytics/usage reports it
    calls: int | None = None  # only the analytics endpoints report it

    @property
    def regular_seconds(self) -> int | None:
        """Voice without KB calls, when the KB share is known."""
        return None if self.kb_seconds is None else self.total_seconds - self.kb_seconds


@dataclass(frozen=True)
class TeliOrganization:
    """An organization of the tenant, with its lifetime counters when Teli sends them."""

    unique_id: str
    uuid: str
    name: str
    status: str
    tenant_id: str | None
    sms: TeliSegments | None
    mms: TeliSegments | None
    voice_seconds: int | None  # lifetime, KB included
    created_at: datetime | None


@dataclass(frozen=True)
class TeliUser:
    """A user of one organization, with lifetime counters when Teli sends them."""

    unique_id: str
    uuid: str
    name: str
    email: str | None
    permission: str | None
    status: str | None
    organization_uuid: str | None  # as sent in `organization_id`
    organization_unique_id: str | None  # filled when the client knows the org
    sms: TeliSegments | None
    mms: TeliSegments | None
    voice_seconds: int | None  # lifetime, KB included
    created_at: datetime | None


@dataclass(frozen=True)
class TeliAgent:
    """An AI agent of an organization (usage is tracked per user, not per agent)."""

    unique_id: str
    name: str
    agent_type: str | None
    status: str | None
    organization_unique_id: str
    created_by_user_unique_id: str | None


@dataclass(frozen=True)
class TeliOrganizationAnalyticsRow:
    """One organization's usage and cost over the asked window."""

    organization_unique_id: str
    name: str
    users_count: int
    sms: TeliSegments
    mms: TeliSegments
    voice: TeliVoice  # kb_seconds None: this endpoint folds KB into total_voice_seconds
    api_requests: int
    api_storage_cost: Decimal
    phone_rentals: int
    phone_purchases: int
    brand_registrations: int
    kb_count: int
    total_cost: Decimal


@dataclass(frozen=True)
class TeliOrganizationAnalytics:
    """`analytics/organizations` for one tenant and inclusive day window."""

    tenant_id: str
    first: date
    last: date
    rows: tuple[TeliOrganizationAnalyticsRow, ...]


@dataclass(frozen=True)
class TeliUserAnalyticsRow:
    """One user's usage and cost over the asked window.

    `cost_sms`/`cost_mms` come from a `{sms, mms, voice}` breakdown; a breakdown that only has
    `messaging_cost`/`voice_cost` (the shape on Teli's docs page) leaves them None.
    """

    user_unique_id: str
    name: str
    email: str | None
    sms: TeliSegments
    mms: TeliSegments
    voice: TeliVoice
    cost_messaging: Decimal
    cost_sms: Decimal | None
    cost_mms: Decimal | None
    cost_voice: Decimal
    total_cost: Decimal


@dataclass(frozen=True)
class TeliUserAnalytics:
    """`analytics/users` for one organization and inclusive day window."""

    organization_unique_id: str
    organization_name: str
    first: date
    last: date
    rows: tuple[TeliUserAnalyticsRow, ...]


@dataclass(frozen=True)
class TeliUsage:
    """`analytics/usage` for one organization or one user.

    `first`/`last` are the inclusive UTC days asked for, both None for lifetime (all-time).
    """

    organization_unique_id: str | None
    user_unique_id: str | None
    name: str
    email: str | None
    sms: TeliSegments
    mms: TeliSegments
    voice: TeliVoice  # kb_seconds always known here
    first: date | None
    last: date | None


def attach_organizations(
    users: Iterable[TeliUser], organizations: Iterable[TeliOrganization]
) -> tuple[TeliUser, ...]:
    """Users with `organization_unique_id` set from their org UUID where the org is known."""
    by_uuid = {o.uuid: o.unique_id for o in organizations}
    return tuple(
        replace(u, organization_unique_id=by_uuid[u.organization_uuid])
        if u.organization_unique_id is None and u.organization_uuid in by_uuid
        else u
        for u in users
    )


# -- decoding -------------------------------------------------------------------------------------


def _segments(
    r: JsonReader, obj: Mapping[str, Any], out_key: str, in_key: str, path: str
) -> TeliSegments:
    return TeliSegments(
        outbound=r.integer(obj, out_key, path), inbound=r.integer(obj, in_key, path)
    )


def _segments_or_none(
    r: JsonReader, obj: Mapping[str, Any], out_key: str, in_key: str, path: str
) -> TeliSegments | None:
    """Lifetime counters: None unless Teli sent both directions."""
    outbound = r.integer_or_none(obj, out_key, path)
    inbound = r.integer_or_none(obj, in_key, path)
    if outbound is None or inbound is None:
        return None
    return TeliSegments(outbound=outbound, inbound=inbound)


def _rows(r: JsonReader, body: Any, key: str) -> list[tuple[str, Mapping[str, Any]]]:
    """The objects of a top-level array, each with its JSON path."""
    return r.objects(r.obj(body, ""), key, "")


# -- client ---------------------------------------------------------------------------------------


class TeliClient:
    """The Teli partner API of one tenant (one API key), on a shared transport."""

    def __init__(self, transport: SourceTransport, *, base_url: str = DEFAULT_BASE_URL) -> None:
        self._transport = transport
        self._base_url = base_url  # may carry a path prefix (partner.teli.ai/api/proxy)

    @property
    def source(self) -> str:
        return self._transport.source

    async def _get(
        self, path: str, endpoint: str, params: Sequence[tuple[str, str]] = ()
    ) -> tuple[JsonReader, Any]:
        body = await self._transport.get_json(
            join_url(self._base_url, path),
            endpoint=endpoint,
            params=list(params) or None,
            parse_float=Decimal,
        )
        return JsonReader(self.source, endpoint), body

    async def organizations(self) -> tuple[TeliOrganization, ...]:
        """Every organization of the tenant (not paginated)."""
        r, body = await self._get("/v1/organizations", EP_ORGANIZATIONS)
        return tuple(_organization(r, row, path) for path, row in _rows(r, body, "organizations"))

    async def users(self, organization_unique_id: str) -> tuple[TeliUser, ...]:
        """The users of one organization (by its `unique_id`), tagged with that org."""
        path = f"/v1/organizations/{quote(organization_unique_id, safe='')}/users"
        r, body = await self._get(path, EP_USERS)
        return tuple(
            _user(r, row, where, organization_unique_id) for where, row in _rows(r, body, "users")
        )

    async def agents(self, organization_unique_id: str) -> tuple[TeliAgent, ...]:
        """The AI agents of one organization."""
        params = [("organization_id", organization_unique_id)]
        r, body = await self._get("/v1/agents", EP_AGENTS, params)
        return tuple(
            _agent(r, row, where, organization_unique_id) for where, row in _rows(r, body, "agents")
        )

    async def organization_analytics(self, first: date, last: date) -> TeliOrganizationAnalytics:
        """Usage and cost of every organization over inclusive UTC days first..last."""
        _check_window(first, last)
        params = [("start_date", first.isoformat()), ("end_date", last.isoformat())]
        r, body = await self._get("/v1/analytics/organizations", EP_ORG_ANALYTICS, params)
        tenant_id = r.text(r.obj(body, ""), "tenant_id", "")
        rows = tuple(_org_row(r, row, path) for path, row in _rows(r, body, "organizations"))
        return TeliOrganizationAnalytics(tenant_id=tenant_id, first=first, last=last, rows=rows)

    async def user_analytics(
        self, organization_unique_id: str, first: date, last: date
    ) -> TeliUserAnalytics:
        """Usage and cost of each user of one organization over inclusive UTC days."""
        _check_window(first, last)
        params = [
            ("organization_id", organization_unique_id),
            ("start_date", first.isoformat()),
            ("end_date", last.isoformat()),
        ]
        r, body = await self._get("/v1/analytics/users", EP_USER_ANALYTICS, params)
        top = r.obj(body, "")
        org_id = r.text_or_none(top, "organization_id", "") or organization_unique_id
        return TeliUserAnalytics(
            organization_unique_id=org_id,
            organization_name=r.text_or_none(top, "organization_name", "") or org_id,
            first=first,
            last=last,
            rows=tuple(_user_row(r, row, path) for path, row in _rows(r, body, "users")),
        )

    async def usage(
        self,
        *,
        organization_id: str | None = None,
        user_id: str | None = None,
        first: date | None = None,
        last: date | None = None,
    ) -> TeliUsage:
        """SMS/MMS segments and voice seconds of one organization or one user (by `unique_id`).

        With `first`/`last` the window is those inclusive UTC days (sent as
        `<first>T00:00:00Z`..`<last>T23:59:59Z`); with neither, lifetime counters.
        """
        if (organization_id is None) == (user_id is None):
            raise ValueError("usage() needs exactly one of organization_id or user_id")
        if (first is None) != (last is None):
            raise ValueError("usage() needs both first and last, or neither (lifetime)")
        params: list[tuple[str, str]] = (
            [("organization_id", organization_id)]
            if organization_id is not None
            else [("user_id", user_id or "")]
        )
        if first is not None and last is not None:
            _check_window(first, last)
            params += [
                ("start_date", f"{first.isoformat()}T00:00:00Z"),
                ("end_date", f"{last.isoformat()}T23:59:59Z"),
            ]
        r, body = await self._get("/v1/analytics/usage", EP_USAGE, params)
        usage = r.child(r.obj(body, ""), "usage", "")
        if organization_id is not None:
            subject_org: str | None = r.text(usage, "organization_id", "usage")
            subject_user: str | None = None
            name = r.text_or_none(usage, "organization_name", "usage") or subject_org or ""
            email = None
        else:
            subject_org = None
            subject_user = r.text(usage, "user_id", "usage")
            name = r.text_or_none(usage, "user_name", "usage") or subject_user
            email = r.text_or_none(usage, "user_email", "usage")
        sms = r.child(usage, "sms", "usage")
        mms = r.child(usage, "mms", "usage")
        voice = r.child(usage, "voice", "usage")
        return TeliUsage(
            organization_unique_id=subject_org,
            user_unique_id=subject_user,
            name=name,
            email=email,
            sms=_segments(r, sms, "outbound", "inbound", "usage.sms"),
            mms=_segments(r, mms, "outbound", "inbound", "usage.mms"),
            voice=TeliVoice(
                total_seconds=r.integer(voice, "total_seconds", "usage.voice"),
                kb_seconds=r.integer(voice, "kb_seconds", "usage.voice"),
            ),
            first=first,
            last=last,
        )


def _check_window(first: date, last: date) -> None:
    if last < first:
        raise ValueError(f"empty window: last ({last}) is before first ({first})")


def _organization(r: JsonReader, row: Mapping[str, Any], path: str) -> TeliOrganization:
    unique_id = r.text(row, "unique_id", path)
    name = r.text_or_none(row, "name", path) or r.text_or_none(row, "organization_name", path)
    return TeliOrganization(
        unique_id=unique_id,
        uuid=r.text(row, "id", path),
        name=name or unique_id,
        status=r.text(row, "status", path),
        tenant_id=r.text_or_none(row, "tenant_id", path),
        sms=_segments_or_none(r, row, "total_sms_outbound", "total_sms_inbound", path),
        mms=_segments_or_none(r, row, "total_mms_outbound", "total_mms_inbound", path),
        voice_seconds=r.integer_or_none(row, "total_voice_seconds", path),
        created_at=r.timestamp_or_none(row, "created_at", path),
    )


def _user(r: JsonReader, row: Mapping[str, Any], path: str, org_unique_id: str) -> TeliUser:
    unique_id = r.text(row, "unique_id", path)
    return TeliUser(
        unique_id=unique_id,
        uuid=r.text(row, "id", path),
        name=r.text_or_none(row, "name", path) or unique_id,
        email=r.text_or_none(row, "email", path),
        permission=r.text_or_none(row, "permission", path),
        status=r.text_or_none(row, "status", path),
        organization_uuid=r.text_or_none(row, "organization_id", path),
        organization_unique_id=org_unique_id,
        sms=_segments_or_none(r, row, "total_sms_outbound", "total_sms_inbound", path),
        mms=_segments_or_none(r, row, "total_mms_outbound", "total_mms_inbound", path),
        voice_seconds=r.integer_or_none(row, "total_voice_seconds", path),
        created_at=r.timestamp_or_none(row, "created_at", path),
    )


def _agent(r: JsonReader, row: Mapping[str, Any], path: str, org_unique_id: str) -> TeliAgent:
    unique_id = r.text(row, "agent_id", path)
    return TeliAgent(
        unique_id=unique_id,
        name=r.text_or_none(row, "agent_name", path) or unique_id,
        agent_type=r.text_or_none(row, "agent_type", path),
        status=r.text_or_none(row, "agent_status", path),
        organization_unique_id=org_unique_id,
        created_by_user_unique_id=r.text_or_none(row, "created_by_user_id", path),
    )


def _org_row(r: JsonReader, row: Mapping[str, Any], path: str) -> TeliOrganizationAnalyticsRow:
    unique_id = r.text(row, "organization_id", path)
    return TeliOrganizationAnalyticsRow(
        organization_unique_id=unique_id,
        name=r.text_or_none(row, "organization_name", path) or unique_id,
        users_count=r.integer(row, "users_count", path),
        sms=_segments(r, row, "total_sms_sent", "total_sms_received", path),
        mms=_segments(r, row, "total_mms_sent", "total_mms_received", path),
        voice=TeliVoice(
            total_seconds=r.integer(row, "total_voice_seconds", path),
            calls=r.integer(row, "total_voice_calls", path),
        ),
        api_requests=r.integer(row, "api_requests_count", path),
        api_storage_cost=r.number(row, "api_storage_cost", path),
        phone_rentals=r.integer(row, "phone_rental_count", path),
        phone_purchases=r.integer(row, "phone_purchase_count", path),
        brand_registrations=r.integer(row, "brand_registration_count", path),
        kb_count=r.integer(row, "kb_count", path),
        total_cost=r.number(row, "total_cost", path),
    )


def _user_row(r: JsonReader, row: Mapping[str, Any], path: str) -> TeliUserAnalyticsRow:
    unique_id = r.text(row, "user_id", path)
    where = join_path(path, "cost_breakdown")
    costs = r.child(row, "cost_breakdown", path)
    cost_sms: Decimal | None = None
    cost_mms: Decimal | None = None
    if "sms" in costs or "mms" in costs:
        sms, mms = r.number(costs, "sms", where), r.number(costs, "mms", where)
        cost_sms, cost_mms, cost_messaging = sms, mms, sms + mms
        cost_voice = r.number(costs, "voice", where)
    else:  # the shape on Teli's docs page: one messaging figure
        cost_messaging = r.number(costs, "messaging_cost", where)
        cost_voice = r.number(costs, "voice_cost", where)
    return TeliUserAnalyticsRow(
        user_unique_id=unique_id,
        name=r.text_or_none(row, "user_name", path) or unique_id,
        email=r.text_or_none(row, "user_email", path),
        sms=_segments(r, row, "total_sms_sent", "total_sms_received", path),
        mms=_segments(r, row, "total_mms_sent", "total_mms_received", path),
        voice=TeliVoice(
            total_seconds=r.integer(row, "total_voice_seconds", path),
            calls=r.integer(row, "total_voice_calls", path),
        ),
        cost_messaging=cost_messaging,
        cost_sms=cost_sms,
        cost_mms=cost_mms,
        cost_voice=cost_voice,
        total_cost=r.number(row, "total_cost", path),
    )

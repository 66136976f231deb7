"""Teli partner API client: tenants' organizations, users and usage, normalized.

One client per configured Teli source (one API key = one tenant). It speaks the endpoints of
docs/vendors.md (Teli) through the shared `SourceTransport` and returns frozen dataclasses:

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

Reads are tolerant (docs/vendors.md): the ids a row is attributed by are required (a missing
one raises `UpstreamContractError` with a JSON path); a figure that is missing or mistyped is None
with its problem kept on the row (`problems`, keyed by the model field it spoils); texts, the
tenant id, statuses and the users' `cost_breakdown` feed no figure and may be absent. Extra
fields are ignored and `powered_by` is optional.

Teli serves `analytics/usage` from its partner proxy (`https://partner.teli.ai/api/proxy`, seed
003) and everything else from `https://api.teli.ai`: the client takes both (`usage_url`
defaults to `base_url`, which then serves both).

The tolerant readers are the reference; the listings and analytics also have fast functions over
msgspec shapes (clients/teli_shapes.py, clients/bodies.py) that leave any row or body they cannot
judge to those readers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

from usagegraph.clients import teli_shapes as shapes
from usagegraph.clients.auth import ApiKeyAuth
from usagegraph.clients.bodies import (
    Body,
    Unusual,
    frozen_maker,
    integer,
    label,
    number,
    read_rows,
)
from usagegraph.clients.decoding import (
    NO_PROBLEMS,
    JsonReader,
    Problems,
    RowProblems,
    join_path,
    moment_of,
)
from usagegraph.clients.transport import SourceTransport
from usagegraph.clients.urls import join_url

__all__ = [
    "BODIES",
    "DEFAULT_BASE_URL",
    "DEFAULT_USAGE_URL",
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
DEFAULT_USAGE_URL = "https://partner.teli.ai/api/proxy"
API_KEY_HEADER = "X-API-Key"

T = TypeVar("T")

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
    uuid: str | None  # joins users to it (their `organization_id` holds it)
    name: str
    status: str | None
    tenant_id: str | None
    sms: TeliSegments | None
    mms: TeliSegments | None
    voice_seconds: int | None  # lifetime, KB included
    created_at: datetime | None


@dataclass(frozen=True)
class TeliUser:
    """A user of one organization, with lifetime counters when Teli sends them."""

    unique_id: str
    uuid: str | None
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
    """One organization's usage and cost over the asked window.

    A figure Teli left out or mistyped is None, with why in `problems` under the field's name
    (`voice` stands for `total_voice_seconds`, `voice_calls` for `total_voice_calls`).
    """

    organization_unique_id: str
    name: str
    users_count: int | None
    sms: TeliSegments | None
    mms: TeliSegments | None
    voice: TeliVoice | None  # kb_seconds None: this endpoint folds KB into total_voice_seconds
    api_requests: int | None
    api_storage_cost: Decimal | None
    phone_rentals: int | None
    phone_purchases: int | None
    brand_registrations: int | None
    kb_count: int | None
    total_cost: Decimal | None
    problems: RowProblems = field(default=NO_PROBLEMS, compare=False)


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
    `messaging_cost`/`voice_cost` (the shape on Teli's docs page) leaves them None, and a row
    without a breakdown leaves all four None (they feed no figure: `total_cost` is the cost).
    Figures left out or mistyped are None with why in `problems`, as on organization rows.
    """

    user_unique_id: str
    name: str
    email: str | None
    sms: TeliSegments | None
    mms: TeliSegments | None
    voice: TeliVoice | None
    cost_messaging: Decimal | None
    cost_sms: Decimal | None
    cost_mms: Decimal | None
    cost_voice: Decimal | None
    total_cost: Decimal | None
    problems: RowProblems = field(default=NO_PROBLEMS, compare=False)


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
    A figure left out or mistyped is None with why in `problems` (`sms`, `mms`, `voice`,
    `kb_seconds`).
    """

    organization_unique_id: str | None
    user_unique_id: str | None
    name: str
    email: str | None
    sms: TeliSegments | None
    mms: TeliSegments | None
    voice: TeliVoice | None  # kb_seconds known here unless it is a problem
    first: date | None
    last: date | None
    problems: RowProblems = field(default=NO_PROBLEMS, compare=False)


def attach_organizations(
    users: Iterable[TeliUser], organizations: Iterable[TeliOrganization]
) -> tuple[TeliUser, ...]:
    """Users with `organization_unique_id` set from their org UUID where the org is known."""
    by_uuid = {o.uuid: o.unique_id for o in organizations if o.uuid is not None}
    return tuple(
        replace(u, organization_unique_id=by_uuid[u.organization_uuid])
        if u.organization_unique_id is None
        and u.organization_uuid is not None
        and u.organization_uuid in by_uuid
        else u
        for u in users
    )


# -- decoding -------------------------------------------------------------------------------------


def _segments(
    r: JsonReader,
    obj: Mapping[str, Any],
    out_key: str,
    in_key: str,
    path: str,
    problems: Problems,
    name: str,
) -> TeliSegments | None:
    """Both directions, or None with a problem under `name` when either is unusable (the two
    make one figure)."""
    outbound = r.soft_integer(obj, out_key, path, problems, name)
    inbound = r.soft_integer(obj, in_key, path, problems, name)
    if outbound is None or inbound is None:
        return None
    return TeliSegments(outbound=outbound, inbound=inbound)


def _lifetime_segments(
    r: JsonReader, obj: Mapping[str, Any], out_key: str, in_key: str, path: str
) -> TeliSegments | None:
    """Lifetime counters on the hierarchy endpoints, which feed no figure: None unless Teli
    sent both directions as integers."""
    ignored: Problems = {}
    outbound = r.soft_integer(obj, out_key, path, ignored)
    inbound = r.soft_integer(obj, in_key, path, ignored)
    if outbound is None or inbound is None:
        return None
    return TeliSegments(outbound=outbound, inbound=inbound)


def _rows(r: JsonReader, body: Any, key: str) -> list[tuple[str, Mapping[str, Any]]]:
    """The objects of a top-level array, each with its JSON path."""
    return r.objects(r.obj(body, ""), key, "")


# -- client ---------------------------------------------------------------------------------------


class TeliClient:
    """The Teli partner API of one tenant (one API key), on a shared transport."""

    def __init__(
        self,
        transport: SourceTransport,
        *,
        base_url: str = DEFAULT_BASE_URL,
        usage_url: str | None = None,
    ) -> None:
        self._transport = transport
        self._base_url = base_url  # may carry a path prefix
        # analytics/usage's host: the partner proxy (partner.teli.ai/api/proxy) in Teli's docs
        self._usage_url = usage_url or base_url

    @property
    def source(self) -> str:
        return self._transport.source

    async def _get(
        self,
        path: str,
        endpoint: str,
        body: Body[Any, T],
        params: Sequence[tuple[str, str]] = (),
        *context: Any,
        base_url: str | None = None,
    ) -> T:
        response = await self._transport.request(
            "GET",
            join_url(base_url or self._base_url, path),
            endpoint=endpoint,
            params=list(params) or None,
        )
        reader = JsonReader(self.source, endpoint)
        return body.decode(reader, response.content, response.status_code, *context)

    async def organizations(self) -> tuple[TeliOrganization, ...]:
        """Every organization of the tenant (not paginated)."""
        return await self._get("/v1/organizations", EP_ORGANIZATIONS, _ORGANIZATIONS)

    async def users(self, organization_unique_id: str) -> tuple[TeliUser, ...]:
        """The users of one organization (by its `unique_id`), tagged with that org."""
        path = f"/v1/organizations/{quote(organization_unique_id, safe='')}/users"
        return await self._get(path, EP_USERS, _USERS, (), organization_unique_id)

    async def agents(self, organization_unique_id: str) -> tuple[TeliAgent, ...]:
        """The AI agents of one organization."""
        params = [("organization_id", organization_unique_id)]
        return await self._get("/v1/agents", EP_AGENTS, _AGENTS, params, organization_unique_id)

    async def organization_analytics(self, first: date, last: date) -> TeliOrganizationAnalytics:
        """Usage and cost of every organization over inclusive UTC days first..last."""
        _check_window(first, last)
        params = [("start_date", first.isoformat()), ("end_date", last.isoformat())]
        tenant_id, rows = await self._get(
            "/v1/analytics/organizations", EP_ORG_ANALYTICS, _ORGANIZATIONS_ANALYTICS, params
        )
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
        org_id, org_name, rows = await self._get(
            "/v1/analytics/users",
            EP_USER_ANALYTICS,
            _USERS_ANALYTICS,
            params,
            organization_unique_id,
        )
        return TeliUserAnalytics(
            organization_unique_id=org_id,
            organization_name=org_name,
            first=first,
            last=last,
            rows=rows,
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
        return await self._get(
            "/v1/analytics/usage",
            EP_USAGE,
            _USAGE,
            params,
            organization_id is not None,
            first,
            last,
            base_url=self._usage_url,
        )


def _check_window(first: date, last: date) -> None:
    if last < first:
        raise ValueError(f"empty window: last ({last}) is before first ({first})")


def _usage(
    r: JsonReader, body: Any, by_organization: bool, first: date | None, last: date | None
) -> TeliUsage:
    """`analytics/usage` of an organization (`by_organization`) or of a user."""
    usage = r.child(r.obj(body, ""), "usage", "")
    if by_organization:
        subject_org: str | None = r.text(usage, "organization_id", "usage")
        subject_user: str | None = None
        name = r.label(usage, "organization_name") or subject_org or ""
        email = None
    else:
        subject_org = None
        subject_user = r.text(usage, "user_id", "usage")
        name = r.label(usage, "user_name") or subject_user or ""
        email = r.label(usage, "user_email")
    problems: Problems = {}
    sms = r.soft_child(usage, "sms", "usage", problems)
    mms = r.soft_child(usage, "mms", "usage", problems)
    voice = r.soft_child(usage, "voice", "usage", problems)
    total_seconds = r.soft_integer(voice, "total_seconds", "usage.voice", problems, "voice")
    kb_seconds = r.soft_integer(voice, "kb_seconds", "usage.voice", problems)
    return TeliUsage(
        organization_unique_id=subject_org,
        user_unique_id=subject_user,
        name=name,
        email=email,
        sms=_segments(r, sms, "outbound", "inbound", "usage.sms", problems, "sms"),
        mms=_segments(r, mms, "outbound", "inbound", "usage.mms", problems, "mms"),
        voice=None
        if total_seconds is None
        else TeliVoice(total_seconds=total_seconds, kb_seconds=kb_seconds),
        first=first,
        last=last,
        problems=tuple(problems.items()),
    )


def _organization(r: JsonReader, row: Mapping[str, Any], path: str) -> TeliOrganization:
    unique_id = r.text(row, "unique_id", path)
    return TeliOrganization(
        unique_id=unique_id,
        uuid=r.label(row, "id"),
        name=r.label(row, "name") or r.label(row, "organization_name") or unique_id,
        status=r.label(row, "status"),
        tenant_id=r.label(row, "tenant_id"),
        sms=_lifetime_segments(r, row, "total_sms_outbound", "total_sms_inbound", path),
        mms=_lifetime_segments(r, row, "total_mms_outbound", "total_mms_inbound", path),
        voice_seconds=r.soft_integer(row, "total_voice_seconds", path, {}),
        created_at=r.moment(row, "created_at"),
    )


def _user(r: JsonReader, row: Mapping[str, Any], path: str, org_unique_id: str) -> TeliUser:
    unique_id = r.text(row, "unique_id", path)
    return TeliUser(
        unique_id=unique_id,
        uuid=r.label(row, "id"),
        name=r.label(row, "name") or unique_id,
        email=r.label(row, "email"),
        permission=r.label(row, "permission"),
        status=r.label(row, "status"),
        organization_uuid=r.label(row, "organization_id"),
        organization_unique_id=org_unique_id,
        sms=_lifetime_segments(r, row, "total_sms_outbound", "total_sms_inbound", path),
        mms=_lifetime_segments(r, row, "total_mms_outbound", "total_mms_inbound", path),
        voice_seconds=r.soft_integer(row, "total_voice_seconds", path, {}),
        created_at=r.moment(row, "created_at"),
    )


def _agent(r: JsonReader, row: Mapping[str, Any], path: str, org_unique_id: str) -> TeliAgent:
    unique_id = r.text(row, "agent_id", path)
    return TeliAgent(
        unique_id=unique_id,
        name=r.label(row, "agent_name") or unique_id,
        agent_type=r.label(row, "agent_type"),
        status=r.label(row, "agent_status"),
        organization_unique_id=org_unique_id,
        created_by_user_unique_id=r.label(row, "created_by_user_id"),
    )


def _voice(
    r: JsonReader, row: Mapping[str, Any], path: str, problems: Problems
) -> TeliVoice | None:
    """`total_voice_seconds` (KB included) with `total_voice_calls`; None when the seconds are
    unusable (a problem under `voice`); unusable calls are a problem under `voice_calls`."""
    seconds = r.soft_integer(row, "total_voice_seconds", path, problems, "voice")
    calls = r.soft_integer(row, "total_voice_calls", path, problems, "voice_calls")
    return None if seconds is None else TeliVoice(total_seconds=seconds, calls=calls)


def _org_row(r: JsonReader, row: Mapping[str, Any], path: str) -> TeliOrganizationAnalyticsRow:
    unique_id = r.text(row, "organization_id", path)
    problems: Problems = {}
    return TeliOrganizationAnalyticsRow(
        organization_unique_id=unique_id,
        name=r.label(row, "organization_name") or unique_id,
        users_count=r.soft_integer(row, "users_count", path, problems),
        sms=_segments(r, row, "total_sms_sent", "total_sms_received", path, problems, "sms"),
        mms=_segments(r, row, "total_mms_sent", "total_mms_received", path, problems, "mms"),
        voice=_voice(r, row, path, problems),
        api_requests=r.soft_integer(row, "api_requests_count", path, problems, "api_requests"),
        api_storage_cost=r.soft_number(row, "api_storage_cost", path, problems),
        phone_rentals=r.soft_integer(row, "phone_rental_count", path, problems, "phone_rentals"),
        phone_purchases=r.soft_integer(
            row, "phone_purchase_count", path, problems, "phone_purchases"
        ),
        brand_registrations=r.soft_integer(
            row, "brand_registration_count", path, problems, "brand_registrations"
        ),
        kb_count=r.soft_integer(row, "kb_count", path, problems),
        total_cost=r.soft_number(row, "total_cost", path, problems),
        problems=tuple(problems.items()),
    )


def _cost_breakdown(
    r: JsonReader, row: Mapping[str, Any], path: str
) -> tuple[Decimal | None, Decimal | None, Decimal | None, Decimal | None]:
    """(messaging, sms, mms, voice) from `cost_breakdown` in either shape Teli uses; all None
    when it is absent. It feeds no figure (`total_cost` is the cost), so nothing fails."""
    costs = row.get("cost_breakdown")
    if not isinstance(costs, Mapping):
        return None, None, None, None
    ignored: Problems = {}
    where = join_path(path, "cost_breakdown")
    if "sms" in costs or "mms" in costs:
        sms = r.soft_number(costs, "sms", where, ignored)
        mms = r.soft_number(costs, "mms", where, ignored)
        messaging = None if sms is None or mms is None else sms + mms
        return messaging, sms, mms, r.soft_number(costs, "voice", where, ignored)
    # the shape on Teli's docs page: one messaging figure
    messaging = r.soft_number(costs, "messaging_cost", where, ignored)
    return messaging, None, None, r.soft_number(costs, "voice_cost", where, ignored)


def _user_row(r: JsonReader, row: Mapping[str, Any], path: str) -> TeliUserAnalyticsRow:
    unique_id = r.text(row, "user_id", path)
    problems: Problems = {}
    messaging, sms_cost, mms_cost, voice_cost = _cost_breakdown(r, row, path)
    return TeliUserAnalyticsRow(
        user_unique_id=unique_id,
        name=r.label(row, "user_name") or unique_id,
        email=r.label(row, "user_email"),
        sms=_segments(r, row, "total_sms_sent", "total_sms_received", path, problems, "sms"),
        mms=_segments(r, row, "total_mms_sent", "total_mms_received", path, problems, "mms"),
        voice=_voice(r, row, path, problems),
        cost_messaging=messaging,
        cost_sms=sms_cost,
        cost_mms=mms_cost,
        cost_voice=voice_cost,
        total_cost=r.soft_number(row, "total_cost", path, problems),
        problems=tuple(problems.items()),
    )


# -- whole bodies, read tolerantly ---------------------------------------------------------------


def _organizations(r: JsonReader, body: Any) -> tuple[TeliOrganization, ...]:
    return tuple(_organization(r, row, path) for path, row in _rows(r, body, "organizations"))


def _users(r: JsonReader, body: Any, org_unique_id: str) -> tuple[TeliUser, ...]:
    return tuple(_user(r, row, path, org_unique_id) for path, row in _rows(r, body, "users"))


def _agents(r: JsonReader, body: Any, org_unique_id: str) -> tuple[TeliAgent, ...]:
    return tuple(_agent(r, row, path, org_unique_id) for path, row in _rows(r, body, "agents"))


OrganizationsAnalytics = tuple[str, tuple[TeliOrganizationAnalyticsRow, ...]]
UsersAnalytics = tuple[str, str, tuple[TeliUserAnalyticsRow, ...]]


def _organizations_analytics(r: JsonReader, body: Any) -> OrganizationsAnalytics:
    """(tenant id, rows) of `analytics/organizations`."""
    tenant_id = r.label(r.obj(body, ""), "tenant_id") or ""
    return tenant_id, tuple(_org_row(r, row, path) for path, row in _rows(r, body, "organizations"))


def _users_analytics(r: JsonReader, body: Any, org_unique_id: str) -> UsersAnalytics:
    """(organization id, its name, rows) of `analytics/users`; the id asked for when the body
    does not say it."""
    top = r.obj(body, "")
    org_id = r.label(top, "organization_id") or org_unique_id
    org_name = r.label(top, "organization_name") or org_id
    return org_id, org_name, tuple(_user_row(r, row, path) for path, row in _rows(r, body, "users"))


# -- the fast path (clients/bodies.py): the same models from msgspec shapes -----------------------

_make_segments = frozen_maker(TeliSegments)
_make_voice = frozen_maker(TeliVoice)
_make_organization = frozen_maker(TeliOrganization)
_make_user = frozen_maker(TeliUser)
_make_org_row = frozen_maker(TeliOrganizationAnalyticsRow)
_make_user_row = frozen_maker(TeliUserAnalyticsRow)


def _fast_segments(outbound: Any, inbound: Any) -> TeliSegments:
    """`_segments` of two well-formed counters."""
    return _make_segments({"outbound": integer(outbound), "inbound": integer(inbound)})


def _fast_voice(seconds: Any, calls: Any) -> TeliVoice:
    """`_voice` of well-formed seconds and calls."""
    return _make_voice(
        {"total_seconds": integer(seconds), "kb_seconds": None, "calls": integer(calls)}
    )


def _fast_lifetime_count(value: Any) -> int | None:
    """A lifetime counter as `soft_integer` reads it with its problems ignored: an int, or None
    for anything but a number (a Decimal may be integral: the tolerant reader's call)."""
    if type(value) is int:
        return value
    if type(value) is Decimal:
        raise Unusual
    return None


def _fast_lifetime(outbound: Any, inbound: Any) -> TeliSegments | None:
    """`_lifetime_segments`: both counters, or None when either reads as None."""
    outbound, inbound = _fast_lifetime_count(outbound), _fast_lifetime_count(inbound)
    if outbound is None or inbound is None:
        return None
    return _make_segments({"outbound": outbound, "inbound": inbound})


def _fast_organization(row: shapes.Organization) -> TeliOrganization:
    unique_id = row.unique_id
    return _make_organization(
        {
            "unique_id": unique_id,
            "uuid": label(row.id),
            "name": label(row.name) or label(row.organization_name) or unique_id,
            "status": label(row.status),
            "tenant_id": label(row.tenant_id),
            "sms": _fast_lifetime(row.total_sms_outbound, row.total_sms_inbound),
            "mms": _fast_lifetime(row.total_mms_outbound, row.total_mms_inbound),
            "voice_seconds": _fast_lifetime_count(row.total_voice_seconds),
            "created_at": moment_of(row.created_at),
        }
    )


def _fast_user(row: shapes.User, org_unique_id: str) -> TeliUser:
    unique_id = row.unique_id
    return _make_user(
        {
            "unique_id": unique_id,
            "uuid": label(row.id),
            "name": label(row.name) or unique_id,
            "email": label(row.email),
            "permission": label(row.permission),
            "status": label(row.status),
            "organization_uuid": label(row.organization_id),
            "organization_unique_id": org_unique_id,
            "sms": _fast_lifetime(row.total_sms_outbound, row.total_sms_inbound),
            "mms": _fast_lifetime(row.total_mms_outbound, row.total_mms_inbound),
            "voice_seconds": _fast_lifetime_count(row.total_voice_seconds),
            "created_at": moment_of(row.created_at),
        }
    )


def _fast_org_row(row: shapes.OrganizationUsage) -> TeliOrganizationAnalyticsRow:
    """`_org_row` of a row whose figures are all well-formed."""
    unique_id = row.organization_id
    return _make_org_row(
        {
            "organization_unique_id": unique_id,
            "name": label(row.organization_name) or unique_id,
            "users_count": integer(row.users_count),
            "sms": _fast_segments(row.total_sms_sent, row.total_sms_received),
            "mms": _fast_segments(row.total_mms_sent, row.total_mms_received),
            "voice": _fast_voice(row.total_voice_seconds, row.total_voice_calls),
            "api_requests": integer(row.api_requests_count),
            "api_storage_cost": number(row.api_storage_cost),
            "phone_rentals": integer(row.phone_rental_count),
            "phone_purchases": integer(row.phone_purchase_count),
            "brand_registrations": integer(row.brand_registration_count),
            "kb_count": integer(row.kb_count),
            "total_cost": number(row.total_cost),
            "problems": NO_PROBLEMS,
        }
    )


def _lenient_number(value: Any) -> Decimal | None:
    """`soft_number` with its problems ignored, of a value msgspec decoded (its Decimals are
    finite): the number, or None."""
    if type(value) is Decimal:
        return value
    return Decimal(value) if type(value) is int else None


def _fast_costs(
    costs: Any,
) -> tuple[Decimal | None, Decimal | None, Decimal | None, Decimal | None]:
    """`_cost_breakdown`: it feeds no figure and ignores its problems, so nothing is unusual."""
    if type(costs) is not dict:
        return None, None, None, None
    if "sms" in costs or "mms" in costs:
        sms, mms = _lenient_number(costs.get("sms")), _lenient_number(costs.get("mms"))
        messaging = None if sms is None or mms is None else sms + mms
        return messaging, sms, mms, _lenient_number(costs.get("voice"))
    messaging = _lenient_number(costs.get("messaging_cost"))
    return messaging, None, None, _lenient_number(costs.get("voice_cost"))


def _fast_user_row(row: shapes.UserUsage) -> TeliUserAnalyticsRow:
    """`_user_row` of a row whose figures are all well-formed."""
    unique_id = row.user_id
    messaging, sms_cost, mms_cost, voice_cost = _fast_costs(row.cost_breakdown)
    return _make_user_row(
        {
            "user_unique_id": unique_id,
            "name": label(row.user_name) or unique_id,
            "email": label(row.user_email),
            "sms": _fast_segments(row.total_sms_sent, row.total_sms_received),
            "mms": _fast_segments(row.total_mms_sent, row.total_mms_received),
            "voice": _fast_voice(row.total_voice_seconds, row.total_voice_calls),
            "cost_messaging": messaging,
            "cost_sms": sms_cost,
            "cost_mms": mms_cost,
            "cost_voice": voice_cost,
            "total_cost": number(row.total_cost),
            "problems": NO_PROBLEMS,
        }
    )


def _fast_organizations(r: JsonReader, body: shapes.Organizations) -> tuple[TeliOrganization, ...]:
    return read_rows(r, body.organizations, "organizations", _fast_organization, _organization)


def _fast_users(r: JsonReader, body: shapes.Users, org_unique_id: str) -> tuple[TeliUser, ...]:
    return read_rows(
        r,
        body.users,
        "users",
        lambda row: _fast_user(row, org_unique_id),
        lambda r, row, path: _user(r, row, path, org_unique_id),
    )


def _fast_organizations_analytics(
    r: JsonReader, body: shapes.OrganizationsAnalytics
) -> OrganizationsAnalytics:
    rows = read_rows(r, body.organizations, "organizations", _fast_org_row, _org_row)
    return label(body.tenant_id) or "", rows


def _fast_users_analytics(
    r: JsonReader, body: shapes.UsersAnalytics, org_unique_id: str
) -> UsersAnalytics:
    org_id = label(body.organization_id) or org_unique_id
    org_name = label(body.organization_name) or org_id
    return org_id, org_name, read_rows(r, body.users, "users", _fast_user_row, _user_row)


_ORGANIZATIONS: Body[shapes.Organizations, tuple[TeliOrganization, ...]] = Body(
    shapes.Organizations, _fast_organizations, _organizations
)
_USERS: Body[shapes.Users, tuple[TeliUser, ...]] = Body(shapes.Users, _fast_users, _users)
_ORGANIZATIONS_ANALYTICS: Body[shapes.OrganizationsAnalytics, OrganizationsAnalytics] = Body(
    shapes.OrganizationsAnalytics, _fast_organizations_analytics, _organizations_analytics
)
_USERS_ANALYTICS: Body[shapes.UsersAnalytics, UsersAnalytics] = Body(
    shapes.UsersAnalytics, _fast_users_analytics, _users_analytics
)
_AGENTS = Body.plain(_agents)
_USAGE = Body.plain(_usage)

# Each endpoint's answers, both paths (tests and bench/decoding.py compare them). Users, agents
# and analytics/users also take the organization's unique id asked for; analytics/usage takes
# (by organization, first day, last day).
BODIES: Mapping[str, Body[Any, Any]] = {
    EP_ORGANIZATIONS: _ORGANIZATIONS,
    EP_USERS: _USERS,
    EP_AGENTS: _AGENTS,
    EP_ORG_ANALYTICS: _ORGANIZATIONS_ANALYTICS,
    EP_USER_ANALYTICS: _USERS_ANALYTICS,
    EP_USAGE: _USAGE,
}

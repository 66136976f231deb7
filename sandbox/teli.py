"""Teli partner API emulator, derived from the dataset's Teli tenants.

Two mounts, as Teli's docs have two hosts: `teli` (api.teli.ai: organizations, users, agents and
the analytics) and `teli-proxy` (partner.teli.ai/api/proxy: `GET /v1/analytics/usage` only, every
other path a 404 in Teli's shape). By default `teli` serves `analytics/usage` too, as it always
did; the `teli-split-hosts` variant makes it a 404 there.

Serves what upstreams.md section 2 describes, quirks included:
- `X-API-Key` names the tenant; a tenant sees only its own organizations and users (anything else
  is answered like an unknown id: 404). Error bodies are
  `{"error": ..., "success": false, "powered_by": "Teli"}`, except where the docs show them without
  `powered_by` (a missing key, and the usage endpoint's errors).
- Dual ids: every org and user has a Bubble-style `unique_id` (the key in paths and analytics
  params) and a UUID `id`; `users[].organization_id` holds the org's UUID, not its `unique_id`.
- `GET /v1/analytics/organizations` and `/v1/analytics/users` take plain `YYYY-MM-DD` dates, both
  optional: `end_date` defaults to today (UTC), `start_date` to 30 days before the effective end.
  Both are inclusive, and `period: {start, end}` echoes the effective dates. Org analytics
  `total_voice_seconds` includes knowledge-base seconds; there is no `powered_by` there.
- `GET /v1/analytics/usage` takes ISO-8601 *datetimes*. Without them every counter is all-time (the
  whole dataset window). With them, a UTC day counts when its whole span [00:00:00, 23:59:59] lies
  inside [start_date, end_date]: `2026-02-10T00:00:00Z..2026-02-10T23:59:59Z` is exactly that day,
  while starting at `00:00:01` or ending at `23:59:58` drops it. A missing bound is open.
  `usage.period` is `"all_time"` whatever the dates (the docs say "currently always").
- Lifetime counters on `/v1/organizations` and `/v1/organizations/{id}/users` cover the whole
  dataset window; their `total_voice_seconds` includes knowledge-base seconds.
- Money is served as USD floats made from the dataset's integer cents (`cents / 100`).
- Organizations' figures include their calls no user is credited with (the dataset's
  unattributed usage); users' figures do not.

Variants (opt-in, `SandboxControl.variants`):
- `teli-no-cost-breakdown`: analytics/users rows come without `cost_breakdown`.
- `teli-no-total-cost`: analytics/organizations and analytics/users rows come without
  `total_cost`, and organization rows without `api_storage_cost`.
- `teli-split-hosts`: `teli` answers `/v1/analytics/usage` with 404 `{"success": false,
  "error": "Not found", "powered_by": "Teli"}`; only `teli-proxy` serves it.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from usagegraph.sandbox.control import SandboxControl
from usagegraph.sandbox.dataset import Dataset, TeliOrg, TeliTenant, TeliUser

__all__ = ["DEFAULT_WINDOW_DAYS", "USAGE_PATH", "create_apps", "whole_days"]

# analytics/organizations and analytics/users default to the last 30 days
DEFAULT_WINDOW_DAYS = 30
USAGE_PATH = "/v1/analytics/usage"
_POWERED_BY = "Teli"
_LAST_SECOND = time(23, 59, 59)

# variants (see the module docstring)
NO_COST_BREAKDOWN = "teli-no-cost-breakdown"
NO_TOTAL_COST = "teli-no-total-cost"
SPLIT_HOSTS = "teli-split-hosts"


class TeliError(Exception):
    """An error answered in Teli's envelope."""

    def __init__(self, status: int, message: str, *, powered_by: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.powered_by = powered_by

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"error": self.message, "success": False}
        if self.powered_by:
            body["powered_by"] = _POWERED_BY
        return JSONResponse(body, status_code=self.status)


def _money(cents: int) -> float:
    """USD float from integer cents; its repr has at most two decimals."""
    return cents / 100


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _today() -> date:
    return datetime.now(UTC).date()


# -- parameters -----------------------------------------------------------------------------------


def _param(request: Request, name: str) -> str | None:
    """A query param, with blanks treated as absent."""
    value = request.query_params.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def _plain_date(raw: str | None, name: str) -> date | None:
    """A `YYYY-MM-DD` date (3.11's fromisoformat would also take `20260210`; Teli's docs don't)."""
    if raw is None:
        return None
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise TeliError(400, f"Invalid {name}: expected YYYY-MM-DD") from None


def analytics_window(request: Request) -> tuple[date, date]:
    """The effective inclusive day range of the analytics endpoints (defaults applied)."""
    start = _plain_date(_param(request, "start_date"), "start_date")
    end = _plain_date(_param(request, "end_date"), "end_date")
    end = end or _today()
    start = start or end - timedelta(days=DEFAULT_WINDOW_DAYS)
    if start > end:
        raise TeliError(400, "start_date must not be after end_date")
    return start, end


def _instant(raw: str | None, name: str) -> datetime | None:
    """An ISO-8601 datetime (a date alone is rejected: the endpoint wants datetimes)."""
    if raw is None:
        return None
    try:
        if "T" not in raw.upper():
            raise ValueError(raw)
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise TeliError(
            400,
            f"Invalid {name}: expected an ISO-8601 datetime like 2026-02-10T00:00:00Z",
            powered_by=False,
        ) from None
    # a datetime without an offset is taken as UTC
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def whole_days(
    start: datetime | None, end: datetime | None, window: tuple[date, date]
) -> tuple[date, date]:
    """The UTC days whose whole span [00:00:00, 23:59:59] lies inside [start, end] (inclusive).

    A missing bound is open (the dataset window's edge). The result may be empty (last < first).
    """
    first, last = window
    if start is not None:
        first = start.date() if start.time() == time(0) else start.date() + timedelta(days=1)
    if end is not None:
        last = end.date() if end.time() >= _LAST_SECOND else end.date() - timedelta(days=1)
    return first, last


# -- rendering ------------------------------------------------------------------------------------


def _voice_total(totals: dict[str, int]) -> int:
    return totals["voice_seconds"] + totals["kb_seconds"]


def _org_json(dataset: Dataset, org: TeliOrg) -> dict[str, Any]:
    life = dataset.teli_org_totals(org.unique_id, dataset.start, dataset.end)
    created = _iso(org.created_at)
    return {
        "unique_id": org.unique_id,
        "id": org.id,
        "name": org.name,
        "organization_name": org.name,
        "tenant_id": org.tenant_id,
        "status": org.status,
        "contact_email": None,
        "sms_active": org.status == "active",
        "teli_sms_number": None,
        "sms_registration_status": "approved" if org.status == "active" else "not_started",
        "total_sms_outbound": life["sms_out"],
        "total_sms_inbound": life["sms_in"],
        "total_mms_outbound": life["mms_out"],
        "total_mms_inbound": life["mms_in"],
        "total_voice_seconds": _voice_total(life),
        "created_at": created,
        "modified_at": created,
        "updated_at": created,
    }


def _user_json(dataset: Dataset, org: TeliOrg, user: TeliUser) -> dict[str, Any]:
    life = dataset.teli_user_totals(user.unique_id, dataset.start, dataset.end)
    created = _iso(user.created_at)
    return {
        "unique_id": user.unique_id,
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "permission": user.permission,
        "organization_id": org.id,  # the quirk: the org's UUID, not its unique_id
        "tenant_id": org.tenant_id,
        "status": user.status,
        "is_teli_admin": False,
        "mobile_app_enabled": False,
        "phone": None,
        "profile_image": None,
        "total_agents": 1,
        "total_campaigns": 0,
        "total_leads": 0,
        "total_sms_outbound": life["sms_out"],
        "total_sms_inbound": life["sms_in"],
        "total_mms_outbound": life["mms_out"],
        "total_mms_inbound": life["mms_in"],
        "total_voice_seconds": _voice_total(life),
        "created_at": created,
        "modified_at": created,
        "updated_at": created,
    }


def _org_analytics_row(dataset: Dataset, org: TeliOrg, first: date, last: date) -> dict[str, Any]:
    t = dataset.teli_org_totals(org.unique_id, first, last)
    cost = (
        t["cost_sms_cents"]
        + t["cost_mms_cents"]
        + t["cost_voice_cents"]
        + t["api_storage_cents"]
        + t["cost_other_cents"]
    )
    return {
        "organization_id": org.unique_id,
        "organization_name": org.name,
        "users_count": len(org.users),
        "total_sms_sent": t["sms_out"],
        "total_sms_received": t["sms_in"],
        "total_mms_sent": t["mms_out"],
        "total_mms_received": t["mms_in"],
        "total_voice_calls": t["voice_calls"],
        "total_voice_seconds": _voice_total(t),
        "api_requests_count": t["api_requests"],
        "api_storage_cost": _money(t["api_storage_cents"]),
        "phone_rental_count": t["phone_rentals"],
        "phone_purchase_count": t["phone_purchases"],
        "brand_registration_count": t["brand_registrations"],
        "kb_count": t["kbs_created"],
        "total_cost": _money(cost),
    }


def _user_analytics_row(
    dataset: Dataset, user: TeliUser, first: date, last: date
) -> dict[str, Any]:
    t = dataset.teli_user_totals(user.unique_id, first, last)
    sms, mms, voice = t["cost_sms_cents"], t["cost_mms_cents"], t["cost_voice_cents"]
    return {
        "user_id": user.unique_id,
        "user_name": user.name,
        "user_email": user.email,
        "total_sms_sent": t["sms_out"],
        "total_sms_received": t["sms_in"],
        "total_mms_sent": t["mms_out"],
        "total_mms_received": t["mms_in"],
        "total_voice_calls": t["voice_calls"],
        "total_voice_seconds": _voice_total(t),
        "cost_breakdown": {"sms": _money(sms), "mms": _money(mms), "voice": _money(voice)},
        "total_cost": _money(sms + mms + voice),
    }


def _counters(t: dict[str, int]) -> dict[str, Any]:
    return {
        "sms": {
            "outbound": t["sms_out"],
            "inbound": t["sms_in"],
            "total": t["sms_out"] + t["sms_in"],
        },
        "mms": {
            "outbound": t["mms_out"],
            "inbound": t["mms_in"],
            "total": t["mms_out"] + t["mms_in"],
        },
        "voice": {
            "seconds": t["voice_seconds"],
            "kb_seconds": t["kb_seconds"],
            "total_seconds": t["voice_seconds"] + t["kb_seconds"],
        },
        "period": "all_time",  # whatever the dates, as the docs say
    }


def _agents_json(org: TeliOrg) -> list[dict[str, Any]]:
    """One voice agent per user, derived from the user's ids (the dataset has no Teli agents)."""
    agents = []
    for user in org.users:
        digest = hashlib.blake2b(f"agent/{user.unique_id}".encode(), digest_size=16).digest()
        ms = user.unique_id.partition("x")[0]
        agent_uid = f"{ms}x{int.from_bytes(digest[:8], 'big') % 10**18:018d}"
        created = _iso(user.created_at)
        agents.append(
            {
                "agent_id": agent_uid,
                "unique_id": agent_uid,
                "id": str(uuid.UUID(bytes=digest, version=4)),
                "agent_name": f"{user.name.split()[0]}'s voice agent",
                "agent_type": "voice",
                "agent_status": "active",
                "organization_id": org.unique_id,
                "created_by_user_id": user.unique_id,
                "tenant_id": org.tenant_id,
                "visibility": "organization",
                "created_at": created,
                "modified_at": created,
            }
        )
    return agents


def _without(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """The rows minus `keys` (a variant's missing fields), in place."""
    for row in rows:
        for key in keys:
            row.pop(key, None)
    return rows


def _org_analytics_keys_dropped(variants: frozenset[str]) -> tuple[str, ...]:
    return ("total_cost", "api_storage_cost") if NO_TOTAL_COST in variants else ()


def _user_analytics_keys_dropped(variants: frozenset[str]) -> tuple[str, ...]:
    dropped = ("cost_breakdown",) if NO_COST_BREAKDOWN in variants else ()
    return dropped + (("total_cost",) if NO_TOTAL_COST in variants else ())


# -- apps -----------------------------------------------------------------------------------------


class _Tenants:
    """Who a request's key is, and what that tenant may see (shared by both hosts)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.by_key = {t.api_key: t for t in dataset.teli_tenants}
        self.orgs = {
            t.tenant_id: {o.unique_id: o for o in t.organizations} for t in dataset.teli_tenants
        }
        self.users = {
            t.tenant_id: {u.unique_id: (o, u) for o in t.organizations for u in o.users}
            for t in dataset.teli_tenants
        }

    def tenant_of(self, request: Request) -> TeliTenant:
        key = request.headers.get("x-api-key")
        if not key:
            raise TeliError(401, "API key is required", powered_by=False)
        tenant = self.by_key.get(key)
        if tenant is None:
            raise TeliError(401, "Invalid API key")
        return tenant

    def org_of(self, tenant: TeliTenant, unique_id: str, *, powered_by: bool = True) -> TeliOrg:
        # another tenant's org is answered exactly like an unknown one
        org = self.orgs[tenant.tenant_id].get(unique_id)
        if org is None:
            raise TeliError(404, "Organization not found", powered_by=powered_by)
        return org

    def required_org(self, request: Request, tenant: TeliTenant) -> TeliOrg:
        org_id = _param(request, "organization_id")
        if org_id is None:
            raise TeliError(400, "organization_id required")
        return self.org_of(tenant, org_id)

    def usage(self, request: Request) -> JSONResponse:
        """`GET /v1/analytics/usage`, the same on both hosts."""
        dataset = self.dataset
        tenant = self.tenant_of(request)
        org_id = _param(request, "organization_id")
        user_id = _param(request, "user_id")
        if org_id is None and user_id is None:
            raise TeliError(400, "organization_id or user_id is required", powered_by=False)
        start = _instant(_param(request, "start_date"), "start_date")
        end = _instant(_param(request, "end_date"), "end_date")
        if start is not None and end is not None and start > end:
            raise TeliError(400, "start_date must not be after end_date", powered_by=False)
        first, last = whole_days(start, end, (dataset.start, dataset.end))
        if org_id is not None:  # organization_id wins when both are given
            org = self.org_of(tenant, org_id, powered_by=False)
            head = {"organization_id": org.unique_id, "organization_name": org.name}
            totals = dataset.teli_org_totals(org.unique_id, first, last)
        else:
            found = self.users[tenant.tenant_id].get(user_id or "")
            if found is None:
                raise TeliError(404, "User not found", powered_by=False)
            user = found[1]
            head = {"user_id": user.unique_id, "user_name": user.name, "user_email": user.email}
            totals = dataset.teli_user_totals(user.unique_id, first, last)
        return JSONResponse(
            {"success": True, "usage": {**head, **_counters(totals)}, "powered_by": _POWERED_BY}
        )


def _new_app(title: str) -> FastAPI:
    """A FastAPI app answering every error, unknown routes included, in Teli's envelope."""
    app = FastAPI(title=title, docs_url=None, redoc_url=None)

    @app.exception_handler(TeliError)
    async def teli_error(request: Request, exc: TeliError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = "Not found" if exc.status_code == 404 else str(exc.detail)
        return TeliError(exc.status_code, message).response()

    return app


def create_apps(dataset: Dataset, control: SandboxControl) -> dict[str, FastAPI]:
    """The Teli mounts: `teli` (api.teli.ai) and `teli-proxy` (partner.teli.ai/api/proxy)."""
    tenants = _Tenants(dataset)
    return {"teli": _api_app(tenants, control), "teli-proxy": _proxy_app(tenants)}


def _proxy_app(tenants: _Tenants) -> FastAPI:
    app = _new_app("Teli partner proxy (sandbox)")

    @app.get(USAGE_PATH)
    async def usage(request: Request) -> JSONResponse:
        return tenants.usage(request)

    return app


def _api_app(tenants: _Tenants, control: SandboxControl) -> FastAPI:
    app = _new_app("Teli partner API (sandbox)")
    dataset = tenants.dataset

    @app.get("/v1/organizations")
    async def organizations(request: Request) -> JSONResponse:
        tenant = tenants.tenant_of(request)
        rows = [_org_json(dataset, o) for o in tenant.organizations]
        return JSONResponse(
            {"success": True, "count": len(rows), "organizations": rows, "powered_by": _POWERED_BY}
        )

    @app.get("/v1/organizations/{org_id}/users")
    async def users(org_id: str, request: Request) -> JSONResponse:
        org = tenants.org_of(tenants.tenant_of(request), org_id)
        rows = [_user_json(dataset, org, u) for u in org.users]
        return JSONResponse(
            {"success": True, "count": len(rows), "users": rows, "powered_by": _POWERED_BY}
        )

    @app.get("/v1/analytics/organizations")
    async def organization_analytics(request: Request) -> JSONResponse:
        tenant = tenants.tenant_of(request)
        first, last = analytics_window(request)
        rows = [_org_analytics_row(dataset, o, first, last) for o in tenant.organizations]
        dropped = _org_analytics_keys_dropped(control.variants)
        return JSONResponse(
            {
                "success": True,
                "tenant_id": tenant.tenant_id,
                "period": {"start": first.isoformat(), "end": last.isoformat()},
                "organizations": _without(rows, dropped) if dropped else rows,
            }
        )

    @app.get("/v1/analytics/users")
    async def user_analytics(request: Request) -> JSONResponse:
        tenant = tenants.tenant_of(request)
        org = tenants.required_org(request, tenant)
        first, last = analytics_window(request)
        rows = [_user_analytics_row(dataset, u, first, last) for u in org.users]
        dropped = _user_analytics_keys_dropped(control.variants)
        return JSONResponse(
            {
                "success": True,
                "organization_id": org.unique_id,
                "organization_name": org.name,
                "period": {"start": first.isoformat(), "end": last.isoformat()},
                "users": _without(rows, dropped) if dropped else rows,
            }
        )

    @app.get(USAGE_PATH)
    async def usage(request: Request) -> JSONResponse:
        if SPLIT_HOSTS in control.variants:
            # the route is not on this host: a 404 before any key check, as for any unknown path
            raise TeliError(404, "Not found")
        return tenants.usage(request)

    @app.get("/v1/agents")
    async def agents(request: Request) -> JSONResponse:
        org = tenants.required_org(request, tenants.tenant_of(request))
        rows = _agents_json(org)
        return JSONResponse(
            {"success": True, "count": len(rows), "agents": rows, "powered_by": _POWERED_BY}
        )

    return app

"""Telzino emulator: two hosts, one OAuth token (upstreams.md section 1 and quirks 1-10).

`telzino-api` (api.telzino.com) serves the token endpoint, the two minutes reports and the agent
listing; `telzino-dashboard` (dashboard.telzino.com) serves the billing report. Every number is
derived from the dataset's daily agent seconds over inclusive UTC days, so tests can compare the
responses with the dataset's truth API. The one sandbox account sees every reseller.

Rounding (the vendor's examples have two decimals and org totals that add up): an agent's
minutes are `round(seconds / 60, 2)`, an org's report total is the sum of its agents' rounded
minutes, and the billing report rounds the org's seconds once. Decimal arithmetic keeps the sums
exact; the JSON carries them as floats, as the vendor does. All rounding is half-up.

Variants (opt-in, `SandboxControl.variants`):
- `telzino-billing-unpadded-period`: the billing report's period dates are `M/D/YYYY`
  (`1/5/2025`) instead of `MM/DD/YYYY`.
- `telzino-unlisted-agent-minutes`: orgs with seconds of agents the reports do not list (the
  dataset's `telzino_org_unlisted_seconds`) count them. The report's `total_voice_minutes` is
  the listed agents' rounded minutes plus `round(unlisted seconds / 60, 2)` (both already at
  0.01, so the sum is exact and needs no further rounding); the billing report's
  `voice_minutes` rounds the org's listed + unlisted seconds once, as it always rounds.
  `agents[]` and both `agent_count`s are unchanged; orgs are sorted by the new totals.
Each distinct (query, active Telzino variants) body is rendered once, as before.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from usagegraph.sandbox.control import SandboxControl
from usagegraph.sandbox.dataset import (
    TELZINO_CLIENT_ID,
    TELZINO_CLIENT_SECRET,
    Dataset,
    TelzinoAgent,
    TelzinoOrg,
)

__all__ = [
    "AUDIENCE",
    "MAX_PAGE_LIMIT",
    "VENDOR",
    "TelzinoError",
    "create_apps",
    "id_list",
    "minutes",
]

VENDOR = "telzino"
AUDIENCE = "https://api.telzino.com/"
DEFAULT_PAGE_LIMIT = 50
MAX_PAGE_LIMIT = 100
# distinct (period, filters) reports kept rendered per host (see rendered_reports)
REPORT_CACHE_SIZE = 256
DATES_REQUIRED = "start_date and end_date are required (YYYY-MM-DD)"

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CENT = Decimal("0.01")

# variants (see the module docstring)
UNPADDED_PERIOD = "telzino-billing-unpadded-period"
UNLISTED_AGENTS = "telzino-unlisted-agent-minutes"
_REPORT_VARIANTS = frozenset({UNPADDED_PERIOD, UNLISTED_AGENTS})


class TelzinoError(Exception):
    """An error answered in Telzino's `{"error", "message"}` shape."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


def _bad_request(message: str) -> TelzinoError:
    return TelzinoError(400, "Bad Request", message)


# ---------------------------------------------------------------------------------------------
# request parsing


def id_list(request: Request, name: str) -> list[str] | None:
    """The ids of an array parameter, in every form the vendor accepts, first-seen order.

    `name=a,b` (comma), `name[]=a&name[]=b` (bracketed) and `name=a&name=b` (plain repeated) may
    even be mixed; items are trimmed and blank items dropped. None when the parameter is absent
    or holds nothing but blanks, which means "no filter".
    """
    ids: dict[str, None] = {}  # an ordered set
    for key, value in request.query_params.multi_items():
        if key not in (name, f"{name}[]"):
            continue
        for item in value.split(","):
            if item.strip():
                ids[item.strip()] = None
    return list(ids) or None


def _parse_date(text: str | None) -> date:
    # fromisoformat alone would also take "20260401" and "2026-W14-3"; the vendor wants YYYY-MM-DD
    if text is None or not _ISO_DATE.fullmatch(text):
        raise _bad_request(DATES_REQUIRED)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _bad_request(DATES_REQUIRED) from None


@dataclass(frozen=True)
class Period:
    """An inclusive day range as requested."""

    first: date
    last: date

    def iso(self) -> dict[str, str]:
        # the parser only takes YYYY-MM-DD, so isoformat() is the request string verbatim
        return {"start_date": self.first.isoformat(), "end_date": self.last.isoformat()}

    def us(self, *, padded: bool = True) -> dict[str, str]:
        """US format, `MM/DD/YYYY` as the docs say (or `M/D/YYYY` when not `padded`)."""
        date_text = _us_date if padded else _us_date_unpadded
        return {"start_date": date_text(self.first), "end_date": date_text(self.last)}


def _us_date(day: date) -> str:
    return f"{day.month:02d}/{day.day:02d}/{day.year:04d}"


def _us_date_unpadded(day: date) -> str:
    return f"{day.month}/{day.day}/{day.year:04d}"


def period_of(request: Request) -> Period:
    """The required `start_date`/`end_date` pair; 400 when missing, malformed or reversed."""
    first = _parse_date(request.query_params.get("start_date"))
    last = _parse_date(request.query_params.get("end_date"))
    if first > last:
        raise _bad_request("start_date must not be after end_date")
    return Period(first, last)


def _positive_int(request: Request, name: str, default: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    if not text.isdigit() or int(text) < 1:
        raise _bad_request(f"{name} must be a positive integer")
    return int(text)


# ---------------------------------------------------------------------------------------------
# numbers


def minutes(seconds: int) -> Decimal:
    """Seconds as minutes rounded half-up to 0.01."""
    return (Decimal(seconds) / 60).quantize(_CENT, rounding=ROUND_HALF_UP)


def _number(value: Decimal) -> float:
    # JSON floats with at most two decimals: float(Decimal("370.40")) prints as 370.4
    return float(value)


def _agent_seconds(dataset: Dataset, agent: TelzinoAgent, period: Period) -> int:
    return dataset.telzino_agent_seconds(agent.id, period.first, period.last)


# ---------------------------------------------------------------------------------------------
# reports


def select_orgs(
    dataset: Dataset, org_ids: Sequence[str] | None, reseller_ids: Sequence[str] | None
) -> list[TelzinoOrg]:
    """Orgs passing both filters (AND); unknown ids simply match nothing."""
    wanted_orgs = set(org_ids) if org_ids is not None else None
    wanted_resellers = set(reseller_ids) if reseller_ids is not None else None
    return [
        org
        for org in dataset.telzino_orgs
        if (wanted_orgs is None or org.id in wanted_orgs)
        and (wanted_resellers is None or org.reseller_id in wanted_resellers)
    ]


def _org_identity(dataset: Dataset, org: TelzinoOrg) -> dict[str, Any]:
    reseller = dataset.telzino_reseller_by_id[org.reseller_id]
    return {
        "organization_id": org.id,
        "organization_name": org.display_name,
        "reseller_id": reseller.id,
        "reseller_name": reseller.display_name,
    }


# a report row with the minutes it is ranked by
_RankedRow = tuple[Decimal, dict[str, Any]]


def _report_row(dataset: Dataset, org: TelzinoOrg, period: Period) -> _RankedRow:
    agents = [(minutes(_agent_seconds(dataset, a, period)), a) for a in org.agents]
    agents.sort(key=lambda pair: (-pair[0], pair[1].id))
    total = sum((m for m, _ in agents), Decimal(0))
    row = {
        **_org_identity(dataset, org),
        "total_voice_minutes": _number(total),
        "agent_count": len(org.agents),
        "agents": [
            {"agent_id": a.id, "agent_name": a.display_name, "voice_minutes": _number(m)}
            for m, a in agents
        ],
    }
    return total, row


def _billing_row(dataset: Dataset, org: TelzinoOrg, period: Period) -> _RankedRow:
    per_agent = [_agent_seconds(dataset, a, period) for a in org.agents]
    total = minutes(sum(per_agent))
    row = {
        **_org_identity(dataset, org),
        "voice_minutes": _number(total),
        "agent_count": sum(1 for s in per_agent if s > 0),
    }
    return total, row


def _with_unlisted_report(
    dataset: Dataset, org: TelzinoOrg, period: Period, pair: _RankedRow
) -> _RankedRow:
    """A report row whose total also counts the org's unlisted agents' rounded minutes."""
    unlisted = dataset.telzino_org_unlisted_seconds(org.id, period.first, period.last)
    if not unlisted:
        return pair
    total = pair[0] + minutes(unlisted)
    return total, {**pair[1], "total_voice_minutes": _number(total)}


def _with_unlisted_billing(
    dataset: Dataset, org: TelzinoOrg, period: Period, pair: _RankedRow
) -> _RankedRow:
    """A billing row whose minutes round the org's listed and unlisted seconds once."""
    unlisted = dataset.telzino_org_unlisted_seconds(org.id, period.first, period.last)
    if not unlisted:
        return pair
    total = minutes(dataset.telzino_org_seconds(org.id, period.first, period.last) + unlisted)
    return total, {**pair[1], "voice_minutes": _number(total)}


def _sorted_rows(rows: Iterable[_RankedRow]) -> list[dict[str, Any]]:
    ordered = sorted(rows, key=lambda pair: (-pair[0], pair[1]["organization_id"]))
    return [row for _, row in ordered]


# What a report depends on besides the dataset: its period and its two id filters (sorted, as
# the filters are sets), so equal questions share one cache entry.
ReportQuery = tuple["Period", tuple[str, ...] | None, tuple[str, ...] | None]


def report_query(request: Request) -> ReportQuery:
    """The period and filters of a report request; 400 for a bad period."""
    period = period_of(request)
    org_ids = id_list(request, "organization_ids")
    reseller_ids = id_list(request, "reseller_ids")
    return (
        period,
        tuple(sorted(org_ids)) if org_ids is not None else None,
        tuple(sorted(reseller_ids)) if reseller_ids is not None else None,
    )


def minutes_by_organization(
    dataset: Dataset, query: ReportQuery, variants: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """`GET /v1/reports/minutes-by-organization` (api host)."""
    period, org_ids, reseller_ids = query
    orgs = select_orgs(dataset, org_ids, reseller_ids)
    pairs = [_report_row(dataset, org, period) for org in orgs]
    if UNLISTED_AGENTS in variants:
        pairs = [
            _with_unlisted_report(dataset, o, period, p) for o, p in zip(orgs, pairs, strict=True)
        ]
    return {"data": _sorted_rows(pairs), "period": period.iso()}


def billing_report(
    dataset: Dataset, query: ReportQuery, variants: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """`GET /v1/billing-report` (dashboard host): US-format period dates."""
    period, org_ids, reseller_ids = query
    orgs = select_orgs(dataset, org_ids, reseller_ids)
    pairs = [_billing_row(dataset, org, period) for org in orgs]
    if UNLISTED_AGENTS in variants:
        pairs = [
            _with_unlisted_billing(dataset, o, period, p) for o, p in zip(orgs, pairs, strict=True)
        ]
    padded = UNPADDED_PERIOD not in variants
    return {"data": _sorted_rows(pairs), "period": period.us(padded=padded)}


Report = Callable[[Dataset, ReportQuery, frozenset[str]], dict[str, Any]]


def rendered_reports(
    dataset: Dataset, report: Report
) -> Callable[[ReportQuery, frozenset[str]], bytes]:
    """`report`'s JSON body per (query, active report variants), each rendered once.

    The dataset never changes while the sandbox serves, so a body is a pure function of the
    query and the variants. Rendering a report costs this process milliseconds of Python
    (docs/measurements.md#the-sandboxs-own-cost); a real
    vendor answers concurrent calls in parallel, while the one-process emulator would queue them
    behind each other and add its own delay to every system the benchmark measures."""

    @lru_cache(maxsize=REPORT_CACHE_SIZE)
    def body(query: ReportQuery, variants: frozenset[str]) -> bytes:
        # Starlette types `body` as bytes | memoryview; JSONResponse renders bytes (no copy)
        return bytes(JSONResponse(report(dataset, query, variants)).body)

    return body


def _report_variants(control: SandboxControl) -> frozenset[str]:
    """The active variants a report body depends on (part of its cache key)."""
    active = control.variants
    return active & _REPORT_VARIANTS if active else active


def minutes_by_agent(dataset: Dataset, request: Request) -> dict[str, Any]:
    """`GET /v1/reports/minutes-by-agent`: `agent_ids` required, unknown ids dropped."""
    agent_ids = id_list(request, "agent_ids")
    if agent_ids is None:
        raise _bad_request("agent_ids is required")
    period = period_of(request)
    rows = []
    for agent_id in agent_ids:
        agent = dataset.telzino_agents.get(agent_id)
        if agent is None:
            continue
        org = dataset.telzino_org_by_id[agent.organization_id]
        reseller = dataset.telzino_reseller_by_id[org.reseller_id]
        total = minutes(_agent_seconds(dataset, agent, period))
        calls = dataset.telzino_agent_calls(agent.id, period.first, period.last)
        row = {
            "agent_id": agent.id,
            "agent_name": agent.display_name,
            "reseller_name": reseller.name or "-",  # this endpoint's own fallback
            "total_minutes": _number(total),
            "call_count": calls,
        }
        rows.append((total, row))
    rows.sort(key=lambda pair: (-pair[0], pair[1]["agent_id"]))
    return {"data": [row for _, row in rows], "period": period.iso()}


# ---------------------------------------------------------------------------------------------
# agents


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def agent_resource(agent: TelzinoAgent) -> dict[str, Any]:
    """An agent as `/v1/agents` shows it (raw name and external_id, nulls included)."""
    return {
        "id": agent.id,
        "organization_id": agent.organization_id,
        "name": agent.name,
        "external_id": agent.external_id,
        "description": agent.description,
        "status": "active",
        "is_active": True,
        "created_at": _timestamp(agent.created_at),
        "updated_at": _timestamp(agent.created_at),
    }


def list_agents(dataset: Dataset, request: Request) -> dict[str, Any]:
    """`GET /v1/agents?page&limit[&organization_id]` with the T3 pagination block."""
    page = _positive_int(request, "page", 1)
    limit = _positive_int(request, "limit", DEFAULT_PAGE_LIMIT)
    if limit > MAX_PAGE_LIMIT:
        raise _bad_request(f"limit must be at most {MAX_PAGE_LIMIT}")
    org_id = request.query_params.get("organization_id") or None
    agents = [a for o in dataset.telzino_orgs if org_id is None or o.id == org_id for a in o.agents]
    total_pages = math.ceil(len(agents) / limit)
    window = agents[(page - 1) * limit : page * limit]
    return {
        "data": [agent_resource(a) for a in window],
        "pagination": {
            "page": page,
            "limit": limit,
            "total": len(agents),
            "totalPages": total_pages,
            "hasNext": page < total_pages,
            "hasPrev": page > 1,
        },
    }


def get_agent(dataset: Dataset, agent_id: str) -> dict[str, Any]:
    """`GET /v1/agents/{agentId}`; 404 for an unknown id."""
    agent = dataset.telzino_agents.get(agent_id)
    if agent is None:
        raise TelzinoError(404, "Not Found", "Agent not found")
    return {"data": agent_resource(agent)}


# ---------------------------------------------------------------------------------------------
# auth


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


async def issue_token(control: SandboxControl, request: Request) -> JSONResponse:
    """`POST /oauth/token`: client credentials in a JSON body, OAuth-style errors."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return _oauth_error(400, "invalid_request", "Expected a JSON object body")
    if body.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "Unsupported grant type")
    if (body.get("client_id"), body.get("client_secret")) != (
        TELZINO_CLIENT_ID,
        TELZINO_CLIENT_SECRET,
    ):
        return _oauth_error(401, "access_denied", "Unauthorized")
    if body.get("audience") != AUDIENCE:
        return _oauth_error(403, "access_denied", f"Service not found: {body.get('audience')}")
    token = control.tokens.issue(VENDOR, TELZINO_CLIENT_ID, ttl=control.token_ttl)
    return JSONResponse(
        {"access_token": token, "token_type": "Bearer", "expires_in": int(control.token_ttl)}
    )


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _token_guard(control: SandboxControl) -> Any:
    """A dependency that answers 401 unless the request carries a live Telzino token."""

    async def require_token(request: Request) -> None:
        if control.tokens.subject(VENDOR, _bearer(request)) is None:
            raise TelzinoError(401, "Unauthorized", "Invalid or missing token")

    return Depends(require_token)


# ---------------------------------------------------------------------------------------------
# apps


def _new_app(title: str) -> FastAPI:
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(TelzinoError)
    async def vendor_error(_request: Request, exc: TelzinoError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        body = {"error": exc.error, "message": exc.message}
        return JSONResponse(body, status_code=exc.status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # unknown routes and methods in the vendor's shape too
        body = {"error": _REASONS.get(exc.status_code, "Error"), "message": str(exc.detail)}
        return JSONResponse(body, status_code=exc.status_code)

    return app


_REASONS = {404: "Not Found", 405: "Method Not Allowed"}


def _api_app(dataset: Dataset, control: SandboxControl) -> FastAPI:
    app = _new_app("Telzino API (sandbox)")

    @app.post("/oauth/token")
    async def token(request: Request) -> JSONResponse:
        return await issue_token(control, request)

    router = APIRouter(dependencies=[_token_guard(control)])

    minutes_body = rendered_reports(dataset, minutes_by_organization)

    @router.get("/v1/reports/minutes-by-organization")
    async def report_by_org(request: Request) -> Response:
        body = minutes_body(report_query(request), _report_variants(control))
        return Response(body, media_type="application/json")

    @router.get("/v1/reports/minutes-by-agent")
    async def report_by_agent(request: Request) -> JSONResponse:
        return JSONResponse(minutes_by_agent(dataset, request))

    @router.get("/v1/agents")
    async def agents(request: Request) -> JSONResponse:
        return JSONResponse(list_agents(dataset, request))

    @router.get("/v1/agents/{agent_id}")
    async def agent(agent_id: str) -> JSONResponse:
        return JSONResponse(get_agent(dataset, agent_id))

    app.include_router(router)
    return app


def _dashboard_app(dataset: Dataset, control: SandboxControl) -> FastAPI:
    app = _new_app("Telzino dashboard (sandbox)")
    router = APIRouter(dependencies=[_token_guard(control)])

    billing_body = rendered_reports(dataset, billing_report)

    @router.get("/v1/billing-report")
    async def billing(request: Request) -> Response:
        body = billing_body(report_query(request), _report_variants(control))
        return Response(body, media_type="application/json")

    app.include_router(router)
    return app


def create_apps(dataset: Dataset, control: SandboxControl) -> dict[str, FastAPI]:
    """The two Telzino hosts; a token from the api host's `/oauth/token` works on both."""
    return {
        "telzino-api": _api_app(dataset, control),
        "telzino-dashboard": _dashboard_app(dataset, control),
    }

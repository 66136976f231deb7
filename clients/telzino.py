"""Telzino client: the minutes and billing reports and the agent list, normalized.

One client per configured Telzino account. It speaks docs/vendors.md (Telzino) through the shared
`SourceTransport`; the same OAuth token serves both hosts (`reports_url` = api.telzino.com,
`billing_url` = dashboard.telzino.com). What it returns:

- Minutes exactly as sent (`Decimal`: JSON decoded with `parse_float=Decimal`) plus exact seconds.
  The vendor rounds each agent to 0.01 min (0.6 s), so `round(minutes * 60)` recovers the agent's
  seconds exactly (error < 0.5 s). An org's report seconds are the sum of its agents' seconds
  when the agents add up to `total_voice_minutes` within rounding (each of the n agents and the
  total is off by at most 0.005 min: a bound of 0.005 x (n + 1) min); beyond that the total is
  trusted (`round(total * 60)`), so calls of agents the report does not list show up as
  unattributed instead of vanishing. A billing row's seconds are `round(voice_minutes * 60)`.
- Names as the vendor sent them, fallbacks included (an unset name arrives as the id).
- The period parsed from either date format the vendor uses (ISO in reports, MM/DD/YYYY in
  billing, zero padding optional); it feeds no figure, so an unreadable one is just None.
- Tolerant reads (docs/vendors.md): ids are required; a figure that is missing or mistyped is
  None with why in the row's `problems` (keyed by the model field it spoils); names may be absent.

Filters go out in the comma form. Id lists longer than `max_ids_per_call` are split into chunks
fetched concurrently (the transport caps concurrency) and merged, deduplicated by id. An empty id
list asks for nothing and answers empty without a call. A missing or mistyped id raises
`UpstreamContractError` with a JSON path; extra fields are ignored; `data[]` order is not relied on.

Each answer is decoded twice over, in effect (clients/bodies.py): the tolerant readers below are
the reference, and each large body also has a fast function over its msgspec shape
(clients/telzino_shapes.py), next to the reader it must agree with, which leaves any row or body
it cannot judge to that reader.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from itertools import product
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import msgspec

from usagegraph.clients import telzino_shapes as shapes
from usagegraph.clients.auth import OAuthClientCredentials
from usagegraph.clients.bodies import (
    Body,
    Unusual,
    as_mapping,
    count,
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
from usagegraph.clients.errors import UpstreamContractError
from usagegraph.clients.rows import Row
from usagegraph.clients.transport import SourceTransport
from usagegraph.clients.urls import join_url

__all__ = [
    "AGENTS_MAX_PAGE_SIZE",
    "BODIES",
    "MAX_MINUTES",
    "TELZINO_AUDIENCE",
    "TelzinoAgentInfo",
    "TelzinoAgentMinutes",
    "TelzinoAgentMinutesRow",
    "TelzinoBillingReport",
    "TelzinoBillingRow",
    "TelzinoClient",
    "TelzinoMinutesReport",
    "TelzinoOrgMinutes",
    "TelzinoPeriod",
    "minutes_to_seconds",
    "parse_vendor_date",
    "telzino_auth",
]

TELZINO_AUDIENCE = "https://api.telzino.com/"
AGENTS_MAX_PAGE_SIZE = 100  # T3: `limit` is capped at 100

EP_MINUTES_BY_ORG = "GET /v1/reports/minutes-by-organization"
EP_BILLING = "GET /v1/billing-report"
EP_MINUTES_BY_AGENT = "GET /v1/reports/minutes-by-agent"
EP_AGENTS = "GET /v1/agents"
EP_AGENT = "GET /v1/agents/{agentId}"


def telzino_auth(
    *, token_url: str, client_id: str, client_secret: str, audience: str = TELZINO_AUDIENCE
) -> OAuthClientCredentials:
    """Client-credentials tokens from Telzino's JSON-body token endpoint (one token, both hosts)."""
    return OAuthClientCredentials(
        token_url=token_url,
        client_id=client_id,
        client_secret=client_secret,
        style="json",
        audience=audience,
    )


# -- models ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TelzinoPeriod:
    """The inclusive UTC day range a report covers, as the vendor echoed it."""

    first: date
    last: date


class TelzinoAgentMinutes(Row, frozen=True):
    """One agent's line in the minutes-by-organization report; `minutes`/`seconds` None (with
    why in `problems["minutes"]`) when the vendor sent no usable `voice_minutes`."""

    agent_id: str
    agent_name: str  # name, else external_id, else the id (the vendor's fallback)
    minutes: Decimal | None
    seconds: int | None
    problems: RowProblems = NO_PROBLEMS  # not compared (clients/rows.py)


class _TelzinoOrgRow(Row, frozen=True):
    """What both organization reports say of an organization: who it is and its voice time."""

    organization_id: str
    organization_name: str
    reseller_id: str | None
    reseller_name: str
    minutes: Decimal | None  # None: unusable, see the row's problems["minutes"]
    seconds: int | None


OrgRow = TypeVar("OrgRow", bound=_TelzinoOrgRow)


@dataclass(frozen=True)
class _TelzinoOrgReport(Generic[OrgRow]):
    """One organization report over one period (None when the echoed period was unreadable:
    it feeds no figure)."""

    organizations: tuple[OrgRow, ...]
    period: TelzinoPeriod | None

    def by_id(self) -> dict[str, OrgRow]:
        return {o.organization_id: o for o in self.organizations}


class TelzinoOrgMinutes(_TelzinoOrgRow, frozen=True):
    """One organization in the minutes-by-organization report.

    `agent_count` is every agent under the org (not only active ones). `seconds` is the sum of
    the agents' exact seconds when they add up to the total within rounding, else the total's
    (see the module docstring). `agents` is None when the report sent no usable breakdown.
    """

    agent_count: int | None
    agents: tuple[TelzinoAgentMinutes, ...] | None
    problems: RowProblems = NO_PROBLEMS  # not compared (clients/rows.py)


@dataclass(frozen=True)
class TelzinoMinutesReport(_TelzinoOrgReport[TelzinoOrgMinutes]):
    """`minutes-by-organization` over one period."""


class TelzinoBillingRow(_TelzinoOrgRow, frozen=True):
    """One organization in the billing report; `active_agent_count` counts agents with usage."""

    active_agent_count: int | None
    problems: RowProblems = NO_PROBLEMS  # not compared (clients/rows.py)


@dataclass(frozen=True)
class TelzinoBillingReport(_TelzinoOrgReport[TelzinoBillingRow]):
    """`billing-report` over one period."""


@dataclass(frozen=True)
class TelzinoAgentMinutesRow:
    """One agent in `minutes-by-agent`; `reseller_name` is "-" when the reseller has none."""

    agent_id: str
    agent_name: str
    reseller_name: str
    minutes: Decimal
    seconds: int
    call_count: int


class TelzinoAgentInfo(msgspec.Struct, frozen=True):
    """An agent from `/v1/agents`: raw `name`/`external_id` (None when unset). A Struct for the
    constructor's speed (an L listing is ~14,000 agents), compared on every field."""

    id: str
    organization_id: str
    name: str | None
    external_id: str | None
    description: str | None
    status: str | None
    is_active: bool | None
    created_at: datetime | None
    updated_at: datetime | None

    @property
    def display_name(self) -> str:
        """The reports' fallback: name, then external_id, then the id."""
        return self.name or self.external_id or self.id


_SIXTY = Decimal(60)

# A minutes figure at or past this size is no voice time (10^15 min is ~1.9 billion years) but a
# broken body, and its seconds would not even fit 64 bits (the cache's MessagePack ints): with
# 1e999990, `minutes_to_seconds` builds an int that costs seconds of CPU
# (docs/measurements.md#hostile-figures); 1e999999 overflows the Decimal context. Such a
# figure is read as unusable, like a mistyped one.
MAX_MINUTES = Decimal(10) ** 15
_MIN_MINUTES = -MAX_MINUTES
_BEYOND = "is too large to be voice minutes"


def minutes_to_seconds(minutes: Decimal) -> int:
    """Seconds from vendor minutes rounded to 0.01 (exact for one agent's or one org's total);
    for minutes within `MAX_MINUTES` either way."""
    # the rounding passed by position: _decimal parses a keyword slower, once per agent
    # (measured: see docs/measurements.md#vendor-body-decoding)
    return int((minutes * _SIXTY).to_integral_value(ROUND_HALF_UP))


def _soft_minutes(
    r: JsonReader,
    row: Mapping[str, Any],
    key: str,
    path: str,
    problems: Problems,
    name: str = "minutes",
) -> Decimal | None:
    """`soft_number` of a minutes figure, which must also be within `MAX_MINUTES`."""
    minutes = r.soft_number(row, key, path, problems, name)
    if minutes is None or _MIN_MINUTES < minutes < MAX_MINUTES:
        return minutes
    problems.setdefault(name, r.fail(join_path(path, key), _BEYOND))
    return None


_ISO_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_US_DAY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


def parse_vendor_date(text: str) -> date:
    """A day in either of Telzino's formats: `YYYY-MM-DD` (reports) or `MM/DD/YYYY` (billing,
    where zero padding is optional: `1/5/2025` too).

    Raises ValueError for anything else.
    """
    if match := _ISO_DAY.fullmatch(text):
        year, month, day = match.groups()
    elif match := _US_DAY.fullmatch(text):
        month, day, year = match.groups()
    else:
        raise ValueError(f"not a YYYY-MM-DD or MM/DD/YYYY date: {text!r}")
    return date(int(year), int(month), int(day))


# -- decoding -------------------------------------------------------------------------------------


def _period(period: Any) -> TelzinoPeriod | None:
    """The echoed `period`, or None when it is absent or unreadable: nothing is derived from it
    (the client knows the days it asked for)."""
    if not isinstance(period, Mapping):
        return None
    first, last = period.get("start_date"), period.get("end_date")
    try:
        if isinstance(first, str) and isinstance(last, str):
            return TelzinoPeriod(first=parse_vendor_date(first), last=parse_vendor_date(last))
    except ValueError:
        pass
    return None


def _identity(r: JsonReader, row: Mapping[str, Any], path: str) -> dict[str, Any]:
    organization_id = r.text(row, "organization_id", path)
    reseller_id = r.label(row, "reseller_id")
    return {
        "organization_id": organization_id,
        "organization_name": r.label(row, "organization_name") or organization_id,
        "reseller_id": reseller_id,
        "reseller_name": r.label(row, "reseller_name") or reseller_id or "",
    }


def _agent_minutes(r: JsonReader, row: Mapping[str, Any], path: str) -> TelzinoAgentMinutes:
    agent_id = r.text(row, "agent_id", path)
    problems: Problems = {}
    minutes = _soft_minutes(r, row, "voice_minutes", path, problems)
    return TelzinoAgentMinutes(
        agent_id=agent_id,
        agent_name=r.label(row, "agent_name") or agent_id,
        minutes=minutes,
        seconds=None if minutes is None else minutes_to_seconds(minutes),
        problems=tuple(problems.items()),
    )


# Each minutes figure is rounded to 0.01: off by at most half of that from the exact value.
_ROUNDING = Decimal("0.005")


def _org_seconds(
    minutes: Decimal | None, agents: tuple[TelzinoAgentMinutes, ...] | None
) -> int | None:
    """The org's exact seconds: its agents' when they add up to the total within rounding, else
    the total's (agents the report does not list, or a total the vendor computed otherwise)."""
    if minutes is None:
        return None
    if agents and all(a.minutes is not None for a in agents):
        listed = sum((a.minutes for a in agents if a.minutes is not None), Decimal(0))
        listed_seconds = sum(a.seconds for a in agents if a.seconds is not None)
        return _listed_or_total(minutes, listed, len(agents), listed_seconds)
    return minutes_to_seconds(minutes)


def _listed_or_total(minutes: Decimal, listed: Decimal, agents: int, listed_seconds: int) -> int:
    """`listed_seconds` when the `agents` (at least one) add up to `listed` minutes, within
    rounding of the org's `minutes`; else the org's minutes in seconds."""
    if agents and abs(minutes - listed) <= _ROUNDING * (agents + 1):
        return listed_seconds
    return minutes_to_seconds(minutes)


def _agents(
    r: JsonReader, row: Mapping[str, Any], path: str, problems: Problems
) -> tuple[TelzinoAgentMinutes, ...] | None:
    """The per-agent breakdown, or None (a problem under `agents`) when it is not a list."""
    if not isinstance(row.get("agents"), list):
        try:
            r.array(row, "agents", path)
        except UpstreamContractError as error:
            problems["agents"] = error
        return None
    return tuple(_agent_minutes(r, a, where) for where, a in r.objects(row, "agents", path))


def _org_minutes(r: JsonReader, row: Mapping[str, Any], path: str) -> TelzinoOrgMinutes:
    identity = _identity(r, row, path)
    problems: Problems = {}
    minutes = _soft_minutes(r, row, "total_voice_minutes", path, problems)
    agents = _agents(r, row, path, problems)
    return TelzinoOrgMinutes(
        **identity,
        minutes=minutes,
        seconds=_org_seconds(minutes, agents),
        agent_count=r.soft_count(row, "agent_count", path, problems),
        agents=agents,
        problems=tuple(problems.items()),
    )


def _billing_row(r: JsonReader, row: Mapping[str, Any], path: str) -> TelzinoBillingRow:
    identity = _identity(r, row, path)
    problems: Problems = {}
    minutes = _soft_minutes(r, row, "voice_minutes", path, problems)
    return TelzinoBillingRow(
        **identity,
        minutes=minutes,
        seconds=None if minutes is None else minutes_to_seconds(minutes),
        active_agent_count=r.soft_count(row, "agent_count", path, problems, "active_agent_count"),
        problems=tuple(problems.items()),
    )


def _agent_minutes_row(r: JsonReader, row: Mapping[str, Any], path: str) -> TelzinoAgentMinutesRow:
    minutes = r.number(row, "total_minutes", path)
    if not _MIN_MINUTES < minutes < MAX_MINUTES:  # a required figure: the whole answer fails
        raise r.fail(join_path(path, "total_minutes"), _BEYOND)
    return TelzinoAgentMinutesRow(
        agent_id=r.text(row, "agent_id", path),
        agent_name=r.text(row, "agent_name", path),
        reseller_name=r.text(row, "reseller_name", path),
        minutes=minutes,
        seconds=minutes_to_seconds(minutes),
        call_count=r.count(row, "call_count", path),
    )


def _agent_info(r: JsonReader, row: Mapping[str, Any], path: str) -> TelzinoAgentInfo:
    active = row.get("is_active")
    return TelzinoAgentInfo(
        id=r.text(row, "id", path),
        organization_id=r.text(row, "organization_id", path),
        name=r.label(row, "name"),
        external_id=r.label(row, "external_id"),
        description=r.label(row, "description"),
        status=r.label(row, "status"),
        is_active=active if type(active) is bool else None,
        created_at=r.moment(row, "created_at"),
        updated_at=r.moment(row, "updated_at"),
    )


@dataclass(frozen=True)
class _AgentsPage:
    agents: tuple[TelzinoAgentInfo, ...]
    total_pages: int
    has_next: bool


def _agents_page(r: JsonReader, body: Any) -> _AgentsPage:
    top = r.obj(body, "")
    agents = tuple(_agent_info(r, row, where) for where, row in r.objects(top, "data", ""))
    return _paged(r, agents, top)


def _paged(
    r: JsonReader, agents: tuple[TelzinoAgentInfo, ...], top: Mapping[str, Any]
) -> _AgentsPage:
    pagination = r.child(top, "pagination", "")
    return _AgentsPage(
        agents=agents,
        total_pages=r.count(pagination, "totalPages", "pagination"),
        has_next=r.flag(pagination, "hasNext", "pagination"),
    )


OrgReport = tuple[tuple[OrgRow, ...], TelzinoPeriod | None]


def _org_rows(
    parse_row: Callable[[JsonReader, Mapping[str, Any], str], OrgRow],
) -> Callable[[JsonReader, Any], OrgReport[OrgRow]]:
    """The tolerant reader of an organization report whose rows `parse_row` reads."""

    def read(r: JsonReader, body: Any) -> OrgReport[OrgRow]:
        top = r.obj(body, "")
        rows = tuple(parse_row(r, row, where) for where, row in r.objects(top, "data", ""))
        return rows, _period(top.get("period"))

    return read


# -- the fast path (clients/bodies.py): the same models from msgspec shapes -----------------------

_ZERO = Decimal(0)
_SIX_THOUSAND = Decimal(6000)


def _fast_minutes(value: Any) -> Decimal:
    """A minutes figure as `_soft_minutes` reads a well-formed one."""
    minutes = number(value)
    if _MIN_MINUTES < minutes < MAX_MINUTES:
        return minutes
    raise Unusual


def _fast_identity(row: shapes.OrgMinutes | shapes.BillingRow) -> tuple[str, str, str | None, str]:
    """`_identity`'s fields (it cannot fail once the shape holds a string id)."""
    organization_id = row.organization_id
    name, reseller_id, reseller_name = row.organization_name, row.reseller_id, row.reseller_name
    if type(reseller_id) is not str:
        reseller_id = None
    return (
        organization_id,
        name if type(name) is str and name else organization_id,
        reseller_id,
        reseller_name if type(reseller_name) is str and reseller_name else reseller_id or "",
    )


def _fast_org_minutes(row: shapes.OrgMinutes) -> TelzinoOrgMinutes:
    """`_org_minutes` of a row whose figures are all well-formed."""
    minutes = _fast_minutes(row.total_voice_minutes)
    agent_count = count(row.agent_count)
    if type(row.agents) is not list:
        raise Unusual
    agents: list[TelzinoAgentMinutes] = []
    # _org_seconds' sums, added up in the same order as it does
    listed = _ZERO
    listed_seconds = 0
    # the L report's ~14,000 agents: _fast_minutes and minutes_to_seconds inlined, a Decimal
    # operation or a call each being a visible share of an agent's time (measured: see
    # docs/measurements.md#vendor-body-decoding); the model by its Struct constructor
    make, append, zero, bound = TelzinoAgentMinutes, agents.append, _ZERO, MAX_MINUTES
    six_thousand = _SIX_THOUSAND
    for agent in row.agents:
        agent_minutes = agent.voice_minutes
        if type(agent_minutes) is not Decimal:
            agent_minutes = number(agent_minutes)
        if zero <= agent_minutes < bound:
            # minutes_to_seconds with one Decimal operation: 6000 m is 100 times 60 m rounded to
            # the context's digits alike, so its integer part holds 60 m to 0.01, which
            # `+ 50) // 100` rounds half up (tests/clients/test_telzino_minutes.py)
            seconds = (int(agent_minutes * six_thousand) + 50) // 100
        elif _MIN_MINUTES < agent_minutes < zero:
            seconds = minutes_to_seconds(agent_minutes)
        else:
            raise Unusual
        listed += agent_minutes
        listed_seconds += seconds
        agent_id = agent.agent_id
        name = agent.agent_name
        append(
            make(agent_id, name if type(name) is str and name else agent_id, agent_minutes, seconds)
        )
    organization_id, organization_name, reseller_id, reseller_name = _fast_identity(row)
    return TelzinoOrgMinutes(
        organization_id,
        organization_name,
        reseller_id,
        reseller_name,
        minutes,
        _listed_or_total(minutes, listed, len(agents), listed_seconds),
        agent_count,
        tuple(agents),
    )


def _fast_billing_row(row: shapes.BillingRow) -> TelzinoBillingRow:
    """`_billing_row` of a row whose figures are well-formed."""
    minutes = _fast_minutes(row.voice_minutes)
    active_agent_count = count(row.agent_count)
    organization_id, organization_name, reseller_id, reseller_name = _fast_identity(row)
    return TelzinoBillingRow(
        organization_id,
        organization_name,
        reseller_id,
        reseller_name,
        minutes,
        minutes_to_seconds(minutes),
        active_agent_count,
    )


def _fast_org_report(
    fast_row: Callable[[Any], OrgRow],
    parse_row: Callable[[JsonReader, Mapping[str, Any], str], OrgRow],
) -> Callable[[JsonReader, Any], OrgReport[OrgRow]]:
    """The fast reader of an organization report: rows by `fast_row`, else `parse_row`."""

    def read(
        r: JsonReader, report: shapes.MinutesReport | shapes.BillingReport
    ) -> OrgReport[OrgRow]:
        rows = read_rows(r, report.data, "data", fast_row, parse_row)
        return rows, _period(report.period)

    return read


def _fast_agents_page(r: JsonReader, page: shapes.AgentsPage) -> _AgentsPage:
    """`_agents_page`: nothing in an agent can fail once the shape holds both ids."""
    agents: list[TelzinoAgentInfo] = []
    # `_agent_info` inlined, labels too (`label`): an L listing is ~14,000 agents, and a call is
    # a visible share of an agent's time (docs/measurements.md#vendor-body-decoding); the model
    # by its Struct constructor
    make, append, moment = TelzinoAgentInfo, agents.append, moment_of
    for agent in page.data:
        name, external_id, description, status = (
            agent.name,
            agent.external_id,
            agent.description,
            agent.status,
        )
        active = agent.is_active
        created, updated = agent.created_at, agent.updated_at
        created_at = moment(created)
        append(
            make(
                agent.id,
                agent.organization_id,
                name if type(name) is str else None,
                external_id if type(external_id) is str else None,
                description if type(description) is str else None,
                status if type(status) is str else None,
                active if type(active) is bool else None,
                created_at,
                # an agent never updated says so with the same text: one parse for both
                created_at if updated == created else moment(updated),
            )
        )
    return _paged(r, tuple(agents), as_mapping(page, omit=frozenset({"data"})))


def _agent_body(r: JsonReader, body: Any) -> TelzinoAgentInfo:
    return _agent_info(r, r.child(r.obj(body, ""), "data", ""), "data")


def _agent_minutes_rows(r: JsonReader, body: Any) -> tuple[TelzinoAgentMinutesRow, ...]:
    top = r.obj(body, "")
    return tuple(_agent_minutes_row(r, row, where) for where, row in r.objects(top, "data", ""))


_MINUTES_REPORT: Body[shapes.MinutesReport, OrgReport[TelzinoOrgMinutes]] = Body(
    shapes.MinutesReport,
    _fast_org_report(_fast_org_minutes, _org_minutes),
    _org_rows(_org_minutes),
)
_BILLING_REPORT: Body[shapes.BillingReport, OrgReport[TelzinoBillingRow]] = Body(
    shapes.BillingReport,
    _fast_org_report(_fast_billing_row, _billing_row),
    _org_rows(_billing_row),
)
_AGENTS_PAGE: Body[shapes.AgentsPage, _AgentsPage] = Body(
    shapes.AgentsPage, _fast_agents_page, _agents_page
)
_AGENT = Body.plain(_agent_body)
_AGENT_MINUTES = Body.plain(_agent_minutes_rows)

# Each endpoint's answers, both paths (tests and bench/decoding.py compare them).
BODIES: Mapping[str, Body[Any, Any]] = {
    EP_MINUTES_BY_ORG: _MINUTES_REPORT,
    EP_BILLING: _BILLING_REPORT,
    EP_MINUTES_BY_AGENT: _AGENT_MINUTES,
    EP_AGENTS: _AGENTS_PAGE,
    EP_AGENT: _AGENT,
}


# -- client ---------------------------------------------------------------------------------------

# the rows a call decodes (not clients.rows.Row, the rows' base class)
RowT = TypeVar("RowT")


def _unique(ids: Iterable[str], what: str) -> list[str]:
    """Ids in first-seen order without duplicates; an id the comma form cannot carry is refused."""
    if isinstance(ids, str):
        raise TypeError(f"{what} ids must be a sequence of ids, not one string")
    seen: dict[str, None] = {}
    for item in ids:
        if not item.strip() or "," in item:
            raise ValueError(f"invalid {what} id {item!r}: ids are non-blank and comma-free")
        seen[item] = None
    return list(seen)


def _chunks(ids: list[str], size: int) -> list[str]:
    """The ids as comma-joined chunks of at most `size` ids (the comma form of an array param)."""
    return [",".join(ids[i : i + size]) for i in range(0, len(ids), size)]


def _filter_chunks(ids: list[str] | None, size: int) -> list[str | None]:
    """Chunks of an optional filter; [None] (one call, no param) when there is no filter."""
    return [None] if ids is None else list(_chunks(ids, size))


def _check_range(first: date, last: date) -> None:
    if first > last:
        raise ValueError(f"first day {first} is after last day {last}")


def _merge(pages: Iterable[tuple[RowT, ...]], key: Callable[[RowT], str]) -> tuple[RowT, ...]:
    """Rows of every chunk, first occurrence of each id kept, in arrival order."""
    merged: dict[str, RowT] = {}
    for rows in pages:
        for row in rows:
            merged.setdefault(key(row), row)
    return tuple(merged.values())


class TelzinoClient:
    """One Telzino account's reports (api host) and billing (dashboard host), one transport."""

    def __init__(
        self,
        transport: SourceTransport,
        *,
        reports_url: str,
        billing_url: str,
        max_ids_per_call: int = 100,
        agents_page_size: int = AGENTS_MAX_PAGE_SIZE,
    ) -> None:
        if max_ids_per_call < 1:
            raise ValueError("max_ids_per_call must be at least 1")
        if not 1 <= agents_page_size <= AGENTS_MAX_PAGE_SIZE:
            raise ValueError(f"agents_page_size must be 1..{AGENTS_MAX_PAGE_SIZE}")
        self._transport = transport
        self._reports_url = reports_url
        self._billing_url = billing_url
        self.max_ids_per_call = max_ids_per_call
        self.agents_page_size = agents_page_size

    @property
    def source(self) -> str:
        return self._transport.source

    async def _get(
        self,
        base_url: str,
        path: str,
        endpoint: str,
        body: Body[Any, RowT],
        params: Sequence[tuple[str, str]] = (),
    ) -> RowT:
        response = await self._transport.request(
            "GET", join_url(base_url, path), endpoint=endpoint, params=list(params) or None
        )
        return body.decode(
            JsonReader(self.source, endpoint), response.content, response.status_code
        )

    async def _org_report(
        self,
        base_url: str,
        path: str,
        endpoint: str,
        first: date,
        last: date,
        organization_ids: Sequence[str] | None,
        reseller_ids: Sequence[str] | None,
        body: Body[Any, OrgReport[OrgRow]],
    ) -> OrgReport[OrgRow]:
        """Both org reports: chunk the filters, fetch concurrently, merge by organization id."""
        _check_range(first, last)
        org_ids = None if organization_ids is None else _unique(organization_ids, "organization")
        res_ids = None if reseller_ids is None else _unique(reseller_ids, "reseller")
        if org_ids == [] or res_ids == []:
            # an empty filter matches nothing; sending it blank would mean "no filter"
            return (), TelzinoPeriod(first, last)
        dates = [("start_date", first.isoformat()), ("end_date", last.isoformat())]

        async def fetch(org_chunk: str | None, res_chunk: str | None) -> OrgReport[OrgRow]:
            params = list(dates)
            if org_chunk is not None:
                params.append(("organization_ids", org_chunk))
            if res_chunk is not None:
                params.append(("reseller_ids", res_chunk))
            return await self._get(base_url, path, endpoint, body, params)

        # both filters apply together (AND), so every org chunk meets every reseller chunk
        size = self.max_ids_per_call
        calls = product(_filter_chunks(org_ids, size), _filter_chunks(res_ids, size))
        results = await asyncio.gather(*(fetch(o, r) for o, r in calls))
        rows = _merge((rows for rows, _ in results), key=lambda row: row.organization_id)
        return rows, results[0][1]

    async def minutes_by_organization(
        self,
        first: date,
        last: date,
        *,
        organization_ids: Sequence[str] | None = None,
        reseller_ids: Sequence[str] | None = None,
    ) -> TelzinoMinutesReport:
        """Voice minutes per organization with the per-agent breakdown, inclusive UTC days.

        With no filter: every organization the account can see. Both filters: the intersection.
        """
        rows, period = await self._org_report(
            self._reports_url,
            "/v1/reports/minutes-by-organization",
            EP_MINUTES_BY_ORG,
            first,
            last,
            organization_ids,
            reseller_ids,
            _MINUTES_REPORT,
        )
        return TelzinoMinutesReport(organizations=rows, period=period)

    async def billing_report(
        self,
        first: date,
        last: date,
        *,
        organization_ids: Sequence[str] | None = None,
        reseller_ids: Sequence[str] | None = None,
    ) -> TelzinoBillingReport:
        """Billed voice minutes and active agents per organization (dashboard host)."""
        rows, period = await self._org_report(
            self._billing_url,
            "/v1/billing-report",
            EP_BILLING,
            first,
            last,
            organization_ids,
            reseller_ids,
            _BILLING_REPORT,
        )
        return TelzinoBillingReport(organizations=rows, period=period)

    async def minutes_by_agent(
        self, first: date, last: date, agent_ids: Sequence[str]
    ) -> tuple[TelzinoAgentMinutesRow, ...]:
        """Minutes and calls of the given agents; unknown ids are simply absent from the result."""
        _check_range(first, last)
        ids = _unique(agent_ids, "agent")
        if not ids:
            return ()  # the endpoint requires at least one id
        dates = [("start_date", first.isoformat()), ("end_date", last.isoformat())]

        async def fetch(chunk: str) -> tuple[TelzinoAgentMinutesRow, ...]:
            params = [*dates, ("agent_ids", chunk)]
            return await self._get(
                self._reports_url,
                "/v1/reports/minutes-by-agent",
                EP_MINUTES_BY_AGENT,
                _AGENT_MINUTES,
                params,
            )

        pages = await asyncio.gather(*(fetch(c) for c in _chunks(ids, self.max_ids_per_call)))
        return _merge(pages, key=lambda row: row.agent_id)

    async def agents(self, *, organization_id: str | None = None) -> tuple[TelzinoAgentInfo, ...]:
        """Every agent (of one organization, if given), following the pagination to the end.

        Page 1 tells how many pages there are; the rest are fetched concurrently. If the list
        grew meanwhile (the last page still has a next), the walk continues page by page.
        """
        first = await self._agents_page(1, organization_id)
        pages = [first]
        pages += await asyncio.gather(
            *(self._agents_page(n, organization_id) for n in range(2, first.total_pages + 1))
        )
        number = max(first.total_pages, 1)
        while pages[-1].has_next:
            if not pages[-1].agents:
                # a next page after an empty one would loop forever
                raise JsonReader(self.source, EP_AGENTS).fail(
                    "pagination.hasNext", "is true on an empty page"
                )
            number += 1
            pages.append(await self._agents_page(number, organization_id))
        return _merge((p.agents for p in pages), key=lambda agent: agent.id)

    async def _agents_page(self, page: int, organization_id: str | None) -> _AgentsPage:
        params = [("page", str(page)), ("limit", str(self.agents_page_size))]
        if organization_id is not None:
            params.append(("organization_id", organization_id))
        return await self._get(self._reports_url, "/v1/agents", EP_AGENTS, _AGENTS_PAGE, params)

    async def agent(self, agent_id: str) -> TelzinoAgentInfo:
        """One agent by id; an unknown id raises UpstreamNotFoundError."""
        path = f"/v1/agents/{quote(agent_id, safe='')}"
        return await self._get(self._reports_url, path, EP_AGENT, _AGENT)

"""Telzino emulator contract over real HTTP: numbers match the dataset truth, every quirk holds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest

from usagegraph.sandbox import telzino as emulator
from usagegraph.sandbox.dataset import (
    TELZINO_CLIENT_ID,
    TELZINO_CLIENT_SECRET,
    Dataset,
    TelzinoOrg,
    generate,
)
from usagegraph.sandbox.server import SandboxServer

REPORT = "/v1/reports/minutes-by-organization"
BY_AGENT = "/v1/reports/minutes-by-agent"
BILLING = "/v1/billing-report"
AUDIENCE = "https://api.telzino.com/"

Params = list[tuple[str, str]] | dict[str, str]


def to_minutes(seconds: int) -> Decimal:
    """The contract's rounding: seconds / 60 half-up to 0.01."""
    return (Decimal(seconds) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def fetch_token(base_url: str) -> str:
    body = {
        "client_id": TELZINO_CLIENT_ID,
        "client_secret": TELZINO_CLIENT_SECRET,
        "audience": AUDIENCE,
        "grant_type": "client_credentials",
    }
    response = httpx.post(f"{base_url}/telzino-api/oauth/token", json=body)
    assert response.status_code == 200
    return response.json()["access_token"]


class Telzino:
    """A tiny test-side caller for both hosts with one token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.api = f"{base_url}/telzino-api"
        self.dashboard = f"{base_url}/telzino-dashboard"
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, url: str, params: Params | None = None) -> httpx.Response:
        return httpx.get(url, params=params, headers=self.headers)

    def ok(self, url: str, params: Params | None = None) -> Any:
        response = self.get(url, params)
        assert response.status_code == 200, response.text
        # Decimal keeps the vendor's two-decimal floats exact for comparison
        return json.loads(response.text, parse_float=Decimal)

    def report(self, params: Params) -> Any:
        return self.ok(self.api + REPORT, params)

    def billing(self, params: Params) -> Any:
        return self.ok(self.dashboard + BILLING, params)


@pytest.fixture
def telzino(sandbox: SandboxServer) -> Telzino:
    return Telzino(sandbox.base_url, fetch_token(sandbox.base_url))


@pytest.fixture
def window(dataset: Dataset) -> tuple[date, date]:
    """An irregular range well inside the dataset window (crosses month boundaries)."""
    return dataset.start + timedelta(days=35), dataset.start + timedelta(days=97)


def dates(first: date, last: date) -> list[tuple[str, str]]:
    return [("start_date", first.isoformat()), ("end_date", last.isoformat())]


def org_ids_of(body: Any) -> list[str]:
    return [row["organization_id"] for row in body["data"]]


def orgs_of_reseller(dataset: Dataset, reseller_id: str) -> list[TelzinoOrg]:
    return [o for o in dataset.telzino_orgs if o.reseller_id == reseller_id]


# ---------------------------------------------------------------------------------------------
# token and auth


def test_token_endpoint_issues_a_bearer_token(sandbox: SandboxServer) -> None:
    body = {
        "client_id": TELZINO_CLIENT_ID,
        "client_secret": TELZINO_CLIENT_SECRET,
        "audience": AUDIENCE,
        "grant_type": "client_credentials",
    }
    response = httpx.post(f"{sandbox.base_url}/telzino-api/oauth/token", json=body)
    assert response.status_code == 200
    token = response.json()
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == int(sandbox.control.token_ttl)
    assert sandbox.control.tokens.subject("telzino", token["access_token"]) == TELZINO_CLIENT_ID


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "access_denied"),
        ({"client_id": "someone-else"}, 401, "access_denied"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"audience": "https://elsewhere.example/"}, 403, "access_denied"),
    ],
)
def test_token_endpoint_rejects_bad_requests_oauth_style(
    sandbox: SandboxServer, change: dict[str, str], status: int, error: str
) -> None:
    body = {
        "client_id": TELZINO_CLIENT_ID,
        "client_secret": TELZINO_CLIENT_SECRET,
        "audience": AUDIENCE,
        "grant_type": "client_credentials",
    } | change
    response = httpx.post(f"{sandbox.base_url}/telzino-api/oauth/token", json=body)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert "error_description" in response.json()


def test_token_endpoint_rejects_a_non_json_body(sandbox: SandboxServer) -> None:
    response = httpx.post(
        f"{sandbox.base_url}/telzino-api/oauth/token",
        data={"client_id": TELZINO_CLIENT_ID, "client_secret": TELZINO_CLIENT_SECRET},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


PROTECTED = [
    ("telzino-api", REPORT),
    ("telzino-api", BY_AGENT),
    ("telzino-api", "/v1/agents"),
    ("telzino-api", "/v1/agents/some-agent"),
    ("telzino-dashboard", BILLING),
]


@pytest.mark.parametrize(("mount", "path"), PROTECTED)
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic dXNlcjpwYXNz"])
def test_every_endpoint_answers_401_without_a_valid_bearer(
    sandbox: SandboxServer, mount: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    params = {"start_date": "2026-01-01", "end_date": "2026-01-31", "agent_ids": "x"}
    response = httpx.get(f"{sandbox.base_url}/{mount}{path}", params=params, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "Unauthorized", "message": "Invalid or missing token"}


def test_a_revoked_token_is_rejected(telzino: Telzino, sandbox: SandboxServer) -> None:
    assert telzino.get(telzino.api + "/v1/agents").status_code == 200
    sandbox.control.tokens.revoke_all()
    assert telzino.get(telzino.api + "/v1/agents").status_code == 401


def test_one_token_serves_both_hosts(telzino: Telzino, window: tuple[date, date]) -> None:
    report = telzino.get(telzino.api + REPORT, dates(*window))
    billing = telzino.get(telzino.dashboard + BILLING, dates(*window))
    assert (report.status_code, billing.status_code) == (200, 200)


def test_the_dashboard_host_has_no_token_endpoint(sandbox: SandboxServer) -> None:
    response = httpx.post(f"{sandbox.base_url}/telzino-dashboard/oauth/token", json={})
    assert response.status_code == 404
    assert response.json()["error"] == "Not Found"


# ---------------------------------------------------------------------------------------------
# minutes-by-organization


def test_report_lists_every_org_with_exact_minutes(
    telzino: Telzino, dataset: Dataset, window: tuple[date, date]
) -> None:
    first, last = window
    body = telzino.report(dates(first, last))
    assert body["period"] == {"start_date": first.isoformat(), "end_date": last.isoformat()}
    rows = {row["organization_id"]: row for row in body["data"]}
    assert set(rows) == {o.id for o in dataset.telzino_orgs}
    for org in dataset.telzino_orgs:
        row = rows[org.id]
        reseller = dataset.telzino_reseller_by_id[org.reseller_id]
        expected_agents = {
            a.id: to_minutes(dataset.telzino_agent_seconds(a.id, first, last)) for a in org.agents
        }
        assert row["organization_name"] == org.display_name
        assert row["reseller_id"] == org.reseller_id
        assert row["reseller_name"] == reseller.display_name
        assert row["agent_count"] == len(org.agents) == len(row["agents"])
        assert {a["agent_id"]: a["voice_minutes"] for a in row["agents"]} == expected_agents
        # quirk 9: the org total is the sum of the rounded agent minutes, exactly
        assert row["total_voice_minutes"] == sum(expected_agents.values(), Decimal(0))


def test_report_total_is_within_a_minute_rounding_of_truth(
    telzino: Telzino, dataset: Dataset, window: tuple[date, date]
) -> None:
    body = telzino.report(dates(*window))
    for row in body["data"]:
        seconds = dataset.telzino_org_seconds(row["organization_id"], *window)
        # each agent rounds by at most 0.005 min
        assert abs(row["total_voice_minutes"] - Decimal(seconds) / 60) <= Decimal("0.005") * len(
            row["agents"]
        )


def test_minutes_are_json_floats_with_at_most_two_decimals(
    telzino: Telzino, window: tuple[date, date]
) -> None:
    raw = telzino.get(telzino.api + REPORT, dates(*window)).json()
    for row in raw["data"]:
        assert isinstance(row["total_voice_minutes"], float)
        for agent in row["agents"]:
            assert isinstance(agent["voice_minutes"], float)
            assert Decimal(str(agent["voice_minutes"])).as_tuple().exponent >= -2


def test_one_day_range_is_that_days_seconds(telzino: Telzino, dataset: Dataset) -> None:
    org = dataset.telzino_orgs[0]
    agent = org.agents[0]
    index = next(i for i, s in enumerate(agent.seconds.values) if i > 40 and s > 0)
    day = dataset.day(index)
    body = telzino.report([*dates(day, day), ("organization_ids", org.id)])
    minutes = {a["agent_id"]: a["voice_minutes"] for a in body["data"][0]["agents"]}
    assert minutes[agent.id] == to_minutes(agent.seconds.values[index])
    assert body["period"] == {"start_date": day.isoformat(), "end_date": day.isoformat()}


def test_both_end_days_are_included(telzino: Telzino, dataset: Dataset) -> None:
    agent = dataset.telzino_orgs[1].agents[0]
    first, last = 50, 56
    expected = sum(agent.seconds.values[first : last + 1])  # inclusive on both ends
    assert agent.seconds.values[first] > 0 or agent.seconds.values[last] > 0
    body = telzino.report(
        [*dates(dataset.day(first), dataset.day(last)), ("organization_ids", agent.organization_id)]
    )
    minutes = {a["agent_id"]: a["voice_minutes"] for a in body["data"][0]["agents"]}
    assert minutes[agent.id] == to_minutes(expected)


def test_range_outside_the_window_reports_zero_minutes(telzino: Telzino, dataset: Dataset) -> None:
    before = dataset.start - timedelta(days=60)
    body = telzino.report(dates(before, before + timedelta(days=10)))
    assert len(body["data"]) == len(dataset.telzino_orgs)
    assert {row["total_voice_minutes"] for row in body["data"]} == {Decimal(0)}


def test_zero_usage_orgs_and_agents_are_listed(
    telzino: Telzino, dataset: Dataset, window: tuple[date, date]
) -> None:
    rows = {r["organization_id"]: r for r in telzino.report(dates(*window))["data"]}
    no_agents = next(o for o in dataset.telzino_orgs if not o.agents)
    idle = next(
        o
        for o in dataset.telzino_orgs
        if o.agents and dataset.telzino_org_seconds(o.id, *window) == 0
    )
    assert rows[no_agents.id]["agents"] == []
    assert rows[no_agents.id]["agent_count"] == 0
    assert rows[no_agents.id]["total_voice_minutes"] == 0
    assert rows[idle.id]["agent_count"] == len(idle.agents)
    assert [a["voice_minutes"] for a in rows[idle.id]["agents"]] == [0] * len(idle.agents)


def test_agents_sorted_by_minutes_desc(telzino: Telzino, window: tuple[date, date]) -> None:
    rows = telzino.report(dates(*window))["data"]
    for row in rows:
        minutes = [a["voice_minutes"] for a in row["agents"]]
        assert minutes == sorted(minutes, reverse=True)
    assert sum(len(r["agents"]) > 1 for r in rows) > 5


def test_agents_with_equal_minutes_are_ordered_by_id(telzino: Telzino, dataset: Dataset) -> None:
    before = dataset.start - timedelta(days=30)  # no usage at all: every agent ties at 0
    rows = telzino.report(dates(before, before))["data"]
    for row in rows:
        ids = [a["agent_id"] for a in row["agents"]]
        assert ids == sorted(ids)
    assert sum(len(r["agents"]) > 1 for r in rows) > 5


def test_orgs_sorted_by_total_desc_then_id(telzino: Telzino, window: tuple[date, date]) -> None:
    rows = telzino.report(dates(*window))["data"]
    keys = [(-r["total_voice_minutes"], r["organization_id"]) for r in rows]
    assert keys == sorted(keys)
    assert keys[-1][0] == keys[-2][0] == 0  # the two zero orgs tie


def test_name_fallbacks_for_reseller_and_agents(
    telzino: Telzino, dataset: Dataset, window: tuple[date, date]
) -> None:
    unnamed_reseller = next(r for r in dataset.telzino_resellers if r.name is None)
    body = telzino.report([*dates(*window), ("reseller_ids", unnamed_reseller.id)])
    assert body["data"]
    assert {row["reseller_name"] for row in body["data"]} == {unnamed_reseller.id}

    rows = telzino.report(dates(*window))["data"]
    agents = {a["agent_id"]: a["agent_name"] for row in rows for a in row["agents"]}
    by_external = next(a for a in dataset.telzino_agents.values() if not a.name and a.external_id)
    by_id = next(a for a in dataset.telzino_agents.values() if not a.name and not a.external_id)
    assert agents[by_external.id] == by_external.external_id
    assert agents[by_id.id] == by_id.id


# -- array params ------------------------------------------------------------------------------


@pytest.fixture
def three_orgs(dataset: Dataset) -> list[str]:
    return [dataset.telzino_orgs[i].id for i in (0, 3, 5)]


def array_forms(name: str, ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    return {
        "comma": [(name, ",".join(ids))],
        "bracketed": [(f"{name}[]", i) for i in ids],
        "plain repeated": [(name, i) for i in ids],
        "padded with blanks": [
            (name, f" {ids[0]} ,, "),
            (f"{name}[]", ""),
            (name, ",".join(ids[1:])),
        ],
    }


@pytest.mark.parametrize("form", ["comma", "bracketed", "plain repeated", "padded with blanks"])
def test_organization_ids_accept_every_array_form(
    telzino: Telzino, window: tuple[date, date], three_orgs: list[str], form: str
) -> None:
    params = dates(*window) + array_forms("organization_ids", three_orgs)[form]
    assert sorted(org_ids_of(telzino.report(params))) == sorted(three_orgs)
    assert sorted(org_ids_of(telzino.billing(params))) == sorted(three_orgs)


@pytest.mark.parametrize("form", ["comma", "bracketed", "plain repeated", "padded with blanks"])
def test_reseller_ids_accept_every_array_form(
    telzino: Telzino, dataset: Dataset, window: tuple[date, date], form: str
) -> None:
    resellers = [r.id for r in dataset.telzino_resellers[:2]]
    expected = sorted(o.id for o in dataset.telzino_orgs if o.reseller_id in resellers)
    params = dates(*window) + array_forms("reseller_ids", resellers)[form]
    assert sorted(org_ids_of(telzino.report(params))) == expected
    assert sorted(org_ids_of(telzino.billing(params))) == expected


def test_a_blank_filter_means_no_filter(
    telzino: Telzino, dataset: Dataset, window: tuple[date, date]
) -> None:
    body = telzino.report([*dates(*window), ("organization_ids", " , "), ("reseller_ids[]", "")])
    assert len(body["data"]) == len(dataset.telzino_orgs)


def test_org_and_reseller_filters_intersect(
    telzino: Telzino, dataset: Dataset, window: tuple[date, date]
) -> None:
    reseller = dataset.telzino_resellers[0]
    inside = orgs_of_reseller(dataset, reseller.id)[0]
    outside = next(o for o in dataset.telzino_orgs if o.reseller_id != reseller.id)
    params = [
        *dates(*window),
        ("organization_ids", f"{inside.id},{outside.id}"),
        ("reseller_ids", reseller.id),
    ]
    assert org_ids_of(telzino.report(params)) == [inside.id]
    assert org_ids_of(telzino.billing(params)) == [inside.id]


def test_unknown_ids_are_dropped_silently(
    telzino: Telzino, dataset: Dataset, window: tuple[date, date]
) -> None:
    known = dataset.telzino_orgs[2].id
    unknown = "00000000-0000-4000-8000-000000000000"
    params = [*dates(*window), ("organization_ids", f"{unknown},{known}")]
    assert org_ids_of(telzino.report(params)) == [known]


@pytest.mark.parametrize(
    "filters",
    [
        [("organization_ids", "00000000-0000-4000-8000-000000000000")],
        [("reseller_ids[]", "no-such-reseller")],
        # both filters valid on their own, disjoint together
        "disjoint",
    ],
)
def test_no_match_is_200_with_empty_data(
    telzino: Telzino, dataset: Dataset, window: tuple[date, date], filters: Any
) -> None:
    if filters == "disjoint":
        org = orgs_of_reseller(dataset, dataset.telzino_resellers[0].id)[0]
        filters = [("organization_ids", org.id), ("reseller_ids", dataset.telzino_resellers[1].id)]
    first, last = window
    report = telzino.report(dates(first, last) + filters)
    billing = telzino.billing(dates(first, last) + filters)
    assert report == {
        "data": [],
        "period": {"start_date": first.isoformat(), "end_date": last.isoformat()},
    }
    assert billing["data"] == []
    assert billing["period"]["start_date"] == first.strftime("%m/%d/%Y")


@pytest.mark.parametrize(("host", "path"), [("api", REPORT), ("dashboard", BILLING)])
def test_a_repeated_report_is_computed_once_and_answered_with_the_same_bytes(
    telzino: Telzino,
    dataset: Dataset,
    window: tuple[date, date],
    monkeypatch: pytest.MonkeyPatch,
    host: str,
    path: str,
) -> None:
    computed: list[str] = []
    for name in ("_report_row", "_billing_row"):
        original = getattr(emulator, name)

        def counting(ds: Dataset, org: TelzinoOrg, period: Any, original: Any = original) -> Any:
            computed.append(org.id)
            return original(ds, org, period)

        monkeypatch.setattr(emulator, name, counting)
    url = (telzino.api if host == "api" else telzino.dashboard) + path
    first, last = window[0], window[1] - timedelta(days=3)  # a range no other test asks
    a, b = (r.id for r in dataset.telzino_resellers[:2])

    once = telzino.get(url, [*dates(first, last), ("reseller_ids", f"{a},{b}")])
    rows = len(computed)
    # the same question in another of the vendor's array forms, ids in another order
    again = telzino.get(url, [*dates(first, last), ("reseller_ids[]", b), ("reseller_ids[]", a)])
    other = telzino.get(url, [*dates(first, last), ("reseller_ids", a)])

    assert once.status_code == again.status_code == other.status_code == 200
    assert once.headers["content-type"] == "application/json"
    assert again.content == once.content
    assert rows == len(orgs_of_reseller(dataset, a)) + len(orgs_of_reseller(dataset, b))
    assert len(computed) == rows + len(orgs_of_reseller(dataset, a))
    assert other.json()["data"] == [row for row in once.json()["data"] if row["reseller_id"] == a]


# -- 400s --------------------------------------------------------------------------------------

BAD_DATES = [
    {"end_date": "2026-01-31"},
    {"start_date": "2026-01-01"},
    {},
    {"start_date": "2026-13-01", "end_date": "2026-12-31"},
    {"start_date": "2026-02-30", "end_date": "2026-03-31"},
    {"start_date": "20260101", "end_date": "20260131"},
    {"start_date": "01/01/2026", "end_date": "01/31/2026"},
    {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-01-31"},
    {"start_date": "", "end_date": "2026-01-31"},
    {"start_date": "2026-02-01", "end_date": "2026-01-31"},  # reversed
]


@pytest.mark.parametrize("params", BAD_DATES)
@pytest.mark.parametrize(("host", "path"), [("api", REPORT), ("dashboard", BILLING)])
def test_missing_invalid_or_reversed_dates_are_400(
    telzino: Telzino, params: dict[str, str], host: str, path: str
) -> None:
    base = telzino.api if host == "api" else telzino.dashboard
    response = telzino.get(base + path, params)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "Bad Request"
    assert isinstance(body["message"], str) and body["message"]


# ---------------------------------------------------------------------------------------------
# billing-report


def test_billing_report_exact_minutes_and_active_agents(
    telzino: Telzino, dataset: Dataset, window: tuple[date, date]
) -> None:
    first, last = window
    body = telzino.billing(dates(first, last))
    assert body["period"] == {
        "start_date": first.strftime("%m/%d/%Y"),
        "end_date": last.strftime("%m/%d/%Y"),
    }
    rows = {row["organization_id"]: row for row in body["data"]}
    assert set(rows) == {o.id for o in dataset.telzino_orgs}
    for org in dataset.telzino_orgs:
        row = rows[org.id]
        assert set(row) == {
            "organization_id",
            "organization_name",
            "reseller_id",
            "reseller_name",
            "voice_minutes",
            "agent_count",
        }
        assert row["voice_minutes"] == to_minutes(dataset.telzino_org_seconds(org.id, first, last))
        assert row["agent_count"] == dataset.telzino_active_agents(org.id, first, last)
        assert row["organization_name"] == org.display_name
        assert row["reseller_name"] == dataset.telzino_reseller_by_id[org.reseller_id].display_name


def test_billing_agent_count_counts_active_agents_not_all_agents(
    telzino: Telzino, dataset: Dataset, window: tuple[date, date]
) -> None:
    # orgs whose idle agent (j == 3) makes the two reports' agent_count differ
    with_idle = [
        o.id
        for o in dataset.telzino_orgs
        if dataset.telzino_active_agents(o.id, *window) < len(o.agents)
    ]
    assert with_idle
    params = [*dates(*window), ("organization_ids", ",".join(with_idle))]
    billing = {r["organization_id"]: r["agent_count"] for r in telzino.billing(params)["data"]}
    report = {r["organization_id"]: r["agent_count"] for r in telzino.report(params)["data"]}
    for org_id in with_idle:
        assert billing[org_id] < report[org_id]


def test_billing_period_is_zero_padded_us_format(telzino: Telzino, dataset: Dataset) -> None:
    day = next(
        dataset.day(i)
        for i in range(dataset.days)
        if dataset.day(i).month < 10 and dataset.day(i).day < 10
    )
    body = telzino.billing(dates(day, day + timedelta(days=1)))
    assert body["period"] == {
        "start_date": f"0{day.month}/0{day.day}/{day.year}",
        "end_date": f"0{day.month}/0{day.day + 1}/{day.year}",
    }


def test_billing_one_day_equals_that_days_seconds(telzino: Telzino, dataset: Dataset) -> None:
    org = dataset.telzino_orgs[4]
    index = 70
    seconds = sum(a.seconds.values[index] for a in org.agents)
    assert seconds > 0
    day = dataset.day(index)
    body = telzino.billing([*dates(day, day), ("organization_ids[]", org.id)])
    assert body["data"][0]["voice_minutes"] == to_minutes(seconds)
    active = sum(1 for a in org.agents if a.seconds.values[index] > 0)
    assert body["data"][0]["agent_count"] == active


def test_billing_orgs_sorted_by_minutes_desc_then_id(
    telzino: Telzino, window: tuple[date, date]
) -> None:
    rows = telzino.billing(dates(*window))["data"]
    keys = [(-r["voice_minutes"], r["organization_id"]) for r in rows]
    assert keys == sorted(keys)


# ---------------------------------------------------------------------------------------------
# minutes-by-agent


def test_minutes_by_agent_exact_minutes_and_calls(
    telzino: Telzino, dataset: Dataset, window: tuple[date, date]
) -> None:
    first, last = window
    unnamed_reseller = next(r for r in dataset.telzino_resellers if r.name is None)
    picked = [dataset.telzino_orgs[0].agents[0], dataset.telzino_orgs[1].agents[2]]
    picked += [a for o in orgs_of_reseller(dataset, unnamed_reseller.id)[:1] for a in o.agents]
    params = [*dates(first, last), ("agent_ids", ",".join(a.id for a in picked))]
    body = telzino.ok(telzino.api + BY_AGENT, params)
    assert body["period"] == {"start_date": first.isoformat(), "end_date": last.isoformat()}
    rows = {r["agent_id"]: r for r in body["data"]}
    assert set(rows) == {a.id for a in picked}
    for agent in picked:
        org = dataset.telzino_org_by_id[agent.organization_id]
        reseller = dataset.telzino_reseller_by_id[org.reseller_id]
        row = rows[agent.id]
        assert row["agent_name"] == agent.display_name
        assert row["reseller_name"] == (reseller.name or "-")
        assert row["total_minutes"] == to_minutes(
            dataset.telzino_agent_seconds(agent.id, first, last)
        )
        assert row["call_count"] == dataset.telzino_agent_calls(agent.id, first, last)
    assert any(r["reseller_name"] == "-" for r in body["data"])


def test_minutes_by_agent_accepts_bracketed_ids_and_drops_unknown(
    telzino: Telzino, dataset: Dataset, window: tuple[date, date]
) -> None:
    agent = dataset.telzino_orgs[2].agents[1]
    params = [*dates(*window), ("agent_ids[]", agent.id), ("agent_ids[]", "no-such-agent")]
    body = telzino.ok(telzino.api + BY_AGENT, params)
    assert [r["agent_id"] for r in body["data"]] == [agent.id]


def test_minutes_by_agent_with_only_unknown_ids_is_empty(
    telzino: Telzino, window: tuple[date, date]
) -> None:
    body = telzino.ok(telzino.api + BY_AGENT, [*dates(*window), ("agent_ids", "nope,nada")])
    assert body["data"] == []


@pytest.mark.parametrize("agent_ids", [None, "", " , "])
def test_minutes_by_agent_requires_agent_ids(
    telzino: Telzino, window: tuple[date, date], agent_ids: str | None
) -> None:
    params = dates(*window) + ([("agent_ids", agent_ids)] if agent_ids is not None else [])
    response = telzino.get(telzino.api + BY_AGENT, params)
    assert response.status_code == 400
    assert response.json()["error"] == "Bad Request"


def test_minutes_by_agent_rejects_bad_dates(telzino: Telzino, dataset: Dataset) -> None:
    agent_id = dataset.telzino_orgs[0].agents[0].id
    params = {"start_date": "2026-05-02", "end_date": "2026-05-01", "agent_ids": agent_id}
    assert telzino.get(telzino.api + BY_AGENT, params).status_code == 400


# ---------------------------------------------------------------------------------------------
# agents


def walk_agents(telzino: Telzino, **params: str) -> Iterator[dict[str, Any]]:
    page = 1
    while True:
        body = telzino.ok(telzino.api + "/v1/agents", {**params, "page": str(page)})
        yield body
        if not body["pagination"]["hasNext"]:
            return
        page += 1


def test_agents_pagination_walks_every_agent_once(telzino: Telzino, dataset: Dataset) -> None:
    limit = 7
    total = len(dataset.telzino_agents)
    pages = list(walk_agents(telzino, limit=str(limit)))
    expected_pages = -(-total // limit)
    assert len(pages) == expected_pages
    for number, body in enumerate(pages, start=1):
        assert body["pagination"] == {
            "page": number,
            "limit": limit,
            "total": total,
            "totalPages": expected_pages,
            "hasNext": number < expected_pages,
            "hasPrev": number > 1,
        }
    ids = [a["id"] for body in pages for a in body["data"]]
    assert len(ids) == total
    assert set(ids) == set(dataset.telzino_agents)


def test_agents_default_page_and_limit(telzino: Telzino, dataset: Dataset) -> None:
    body = telzino.ok(telzino.api + "/v1/agents")
    assert body["pagination"]["page"] == 1
    assert body["pagination"]["limit"] == 50
    assert len(body["data"]) == min(50, len(dataset.telzino_agents))


def test_agents_filtered_by_organization(telzino: Telzino, dataset: Dataset) -> None:
    org = dataset.telzino_orgs[1]
    body = telzino.ok(telzino.api + "/v1/agents", {"organization_id": org.id, "limit": "100"})
    assert [a["id"] for a in body["data"]] == [a.id for a in org.agents]
    assert body["pagination"]["total"] == len(org.agents)
    assert {a["organization_id"] for a in body["data"]} == {org.id}


def test_agents_of_an_unknown_org_is_an_empty_page(telzino: Telzino) -> None:
    body = telzino.ok(telzino.api + "/v1/agents", {"organization_id": "no-such-org"})
    assert body["data"] == []
    assert body["pagination"]["total"] == 0
    assert body["pagination"]["hasNext"] is False


def test_agents_page_past_the_end_is_empty(telzino: Telzino, dataset: Dataset) -> None:
    body = telzino.ok(telzino.api + "/v1/agents", {"page": "99", "limit": "100"})
    assert body["data"] == []
    assert body["pagination"]["hasNext"] is False
    assert body["pagination"]["hasPrev"] is True
    assert body["pagination"]["total"] == len(dataset.telzino_agents)


def test_agents_limit_of_100_is_allowed(telzino: Telzino, dataset: Dataset) -> None:
    body = telzino.ok(telzino.api + "/v1/agents", {"limit": "100"})
    assert len(body["data"]) == min(100, len(dataset.telzino_agents))


@pytest.mark.parametrize("params", [{"limit": "101"}, {"limit": "0"}, {"page": "0"}, {"page": "x"}])
def test_agents_rejects_bad_paging(telzino: Telzino, params: dict[str, str]) -> None:
    response = telzino.get(telzino.api + "/v1/agents", params)
    assert response.status_code == 400
    assert response.json()["error"] == "Bad Request"


def test_agent_fields_carry_raw_names(telzino: Telzino, dataset: Dataset) -> None:
    unnamed = next(a for a in dataset.telzino_agents.values() if not a.name and not a.external_id)
    body = telzino.ok(telzino.api + f"/v1/agents/{unnamed.id}")
    agent = body["data"]
    assert set(agent) == {
        "id",
        "organization_id",
        "name",
        "external_id",
        "description",
        "status",
        "is_active",
        "created_at",
        "updated_at",
    }
    assert agent["id"] == unnamed.id
    assert agent["organization_id"] == unnamed.organization_id
    assert agent["name"] is None
    assert agent["external_id"] is None
    assert agent["description"] == unnamed.description
    assert agent["is_active"] is True
    assert agent["created_at"] == unnamed.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_unknown_agent_is_404(telzino: Telzino) -> None:
    response = telzino.get(telzino.api + "/v1/agents/no-such-agent")
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found", "message": "Agent not found"}


# ---------------------------------------------------------------------------------------------
# org name fallback: the seed-7 dataset names every Telzino org, so a variant unnames one


@pytest.fixture(scope="module")
def unnamed_org_sandbox() -> Iterator[tuple[SandboxServer, TelzinoOrg]]:
    variant = generate(seed=7, scale="S")
    org = variant.telzino_orgs[0]
    org.name = None
    with SandboxServer(variant) as server:
        yield server, org


def test_org_name_falls_back_to_its_id(
    unnamed_org_sandbox: tuple[SandboxServer, TelzinoOrg],
) -> None:
    server, org = unnamed_org_sandbox
    telzino = Telzino(server.base_url, fetch_token(server.base_url))
    params = [
        ("start_date", "2026-01-01"),
        ("end_date", "2026-01-31"),
        ("organization_ids", org.id),
    ]
    assert telzino.report(params)["data"][0]["organization_name"] == org.id
    assert telzino.billing(params)["data"][0]["organization_name"] == org.id


# ---------------------------------------------------------------------------------------------
# variants


def test_unpadded_period_is_m_d_yyyy(telzino: Telzino, control, dataset: Dataset) -> None:
    day = next(
        dataset.day(i)
        for i in range(dataset.days)
        if dataset.day(i).month < 10 and dataset.day(i).day < 9
    )
    later = date(day.year, 12, 15)
    padded = telzino.billing(dates(day, later))
    control.enable("telzino-billing-unpadded-period")
    body = telzino.billing(dates(day, later))
    assert body["period"] == {
        "start_date": f"{day.month}/{day.day}/{day.year}",  # e.g. 1/5/2026
        "end_date": f"12/15/{day.year}",
    }
    assert body["data"] == padded["data"]
    # the api host's report echoes ISO dates whatever the variant
    report = telzino.report(dates(day, later))
    assert report["period"] == {"start_date": day.isoformat(), "end_date": later.isoformat()}


def test_unpadded_period_goes_away_with_the_variant(telzino: Telzino, control) -> None:
    params = dates(date(2026, 2, 3), date(2026, 2, 4))
    control.enable("telzino-billing-unpadded-period")
    assert telzino.billing(params)["period"]["start_date"] == "2/3/2026"
    control.disable("telzino-billing-unpadded-period")
    assert telzino.billing(params)["period"]["start_date"] == "02/03/2026"


def unlisted_orgs(dataset: Dataset, first: date, last: date) -> list[TelzinoOrg]:
    orgs = [
        o for o in dataset.telzino_orgs if dataset.telzino_org_unlisted_seconds(o.id, first, last)
    ]
    assert len(orgs) >= 2
    return orgs


def test_unlisted_agent_minutes_in_the_report_total_only(
    telzino: Telzino, control, dataset: Dataset, window: tuple[date, date]
) -> None:
    first, last = window
    default = {r["organization_id"]: r for r in telzino.report(dates(first, last))["data"]}
    control.enable("telzino-unlisted-agent-minutes")
    body = telzino.report(dates(first, last))
    rows = {r["organization_id"]: r for r in body["data"]}
    with_unlisted = unlisted_orgs(dataset, first, last)
    for org in with_unlisted:
        row = rows[org.id]
        listed = sum(
            (to_minutes(dataset.telzino_agent_seconds(a.id, first, last)) for a in org.agents),
            Decimal(0),
        )
        unlisted = to_minutes(dataset.telzino_org_unlisted_seconds(org.id, first, last))
        assert row["total_voice_minutes"] == listed + unlisted
        assert unlisted > 0
        assert default[org.id]["total_voice_minutes"] == listed
        # the listed agents and their count are what they were
        assert row["agents"] == default[org.id]["agents"]
        assert row["agent_count"] == len(org.agents)
        assert sum((a["voice_minutes"] for a in row["agents"]), Decimal(0)) == listed
    others = set(rows) - {o.id for o in with_unlisted}
    assert others and all(rows[i] == default[i] for i in others)
    keys = [(-r["total_voice_minutes"], r["organization_id"]) for r in body["data"]]
    assert keys == sorted(keys)


def test_unlisted_agent_minutes_in_the_billing_report(
    telzino: Telzino, control, dataset: Dataset, window: tuple[date, date]
) -> None:
    first, last = window
    default = {r["organization_id"]: r for r in telzino.billing(dates(first, last))["data"]}
    control.enable("telzino-unlisted-agent-minutes")
    rows = {r["organization_id"]: r for r in telzino.billing(dates(first, last))["data"]}
    with_unlisted = unlisted_orgs(dataset, first, last)
    for org in with_unlisted:
        seconds = dataset.telzino_org_seconds(org.id, first, last)
        unlisted = dataset.telzino_org_unlisted_seconds(org.id, first, last)
        assert rows[org.id]["voice_minutes"] == to_minutes(seconds + unlisted)
        assert rows[org.id]["agent_count"] == dataset.telzino_active_agents(org.id, first, last)
        assert rows[org.id]["agent_count"] == default[org.id]["agent_count"]
    others = set(rows) - {o.id for o in with_unlisted}
    assert all(rows[i] == default[i] for i in others)


def test_unlisted_agent_minutes_go_away_with_the_variant(
    telzino: Telzino, control, dataset: Dataset, window: tuple[date, date]
) -> None:
    org = unlisted_orgs(dataset, *window)[0]
    params = [*dates(*window), ("organization_ids", org.id)]
    control.enable("telzino-unlisted-agent-minutes")
    with_variant = telzino.report(params)["data"][0]["total_voice_minutes"]
    control.reset()
    without = telzino.report(params)["data"][0]["total_voice_minutes"]
    seconds = dataset.telzino_org_unlisted_seconds(org.id, *window)
    assert with_variant - without == to_minutes(seconds) > 0

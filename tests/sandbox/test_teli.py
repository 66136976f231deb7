"""Teli emulator contract over HTTP: exact numbers vs truth, every quirk and error body."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from usagegraph.sandbox.dataset import Dataset, TeliOrg, TeliTenant, TeliUser
from usagegraph.sandbox.server import SandboxServer


@pytest.fixture
def http(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{sandbox.base_url}/teli") as client:
        yield client


@pytest.fixture
def tenant(dataset: Dataset) -> TeliTenant:
    return dataset.teli_tenants[0]


@pytest.fixture
def other(dataset: Dataset) -> TeliTenant:
    return dataset.teli_tenants[1]


def get(
    http: httpx.Client, tenant: TeliTenant, path: str, **params: str
) -> tuple[int, dict[str, Any]]:
    """GET with the tenant's key; money decoded as Decimal so exactness is checkable."""
    response = http.get(path, params=params, headers={"X-API-Key": tenant.api_key})
    return response.status_code, json.loads(response.text, parse_float=Decimal)


def usd(cents: int) -> Decimal:
    return Decimal(cents) / 100


def busiest_day(dataset: Dataset, user: TeliUser) -> date:
    """A day with voice, KB and SMS usage, so a one-day range is a meaningful check."""
    days = (dataset.day(i) for i in range(dataset.days))
    return max(days, key=lambda d: dataset.teli_user_totals(user.unique_id, d, d)["kb_seconds"])


def active_user(tenant: TeliTenant) -> tuple[TeliOrg, TeliUser]:
    org = next(o for o in tenant.organizations if o.users)
    return org, org.users[0]


# -- auth -----------------------------------------------------------------------------------------


def test_missing_api_key_is_401_without_powered_by(http: httpx.Client) -> None:
    response = http.get("/v1/organizations")
    assert response.status_code == 401
    assert response.json() == {"error": "API key is required", "success": False}


def test_wrong_api_key_is_401_in_the_teli_envelope(http: httpx.Client) -> None:
    response = http.get("/v1/organizations", headers={"X-API-Key": "not-a-key"})
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid API key", "success": False, "powered_by": "Teli"}


def test_every_endpoint_requires_the_key(http: httpx.Client, tenant: TeliTenant) -> None:
    org = tenant.organizations[0]
    paths = [
        f"/v1/organizations/{org.unique_id}/users",
        "/v1/analytics/organizations",
        f"/v1/analytics/users?organization_id={org.unique_id}",
        f"/v1/analytics/usage?organization_id={org.unique_id}",
        f"/v1/agents?organization_id={org.unique_id}",
    ]
    assert [http.get(p).status_code for p in paths] == [401] * len(paths)


# -- hierarchy ------------------------------------------------------------------------------------


def test_organizations_list_the_tenants_orgs_with_both_ids_and_lifetime_counters(
    http: httpx.Client, dataset: Dataset, tenant: TeliTenant
) -> None:
    status, body = get(http, tenant, "/v1/organizations")
    assert status == 200
    assert body["success"] is True
    assert body["powered_by"] == "Teli"
    assert body["count"] == len(tenant.organizations) == len(body["organizations"])
    for row, org in zip(body["organizations"], tenant.organizations, strict=True):
        life = dataset.teli_org_totals(org.unique_id, dataset.start, dataset.end)
        assert (row["unique_id"], row["id"]) == (org.unique_id, org.id)
        assert (row["name"], row["organization_name"]) == (org.name, org.name)
        assert (row["tenant_id"], row["status"]) == (tenant.tenant_id, org.status)
        assert row["total_sms_outbound"] == life["sms_out"]
        assert row["total_sms_inbound"] == life["sms_in"]
        assert row["total_mms_outbound"] == life["mms_out"]
        assert row["total_mms_inbound"] == life["mms_in"]
        assert row["total_voice_seconds"] == life["voice_seconds"] + life["kb_seconds"]


def test_a_suspended_org_is_listed_with_its_status(
    http: httpx.Client, dataset: Dataset, other: TeliTenant
) -> None:
    _, body = get(http, other, "/v1/organizations")
    statuses = {row["unique_id"]: row["status"] for row in body["organizations"]}
    assert statuses == {o.unique_id: o.status for o in other.organizations}
    assert "suspended" in statuses.values()


def test_users_carry_the_orgs_uuid_not_its_unique_id(
    http: httpx.Client, dataset: Dataset, tenant: TeliTenant
) -> None:
    org = tenant.organizations[0]
    status, body = get(http, tenant, f"/v1/organizations/{org.unique_id}/users")
    assert status == 200
    assert body["count"] == len(org.users) == len(body["users"])
    for row, user in zip(body["users"], org.users, strict=True):
        life = dataset.teli_user_totals(user.unique_id, dataset.start, dataset.end)
        assert (row["unique_id"], row["id"]) == (user.unique_id, user.id)
        assert row["organization_id"] == org.id != org.unique_id
        assert (row["name"], row["email"]) == (user.name, user.email)
        assert (row["permission"], row["status"]) == (user.permission, user.status)
        assert row["total_sms_outbound"] == life["sms_out"]
        assert row["total_mms_inbound"] == life["mms_in"]
        assert row["total_voice_seconds"] == life["voice_seconds"] + life["kb_seconds"]


def test_users_path_takes_the_unique_id_not_the_uuid(
    http: httpx.Client, tenant: TeliTenant
) -> None:
    org = tenant.organizations[0]
    status, body = get(http, tenant, f"/v1/organizations/{org.id}/users")
    assert status == 404
    assert body == {"error": "Organization not found", "success": False, "powered_by": "Teli"}


def test_another_tenants_org_is_answered_like_an_unknown_one(
    http: httpx.Client, tenant: TeliTenant, other: TeliTenant
) -> None:
    foreign = other.organizations[0].unique_id
    unknown = get(http, tenant, "/v1/organizations/1700000000000x000000000000000000/users")
    assert get(http, tenant, f"/v1/organizations/{foreign}/users") == unknown
    assert unknown[0] == 404
    _, listed = get(http, tenant, "/v1/organizations")
    assert foreign not in {row["unique_id"] for row in listed["organizations"]}


def test_agents_require_organization_id(http: httpx.Client, tenant: TeliTenant) -> None:
    status, body = get(http, tenant, "/v1/agents")
    assert status == 400
    assert body == {"error": "organization_id required", "success": False, "powered_by": "Teli"}


def test_agents_list_one_voice_agent_per_user(http: httpx.Client, tenant: TeliTenant) -> None:
    org = tenant.organizations[0]
    status, body = get(http, tenant, "/v1/agents", organization_id=org.unique_id)
    assert status == 200
    assert body["count"] == len(org.users) == len(body["agents"])
    assert [a["created_by_user_id"] for a in body["agents"]] == [u.unique_id for u in org.users]
    assert {a["organization_id"] for a in body["agents"]} == {org.unique_id}


def test_agents_of_another_tenants_org_are_404(
    http: httpx.Client, tenant: TeliTenant, other: TeliTenant
) -> None:
    status, _ = get(http, tenant, "/v1/agents", organization_id=other.organizations[0].unique_id)
    assert status == 404


# -- analytics/organizations ----------------------------------------------------------------------


def expected_org_row(dataset: Dataset, org: TeliOrg, first: date, last: date) -> dict[str, Any]:
    t = dataset.teli_org_totals(org.unique_id, first, last)
    cost = sum(
        t[k]
        for k in (
            "cost_sms_cents",
            "cost_mms_cents",
            "cost_voice_cents",
            "api_storage_cents",
            "cost_other_cents",
        )
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
        "total_voice_seconds": t["voice_seconds"] + t["kb_seconds"],
        "api_requests_count": t["api_requests"],
        "api_storage_cost": usd(t["api_storage_cents"]),
        "phone_rental_count": t["phone_rentals"],
        "phone_purchase_count": t["phone_purchases"],
        "brand_registration_count": t["brand_registrations"],
        "kb_count": t["kbs_created"],
        "total_cost": usd(cost),
    }


def test_org_analytics_match_truth_for_a_range(
    http: httpx.Client, dataset: Dataset, tenant: TeliTenant
) -> None:
    first, last = date(2026, 1, 1), date(2026, 3, 31)
    status, body = get(
        http, tenant, "/v1/analytics/organizations", start_date="2026-01-01", end_date="2026-03-31"
    )
    assert status == 200
    assert body["tenant_id"] == tenant.tenant_id
    assert body["period"] == {"start": "2026-01-01", "end": "2026-03-31"}
    assert "powered_by" not in body
    assert body["organizations"] == [
        expected_org_row(dataset, o, first, last) for o in tenant.organizations
    ]
    # a range with fees in it, so total_cost is more than the users' usage
    assert any(r["phone_rental_count"] for r in body["organizations"])


def test_org_analytics_voice_includes_kb_seconds(
    http: httpx.Client, dataset: Dataset, tenant: TeliTenant
) -> None:
    org = tenant.organizations[0]
    _, body = get(
        http, tenant, "/v1/analytics/organizations", start_date="2026-02-01", end_date="2026-02-28"
    )
    t = dataset.teli_org_totals(org.unique_id, date(2026, 2, 1), date(2026, 2, 28))
    assert t["kb_seconds"] > 0
    assert body["organizations"][0]["total_voice_seconds"] == t["voice_seconds"] + t["kb_seconds"]


def test_org_analytics_dates_are_inclusive(
    http: httpx.Client, dataset: Dataset, tenant: TeliTenant
) -> None:
    org = tenant.organizations[0]
    day = busiest_day(dataset, org.users[0])
    _, body = get(
        http,
        tenant,
        "/v1/analytics/organizations",
        start_date=day.isoformat(),
        end_date=day.isoformat(),
    )
    row = body["organizations"][0]
    assert row == expected_org_row(dataset, org, day, day)
    assert row["total_voice_seconds"] > 0


def test_org_analytics_default_to_the_last_30_days(
    http: httpx.Client, dataset: Dataset, tenant: TeliTenant
) -> None:
    status, body = get(http, tenant, "/v1/analytics/organizations")
    today = datetime.now(UTC).date()
    first = today - timedelta(days=30)
    assert status == 200
    assert body["period"] == {"start": first.isoformat(), "end": today.isoformat()}
    assert body["organizations"] == [
        expected_org_row(dataset, o, first, today) for o in tenant.organizations
    ]


def test_org_analytics_start_defaults_to_30_days_before_the_given_end(
    http: httpx.Client, tenant: TeliTenant
) -> None:
    _, body = get(http, tenant, "/v1/analytics/organizations", end_date="2026-03-31")
    assert body["period"] == {"start": "2026-03-01", "end": "2026-03-31"}


@pytest.mark.parametrize(
    "params",
    [
        {"start_date": "2026-13-01"},
        {"end_date": "yesterday"},
        {"start_date": "2026-02-10T00:00:00Z"},
        {"start_date": "2026-03-02", "end_date": "2026-03-01"},
    ],
)
def test_org_analytics_reject_bad_dates(
    http: httpx.Client, tenant: TeliTenant, params: dict[str, str]
) -> None:
    status, body = get(http, tenant, "/v1/analytics/organizations", **params)
    assert status == 400
    assert body["success"] is False
    assert body["powered_by"] == "Teli"


# -- analytics/users ------------------------------------------------------------------------------


def test_user_analytics_match_truth_with_cost_breakdown(
    http: httpx.Client, dataset: Dataset, tenant: TeliTenant
) -> None:
    org = tenant.organizations[0]
    first, last = date(2026, 4, 1), date(2026, 4, 30)
    status, body = get(
        http,
        tenant,
        "/v1/analytics/users",
        organization_id=org.unique_id,
        start_date="2026-04-01",
        end_date="2026-04-30",
    )
    assert status == 200
    assert (body["organization_id"], body["organization_name"]) == (org.unique_id, org.name)
    assert body["period"] == {"start": "2026-04-01", "end": "2026-04-30"}
    expected = []
    for user in org.users:
        t = dataset.teli_user_totals(user.unique_id, first, last)
        sms, mms, voice = t["cost_sms_cents"], t["cost_mms_cents"], t["cost_voice_cents"]
        expected.append(
            {
                "user_id": user.unique_id,
                "user_name": user.name,
                "user_email": user.email,
                "total_sms_sent": t["sms_out"],
                "total_sms_received": t["sms_in"],
                "total_mms_sent": t["mms_out"],
                "total_mms_received": t["mms_in"],
                "total_voice_calls": t["voice_calls"],
                "total_voice_seconds": t["voice_seconds"] + t["kb_seconds"],
                "cost_breakdown": {"sms": usd(sms), "mms": usd(mms), "voice": usd(voice)},
                "total_cost": usd(sms + mms + voice),
            }
        )
    assert body["users"] == expected
    assert any(u["total_cost"] > 0 for u in body["users"])


def test_user_analytics_require_organization_id(http: httpx.Client, tenant: TeliTenant) -> None:
    status, body = get(http, tenant, "/v1/analytics/users", start_date="2026-04-01")
    assert status == 400
    assert body == {"error": "organization_id required", "success": False, "powered_by": "Teli"}


def test_user_analytics_of_another_tenants_org_are_404(
    http: httpx.Client, tenant: TeliTenant, other: TeliTenant
) -> None:
    foreign = other.organizations[0].unique_id
    status, body = get(http, tenant, "/v1/analytics/users", organization_id=foreign)
    assert status == 404
    assert body["error"] == "Organization not found"


# -- analytics/usage ------------------------------------------------------------------------------


def expected_usage(t: dict[str, int]) -> dict[str, Any]:
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
        "period": "all_time",
    }


def test_usage_by_org_without_dates_is_all_time(
    http: httpx.Client, dataset: Dataset, tenant: TeliTenant
) -> None:
    org = tenant.organizations[0]
    status, body = get(http, tenant, "/v1/analytics/usage", organization_id=org.unique_id)
    life = dataset.teli_org_totals(org.unique_id, dataset.start, dataset.end)
    assert status == 200
    assert body == {
        "success": True,
        "usage": {
            "organization_id": org.unique_id,
            "organization_name": org.name,
            **expected_usage(life),
        },
        "powered_by": "Teli",
    }


def test_usage_by_user_without_dates_is_all_time(
    http: httpx.Client, dataset: Dataset, tenant: TeliTenant
) -> None:
    _, user = active_user(tenant)
    status, body = get(http, tenant, "/v1/analytics/usage", user_id=user.unique_id)
    life = dataset.teli_user_totals(user.unique_id, dataset.start, dataset.end)
    assert status == 200
    assert body["usage"] == {
        "user_id": user.unique_id,
        "user_name": user.name,
        "user_email": user.email,
        **expected_usage(life),
    }
    assert life["kb_seconds"] > 0


def test_usage_one_day_range_is_that_days_truth_and_still_says_all_time(
    http: httpx.Client, dataset: Dataset, tenant: TeliTenant
) -> None:
    _, user = active_user(tenant)
    day = busiest_day(dataset, user)
    status, body = get(
        http,
        tenant,
        "/v1/analytics/usage",
        user_id=user.unique_id,
        start_date=f"{day}T00:00:00Z",
        end_date=f"{day}T23:59:59Z",
    )
    truth = dataset.teli_user_totals(user.unique_id, day, day)
    assert status == 200
    assert truth["voice_seconds"] > 0
    assert body["usage"]["period"] == "all_time"
    assert body["usage"] == {
        "user_id": user.unique_id,
        "user_name": user.name,
        "user_email": user.email,
        **expected_usage(truth),
    }


@pytest.mark.parametrize(
    ("start", "end", "first_offset", "last_offset"),
    [
        ("T00:00:00Z", "T23:59:59Z", 0, 2),  # both edge days count
        ("T00:00:01Z", "T23:59:59Z", 1, 2),  # the first day's first second is missing
        ("T00:00:00Z", "T23:59:58Z", 0, 1),  # the last day's last second is missing
        ("T00:00:00+00:00", "T23:59:59.999Z", 0, 2),
        ("T02:00:00+02:00", "T23:59:59Z", 0, 2),  # 02:00+02:00 is midnight UTC
        ("T00:00:00-01:00", "T23:59:59Z", 1, 2),  # 01:00 UTC: the first day no longer fits
    ],
)
def test_usage_counts_a_day_only_when_its_whole_span_is_inside(
    http: httpx.Client,
    dataset: Dataset,
    tenant: TeliTenant,
    start: str,
    end: str,
    first_offset: int,
    last_offset: int,
) -> None:
    org = tenant.organizations[0]
    day0 = date(2026, 2, 10)
    day2 = day0 + timedelta(days=2)
    _, body = get(
        http,
        tenant,
        "/v1/analytics/usage",
        organization_id=org.unique_id,
        start_date=f"{day0}{start}",
        end_date=f"{day2}{end}",
    )
    first, last = day0 + timedelta(days=first_offset), day0 + timedelta(days=last_offset)
    truth = dataset.teli_org_totals(org.unique_id, first, last)
    assert body["usage"]["voice"]["total_seconds"] == truth["voice_seconds"] + truth["kb_seconds"]
    assert body["usage"]["sms"]["outbound"] == truth["sms_out"]
    # the edge days have usage, so dropping one changes the numbers
    assert dataset.teli_org_totals(org.unique_id, day0, day0)["sms_out"] > 0
    assert dataset.teli_org_totals(org.unique_id, day2, day2)["sms_out"] > 0


def test_usage_with_one_bound_is_open_on_the_other_side(
    http: httpx.Client, dataset: Dataset, tenant: TeliTenant
) -> None:
    org = tenant.organizations[0]
    _, body = get(
        http,
        tenant,
        "/v1/analytics/usage",
        organization_id=org.unique_id,
        start_date="2026-06-01T00:00:00Z",
    )
    truth = dataset.teli_org_totals(org.unique_id, date(2026, 6, 1), dataset.end)
    assert body["usage"]["sms"]["total"] == truth["sms_out"] + truth["sms_in"]


def test_usage_range_without_a_whole_day_is_zero(http: httpx.Client, tenant: TeliTenant) -> None:
    org = tenant.organizations[0]
    _, body = get(
        http,
        tenant,
        "/v1/analytics/usage",
        organization_id=org.unique_id,
        start_date="2026-02-10T06:00:00Z",
        end_date="2026-02-10T18:00:00Z",
    )
    assert body["usage"]["voice"] == {"seconds": 0, "kb_seconds": 0, "total_seconds": 0}


def test_usage_prefers_organization_id_when_both_are_given(
    http: httpx.Client, tenant: TeliTenant
) -> None:
    org = tenant.organizations[1]
    user = tenant.organizations[0].users[0]
    _, both = get(
        http, tenant, "/v1/analytics/usage", organization_id=org.unique_id, user_id=user.unique_id
    )
    _, org_only = get(http, tenant, "/v1/analytics/usage", organization_id=org.unique_id)
    assert both == org_only
    assert "user_id" not in both["usage"]


def test_usage_without_an_id_is_400_with_the_documented_body(
    http: httpx.Client, tenant: TeliTenant
) -> None:
    status, body = get(http, tenant, "/v1/analytics/usage", start_date="2026-02-10T00:00:00Z")
    assert status == 400
    assert body == {"success": False, "error": "organization_id or user_id is required"}


def test_usage_unknown_or_foreign_ids_are_404(
    http: httpx.Client, tenant: TeliTenant, other: TeliTenant
) -> None:
    org_404 = {"success": False, "error": "Organization not found"}
    user_404 = {"success": False, "error": "User not found"}
    foreign_org = other.organizations[0]
    cases = [
        ({"organization_id": "1700000000000x000000000000000000"}, org_404),
        ({"organization_id": foreign_org.unique_id}, org_404),
        ({"user_id": "1700000000000x000000000000000000"}, user_404),
        ({"user_id": foreign_org.users[0].unique_id}, user_404),
    ]
    for params, expected in cases:
        assert get(http, tenant, "/v1/analytics/usage", **params) == (404, expected)


@pytest.mark.parametrize(
    "params",
    [
        {"start_date": "2026-02-10"},  # a date, not a datetime
        {"end_date": "2026-02-10T25:00:00Z"},
        {"start_date": "soon"},
        {"start_date": "2026-02-11T00:00:00Z", "end_date": "2026-02-10T23:59:59Z"},
    ],
)
def test_usage_rejects_bad_datetimes(
    http: httpx.Client, tenant: TeliTenant, params: dict[str, str]
) -> None:
    org = tenant.organizations[0]
    status, body = get(http, tenant, "/v1/analytics/usage", organization_id=org.unique_id, **params)
    assert status == 400
    assert body["success"] is False
    assert "date" in body["error"]


def test_money_floats_carry_exactly_two_decimals(
    http: httpx.Client, dataset: Dataset, tenant: TeliTenant
) -> None:
    response = http.get(
        "/v1/analytics/organizations",
        params={"start_date": "2026-01-01", "end_date": "2026-06-30"},
        headers={"X-API-Key": tenant.api_key},
    )
    costs = [row["total_cost"] for row in response.json()["organizations"]]
    for raw in costs:
        assert isinstance(raw, float)
        assert len(repr(raw).partition(".")[2]) <= 2
    assert sorted(costs) == sorted(
        float(expected_org_row(dataset, o, date(2026, 1, 1), date(2026, 6, 30))["total_cost"])
        for o in tenant.organizations
    )


# -- the partner proxy host and the variants -----------------------------------------------------


@pytest.fixture
def proxy(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{sandbox.base_url}/teli-proxy") as client:
        yield client


def test_the_proxy_serves_usage_exactly_like_the_api_host(
    http: httpx.Client, proxy: httpx.Client, dataset: Dataset, tenant: TeliTenant
) -> None:
    org, user = active_user(tenant)
    cases = [
        {"organization_id": org.unique_id},
        {"user_id": user.unique_id},
        {
            "organization_id": org.unique_id,
            "start_date": "2026-02-10T00:00:00Z",
            "end_date": "2026-03-10T23:59:59Z",
        },
    ]
    for params in cases:
        assert get(proxy, tenant, "/v1/analytics/usage", **params) == get(
            http, tenant, "/v1/analytics/usage", **params
        )
    status, body = get(proxy, tenant, "/v1/analytics/usage", organization_id=org.unique_id)
    life = dataset.teli_org_totals(org.unique_id, dataset.start, dataset.end)
    assert status == 200
    assert body["usage"]["voice"]["total_seconds"] == life["voice_seconds"] + life["kb_seconds"]


def test_the_proxy_answers_usage_errors_like_the_api_host(
    http: httpx.Client, proxy: httpx.Client, tenant: TeliTenant, other: TeliTenant
) -> None:
    foreign = other.organizations[0].unique_id
    for params in ({}, {"organization_id": foreign}, {"user_id": "x", "start_date": "soon"}):
        assert get(proxy, tenant, "/v1/analytics/usage", **params) == get(
            http, tenant, "/v1/analytics/usage", **params
        )
    assert proxy.get("/v1/analytics/usage").json() == {
        "error": "API key is required",
        "success": False,
    }
    wrong = proxy.get("/v1/analytics/usage", headers={"X-API-Key": "not-a-key"})
    assert (wrong.status_code, wrong.json()["error"]) == (401, "Invalid API key")


@pytest.mark.parametrize(
    "path",
    ["/v1/organizations", "/v1/analytics/organizations", "/v1/analytics/users", "/", "/v1/nope"],
)
def test_the_proxy_serves_nothing_else(proxy: httpx.Client, tenant: TeliTenant, path: str) -> None:
    status, body = get(proxy, tenant, path)
    assert status == 404
    assert body == {"success": False, "error": "Not found", "powered_by": "Teli"}


def test_split_hosts_make_the_api_host_404_for_usage(
    http: httpx.Client, proxy: httpx.Client, control, dataset: Dataset, tenant: TeliTenant
) -> None:
    org = tenant.organizations[0]
    before = get(http, tenant, "/v1/analytics/usage", organization_id=org.unique_id)
    control.enable("teli-split-hosts")
    status, body = get(http, tenant, "/v1/analytics/usage", organization_id=org.unique_id)
    assert status == 404
    assert body == {"success": False, "error": "Not found", "powered_by": "Teli"}
    # a 404 for the route, whoever asks
    assert http.get("/v1/analytics/usage").status_code == 404
    # the proxy serves the same numbers as the api host did before
    assert get(proxy, tenant, "/v1/analytics/usage", organization_id=org.unique_id) == before
    assert before[0] == 200
    # every other endpoint stays on the api host
    assert get(http, tenant, "/v1/organizations")[0] == 200


def test_no_cost_breakdown_drops_only_that_field(
    http: httpx.Client, control, dataset: Dataset, tenant: TeliTenant
) -> None:
    org = tenant.organizations[0]
    params = {"organization_id": org.unique_id, "start_date": "2026-04-01"}
    _, full = get(http, tenant, "/v1/analytics/users", **params)
    control.enable("teli-no-cost-breakdown")
    status, body = get(http, tenant, "/v1/analytics/users", **params)
    assert status == 200
    assert body["users"] == [
        {k: v for k, v in row.items() if k != "cost_breakdown"} for row in full["users"]
    ]
    assert all("total_cost" in row for row in body["users"])
    # organization analytics are untouched
    control.disable("teli-no-cost-breakdown")
    _, orgs = get(http, tenant, "/v1/analytics/organizations")
    control.enable("teli-no-cost-breakdown")
    assert get(http, tenant, "/v1/analytics/organizations")[1] == orgs


def test_no_total_cost_drops_costs_from_org_and_user_analytics(
    http: httpx.Client, control, dataset: Dataset, tenant: TeliTenant
) -> None:
    org = tenant.organizations[0]
    first, last = date(2026, 1, 1), date(2026, 3, 31)
    window = {"start_date": first.isoformat(), "end_date": last.isoformat()}
    control.enable("teli-no-total-cost")
    status, orgs = get(http, tenant, "/v1/analytics/organizations", **window)
    assert status == 200
    assert orgs["organizations"] == [
        {
            k: v
            for k, v in expected_org_row(dataset, o, first, last).items()
            if k not in ("total_cost", "api_storage_cost")
        }
        for o in tenant.organizations
    ]
    _, users = get(http, tenant, "/v1/analytics/users", organization_id=org.unique_id, **window)
    assert users["users"]
    for row, user in zip(users["users"], org.users, strict=True):
        assert "total_cost" not in row
        t = dataset.teli_user_totals(user.unique_id, first, last)
        assert row["cost_breakdown"]["voice"] == usd(t["cost_voice_cents"])
        assert row["total_voice_seconds"] == t["voice_seconds"] + t["kb_seconds"]


def test_both_cost_variants_leave_user_rows_without_any_cost(
    http: httpx.Client, control, tenant: TeliTenant
) -> None:
    control.enable("teli-no-total-cost", "teli-no-cost-breakdown")
    org = tenant.organizations[0]
    _, body = get(http, tenant, "/v1/analytics/users", organization_id=org.unique_id)
    assert body["users"]
    assert not any({"total_cost", "cost_breakdown"} & set(row) for row in body["users"])

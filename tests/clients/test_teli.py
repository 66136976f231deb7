"""Teli client vs the sandbox over HTTP; MockTransport for shapes the sandbox never sends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from usagegraph.clients.errors import (
    UpstreamContractError,
    UpstreamNotFoundError,
    UpstreamUnauthorizedError,
)
from usagegraph.clients.http_client import Timeouts, build_http_client
from usagegraph.clients.policy import TransportPolicy
from usagegraph.clients.retries import RetryPolicy
from usagegraph.clients.teli import (
    TeliClient,
    TeliSegments,
    TeliUsage,
    TeliVoice,
    attach_organizations,
    teli_auth,
)
from usagegraph.clients.transport import SourceTransport
from usagegraph.sandbox.control import SandboxControl
from usagegraph.sandbox.dataset import Dataset, TeliTenant, TeliUser
from usagegraph.sandbox.server import SandboxServer

TIMEOUTS = Timeouts(connect=2.0, read=5.0, total=10.0)


def usd(cents: int) -> Decimal:
    return Decimal(cents) / 100


@pytest.fixture
def source(sandbox: SandboxServer) -> dict[str, str]:
    return next(s for s in sandbox.sources() if s["kind"] == "teli")


@pytest.fixture
def tenant(dataset: Dataset, source: dict[str, str]) -> TeliTenant:
    return next(t for t in dataset.teli_tenants if t.api_key == source["api_key"])


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with build_http_client(TIMEOUTS) as client:
        yield client


def make_client(http: httpx.AsyncClient, source: dict[str, str], api_key: str) -> TeliClient:
    transport = SourceTransport(
        source=source["name"],
        http=http,
        auth=teli_auth(api_key),
        policy=TransportPolicy(timeouts=TIMEOUTS, retry=RetryPolicy(max_attempts=1)),
    )
    return TeliClient(transport, base_url=source["base_url"])


@pytest.fixture
def teli(http: httpx.AsyncClient, source: dict[str, str]) -> TeliClient:
    return make_client(http, source, source["api_key"])


def mock_client(
    handler: Callable[[httpx.Request], httpx.Response], *, base_url: str = "https://api.teli.ai"
) -> TeliClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    transport = SourceTransport(
        source="teli-mock",
        http=http,
        auth=teli_auth("k"),
        policy=TransportPolicy(retry=RetryPolicy(max_attempts=1)),
    )
    return TeliClient(transport, base_url=base_url)


def answering(body: dict[str, Any]) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(200, json=body)


def busiest_day(dataset: Dataset, user: TeliUser) -> date:
    days = (dataset.day(i) for i in range(dataset.days))
    return max(days, key=lambda d: dataset.teli_user_totals(user.unique_id, d, d)["kb_seconds"])


def params_of(control: SandboxControl, path: str) -> list[tuple[str, str]]:
    calls = control.calls("teli", path=path)
    assert len(calls) == 1
    return calls[0].params


# -- hierarchy ------------------------------------------------------------------------------------


async def test_organizations_keep_both_ids_and_lifetime_counters(
    teli: TeliClient, dataset: Dataset, tenant: TeliTenant
) -> None:
    orgs = await teli.organizations()
    expected = []
    for org in tenant.organizations:
        life = dataset.teli_org_totals(org.unique_id, dataset.start, dataset.end)
        expected.append(
            (
                org.unique_id,
                org.id,
                org.name,
                org.status,
                tenant.tenant_id,
                TeliSegments(outbound=life["sms_out"], inbound=life["sms_in"]),
                TeliSegments(outbound=life["mms_out"], inbound=life["mms_in"]),
                life["voice_seconds"] + life["kb_seconds"],
            )
        )
    assert [
        (o.unique_id, o.uuid, o.name, o.status, o.tenant_id, o.sms, o.mms, o.voice_seconds)
        for o in orgs
    ] == expected
    assert orgs[0].created_at is not None
    assert orgs[0].created_at.date() == dataset.start


async def test_users_carry_the_org_uuid_and_the_unique_id_from_the_argument(
    teli: TeliClient, dataset: Dataset, tenant: TeliTenant
) -> None:
    org = tenant.organizations[0]
    users = await teli.users(org.unique_id)
    assert [u.unique_id for u in users] == [u.unique_id for u in org.users]
    for got, user in zip(users, org.users, strict=True):
        life = dataset.teli_user_totals(user.unique_id, dataset.start, dataset.end)
        assert (got.uuid, got.name, got.email) == (user.id, user.name, user.email)
        assert (got.permission, got.status) == (user.permission, user.status)
        assert got.organization_uuid == org.id
        assert got.organization_unique_id == org.unique_id
        assert got.sms == TeliSegments(outbound=life["sms_out"], inbound=life["sms_in"])
        assert got.voice_seconds == life["voice_seconds"] + life["kb_seconds"]


async def test_attach_organizations_maps_uuids_to_unique_ids(
    teli: TeliClient, tenant: TeliTenant
) -> None:
    orgs = await teli.organizations()
    org = tenant.organizations[1]
    anonymous = [replace(u, organization_unique_id=None) for u in await teli.users(org.unique_id)]
    stranger = replace(anonymous[0], unique_id="u-x", organization_uuid="not-a-known-uuid")
    attached = attach_organizations([*anonymous, stranger], orgs)
    assert [u.organization_unique_id for u in attached] == [org.unique_id] * len(anonymous) + [None]


async def test_users_of_an_org_without_users_is_empty() -> None:
    client = mock_client(answering({"success": True, "count": 0, "users": []}))
    assert await client.users("1760000000000x100000000000000000") == ()


async def test_users_of_another_tenants_org_is_not_found(
    teli: TeliClient, dataset: Dataset, tenant: TeliTenant
) -> None:
    foreign = next(t for t in dataset.teli_tenants if t is not tenant).organizations[0]
    with pytest.raises(UpstreamNotFoundError) as caught:
        await teli.users(foreign.unique_id)
    assert caught.value.status == 404
    assert caught.value.endpoint == "GET /v1/organizations/{org_id}/users"


async def test_a_wrong_key_is_unauthorized(
    http: httpx.AsyncClient, source: dict[str, str], control: SandboxControl
) -> None:
    client = make_client(http, source, "teli-wrong-key")
    with pytest.raises(UpstreamUnauthorizedError) as caught:
        await client.organizations()
    assert "teli-wrong-key" not in str(caught.value)
    assert control.count("teli") == 1


async def test_agents_belong_to_the_org(teli: TeliClient, tenant: TeliTenant) -> None:
    org = tenant.organizations[0]
    agents = await teli.agents(org.unique_id)
    assert [a.created_by_user_unique_id for a in agents] == [u.unique_id for u in org.users]
    assert {a.organization_unique_id for a in agents} == {org.unique_id}
    assert {a.agent_type for a in agents} == {"voice"}


# -- analytics ------------------------------------------------------------------------------------


async def test_organization_analytics_match_truth(
    teli: TeliClient, dataset: Dataset, tenant: TeliTenant, control: SandboxControl
) -> None:
    first, last = date(2026, 1, 1), date(2026, 3, 31)
    result = await teli.organization_analytics(first, last)
    assert (result.tenant_id, result.first, result.last) == (tenant.tenant_id, first, last)
    assert params_of(control, "/v1/analytics/organizations") == [
        ("start_date", "2026-01-01"),
        ("end_date", "2026-03-31"),
    ]
    assert [r.organization_unique_id for r in result.rows] == [
        o.unique_id for o in tenant.organizations
    ]
    for row, org in zip(result.rows, tenant.organizations, strict=True):
        t = dataset.teli_org_totals(org.unique_id, first, last)
        cents = (
            t["cost_sms_cents"]
            + t["cost_mms_cents"]
            + t["cost_voice_cents"]
            + t["api_storage_cents"]
            + t["cost_other_cents"]
        )
        assert row.name == org.name
        assert row.users_count == len(org.users)
        assert row.sms == TeliSegments(outbound=t["sms_out"], inbound=t["sms_in"])
        assert row.mms == TeliSegments(outbound=t["mms_out"], inbound=t["mms_in"])
        assert row.voice == TeliVoice(
            total_seconds=t["voice_seconds"] + t["kb_seconds"], calls=t["voice_calls"]
        )
        assert row.api_requests == t["api_requests"]
        assert row.api_storage_cost == usd(t["api_storage_cents"])
        assert (row.phone_rentals, row.phone_purchases) == (
            t["phone_rentals"],
            t["phone_purchases"],
        )
        assert (row.brand_registrations, row.kb_count) == (
            t["brand_registrations"],
            t["kbs_created"],
        )
        assert row.total_cost == usd(cents)
        assert isinstance(row.total_cost, Decimal)


async def test_user_analytics_match_truth(
    teli: TeliClient, dataset: Dataset, tenant: TeliTenant, control: SandboxControl
) -> None:
    org = tenant.organizations[0]
    first, last = date(2026, 4, 1), date(2026, 4, 30)
    result = await teli.user_analytics(org.unique_id, first, last)
    assert (result.organization_unique_id, result.organization_name) == (org.unique_id, org.name)
    assert (result.first, result.last) == (first, last)
    assert params_of(control, "/v1/analytics/users") == [
        ("organization_id", org.unique_id),
        ("start_date", "2026-04-01"),
        ("end_date", "2026-04-30"),
    ]
    assert [r.user_unique_id for r in result.rows] == [u.unique_id for u in org.users]
    for row, user in zip(result.rows, org.users, strict=True):
        t = dataset.teli_user_totals(user.unique_id, first, last)
        assert (row.name, row.email) == (user.name, user.email)
        assert row.sms == TeliSegments(outbound=t["sms_out"], inbound=t["sms_in"])
        assert row.mms == TeliSegments(outbound=t["mms_out"], inbound=t["mms_in"])
        assert row.voice == TeliVoice(
            total_seconds=t["voice_seconds"] + t["kb_seconds"], calls=t["voice_calls"]
        )
        assert (row.cost_sms, row.cost_mms) == (usd(t["cost_sms_cents"]), usd(t["cost_mms_cents"]))
        assert row.cost_messaging == usd(t["cost_sms_cents"] + t["cost_mms_cents"])
        assert row.cost_voice == usd(t["cost_voice_cents"])
        assert row.total_cost == usd(
            t["cost_sms_cents"] + t["cost_mms_cents"] + t["cost_voice_cents"]
        )
    assert any(r.total_cost > 0 for r in result.rows)


async def test_user_analytics_accept_the_messaging_cost_breakdown() -> None:
    row = {
        "user_id": "1760000000001x1",
        "user_name": "Ann",
        "total_sms_sent": 3,
        "total_sms_received": 1,
        "total_mms_sent": 0,
        "total_mms_received": 0,
        "total_voice_calls": 2,
        "total_voice_seconds": 90,
        "cost_breakdown": {"messaging_cost": 0.03, "voice_cost": 0.06, "kb_cost": 0},
        "total_cost": 0.09,
    }
    client = mock_client(answering({"success": True, "period": {}, "users": [row]}))
    result = await client.user_analytics("1760000000000x1", date(2026, 1, 1), date(2026, 1, 2))
    only = result.rows[0]
    assert (only.cost_messaging, only.cost_voice) == (Decimal("0.03"), Decimal("0.06"))
    assert (only.cost_sms, only.cost_mms, only.email) == (None, None, None)
    assert result.organization_unique_id == "1760000000000x1"  # falls back to what was asked


# -- usage ----------------------------------------------------------------------------------------


def usage_truth(t: dict[str, int]) -> tuple[TeliSegments, TeliSegments, TeliVoice]:
    return (
        TeliSegments(outbound=t["sms_out"], inbound=t["sms_in"]),
        TeliSegments(outbound=t["mms_out"], inbound=t["mms_in"]),
        TeliVoice(total_seconds=t["voice_seconds"] + t["kb_seconds"], kb_seconds=t["kb_seconds"]),
    )


def triple(usage: TeliUsage) -> tuple[TeliSegments, TeliSegments, TeliVoice]:
    return usage.sms, usage.mms, usage.voice


async def test_lifetime_usage_of_an_org_sends_no_dates(
    teli: TeliClient, dataset: Dataset, tenant: TeliTenant, control: SandboxControl
) -> None:
    org = tenant.organizations[0]
    usage = await teli.usage(organization_id=org.unique_id)
    life = dataset.teli_org_totals(org.unique_id, dataset.start, dataset.end)
    assert params_of(control, "/v1/analytics/usage") == [("organization_id", org.unique_id)]
    assert (usage.organization_unique_id, usage.user_unique_id) == (org.unique_id, None)
    assert (usage.name, usage.first, usage.last) == (org.name, None, None)
    assert triple(usage) == usage_truth(life)
    assert usage.voice.regular_seconds == life["voice_seconds"]


async def test_one_day_usage_of_a_user_is_that_days_truth(
    teli: TeliClient, dataset: Dataset, tenant: TeliTenant, control: SandboxControl
) -> None:
    user = tenant.organizations[0].users[0]
    day = busiest_day(dataset, user)
    usage = await teli.usage(user_id=user.unique_id, first=day, last=day)
    assert params_of(control, "/v1/analytics/usage") == [
        ("user_id", user.unique_id),
        ("start_date", f"{day.isoformat()}T00:00:00Z"),
        ("end_date", f"{day.isoformat()}T23:59:59Z"),
    ]
    truth = dataset.teli_user_totals(user.unique_id, day, day)
    assert truth["kb_seconds"] > 0
    assert triple(usage) == usage_truth(truth)
    assert (usage.user_unique_id, usage.name, usage.email) == (
        user.unique_id,
        user.name,
        user.email,
    )
    assert (usage.first, usage.last) == (day, day)


async def test_ranged_usage_covers_both_edge_days(
    teli: TeliClient, dataset: Dataset, tenant: TeliTenant
) -> None:
    org = tenant.organizations[1]
    first, last = date(2026, 2, 10), date(2026, 2, 12)
    usage = await teli.usage(organization_id=org.unique_id, first=first, last=last)
    assert triple(usage) == usage_truth(dataset.teli_org_totals(org.unique_id, first, last))
    inner = dataset.teli_org_totals(org.unique_id, first + timedelta(days=1), last)
    assert usage.sms.outbound != inner["sms_out"]  # the first day is in, and it matters


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"organization_id": "o", "user_id": "u"},
        {"organization_id": "o", "first": date(2026, 1, 1)},
        {"user_id": "u", "last": date(2026, 1, 1)},
        {"user_id": "u", "first": date(2026, 1, 2), "last": date(2026, 1, 1)},
    ],
)
async def test_usage_rejects_bad_arguments_without_calling(
    teli: TeliClient, control: SandboxControl, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        await teli.usage(**kwargs)
    assert control.count("teli") == 0


async def test_usage_ignores_period() -> None:
    body = {
        "success": True,
        "usage": {
            "user_id": "u1",
            "sms": {"outbound": 2, "inbound": 1, "total": 3},
            "mms": {"outbound": 0, "inbound": 0, "total": 0},
            "voice": {"seconds": 60, "kb_seconds": 30, "total_seconds": 90},
            "period": "all_time",
        },
    }
    client = mock_client(answering(body))
    usage = await client.usage(user_id="u1", first=date(2026, 2, 1), last=date(2026, 2, 28))
    assert (usage.first, usage.last) == (date(2026, 2, 1), date(2026, 2, 28))
    assert usage.voice == TeliVoice(total_seconds=90, kb_seconds=30)
    assert (usage.name, usage.email) == ("u1", None)  # powered_by and user_name are optional


# -- base URL and contract errors -----------------------------------------------------------------


async def test_a_base_url_path_prefix_is_kept() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "success": True,
                "usage": {
                    "organization_id": "1767623610019x414651971228139500",
                    "organization_name": "Acme Corp",
                    "sms": {"outbound": 12450, "inbound": 3821, "total": 16271},
                    "mms": {"outbound": 245, "inbound": 67, "total": 312},
                    "voice": {"seconds": 45678, "kb_seconds": 12345, "total_seconds": 58023},
                    "period": "all_time",
                },
                "powered_by": "Teli",
            },
        )

    client = mock_client(handler, base_url="https://partner.teli.ai/api/proxy/")
    usage = await client.usage(organization_id="1767623610019x414651971228139500")
    (request,) = seen
    assert request.url.host == "partner.teli.ai"
    assert request.url.path == "/api/proxy/v1/analytics/usage"
    assert request.url.params["organization_id"] == "1767623610019x414651971228139500"
    assert request.headers["X-API-Key"] == "k"
    assert usage.voice == TeliVoice(total_seconds=58023, kb_seconds=12345)
    assert usage.sms.total == 16271


async def test_a_malformed_body_is_a_contract_error(
    teli: TeliClient, control: SandboxControl
) -> None:
    control.inject(vendor="teli", malformed=True)
    with pytest.raises(UpstreamContractError) as caught:
        await teli.organization_analytics(date(2026, 1, 1), date(2026, 1, 31))
    assert caught.value.source == "teli-northwind"
    assert caught.value.endpoint == "GET /v1/analytics/organizations"


ORG = {
    "unique_id": "1760000000000x1",
    "id": "4d051118-c116-4923-8ff4-1a9761115fec",
    "name": "Acme",
    "status": "active",
}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"success": True, "organizations": [{k: ORG[k] for k in ("id", "name", "status")}]},
            "organizations[0].unique_id",
        ),
        ({"success": True, "organizations": {"0": ORG}}, "organizations"),
        ({"success": True}, "organizations"),
    ],
)
async def test_a_missing_id_or_list_names_its_path(body: dict[str, Any], field: str) -> None:
    client = mock_client(answering(body))
    with pytest.raises(UpstreamContractError) as caught:
        await client.organizations()
    assert caught.value.field == field
    assert caught.value.endpoint == "GET /v1/organizations"


async def test_organization_fields_that_feed_no_figure_may_be_absent_or_odd() -> None:
    odd = {**ORG, "id": None, "status": 3, "name": None, "total_voice_seconds": "12"}
    client = mock_client(answering({"success": True, "organizations": [ORG, odd]}))
    _, org = await client.organizations()
    assert (org.uuid, org.status, org.name, org.voice_seconds) == (
        None,
        None,
        ORG["unique_id"],
        None,
    )


async def test_a_missing_kb_share_in_usage_nulls_only_that_figure() -> None:
    body = {
        "success": True,
        "usage": {
            "organization_id": "o1",
            "sms": {"outbound": 1, "inbound": 1},
            "mms": {"outbound": 0, "inbound": 0},
            "voice": {"seconds": 10, "total_seconds": 10},
        },
    }
    usage = await mock_client(answering(body)).usage(organization_id="o1")
    assert usage.voice == TeliVoice(total_seconds=10, kb_seconds=None)
    assert usage.sms == TeliSegments(outbound=1, inbound=1)
    ((name, error),) = usage.problems
    assert name == "kb_seconds" and error.field == "usage.voice.kb_seconds"


async def test_usage_without_an_sms_object_nulls_only_sms() -> None:
    body = {
        "success": True,
        "usage": {
            "user_id": "u1",
            "mms": {"outbound": 2, "inbound": 3},
            "voice": {"total_seconds": 10, "kb_seconds": 4},
        },
    }
    usage = await mock_client(answering(body)).usage(user_id="u1")
    assert usage.sms is None and usage.mms == TeliSegments(outbound=2, inbound=3)
    assert [(name, error.field) for name, error in usage.problems] == [("sms", "usage.sms")]


ORG_ROW = {
    "organization_id": "o1",
    "organization_name": "Acme",
    "users_count": 1,
    "total_sms_sent": 1,
    "total_sms_received": 1,
    "total_mms_sent": 0,
    "total_mms_received": 0,
    "total_voice_calls": 1,
    "total_voice_seconds": 60,
    "api_requests_count": 10,
    "api_storage_cost": 0.01,
    "phone_rental_count": 0,
    "phone_purchase_count": 0,
    "brand_registration_count": 0,
    "kb_count": 0,
    "total_cost": 1,
}


async def test_a_string_cost_in_org_analytics_is_a_problem_of_that_figure_only() -> None:
    rows = [{**ORG_ROW, "total_cost": "1.00"}, ORG_ROW]
    client = mock_client(answering({"tenant_id": "t", "organizations": rows, "extra": 1}))
    report = await client.organization_analytics(date(2026, 1, 1), date(2026, 1, 31))
    broken, fine = report.rows
    assert broken.total_cost is None and broken.voice == TeliVoice(total_seconds=60, calls=1)
    ((name, error),) = broken.problems
    assert (name, error.field, error.code) == (
        "total_cost",
        "organizations[0].total_cost",
        "UPSTREAM_CONTRACT",
    )
    assert fine.total_cost == Decimal(1) and fine.problems == ()


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("total_sms_received", "sms"),
        ("total_mms_sent", "mms"),
        ("total_voice_seconds", "voice"),
        ("total_voice_calls", "voice_calls"),
        ("api_requests_count", "api_requests"),
        ("phone_rental_count", "phone_rentals"),
        ("phone_purchase_count", "phone_purchases"),
        ("brand_registration_count", "brand_registrations"),
        ("kb_count", "kb_count"),
        ("users_count", "users_count"),
        ("api_storage_cost", "api_storage_cost"),
    ],
)
async def test_each_missing_org_figure_is_its_own_problem(key: str, problem: str) -> None:
    row = {k: v for k, v in ORG_ROW.items() if k != key}
    client = mock_client(answering({"organizations": [row]}))  # no tenant_id either
    report = await client.organization_analytics(date(2026, 1, 1), date(2026, 1, 31))
    ((name, error),) = report.rows[0].problems
    assert (name, error.field) == (problem, f"organizations[0].{key}")
    assert report.tenant_id == ""


async def test_user_analytics_without_a_cost_breakdown_keep_every_figure() -> None:
    row = {
        "user_id": "u1",
        "total_sms_sent": 5,
        "total_sms_received": 2,
        "total_mms_sent": 0,
        "total_mms_received": 0,
        "total_voice_calls": 1,
        "total_voice_seconds": 60,
        "total_cost": 0.09,
    }
    client = mock_client(answering({"organization_id": "o1", "users": [row]}))
    (user,) = (await client.user_analytics("o1", date(2026, 1, 1), date(2026, 1, 31))).rows
    assert user.sms == TeliSegments(outbound=5, inbound=2)
    assert user.total_cost == Decimal("0.09")
    assert (user.cost_messaging, user.cost_sms, user.cost_voice) == (None, None, None)
    assert user.problems == ()


async def test_usage_goes_to_the_proxy_host_and_the_rest_to_the_api_host() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url.copy_with(query=None)))
        if request.url.path.endswith("/analytics/usage"):
            body = {
                "success": True,
                "usage": {
                    "organization_id": "o1",
                    "sms": {"outbound": 1, "inbound": 0},
                    "mms": {"outbound": 0, "inbound": 0},
                    "voice": {"kb_seconds": 0, "total_seconds": 6},
                },
            }
            return httpx.Response(200, json=body)
        return httpx.Response(200, json={"success": True, "organizations": [ORG]})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    transport = SourceTransport(
        source="teli-mock",
        http=http,
        auth=teli_auth("k"),
        policy=TransportPolicy(retry=RetryPolicy(max_attempts=1)),
    )
    client = TeliClient(
        transport,
        base_url="https://api.teli.ai",
        usage_url="https://partner.teli.ai/api/proxy",
    )
    await client.organizations()
    await client.usage(organization_id="o1")
    assert seen == [
        "https://api.teli.ai/v1/organizations",
        "https://partner.teli.ai/api/proxy/v1/analytics/usage",
    ]

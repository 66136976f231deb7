"""Each seed's example body, exactly as printed, over HTTP to the real client: every normalized
value it yields, checked by hand against the printed numbers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal

import httpx
import pytest

from tests.fixtures.seeds import SeedServer, seed_body
from usagegraph.clients.auth import Auth
from usagegraph.clients.errors import UpstreamBadRequestError
from usagegraph.clients.http_client import Timeouts, build_http_client
from usagegraph.clients.policy import TransportPolicy
from usagegraph.clients.retries import RetryPolicy
from usagegraph.clients.talkdesk import TalkdeskClient, TalkdeskUsageRow, talkdesk_auth
from usagegraph.clients.teli import TeliClient, TeliSegments, TeliVoice, teli_auth
from usagegraph.clients.telzino import TelzinoClient, TelzinoPeriod, telzino_auth
from usagegraph.clients.transport import SourceTransport

TIMEOUTS = Timeouts(connect=2.0, read=5.0, total=10.0)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with build_http_client(TIMEOUTS) as client:
        yield client


def transport(http: httpx.AsyncClient, source: str, auth: Auth) -> SourceTransport:
    return SourceTransport(
        source=source,
        http=http,
        auth=auth,
        policy=TransportPolicy(timeouts=TIMEOUTS, retry=RetryPolicy(max_attempts=1)),
    )


def telzino(server: SeedServer, http: httpx.AsyncClient) -> TelzinoClient:
    auth = telzino_auth(
        token_url=f"{server.base_url}/oauth/token", client_id="id", client_secret="secret"
    )
    return TelzinoClient(
        transport(http, "telzino", auth), reports_url=server.base_url, billing_url=server.base_url
    )


def teli(server: SeedServer, http: httpx.AsyncClient) -> TeliClient:
    return TeliClient(transport(http, "teli", teli_auth("key")), base_url=server.base_url)


# -- seed 000: Telzino minutes-by-organization ---------------------------------------------------


async def test_seed_000_minutes_by_organization(
    seed_server: SeedServer, http: httpx.AsyncClient
) -> None:
    seed_server.answer(
        "/v1/reports/minutes-by-organization", seed_body("000-telzino-minutes-by-organization.json")
    )
    report = await telzino(seed_server, http).minutes_by_organization(
        date(2026, 4, 1), date(2026, 4, 30)
    )
    assert report.period == TelzinoPeriod(date(2026, 4, 1), date(2026, 4, 30))
    (org,) = report.organizations
    assert org.organization_id == "123e4567-e89b-12d3-a456-426614174000"
    assert org.organization_name == "Acme Solar"
    assert org.reseller_id == "323e4567-e89b-12d3-a456-426614174999"
    assert org.reseller_name == "Acme Partners"
    assert org.minutes == Decimal("512.7")
    assert org.agent_count == 2
    assert org.agents is not None
    assert [(a.agent_id, a.agent_name, a.minutes, a.seconds) for a in org.agents] == [
        ("a1b2c3d4-e5f6-7890-abcd-ef1234567890", "Customer Support Agent", Decimal("370.4"), 22224),
        ("b2c3d4e5-f6a7-8901-bcde-f12345678901", "Booking Agent", Decimal("142.3"), 8538),
    ]
    # 370.4 + 142.3 = 512.7 exactly: the org's seconds are its agents' exact seconds
    assert org.seconds == 22224 + 8538 == 30762
    assert org.problems == () and all(a.problems == () for a in org.agents)


# -- seed 001: Telzino billing report ------------------------------------------------------------


async def test_seed_001_billing_report(seed_server: SeedServer, http: httpx.AsyncClient) -> None:
    seed_server.answer("/v1/billing-report", seed_body("001-telzino-billing-report.json"))
    report = await telzino(seed_server, http).billing_report(date(2025, 1, 1), date(2025, 1, 31))
    # the period comes back as MM/DD/YYYY
    assert report.period == TelzinoPeriod(date(2025, 1, 1), date(2025, 1, 31))
    rows = [
        (r.organization_id, r.organization_name, r.reseller_id, r.reseller_name, r.minutes)
        for r in report.organizations
    ]
    assert rows == [
        (
            "123e4567-e89b-12d3-a456-426614174000",
            "Acme Solar",
            "987fcdeb-51a2-3bc4-d567-890123456789",
            "Partner Corp",
            Decimal("1250.5"),
        ),
        (
            "456e7890-e89b-12d3-a456-426614174001",
            "Best Plumbing",
            "987fcdeb-51a2-3bc4-d567-890123456789",
            "Partner Corp",
            Decimal("890.25"),
        ),
    ]
    assert [r.seconds for r in report.organizations] == [75030, 53415]  # x 60, exact
    assert [r.active_agent_count for r in report.organizations] == [5, 3]
    assert all(r.problems == () for r in report.organizations)


# -- seed 002: Teli analytics/organizations ------------------------------------------------------


async def test_seed_002_organization_analytics(
    seed_server: SeedServer, http: httpx.AsyncClient
) -> None:
    seed_server.answer(
        "/v1/analytics/organizations", seed_body("002-teli-analytics-organizations.json")
    )
    report = await teli(seed_server, http).organization_analytics(
        date(2024, 1, 1), date(2024, 1, 31)
    )
    assert report.tenant_id == "your_tenant"
    acme, beta = report.rows
    assert acme.organization_unique_id == "org_abc123" and acme.name == "Acme Corp"
    assert acme.users_count == 8
    assert acme.sms == TeliSegments(outbound=5420, inbound=1250)
    assert acme.mms == TeliSegments(outbound=220, inbound=80)
    assert acme.voice == TeliVoice(total_seconds=52560, calls=840)
    assert (acme.api_requests, acme.api_storage_cost) == (350000, Decimal("5.25"))
    assert (acme.phone_rentals, acme.phone_purchases) == (4, 2)
    assert (acme.brand_registrations, acme.kb_count) == (1, 1)
    assert acme.total_cost == Decimal("445.67")
    assert beta.organization_unique_id == "org_def456" and beta.name == "Beta Inc"
    assert beta.sms == TeliSegments(outbound=3200, inbound=890)
    assert beta.mms == TeliSegments(outbound=150, inbound=45)
    assert beta.voice == TeliVoice(total_seconds=31200, calls=520)
    assert (beta.api_requests, beta.api_storage_cost) == (250000, Decimal("3.75"))
    assert (beta.phone_rentals, beta.phone_purchases, beta.brand_registrations) == (2, 1, 1)
    assert beta.kb_count == 0
    assert beta.total_cost == Decimal("278.90")  # the printed 278.90, not a float's 278.9
    assert acme.problems == beta.problems == ()


async def test_seed_002_schema_example_placeholders_read_as_printed(
    seed_server: SeedServer, http: httpx.AsyncClient
) -> None:
    seed_server.answer(
        "/v1/analytics/organizations",
        seed_body("002-teli-analytics-organizations-schema-example.json"),
    )
    report = await teli(seed_server, http).organization_analytics(
        date(2024, 1, 1), date(2024, 1, 31)
    )
    (row,) = report.rows
    assert (report.tenant_id, row.organization_unique_id, row.name) == ("<string>",) * 3
    assert row.sms == row.mms == TeliSegments(outbound=123, inbound=123)
    assert row.voice == TeliVoice(total_seconds=123, calls=123)
    assert row.total_cost == row.api_storage_cost == Decimal(123)
    assert row.problems == ()


# -- seed 003: Teli analytics/usage ---------------------------------------------------------------


async def test_seed_003_organization_usage(
    seed_server: SeedServer, http: httpx.AsyncClient
) -> None:
    seed_server.answer(
        "/v1/analytics/usage", seed_body("003-teli-analytics-usage-organization.json")
    )
    usage = await teli(seed_server, http).usage(organization_id="1767623610019x414651971228139500")
    assert usage.organization_unique_id == "1767623610019x414651971228139500"
    assert usage.name == "Acme Corp" and usage.email is None
    assert usage.sms == TeliSegments(outbound=12450, inbound=3821)
    assert usage.sms.total == 16271
    assert usage.mms == TeliSegments(outbound=245, inbound=67)
    assert usage.voice == TeliVoice(total_seconds=58023, kb_seconds=12345)
    assert usage.voice.regular_seconds == 45678
    assert (usage.first, usage.last) == (None, None)  # all-time counters
    assert usage.problems == ()


async def test_seed_003_user_usage(seed_server: SeedServer, http: httpx.AsyncClient) -> None:
    seed_server.answer("/v1/analytics/usage", seed_body("003-teli-analytics-usage-user.json"))
    usage = await teli(seed_server, http).usage(user_id="1768236789852x707565875153419434")
    assert usage.user_unique_id == "1768236789852x707565875153419434"
    assert (usage.name, usage.email) == ("John Smith", "john@example.com")
    assert usage.sms == TeliSegments(outbound=1234, inbound=567)
    assert usage.mms == TeliSegments(outbound=89, inbound=12)
    assert usage.voice == TeliVoice(total_seconds=6912, kb_seconds=1234)
    assert usage.voice.regular_seconds == 5678
    assert usage.problems == ()


async def test_seed_003_error_body_is_a_bad_request_that_says_why(
    seed_server: SeedServer, http: httpx.AsyncClient
) -> None:
    seed_server.answer(
        "/v1/analytics/usage", seed_body("003-teli-analytics-usage-error.json"), status=400
    )
    with pytest.raises(UpstreamBadRequestError) as caught:
        await teli(seed_server, http).usage(organization_id="o1")
    assert caught.value.status == 400 and caught.value.source == "teli"
    assert "organization_id or user_id is required" in str(caught.value)


# -- seed 004: Talkdesk monthly usage ------------------------------------------------------------


async def test_seed_004_monthly_usage(seed_server: SeedServer, http: httpx.AsyncClient) -> None:
    seed_server.answer("/express/usage/month", seed_body("004-talkdesk-usage-month.json"))
    auth = talkdesk_auth(
        token_url=f"{seed_server.base_url}/oauth/token", client_id="id", client_secret="secret"
    )
    client = TalkdeskClient(transport(http, "talkdesk", auth), base_url=seed_server.base_url)
    rows = await client.monthly_usage(months=["2023-08"])
    assert rows == (
        TalkdeskUsageRow(
            id="8f3e643c16671acaf60e8bceddbc1877",
            account_id="5ea75fe7aa224700012eae40",
            product_id="TD-LIC-APP-RC-101910",
            aggr_product_id="TD-USG-TEL-UG-102213",
            month="2023-08",
            type="NUMBER",
            description="SIP Number",
            currency="USD",
            direction="INBOUND",
            resolution=None,
            unit="MINUTES",
            price=Decimal(1),
            wallet_name="contact center",
            number_of_units=Decimal(5),
            total_amount=Decimal(5),
        ),
    )
    assert rows[0].problems == ()
    # one page: no `next` anywhere, so nothing else was asked
    assert seed_server.paths().count("/express/usage/month") == 1

"""The seeds' example bodies through the whole graph: one source each, served exactly as printed,
and the normalized figures a user reads checked by hand against the printed numbers.

The seeds print usage reports, not the hierarchy endpoints discovery also needs (Teli's
organization list, Talkdesk's accounts): those few bodies are written here, marked as such.
"""

from __future__ import annotations

from typing import Any

from tests.fixtures.graph import open_graph
from tests.fixtures.seeds import SeedServer, seed_body
from usagegraph.settings import settings_from_sources

FAST = {"max_attempts": 1, "timeout_total": 5.0}


def telzino_source(server: SeedServer) -> dict[str, Any]:
    return {
        "name": "telzino",
        "kind": "telzino",
        "reports_url": server.base_url,
        "billing_url": server.base_url,
        "token_url": f"{server.base_url}/oauth/token",
        "client_id": "id",
        "client_secret": "secret",
        **FAST,
    }


async def test_seed_000_and_001_through_the_graph(seed_server: SeedServer) -> None:
    seed_server.answer(
        "/v1/reports/minutes-by-organization", seed_body("000-telzino-minutes-by-organization.json")
    )
    seed_server.answer("/v1/billing-report", seed_body("001-telzino-billing-report.json"))
    query = """
    {
      organization(id: "telzino:123e4567-e89b-12d3-a456-426614174000") {
        name
        reseller { id name }
        usage(range: {firstDay: "2026-04-01", lastDay: "2026-04-30"}) {
          voice { seconds minutes calls }
          costs { amount currency }
          coverage { complete sources { source status firstDay lastDay } }
          bySource {
            telzino {
              reportedMinutes seconds agentCount
              billing { billedMinutes billedSeconds activeAgents }
            }
          }
        }
        unattributedUsage(range: {firstDay: "2026-04-01", lastDay: "2026-04-30"}) {
          voice { seconds }
        }
        agents(rankedBy: {firstDay: "2026-04-01", lastDay: "2026-04-30"}) {
          name
          usage(range: {firstDay: "2026-04-01", lastDay: "2026-04-30"}) {
            voice { seconds minutes }
          }
        }
      }
    }
    """
    async with open_graph(settings_from_sources([telzino_source(seed_server)])) as run:
        result = await run(query)
    assert "errors" not in result, result
    org = result["data"]["organization"]
    assert org["name"] == "Acme Solar"
    assert org["reseller"] == {
        "id": "telzino:323e4567-e89b-12d3-a456-426614174999",
        "name": "Acme Partners",
    }
    usage = org["usage"]
    assert usage["voice"] == {"seconds": 30762, "minutes": "512.70", "calls": None}
    assert usage["costs"] is None  # Telzino reports no money
    assert usage["coverage"] == {
        "complete": True,
        "sources": [
            {
                "source": "telzino",
                "status": "EXACT",
                "firstDay": "2026-04-01",
                "lastDay": "2026-04-30",
            }
        ],
    }
    (report,) = usage["bySource"][0]["telzino"]
    assert report == {
        "reportedMinutes": "512.7",
        "seconds": 30762,
        "agentCount": 2,
        # seed 001's row for the same organization: its minutes x 60, its active agents
        "billing": {"billedMinutes": "1250.5", "billedSeconds": 75030, "activeAgents": 5},
    }
    assert org["unattributedUsage"]["voice"] == {"seconds": 0}
    assert org["agents"] == [
        {
            "name": "Customer Support Agent",
            "usage": {"voice": {"seconds": 22224, "minutes": "370.40"}},
        },
        {"name": "Booking Agent", "usage": {"voice": {"seconds": 8538, "minutes": "142.30"}}},
    ]


async def test_seed_002_and_003_through_the_graph(seed_server: SeedServer) -> None:
    # not in the seeds: the organization list discovery reads (seed 002's two organizations)
    seed_server.answer(
        "/v1/organizations",
        {
            "success": True,
            "count": 2,
            "organizations": [
                {
                    "unique_id": "org_abc123",
                    "id": "u-1",
                    "name": "Acme Corp",
                    "tenant_id": "your_tenant",
                },
                {
                    "unique_id": "org_def456",
                    "id": "u-2",
                    "name": "Beta Inc",
                    "tenant_id": "your_tenant",
                },
            ],
        },
    )
    seed_server.answer(
        "/v1/analytics/organizations", seed_body("002-teli-analytics-organizations.json")
    )
    seed_server.answer(
        "/v1/analytics/usage", seed_body("003-teli-analytics-usage-organization.json")
    )
    source = {
        "name": "teli",
        "kind": "teli",
        "base_url": seed_server.base_url,
        "api_key": "k",
        **FAST,
    }
    query = """
    {
      reseller(id: "teli:your_tenant") {
        name
        usage(range: {firstDay: "2024-01-01", lastDay: "2024-01-31"}) {
          voice { seconds calls } costs { amount currency }
        }
      }
      organization(id: "teli:org_abc123") {
        usage(range: {firstDay: "2024-01-01", lastDay: "2024-01-31"}) {
          voice { seconds minutes calls }
          sms { inboundSegments outboundSegments otherDirectionSegments }
          mms { inboundSegments outboundSegments }
          apiRequests
          phoneNumbers { rentals purchases }
          brandRegistrations
          knowledgeBases
          costs { amount currency }
          otherUsage { type }
          walletMovements { kind }
        }
        lifetimeUsage {
          voiceSeconds knowledgeBaseSeconds
          sms { inboundSegments outboundSegments }
          mms { inboundSegments outboundSegments }
        }
      }
    }
    """
    async with open_graph(settings_from_sources([source])) as run:
        result = await run(query)
    assert "errors" not in result, result
    reseller = result["data"]["reseller"]
    assert reseller["name"] == "teli:your_tenant"  # Teli names no tenant: its id stands in
    assert reseller["usage"] == {
        "voice": {"seconds": 52560 + 31200, "calls": 840 + 520},
        "costs": [{"amount": "724.57", "currency": "USD"}],  # 445.67 + 278.90
    }
    org = result["data"]["organization"]
    assert org["usage"] == {
        "voice": {"seconds": 52560, "minutes": "876.00", "calls": 840},
        "sms": {"inboundSegments": 1250, "outboundSegments": 5420, "otherDirectionSegments": 0},
        "mms": {"inboundSegments": 80, "outboundSegments": 220},
        "apiRequests": 350000,
        "phoneNumbers": {"rentals": 4, "purchases": 2},
        "brandRegistrations": 1,
        "knowledgeBases": 1,
        "costs": [{"amount": "445.67", "currency": "USD"}],
        "otherUsage": None,  # no Teli row is outside the figures above
        "walletMovements": None,
    }
    assert org["lifetimeUsage"] == {
        "voiceSeconds": 58023,
        "knowledgeBaseSeconds": 12345,
        "sms": {"inboundSegments": 3821, "outboundSegments": 12450},
        "mms": {"inboundSegments": 67, "outboundSegments": 245},
    }


async def test_seed_004_through_the_graph_is_not_five_rentals(seed_server: SeedServer) -> None:
    # not in the seeds: the account list discovery reads (seed 004's account)
    seed_server.answer(
        "/express/accounts",
        {"_embedded": {"accounts": [{"id": "5ea75fe7aa224700012eae40", "name": "acme"}]}},
    )
    seed_server.answer("/express/usage/month", seed_body("004-talkdesk-usage-month.json"))
    source = {
        "name": "talkdesk",
        "kind": "talkdesk",
        "base_url": seed_server.base_url,
        "token_url": f"{seed_server.base_url}/oauth/token",
        "client_id": "id",
        "client_secret": "secret",
        **FAST,
    }
    query = """
    {
      organization(id: "talkdesk:5ea75fe7aa224700012eae40") {
        name
        usage(range: {firstDay: "2023-08-01", lastDay: "2023-08-31"}) {
          voice { seconds }
          sms { inboundSegments outboundSegments otherDirectionSegments }
          apiRequests
          phoneNumbers { rentals purchases }
          costs { amount currency }
          otherUsage { type unit quantity }
          walletMovements { kind amount currency }
          coverage { complete sources { status } }
        }
      }
    }
    """
    async with open_graph(settings_from_sources([source])) as run:
        result = await run(query)
    assert "errors" not in result, result
    org = result["data"]["organization"]
    assert org["name"] == "acme"
    assert org["usage"] == {
        # the seed's row is a NUMBER counted in MINUTES: no rental, no call time, but its cost
        "voice": {"seconds": 0},
        "sms": {"inboundSegments": 0, "outboundSegments": 0, "otherDirectionSegments": 0},
        "apiRequests": 0,
        "phoneNumbers": {"rentals": 0, "purchases": None},
        "costs": [{"amount": "5", "currency": "USD"}],
        "otherUsage": [{"type": "NUMBER", "unit": "MINUTES", "quantity": "5"}],
        "walletMovements": [],
        "coverage": {"complete": True, "sources": [{"status": "EXACT"}]},
    }

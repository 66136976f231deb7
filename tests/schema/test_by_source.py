"""`bySource`: each connection's share of a usage total and the vendor's own rows, exact."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from tests.fixtures.graph import GraphQuery
from tests.fixtures.truth import (
    customer_parts,
    last_full_month,
    organization_id_of,
    talkdesk_costs,
    talkdesk_voice_seconds,
    telzino_org_truth,
)
from usagegraph.sandbox.dataset import Dataset, teli_source_name
from usagegraph.sandbox.server import SandboxServer

FIGURES = """
voice { seconds calls }
sms { inboundSegments outboundSegments }
mms { inboundSegments outboundSegments }
apiRequests
phoneNumbers { rentals purchases }
brandRegistrations
knowledgeBases
costs { amount currency }
"""

BY_SOURCE = (
    """
query ($id: ID!, $first: Date!, $last: Date!) {
  organization(id: $id) {
    usage(range: {firstDay: $first, lastDay: $last}) {
      ...figures
      bySource { source kind nativeIds ...figures }
    }
  }
}
fragment figures on UsageFigures {"""
    + FIGURES
    + "}"
)


def money(items: list[dict[str, str]] | None) -> dict[str, Decimal] | None:
    if items is None:
        return None
    return {m["currency"]: Decimal(m["amount"]) for m in items}


def add(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def summed(shares: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures a total must show, recomputed from the per-source shares."""
    costs: dict[str, Decimal] = {}
    for share in shares:
        for currency, amount in (money(share["costs"]) or {}).items():
            costs[currency] = costs.get(currency, Decimal(0)) + amount

    def group(name: str, keys: tuple[str, ...]) -> dict[str, int | None] | None:
        present = [s[name] for s in shares if s[name] is not None]
        if not present:
            return None
        return {k: add([p[k] for p in present]) for k in keys}

    voice = group("voice", ("seconds", "calls"))
    return {
        "voice": voice,
        "sms": group("sms", ("inboundSegments", "outboundSegments")),
        "mms": group("mms", ("inboundSegments", "outboundSegments")),
        "apiRequests": add([s["apiRequests"] for s in shares]),
        "phoneNumbers": group("phoneNumbers", ("rentals", "purchases")),
        "brandRegistrations": add([s["brandRegistrations"] for s in shares]),
        "knowledgeBases": add([s["knowledgeBases"] for s in shares]),
        "costs": costs if any(s["costs"] is not None for s in shares) else None,
    }


async def test_per_source_figures_sum_to_the_total_for_every_organization(
    graph: GraphQuery, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    for customer in dataset.customer_names:
        org_id = organization_id_of(dataset, customer)
        result = await graph(BY_SOURCE, {"id": org_id, "first": str(first), "last": str(last)})
        assert "errors" not in result, result
        usage = result["data"]["organization"]["usage"]
        shares = usage["bySource"]
        expected_parts = customer_parts(dataset, customer)
        assert [(s["source"], s["kind"], s["nativeIds"]) for s in shares] == [
            (p.source, p.kind, [p.native_id]) for p in expected_parts
        ]
        total = {k: v for k, v in usage.items() if k != "bySource"}
        total["costs"] = money(total["costs"])
        assert total == summed(shares), customer


async def test_telzino_native_row_and_billing_are_exact(
    graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    first += timedelta(days=2)
    query = """
    query ($id: ID!, $first: Date!, $last: Date!) {
      organization(id: $id) {
        usage(range: {firstDay: $first, lastDay: $last}) {
          bySource {
            source
            telzino {
              organizationId organizationName resellerId resellerName
              reportedMinutes seconds agentCount
              billing { billedMinutes billedSeconds activeAgents }
            }
            teli { organizationId }
            talkdesk { id }
          }
        }
      }
    }
    """
    await graph("{ resellers { id } }")  # discovery, counted apart
    sandbox.control.reset()
    for org in dataset.telzino_orgs[:6]:
        variables = {
            "id": organization_id_of(dataset, org.customer),
            "first": str(first),
            "last": str(last),
        }
        result = await graph(query, variables)
        assert "errors" not in result, result
        shares = {s["source"]: s for s in result["data"]["organization"]["usage"]["bySource"]}
        telzino = shares["telzino"]
        assert telzino["teli"] is None and telzino["talkdesk"] is None
        exp = telzino_org_truth(dataset, org.id, first, last)
        reseller = dataset.telzino_reseller_by_id[org.reseller_id]
        (row,) = telzino["telzino"]
        assert Decimal(row.pop("reportedMinutes")) == exp.reported_minutes
        billing = row.pop("billing")
        assert row == {
            "organizationId": org.id,
            "organizationName": org.display_name,
            "resellerId": reseller.id,
            "resellerName": reseller.display_name,
            "seconds": exp.seconds,
            "agentCount": exp.agent_count,
        }
        assert Decimal(billing["billedMinutes"]) == exp.billed_minutes
        assert billing["billedSeconds"] == exp.seconds  # minutes to 0.01 pin the seconds
        assert billing["activeAgents"] == exp.active_agents
        for other in shares.values():
            if other["source"] != "telzino":
                assert other["telzino"] is None
    # the account fits one id chunk, so each report is fetched unfiltered once and every later
    # organization's query in the same range is answered from the cache
    assert sandbox.control.count(mount="telzino-dashboard", path="/v1/billing-report") == 1
    assert sandbox.control.count(mount="telzino-api") == 1  # the minutes report


async def test_billing_for_every_organization_costs_one_billing_report_call(
    graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    query = """
    query ($first: Date!, $last: Date!) {
      organizations {
        id
        usage(range: {firstDay: $first, lastDay: $last}) {
          bySource { telzino { organizationId billing { billedMinutes activeAgents } } }
        }
      }
    }
    """
    await graph("{ resellers { id } }")
    sandbox.control.reset()
    # slow Teli and Talkdesk: organizations with those parts resolve their billing field long
    # after the Telzino-only ones, which must not cost a second billing report
    sandbox.control.inject(vendor="teli", path="/v1/analytics", latency_ms=150)
    sandbox.control.inject(mount="talkdesk", path="/express/usage", latency_ms=250)
    result = await graph(query, {"first": str(first), "last": str(last)})
    assert "errors" not in result
    got = {
        row["organizationId"]: row["billing"]
        for org in result["data"]["organizations"]
        for share in org["usage"]["bySource"]
        for row in share["telzino"] or ()
    }
    assert set(got) == {o.id for o in dataset.telzino_orgs}
    for org in dataset.telzino_orgs:
        exp = telzino_org_truth(dataset, org.id, first, last)
        assert Decimal(got[org.id]["billedMinutes"]) == exp.billed_minutes
        assert got[org.id]["activeAgents"] == exp.active_agents
    assert sandbox.control.count(mount="telzino-dashboard", path="/v1/billing-report") == 1
    assert sandbox.control.count(mount="telzino-dashboard") == 1


TELI_ROW = """
organizationId organizationName usersCount smsSent smsReceived mmsSent mmsReceived
voiceCalls voiceSeconds apiRequests apiStorageCost { amount currency } phoneRentals
phonePurchases brandRegistrations knowledgeBases totalCost { amount currency }
"""


async def test_teli_native_row_is_exact(graph: GraphQuery, dataset: Dataset) -> None:
    first, last = last_full_month(dataset)
    first += timedelta(days=10)
    query = (
        """
    query ($id: ID!, $first: Date!, $last: Date!) {
      organization(id: $id) {
        usage(range: {firstDay: $first, lastDay: $last}) { bySource { source teli { ...row } } }
      }
    }
    fragment row on TeliOrganizationReport {"""
        + TELI_ROW
        + "}"
    )
    for tenant in dataset.teli_tenants:
        source = teli_source_name(tenant)
        for org in tenant.organizations:
            variables = {
                "id": organization_id_of(dataset, org.customer),
                "first": str(first),
                "last": str(last),
            }
            result = await graph(query, variables)
            assert "errors" not in result, result
            shares = {s["source"]: s for s in result["data"]["organization"]["usage"]["bySource"]}
            (row,) = shares[source]["teli"]
            t = dataset.teli_org_totals(org.unique_id, first, last)
            cents = (
                t["cost_sms_cents"]
                + t["cost_mms_cents"]
                + t["cost_voice_cents"]
                + t["api_storage_cents"]
                + t["cost_other_cents"]
            )
            storage, total = row.pop("apiStorageCost"), row.pop("totalCost")
            assert (Decimal(storage["amount"]), storage["currency"]) == (
                Decimal(t["api_storage_cents"]) / 100,
                "USD",
            )
            assert (Decimal(total["amount"]), total["currency"]) == (Decimal(cents) / 100, "USD")
            assert row == {
                "organizationId": org.unique_id,
                "organizationName": org.name,
                "usersCount": len(org.users),
                "smsSent": t["sms_out"],
                "smsReceived": t["sms_in"],
                "mmsSent": t["mms_out"],
                "mmsReceived": t["mms_in"],
                "voiceCalls": t["voice_calls"],
                "voiceSeconds": t["voice_seconds"] + t["kb_seconds"],
                "apiRequests": t["api_requests"],
                "phoneRentals": t["phone_rentals"],
                "phonePurchases": t["phone_purchases"],
                "brandRegistrations": t["brand_registrations"],
                "knowledgeBases": t["kbs_created"],
            }


async def test_talkdesk_line_items_are_exact_with_decimal_amounts_and_currencies(
    graph: GraphQuery, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    month = first.strftime("%Y-%m")
    query = """
    query ($id: ID!, $first: Date!, $last: Date!) {
      organization(id: $id) {
        usage(range: {firstDay: $first, lastDay: $last}) {
          bySource {
            source voice { seconds } costs { amount currency }
            talkdesk {
              id accountId month productId aggrProductId type description direction
              resolution unit numberOfUnits price { amount currency }
              totalAmount { amount currency } walletName
            }
          }
        }
      }
    }
    """
    currencies: set[str] = set()
    for td in dataset.talkdesk_orgs:
        source = f"talkdesk-{td.slug}"
        for account in td.accounts:
            variables = {
                "id": organization_id_of(dataset, account.customer),
                "first": str(first),
                "last": str(last),
            }
            result = await graph(query, variables)
            assert "errors" not in result, result
            shares = {s["source"]: s for s in result["data"]["organization"]["usage"]["bySource"]}
            share = shares[source]
            rows = dataset.talkdesk_rows([account.id], [month])
            assert rows
            got = {item["id"]: item for item in share["talkdesk"]}
            assert len(got) == len(share["talkdesk"]) == len(rows)
            for row in rows:
                item = got[row.id]
                assert Decimal(item.pop("numberOfUnits")) == row.number_of_units
                price, amount = item.pop("price"), item.pop("totalAmount")
                assert (Decimal(price["amount"]), price["currency"]) == (row.price, row.currency)
                assert (Decimal(amount["amount"]), amount["currency"]) == (
                    row.total_amount,
                    row.currency,
                )
                assert item == {
                    "id": row.id,
                    "accountId": account.id,
                    "month": month,
                    "productId": row.product_id,
                    "aggrProductId": row.aggr_product_id,
                    "type": row.type,
                    "description": row.description,
                    "direction": row.direction,
                    "resolution": row.resolution,
                    "unit": row.unit,
                    "walletName": row.wallet_name,
                }
                currencies.add(row.currency)
            assert share["voice"] == {"seconds": talkdesk_voice_seconds(rows)}
            assert money(share["costs"]) == talkdesk_costs(rows)
    assert currencies == {"USD", "EUR"}


async def test_a_mixed_currency_account_keeps_usd_and_eur_apart(
    graph: GraphQuery, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    month = first.strftime("%Y-%m")
    account = next(
        a
        for a in dataset.talkdesk_accounts.values()
        if {r.currency for r in dataset.talkdesk_rows([a.id], [month])} == {"USD", "EUR"}
    )
    query = """
    query ($id: ID!, $first: Date!, $last: Date!) {
      organization(id: $id) {
        usage(range: {firstDay: $first, lastDay: $last}) {
          bySource { source costs { amount currency } }
        }
      }
    }
    """
    variables = {
        "id": organization_id_of(dataset, account.customer),
        "first": str(first),
        "last": str(last),
    }
    result = await graph(query, variables)
    talkdesk = next(
        s
        for s in result["data"]["organization"]["usage"]["bySource"]
        if s["source"].startswith("talkdesk-")
    )
    rows = dataset.talkdesk_rows([account.id], [month])
    expected = talkdesk_costs(rows)
    assert [c["currency"] for c in talkdesk["costs"]] == ["EUR", "USD"]  # sorted, one each
    assert money(talkdesk["costs"]) == expected

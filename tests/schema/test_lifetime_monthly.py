"""`lifetimeUsage` (Teli's all-time counters) and `monthly` series, exact per month."""

from __future__ import annotations

from decimal import Decimal

from tests.fixtures.graph import GraphQuery
from tests.fixtures.truth import (
    customer_parts,
    expected_customer,
    last_full_month,
    month_bounds,
    organization_id_of,
    teli_user_truth,
)
from usagegraph.sandbox.dataset import Dataset, teli_source_name
from usagegraph.sandbox.server import SandboxServer

LIFETIME = """
query ($id: ID!) {
  organization(id: $id) {
    lifetimeUsage {
      voiceSeconds knowledgeBaseSeconds
      sms { inboundSegments outboundSegments }
      mms { inboundSegments outboundSegments }
      sources { source kind nativeId }
    }
  }
}
"""


async def test_organization_lifetime_usage_is_the_whole_dataset_window(
    graph: GraphQuery, dataset: Dataset
) -> None:
    for tenant in dataset.teli_tenants:
        source = teli_source_name(tenant)
        for org in tenant.organizations:
            result = await graph(LIFETIME, {"id": organization_id_of(dataset, org.customer)})
            assert "errors" not in result, result
            t = dataset.teli_lifetime_org_totals(org.unique_id)
            assert result["data"]["organization"]["lifetimeUsage"] == {
                "voiceSeconds": t["voice_seconds"] + t["kb_seconds"],
                "knowledgeBaseSeconds": t["kb_seconds"],
                "sms": {"inboundSegments": t["sms_in"], "outboundSegments": t["sms_out"]},
                "mms": {"inboundSegments": t["mms_in"], "outboundSegments": t["mms_out"]},
                "sources": [{"source": source, "kind": "TELI", "nativeId": org.unique_id}],
            }


async def test_lifetime_usage_is_null_without_a_teli_part(
    graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    org = next(
        o
        for o in dataset.telzino_orgs
        if all(p.kind != "TELI" for p in customer_parts(dataset, o.customer))
    )
    await graph("{ resellers { id } }")
    sandbox.control.reset()
    result = await graph(LIFETIME, {"id": organization_id_of(dataset, org.customer)})
    assert result == {"data": {"organization": {"lifetimeUsage": None}}}
    assert sandbox.control.count() == 0


async def test_user_lifetime_usage_is_the_whole_dataset_window(
    graph: GraphQuery, dataset: Dataset
) -> None:
    query = """
    query ($id: ID!) {
      user(id: $id) {
        lifetimeUsage { voiceSeconds knowledgeBaseSeconds sms { outboundSegments } }
      }
    }
    """
    tenant = dataset.teli_tenants[0]
    for user in tenant.organizations[0].users:
        result = await graph(query, {"id": f"{teli_source_name(tenant)}:{user.unique_id}"})
        exp = teli_user_truth(dataset, user.unique_id, dataset.start, dataset.end)
        assert result["data"]["user"]["lifetimeUsage"] == {
            "voiceSeconds": exp.voice_seconds,
            "knowledgeBaseSeconds": exp.kb_seconds,
            "sms": {"outboundSegments": exp.sms_out},
        }


def recent_months(ds: Dataset, count: int) -> list[str]:
    first, _ = last_full_month(ds)
    months: list[str] = []
    year, month = first.year, first.month
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months[::-1]


MONTHLY = """
query ($id: ID!, $from: String!, $to: String!) {
  organization(id: $id) {
    monthly(firstMonth: $from, lastMonth: $to) {
      month
      usage {
        firstDay lastDay
        voice { seconds }
        sms { inboundSegments outboundSegments }
        costs { amount currency }
        coverage { complete sources { source status } }
      }
    }
  }
}
"""


async def test_monthly_is_exact_per_month_talkdesk_included(
    graph: GraphQuery, dataset: Dataset
) -> None:
    months = recent_months(dataset, 3)
    for customer in ("cust0000", "cust0010", "cust0004"):
        org_id = organization_id_of(dataset, customer)
        result = await graph(MONTHLY, {"id": org_id, "from": months[0], "to": months[-1]})
        assert "errors" not in result, result
        series = result["data"]["organization"]["monthly"]
        assert [m["month"] for m in series] == months
        for entry in series:
            first, last = month_bounds(entry["month"])
            usage = entry["usage"]
            exp = expected_customer(dataset, customer, first, last)
            assert (usage["firstDay"], usage["lastDay"]) == (str(first), str(last))
            assert usage["voice"]["seconds"] == exp.voice_seconds, (customer, entry["month"])
            sms = usage["sms"]
            assert (sms and sms["inboundSegments"], sms and sms["outboundSegments"]) == (
                exp.sms_in,
                exp.sms_out,
            )
            assert usage["costs"] == exp.cost_list(), (customer, entry["month"])
            assert usage["coverage"]["complete"] is True
            assert {s["status"] for s in usage["coverage"]["sources"]} == {"EXACT"}


async def test_costs_are_never_summed_across_currencies(
    graph: GraphQuery, dataset: Dataset
) -> None:
    # cust0010 has Teli costs in USD and a Talkdesk account billing in both USD and EUR
    (month,) = recent_months(dataset, 1)
    first, last = month_bounds(month)
    exp = expected_customer(dataset, "cust0010", first, last)
    assert set(exp.costs) == {"USD", "EUR"}
    result = await graph(MONTHLY, {"id": "cust0010", "from": month, "to": month})
    costs = result["data"]["organization"]["monthly"][0]["usage"]["costs"]
    assert [c["currency"] for c in costs] == ["EUR", "USD"]
    assert {c["currency"]: Decimal(c["amount"]) for c in costs} == exp.costs


async def test_reseller_monthly_is_the_sum_of_its_organizations_monthly(
    graph: GraphQuery, dataset: Dataset
) -> None:
    months = recent_months(dataset, 2)
    query = """
    query ($from: String!, $to: String!) {
      resellers {
        id
        monthly(firstMonth: $from, lastMonth: $to) { month usage { ...f } }
        organizations { monthly(firstMonth: $from, lastMonth: $to) { month usage { ...f } } }
      }
    }
    fragment f on Usage { voice { seconds } sms { outboundSegments } costs { amount currency } }
    """
    result = await graph(query, {"from": months[0], "to": months[-1]})
    assert "errors" not in result
    for reseller in result["data"]["resellers"]:
        for index, entry in enumerate(reseller["monthly"]):
            orgs = [o["monthly"][index]["usage"] for o in reseller["organizations"]]
            assert entry["month"] == months[index]
            usage = entry["usage"]
            assert usage["voice"]["seconds"] == sum(
                o["voice"]["seconds"] for o in orgs if o["voice"]
            )
            sms = [o["sms"]["outboundSegments"] for o in orgs if o["sms"]]
            assert (usage["sms"] and usage["sms"]["outboundSegments"]) == (
                sum(sms) if sms else None
            )
            totals: dict[str, Decimal] = {}
            for org in orgs:
                for c in org["costs"] or ():
                    totals[c["currency"]] = totals.get(c["currency"], Decimal(0)) + Decimal(
                        c["amount"]
                    )
            got = {c["currency"]: Decimal(c["amount"]) for c in usage["costs"] or ()}
            assert got == totals


async def test_monthly_makes_at_most_one_call_per_source_and_month(
    graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    months = recent_months(dataset, 3)
    await graph("{ resellers { id } }")
    sandbox.control.reset()
    result = await graph(MONTHLY, {"id": "cust0000", "from": months[0], "to": months[-1]})
    assert "errors" not in result
    control = sandbox.control
    assert control.count(mount="telzino-api", path="/v1/reports/minutes-by-organization") == 3
    assert control.count("teli", path="/v1/analytics/organizations") == 3
    assert control.count("talkdesk", path="/express/usage/month") <= 3
    assert control.count() == 6 + control.count("talkdesk", path="/express/usage/month")


async def test_monthly_calls_only_the_sources_its_selection_reads(
    graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    months = recent_months(dataset, 2)
    await graph("{ resellers { id } }")
    sandbox.control.reset()
    query = """
    query ($from: String!, $to: String!) {
      organization(id: "cust0000") {
        monthly(firstMonth: $from, lastMonth: $to) { month usage { firstDay days } }
      }
      resellers { monthly(firstMonth: $from, lastMonth: $to) { month } }
    }
    """
    result = await graph(query, {"from": months[0], "to": months[-1]})
    assert "errors" not in result
    assert [m["month"] for m in result["data"]["organization"]["monthly"]] == months
    assert sandbox.control.count() == 0  # no figure asked, no vendor called

    costs = """
    query ($from: String!, $to: String!) {
      organization(id: "cust0000") {
        monthly(firstMonth: $from, lastMonth: $to) { usage { costs { amount currency } } }
      }
    }
    """
    result = await graph(costs, {"from": months[0], "to": months[-1]})
    assert "errors" not in result
    assert sandbox.control.count("telzino") == 0  # Telzino has no costs
    for entry, month in zip(result["data"]["organization"]["monthly"], months, strict=True):
        first, last = month_bounds(month)
        assert (
            entry["usage"]["costs"]
            == expected_customer(dataset, "cust0000", first, last).cost_list()
        )

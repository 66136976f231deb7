"""Totals reconcile exactly: sources sum to the total, organizations to their reseller, agents
to their organization's Telzino share; and each level equals the dataset's truth."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from tests.fixtures.graph import GraphQuery
from tests.fixtures.truth import (
    customer_channel,
    expected_customer,
    last_full_month,
    organization_id_of,
    reseller_id_of,
)
from usagegraph.sandbox.dataset import Dataset

FIGURES = """
fragment figures on UsageFigures {
  voice { seconds calls }
  sms { inboundSegments outboundSegments }
  mms { inboundSegments outboundSegments }
  apiRequests
  phoneNumbers { rentals purchases }
  brandRegistrations
  knowledgeBases
  costs { amount currency }
}
"""

COUNTERS = (
    ("voice", "seconds"),
    ("voice", "calls"),
    ("sms", "inboundSegments"),
    ("sms", "outboundSegments"),
    ("mms", "inboundSegments"),
    ("mms", "outboundSegments"),
    ("apiRequests", None),
    ("phoneNumbers", "rentals"),
    ("phoneNumbers", "purchases"),
    ("brandRegistrations", None),
    ("knowledgeBases", None),
)


def counter(figures: dict[str, Any], name: str, sub: str | None) -> int | None:
    value = figures[name]
    if sub is not None and value is not None:
        value = value[sub]
    return value


def costs(figures: dict[str, Any]) -> dict[str, Decimal]:
    return {c["currency"]: Decimal(c["amount"]) for c in figures["costs"] or ()}


def assert_sum(total: dict[str, Any], parts: list[dict[str, Any]], where: str) -> None:
    """Every counter of `total` is the sum of the parts that measure it (null when none does),
    and costs add up per currency."""
    for name, sub in COUNTERS:
        measured = [counter(p, name, sub) for p in parts]
        known = [v for v in measured if v is not None]
        assert counter(total, name, sub) == (sum(known) if known else None), (where, name, sub)
    expected: dict[str, Decimal] = {}
    for part in parts:
        for currency, amount in costs(part).items():
            expected[currency] = expected.get(currency, Decimal(0)) + amount
    assert costs(total) == expected, where


RESELLERS = (
    """
query ($first: Date!, $last: Date!, $partial: PartialMonths!) {
  resellers {
    id
    usage(range: {firstDay: $first, lastDay: $last}, partialMonths: $partial) {
      ...figures
      bySource { source ...figures }
    }
    organizations {
      id
      usage(range: {firstDay: $first, lastDay: $last}, partialMonths: $partial) {
        ...figures
        bySource { source ...figures }
      }
    }
  }
}
"""
    + FIGURES
)


async def test_sources_organizations_and_resellers_reconcile_for_a_whole_month(
    graph: GraphQuery, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    variables = {"first": str(first), "last": str(last), "partial": "EXCLUDE"}
    result = await graph(RESELLERS, variables)
    assert "errors" not in result, result
    orgs_seen = 0
    for reseller in result["data"]["resellers"]:
        usage = reseller["usage"]
        assert_sum(usage, usage["bySource"], reseller["id"])
        assert_sum(usage, [o["usage"] for o in reseller["organizations"]], reseller["id"])
        for org in reseller["organizations"]:
            assert_sum(org["usage"], org["usage"]["bySource"], org["id"])
            orgs_seen += 1
    assert orgs_seen == len(dataset.customer_names)


async def test_reconciliation_holds_for_a_partial_month_counted_as_whole_months(
    graph: GraphQuery, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    first, last = first + timedelta(days=5), last + timedelta(days=9)  # spills into next month
    variables = {"first": str(first), "last": str(last), "partial": "WHOLE_MONTHS"}
    result = await graph(RESELLERS, variables)
    assert "errors" not in result, result
    for reseller in result["data"]["resellers"]:
        usage = reseller["usage"]
        assert_sum(usage, usage["bySource"], reseller["id"])
        assert_sum(usage, [o["usage"] for o in reseller["organizations"]], reseller["id"])


async def test_reseller_usage_equals_the_truth_of_its_customers(
    graph: GraphQuery, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    query = """
    query ($first: Date!, $last: Date!) {
      resellers {
        id
        usage(range: {firstDay: $first, lastDay: $last}) {
          voice { seconds } sms { inboundSegments outboundSegments } costs { amount currency }
        }
      }
    }
    """
    result = await graph(query, {"first": str(first), "last": str(last)})
    got = {r["id"]: r["usage"] for r in result["data"]["resellers"]}
    for channel in dataset.channel_names:
        customers = [c for c in dataset.customer_names if customer_channel(dataset, c) == channel]
        truths = [expected_customer(dataset, c, first, last) for c in customers]
        usage = got[reseller_id_of(dataset, channel)]
        assert usage["voice"]["seconds"] == sum(t.voice_seconds for t in truths), channel
        sms_in = [t.sms_in for t in truths if t.sms_in is not None]
        sms_out = [t.sms_out for t in truths if t.sms_out is not None]
        assert usage["sms"] == (
            {"inboundSegments": sum(sms_in), "outboundSegments": sum(sms_out)} if sms_in else None
        )
        expected: dict[str, Decimal] = {}
        for truth in truths:
            for currency, amount in truth.costs.items():
                expected[currency] = expected.get(currency, Decimal(0)) + amount
        assert costs(usage) == expected, channel


async def test_an_organizations_telzino_share_is_the_sum_of_its_agents(
    graph: GraphQuery, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    first += timedelta(days=1)
    query = """
    query ($first: Date!, $last: Date!) {
      organizations {
        id
        usage(range: {firstDay: $first, lastDay: $last}) { bySource { source voice { seconds } } }
        agents { id usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } } }
      }
    }
    """
    result = await graph(query, {"first": str(first), "last": str(last)})
    assert "errors" not in result
    orgs = {o["id"]: o for o in result["data"]["organizations"]}
    for org in dataset.telzino_orgs:
        node = orgs[organization_id_of(dataset, org.customer)]
        telzino = next(s for s in node["usage"]["bySource"] if s["source"] == "telzino")
        agents = {a["id"]: a["usage"]["voice"]["seconds"] for a in node["agents"]}
        assert telzino["voice"]["seconds"] == sum(agents.values())
        assert agents == {
            f"telzino:{a.id}": dataset.telzino_agent_seconds(a.id, first, last) for a in org.agents
        }
        assert telzino["voice"]["seconds"] == dataset.telzino_org_seconds(org.id, first, last)

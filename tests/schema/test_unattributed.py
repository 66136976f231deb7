"""An organization's usage = its agents' + its users' + its unattributed remainder."""

from __future__ import annotations

from decimal import Decimal

from tests.fixtures.graph import GraphQuery
from tests.fixtures.truth import last_full_month
from usagegraph.sandbox.dataset import Dataset
from usagegraph.sandbox.server import SandboxServer

QUERY = """
query ($first: Date!, $last: Date!) {
  organizations {
    id
    usage(range: {firstDay: $first, lastDay: $last}) { ...figures }
    unattributedUsage(range: {firstDay: $first, lastDay: $last}) {
      ...figures
      bySource { source voice { seconds } costs { amount currency } }
    }
    agents { usage(range: {firstDay: $first, lastDay: $last}) { ...figures } }
    users { usage(range: {firstDay: $first, lastDay: $last}) { ...figures } }
  }
}
fragment figures on Usage {
  voice { seconds calls }
  sms { inboundSegments outboundSegments }
  mms { inboundSegments outboundSegments }
  costs { amount currency }
}
"""


def flat(usage: dict) -> dict[str, Decimal]:
    """The figures as one flat mapping; absent (null) figures count as nothing."""
    out: dict[str, Decimal] = {}
    for group in ("voice", "sms", "mms"):
        for name, value in (usage[group] or {}).items():
            if value is not None:
                out[f"{group}.{name}"] = Decimal(value)
    for cost in usage["costs"] or []:
        out[f"cost.{cost['currency']}"] = Decimal(cost["amount"])
    return out


def add(total: dict[str, Decimal], more: dict[str, Decimal]) -> None:
    for key, value in more.items():
        total[key] = total.get(key, Decimal(0)) + value


async def test_agents_users_and_remainder_add_up_to_the_organization(
    graph: GraphQuery, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    result = await graph(QUERY, {"first": str(first), "last": str(last)})
    assert "errors" not in result, result.get("errors")
    checked = 0
    for org in result["data"]["organizations"]:
        parts: dict[str, Decimal] = {}
        for member in (org["agents"] or []) + (org["users"] or []):
            add(parts, flat(member["usage"]))
        add(parts, flat(org["unattributedUsage"]))
        whole = flat(org["usage"])
        assert {k: v for k, v in parts.items() if v} == {k: v for k, v in whole.items() if v}, org[
            "id"
        ]
        checked += 1
    assert checked == len(result["data"]["organizations"]) > 10


async def test_remainder_is_teli_org_fees_and_no_telzino_voice(
    graph: GraphQuery, dataset: Dataset, sandbox: SandboxServer
) -> None:
    first, last = last_full_month(dataset)
    org = next(o for t in dataset.teli_tenants for o in t.organizations if o.customer == "cust0000")
    totals = dataset.teli_org_totals(org.unique_id, first, last)
    fees = Decimal(totals["api_storage_cents"] + totals["cost_other_cents"]) / 100
    query = """
    query ($first: Date!, $last: Date!) {
      organization(id: "cust0000") {
        unattributedUsage(range: {firstDay: $first, lastDay: $last}) {
          bySource { source voice { seconds } costs { amount currency } }
        }
      }
    }
    """
    sandbox.control.reset()
    result = await graph(query, {"first": str(first), "last": str(last)})
    by_source = {
        s["source"]: s for s in result["data"]["organization"]["unattributedUsage"]["bySource"]
    }
    assert by_source["telzino"]["voice"]["seconds"] == 0
    assert by_source["teli-northwind"]["voice"]["seconds"] == 0  # all Teli voice is per user
    assert Decimal(by_source["teli-northwind"]["costs"][0]["amount"]) == fees
    # one analytics/users call for the org's users, on top of the usual tenant call
    assert sandbox.control.count("teli", path="/v1/analytics/users") == 1

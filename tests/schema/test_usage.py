"""Organization and reseller usage against the dataset's truth, with upstream calls counted."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from tests.fixtures.graph import GraphQuery
from tests.fixtures.truth import expected_customer, last_full_month
from usagegraph.sandbox.dataset import Dataset
from usagegraph.sandbox.server import SandboxServer

ORG_USAGE = """
query ($id: ID!, $first: Date!, $last: Date!, $partial: PartialMonths! = EXCLUDE) {
  organization(id: $id) {
    id
    usage(range: {firstDay: $first, lastDay: $last}, partialMonths: $partial) {
      voice { seconds minutes }
      sms { inboundSegments outboundSegments }
      mms { inboundSegments outboundSegments }
      costs { amount currency }
      coverage { complete sources { source status reason firstDay lastDay } }
    }
  }
}
"""


def costs(usage: dict) -> dict[str, Decimal] | None:
    if usage["costs"] is None:
        return None
    return {c["currency"]: Decimal(c["amount"]) for c in usage["costs"]}


async def test_every_customer_matches_the_truth_for_a_whole_month(
    graph: GraphQuery, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    checked = 0
    for customer in dataset.customer_names:
        result = await graph(ORG_USAGE, {"id": customer, "first": str(first), "last": str(last)})
        if result["data"]["organization"] is None:
            continue  # a customer at a single vendor has no directory entry
        usage = result["data"]["organization"]["usage"]
        exp = expected_customer(dataset, customer, first, last)
        assert usage["voice"]["seconds"] == exp.voice_seconds, customer
        assert Decimal(usage["voice"]["minutes"]) == (Decimal(exp.voice_seconds) / 60).quantize(
            Decimal("0.01")
        ), customer
        sms = usage["sms"]
        assert (sms and sms["inboundSegments"], sms and sms["outboundSegments"]) == (
            exp.sms_in,
            exp.sms_out,
        ), customer
        expected_costs = {c: a for c, a in exp.costs.items()} if exp.measured_costs else None
        assert costs(usage) == expected_costs, customer
        assert usage["coverage"]["complete"] is True
        checked += 1
    assert checked >= 5


async def test_partial_month_leaves_talkdesk_out_and_says_why(
    graph: GraphQuery, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    first = first + timedelta(days=4)  # not a whole month
    result = await graph(ORG_USAGE, {"id": "cust0000", "first": str(first), "last": str(last)})
    usage = result["data"]["organization"]["usage"]
    exp = expected_customer(dataset, "cust0000", first, last)  # Talkdesk excluded
    assert usage["voice"]["seconds"] == exp.voice_seconds
    coverage = {s["source"]: s for s in usage["coverage"]["sources"]}
    assert usage["coverage"]["complete"] is False
    assert coverage["talkdesk-northwind"]["status"] == "MISSING"
    assert coverage["talkdesk-northwind"]["reason"] == "GRANULARITY_TOO_COARSE"
    assert coverage["telzino"]["status"] == "EXACT"
    assert coverage["telzino"]["firstDay"] == str(first)


async def test_whole_months_policy_counts_touched_months_and_states_the_days(
    graph: GraphQuery, dataset: Dataset
) -> None:
    month_first, month_last = last_full_month(dataset)
    first, last = month_first + timedelta(days=9), month_last - timedelta(days=3)
    variables = {
        "id": "cust0000",
        "first": str(first),
        "last": str(last),
        "partial": "WHOLE_MONTHS",
    }
    usage = (await graph(ORG_USAGE, variables))["data"]["organization"]["usage"]
    exp = expected_customer(dataset, "cust0000", first, last, whole_months=True)
    assert usage["voice"]["seconds"] == exp.voice_seconds
    talkdesk = next(s for s in usage["coverage"]["sources"] if s["source"] == "talkdesk-northwind")
    assert talkdesk["status"] == "EXPANDED"
    assert (talkdesk["firstDay"], talkdesk["lastDay"]) == (str(month_first), str(month_last))


DASHBOARD = """
query ($first: Date!, $last: Date!) {
  resellers {
    id
    organizations {
      id
      usage(range: {firstDay: $first, lastDay: $last}) {
        voice { seconds } sms { outboundSegments } costs { amount currency }
      }
    }
  }
}
"""


async def test_dashboard_makes_one_call_per_source_and_range(
    graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    await graph("{ resellers { id } }")  # discovery, counted separately
    sandbox.control.reset()

    result = await graph(DASHBOARD, {"first": str(first), "last": str(last)})

    assert "errors" not in result
    control = sandbox.control
    assert control.count(mount="telzino-api", path="/v1/reports/minutes-by-organization") == 1
    assert control.count(mount="telzino-dashboard") == 0  # no billing field asked
    assert control.count("teli", path="/v1/analytics/organizations") == len(dataset.teli_tenants)
    assert control.count("talkdesk", path="/express/usage/month") == len(dataset.talkdesk_orgs)
    assert control.count() == (1 + len(dataset.teli_tenants) + len(dataset.talkdesk_orgs)), [
        (r.mount, r.path) for r in control.requests
    ]


async def test_reseller_usage_is_the_sum_of_its_organizations(
    graph: GraphQuery, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    query = """
    query ($first: Date!, $last: Date!) {
      resellers {
        id
        usage(range: {firstDay: $first, lastDay: $last}) { ...figures }
        organizations { usage(range: {firstDay: $first, lastDay: $last}) { ...figures } }
      }
    }
    fragment figures on Usage { voice { seconds } costs { amount currency } }
    """
    result = await graph(query, {"first": str(first), "last": str(last)})
    assert "errors" not in result
    for reseller in result["data"]["resellers"]:
        orgs = [o["usage"] for o in reseller["organizations"]]
        assert reseller["usage"]["voice"]["seconds"] == sum(o["voice"]["seconds"] for o in orgs)
        totals: dict[str, Decimal] = {}
        for org in orgs:
            for currency, amount in (costs(org) or {}).items():
                totals[currency] = totals.get(currency, Decimal(0)) + amount
        assert (costs(reseller["usage"]) or {}) == totals


async def test_naive_benchmark_baseline_makes_one_call_per_organization(
    sandbox: SandboxServer, dataset: Dataset, directory_file
) -> None:
    import httpx

    from tests.fixtures.graph import sandbox_settings
    from usagegraph.app import create_app

    first, last = last_full_month(dataset)
    app = create_app(sandbox_settings(sandbox, directory_file, graph={"naive_loaders": True}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            await client.post("/graphql", json={"query": "{ resellers { id } }"})
            sandbox.control.reset()
            response = await client.post(
                "/graphql",
                json={"query": DASHBOARD, "variables": {"first": str(first), "last": str(last)}},
            )
    assert "errors" not in response.json()
    control = sandbox.control
    minutes = control.calls(mount="telzino-api", path="/v1/reports/minutes-by-organization")
    assert len(minutes) == len(dataset.telzino_orgs)  # the N+1 shape the loaders avoid
    assert all(("organization_ids" in dict(r.params)) for r in minutes)
    teli_orgs = sum(len(t.organizations) for t in dataset.teli_tenants)
    assert control.count("teli", path="/v1/analytics/organizations") == teli_orgs

"""The graph over every vendor shape the docs allow but the default sandbox never serves.

Each sandbox variant (`usagegraph sandbox --variant NAME`) is switched on before the app's first
request. A shape that changes nothing a user reads must give the very answer the default shape
gives; one that takes a figure away must null exactly that figure, with an error naming the
source, the endpoint and the JSON path; one that moves a figure must move it where docs/vendors.md
says, checked against the dataset's truth.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.graph import open_graph, tuned_sandbox_settings
from tests.fixtures.truth import (
    last_full_month,
    organization_id_of,
    talkdesk_truth,
    teli_org_truth,
    telzino_minutes,
)
from usagegraph.resolvers.ranges import month_range
from usagegraph.sandbox.dataset import Dataset, TalkdeskRow
from usagegraph.sandbox.server import SandboxServer
from usagegraph.settings import settings_from_sources

FAST = {"max_attempts": 1, "timeout_total": 5.0}

# Every figure of every organization (Talkdesk counts: the range is a whole month), the lists
# themselves, and the vendor rows a variant could disturb.
DASHBOARD = """
query ($first: Date!, $last: Date!) {
  resellers {
    id
    organizations { id }
    usage(range: {firstDay: $first, lastDay: $last}) {
      voice { seconds calls } costs { amount currency }
    }
  }
  organizations {
    id
    name
    usage(range: {firstDay: $first, lastDay: $last}) {
      voice { seconds calls knowledgeBaseSeconds }
      sms { inboundSegments outboundSegments otherDirectionSegments }
      mms { inboundSegments outboundSegments }
      apiRequests
      phoneNumbers { rentals purchases }
      brandRegistrations
      knowledgeBases
      costs { amount currency }
      otherUsage { type unit quantity }
      walletMovements { kind amount currency }
      coverage { complete }
    }
    unattributedUsage(range: {firstDay: $first, lastDay: $last}) {
      voice { seconds knowledgeBaseSeconds } sms { outboundSegments }
      bySource { source voice { seconds } }
    }
    agents { id usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } } }
    users { id usage(range: {firstDay: $first, lastDay: $last}) { sms { outboundSegments } } }
    lifetimeUsage { voiceSeconds knowledgeBaseSeconds }
  }
}
"""


def month(dataset: Dataset) -> dict[str, str]:
    first, last = last_full_month(dataset)
    return {"first": str(first), "last": str(last)}


async def dashboard(
    sandbox: SandboxServer, directory: Path, dataset: Dataset, *variants: str
) -> dict[str, Any]:
    """The dashboard from a fresh app (nothing cached) over the sandbox with `variants` on."""
    sandbox.control.clear_variants()
    sandbox.control.enable(*variants)
    async with open_graph(tuned_sandbox_settings(sandbox, directory, FAST)) as run:
        return await run(DASHBOARD, month(dataset))


@pytest.mark.parametrize(
    "variants",
    [
        ("talkdesk-capped-pages",),
        ("talkdesk-top-level-links",),
        ("talkdesk-empty-without-embedded",),
        ("talkdesk-total-drift",),
        ("talkdesk-capped-pages", "talkdesk-top-level-links", "talkdesk-total-drift"),
        ("teli-no-cost-breakdown",),
        ("telzino-billing-unpadded-period",),
    ],
)
async def test_shapes_that_change_no_figure_give_the_default_answer(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset, variants: tuple[str, ...]
) -> None:
    default = await dashboard(sandbox, directory_file, dataset)
    assert "errors" not in default, default
    shaped = await dashboard(sandbox, directory_file, dataset, *variants)
    assert shaped == default


async def test_null_talkdesk_texts_change_only_names_that_fall_back(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    default = await dashboard(sandbox, directory_file, dataset)
    shaped = await dashboard(sandbox, directory_file, dataset, "talkdesk-null-texts")
    assert "errors" not in shaped, shaped
    names = {o["id"]: o.pop("name") for o in shaped["data"]["organizations"]}
    for o in default["data"]["organizations"]:
        del o["name"]
    assert shaped == default  # every figure, list and id as before
    for account in dataset.talkdesk_accounts.values():
        org_id = organization_id_of(dataset, account.customer)
        if org_id.startswith("talkdesk-"):  # named by the vendor, not the directory
            assert names[org_id] == account.name  # company_name is null: the account's name


async def test_an_empty_talkdesk_page_without_embedded_is_zero_usage(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    """A month before the dataset: every Talkdesk page is empty and has no `_embedded`."""
    sandbox.control.enable("talkdesk-empty-without-embedded")
    query = """
    query ($first: Date!, $last: Date!) {
      organization(id: "cust0000") {
        usage(range: {firstDay: $first, lastDay: $last}) {
          bySource { source costs { amount currency } coverage { status } }
        }
      }
    }
    """
    before = month_range(dataset.start - timedelta(days=1))
    variables = {"first": str(before.first), "last": str(before.last)}
    async with open_graph(tuned_sandbox_settings(sandbox, directory_file, FAST)) as run:
        result = await run(query, variables)
    assert "errors" not in result, result
    by_source = {s["source"]: s for s in result["data"]["organization"]["usage"]["bySource"]}
    assert by_source["talkdesk-northwind"] == {
        "source": "talkdesk-northwind",
        "costs": [],
        "coverage": {"status": "EXACT"},
    }


async def test_talkdesk_messages_in_an_unmapped_unit_leave_sms_for_other_usage(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    default = await dashboard(sandbox, directory_file, dataset)
    shaped = await dashboard(sandbox, directory_file, dataset, "talkdesk-unmapped-units")
    assert "errors" not in shaped, shaped
    month_key = last_full_month(dataset)[0].strftime("%Y-%m")
    rows_of: dict[str, list[TalkdeskRow]] = {}
    for account in dataset.talkdesk_accounts.values():
        org_id = organization_id_of(dataset, account.customer)
        rows_of.setdefault(org_id, []).extend(dataset.talkdesk_rows([account.id], [month_key]))
    befores = {o["id"]: o for o in default["data"]["organizations"]}
    checked = 0
    for after in shaped["data"]["organizations"]:
        before = befores[after["id"]]
        rows = rows_of.get(after["id"])
        if rows is None:
            assert after == before
            continue
        talkdesk = talkdesk_truth(rows)
        messages = sum(r.number_of_units for r in rows if r.type == "MESSAGE")
        sms_before, sms_after = before["usage"]["sms"], after["usage"]["sms"]
        # the Talkdesk share of each direction is gone, never guessed into another figure
        assert sms_after["inboundSegments"] == sms_before["inboundSegments"] - talkdesk.sms_in
        assert sms_after["outboundSegments"] == sms_before["outboundSegments"] - talkdesk.sms_out
        assert sms_after["otherDirectionSegments"] == (
            sms_before["otherDirectionSegments"] - talkdesk.sms_other
        )
        other = {
            (q["type"], q["unit"]): Decimal(q["quantity"]) for q in after["usage"]["otherUsage"]
        }
        assert other.get(("MESSAGE", "CONVERSATIONS"), Decimal(0)) == messages
        # the money and the voice are the same
        assert after["usage"]["costs"] == before["usage"]["costs"]
        assert after["usage"]["voice"] == before["usage"]["voice"]
        checked += messages > 0
    assert checked >= 3


async def test_teli_rows_without_total_cost_null_costs_only_and_say_where(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    default = await dashboard(sandbox, directory_file, dataset)
    shaped = await dashboard(sandbox, directory_file, dataset, "teli-no-total-cost")
    orgs = {o["id"]: o for o in shaped["data"]["organizations"]}
    before = {o["id"]: o for o in default["data"]["organizations"]}
    cust = orgs["cust0000"]["usage"]
    assert cust["costs"] is None
    for figure in ("voice", "sms", "mms", "apiRequests", "phoneNumbers", "otherUsage"):
        assert cust[figure] == before["cust0000"]["usage"][figure], figure
    errors = [e for e in shaped["errors"] if e["path"][:3] == ["organizations", 0, "usage"]]
    costs_errors = [e for e in shaped["errors"] if e["path"][-1] == "costs"]
    assert costs_errors and not [e for e in errors if e["path"][-1] != "costs"]
    extensions = costs_errors[0]["extensions"]
    assert extensions["code"] == "UPSTREAM_CONTRACT"
    assert extensions["source"].startswith("teli-")
    assert extensions["endpoint"] == "GET /v1/analytics/organizations"
    assert extensions["field"].startswith("organizations[") and extensions["field"].endswith(
        "].total_cost"
    )
    # a Telzino-only organization never needed Teli's costs
    telzino_only = [o for o in shaped["data"]["organizations"] if o["id"].startswith("telzino:")]
    assert telzino_only and all(o["usage"]["costs"] is None for o in telzino_only)


def unlisted_share(dataset: Dataset, org_id: str, first: date, last: date) -> int:
    """The seconds the report's total has beyond its agents, worked out from the served
    minutes: each agent's and the unlisted calls' rounded to 0.01 min, the total their sum. The
    total wins only beyond rounding (0.005 min for each agent and the total)."""
    org = dataset.telzino_org_by_id[org_id]
    agents = [dataset.telzino_agent_seconds(a.id, first, last) for a in org.agents]
    listed = sum((telzino_minutes(s) for s in agents), Decimal(0))
    unlisted = telzino_minutes(dataset.telzino_org_unlisted_seconds(org_id, first, last))
    if unlisted <= Decimal("0.005") * (len(agents) + 1):
        return 0
    total = ((listed + unlisted) * 60).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(total) - sum(agents)


async def test_telzino_minutes_of_unlisted_agents_are_counted_and_unattributed(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    default = await dashboard(sandbox, directory_file, dataset)
    shaped = await dashboard(sandbox, directory_file, dataset, "telzino-unlisted-agent-minutes")
    assert "errors" not in shaped, shaped
    first, last = last_full_month(dataset)
    befores = {o["id"]: o for o in default["data"]["organizations"]}
    checked = 0
    for org in dataset.telzino_orgs:
        after = next(
            o
            for o in shaped["data"]["organizations"]
            if o["id"] == organization_id_of(dataset, org.customer)
        )
        before = befores[after["id"]]
        share = unlisted_share(dataset, org.id, first, last)
        # the agents keep their own figures; the organization gains what none of them made
        assert after["agents"] == before["agents"]
        assert after["usage"]["voice"]["seconds"] == before["usage"]["voice"]["seconds"] + share
        remainder = {
            s["source"]: s["voice"]["seconds"] for s in after["unattributedUsage"]["bySource"]
        }
        assert remainder["telzino"] == share
        checked += share > 0
    assert checked >= 1


async def test_teli_usage_served_only_by_the_partner_proxy_needs_usage_url(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    sandbox.control.enable("teli-split-hosts")
    query = (
        '{ organization(id: "cust0000") { lifetimeUsage { voiceSeconds knowledgeBaseSeconds } } }'
    )
    life = dataset.teli_lifetime_org_totals(
        next(o.unique_id for o in dataset.teli_orgs.values() if o.customer == "cust0000")
    )
    # the sandbox's own entries carry usage_url = its /teli-proxy mount
    async with open_graph(tuned_sandbox_settings(sandbox, directory_file, FAST)) as run:
        result = await run(query)
    assert "errors" not in result, result
    assert result["data"]["organization"]["lifetimeUsage"] == {
        "voiceSeconds": life["voice_seconds"] + life["kb_seconds"],
        "knowledgeBaseSeconds": life["kb_seconds"],
    }
    # base_url alone: the API host no longer serves analytics/usage, and the answer says so
    entries = [{k: v for k, v in e.items() if k != "usage_url"} | FAST for e in sandbox.sources()]
    settings = settings_from_sources(entries, directory={"path": directory_file})
    async with open_graph(settings) as run:
        result = await run(query)
    assert result["data"]["organization"]["lifetimeUsage"] is None
    assert {e["extensions"]["code"] for e in result["errors"]} == {"UPSTREAM_NOT_FOUND"}


async def test_a_vendor_down_from_the_start_is_named_by_the_lists(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    result = await dashboard(sandbox, directory_file, dataset, "teli-down")
    lists = {tuple(e["path"]): e["extensions"] for e in result["errors"] if len(e["path"]) == 1}
    assert set(lists) == {("resellers",), ("organizations",)}
    assert {e["code"] for e in lists.values()} == {"UPSTREAM_UNAVAILABLE"}
    # linked organizations name Teli in their usage instead of summing the others
    cust = next(o for o in result["data"]["organizations"] if o["id"] == "cust0000")
    assert cust["usage"]["sms"] is None and cust["usage"]["costs"] is None
    truth = teli_org_truth(
        dataset,
        next(o.unique_id for o in dataset.teli_orgs.values() if o.customer == "cust0000"),
        *last_full_month(dataset),
    )
    assert truth.sms_out > 0  # so a null here is not a zero that happened to be null


async def test_talkdesk_figures_outside_usage_are_reported_apart_and_exactly(
    graph: Any, dataset: Dataset
) -> None:
    """Wallet movements, unmapped (type, unit) pairs and messages of no clear direction, for
    every Talkdesk organization over a whole month, against the dataset's rows."""
    variables = month(dataset)
    query = """
    query ($first: Date!, $last: Date!) {
      organizations {
        id
        usage(range: {firstDay: $first, lastDay: $last}) {
          sms { otherDirectionSegments }
          phoneNumbers { rentals }
          costs { amount currency }
          otherUsage { type unit quantity }
          walletMovements { kind amount currency }
          bySource { source costs { amount currency } }
        }
      }
    }
    """
    result = await graph(query, variables)
    assert "errors" not in result, result
    orgs = {o["id"]: o["usage"] for o in result["data"]["organizations"]}
    month_key = variables["first"][:7]
    seen = {"wallet": 0, "other": 0, "sms_other": 0}
    for account in dataset.talkdesk_accounts.values():
        usage = orgs[organization_id_of(dataset, account.customer)]
        truth = talkdesk_truth(dataset.talkdesk_rows([account.id], [month_key]))
        talkdesk = next(s for s in usage["bySource"] if s["source"].startswith("talkdesk-"))
        assert {(c["currency"], Decimal(c["amount"])) for c in talkdesk["costs"]} == set(
            truth.costs.items()
        )
        assert {
            (w["kind"], w["currency"]): Decimal(w["amount"]) for w in usage["walletMovements"]
        } == truth.wallet
        assert {
            (q["type"], q["unit"]): Decimal(q["quantity"]) for q in usage["otherUsage"]
        } == truth.other
        # Teli, the only other source measuring these, always tells the direction
        assert usage["sms"]["otherDirectionSegments"] == truth.sms_other
        seen["wallet"] += bool(truth.wallet)
        seen["other"] += bool(truth.other)
        seen["sms_other"] += bool(truth.sms_other)
    assert all(seen.values()), seen  # the dataset exercises every one of them

"""The paged-table scenario (issue 20): its truth agrees with the test suite's own, its bound
is the ranking's calls, its checker catches a wrong page, and a page over the bound fails."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from bench.answers import check_paged
from bench.bounds import (
    TALKDESK_USAGE,
    TELI_ORGS,
    TELZINO_MINUTES,
    dashboard_plan,
    paged_plan,
)
from bench.paged import paged_failures
from bench.paged_report import section_lines
from bench.scenarios import PAGED, Workload
from tests.fixtures.graph import GraphQuery
from tests.fixtures.truth import expected_customer, last_full_month, organization_id_of
from usagegraph.sandbox.dataset import Dataset


def test_the_cost_order_is_the_test_suites_truth(dataset: Dataset) -> None:
    wl = Workload(dataset)
    first, last = last_full_month(dataset)
    usd = {
        organization_id_of(dataset, customer): expected_customer(
            dataset, customer, first, last
        ).costs.get("USD", Decimal(0))
        for customer in dataset.customer_names
    }
    want = sorted(sorted(usd), key=lambda i: usd[i], reverse=True)

    assert [o.id for o in wl.by_cost] == want
    assert len(want) == 20 and usd[want[0]] > usd[want[-1]]


def test_a_page_costs_the_ranking_and_telzino_only_for_the_nodes_voice(dataset: Dataset) -> None:
    wl = Workload(dataset)
    with_telzino = next(i for i in range(5) if any(o.telzino for o in wl.page(i)))
    plan = wl.paged(with_telzino, "cursor").plan

    assert plan.calls == dashboard_plan(dataset, wl.last_month).calls
    assert plan.calls[TELZINO_MINUTES] == 1
    assert plan.calls[TELI_ORGS] == len(dataset.teli_tenants)
    assert plan.calls[TALKDESK_USAGE] == len(dataset.talkdesk_orgs)
    no_voice = [o for o in wl.orgs if not o.telzino][:4]
    assert len(no_voice) == 4
    assert paged_plan(dataset, wl.orgs, wl.last_month, no_voice).total == plan.total - 1


async def test_the_servers_pages_pass_the_check_and_a_wrong_one_fails(
    graph: GraphQuery, dataset: Dataset
) -> None:
    wl = Workload(dataset)
    first = await graph(PAGED, wl.paged(0, None).variables)
    cursor = first["data"]["organizationsConnection"]["pageInfo"]["endCursor"]
    second = await graph(PAGED, wl.paged(1, cursor).variables)

    assert check_paged(first, wl, 0) == []
    assert check_paged(second, wl, 1) == []
    assert check_paged(second, wl, 0)[0].startswith("page 0: ids")
    altered = copy.deepcopy(first)
    node = altered["data"]["organizationsConnection"]["nodes"][0]
    node["usage"]["sms"]["outboundSegments"] = (node["usage"]["sms"]["outboundSegments"] or 0) + 1
    assert check_paged(altered, wl, 0) == [
        f"{node['id']}: {node['usage']['sms']['outboundSegments']} outbound SMS != "
        f"{node['usage']['sms']['outboundSegments'] - 1}"
    ]


def entry(calls: int, bound: int, *, min_calls: int | None = None) -> dict[str, Any]:
    return {
        "calls": calls,
        "bound": bound,
        "min_calls": calls if min_calls is None else min_calls,
        "by_endpoint": {},
        "bound_by_endpoint": {},
        "errors": [],
        "wrong_answers": 0,
        "wrong_examples": [],
        "p50": 0.05,
        "samples": 5,
    }


def test_a_page_over_its_bound_or_a_cold_page_under_it_fails() -> None:
    result = {
        "cold": {"first": entry(6, 6), "next": entry(6, 6, min_calls=5)},
        "warm": {"fill": entry(6, 6), "next": entry(1, 0)},
    }

    failures = paged_failures("S", result)

    assert [f.split(":")[0] for f in failures] == ["S paged cold next", "S paged warm next pages"]
    assert "made 5 calls, fewer than the bound 6" in failures[0]
    assert "1 upstream data calls > bound 0" in failures[1]


def test_the_report_compares_pages_with_the_dashboard() -> None:
    paged = {
        "cold": {"organizations": 2000, "page_size": 20, "first": entry(7, 7), "next": entry(7, 7)},
        "warm": {"fill": entry(7, 7), "next": entry(0, 0)},
    }
    results = {"scales": {}, "paged": {"L": {"paged": paged, "dashboard": entry(7, 7)}}}

    lines = section_lines(results)

    assert "on every page**: met; answers differing from the dataset's truth: 0." in lines[2]
    assert lines[6] == (
        "| L | 2000, 20 | 7 / 7 · 50 ms (5) | 7 / 7 · 50 ms (5) | 0 / 0 · 50 ms (5) | "
        "7 / 7 · 50 ms (5) |"
    )

"""Connections (issue 20): every list paged to its end, forward and backward, under each
ordering, equals the sandbox's truth (no duplicates, no gaps, ties by id, `totalCount` and
`pageInfo` right at both ends); filters keep what the truth says; ranking a page costs the
calls ranking needs and no more; bad arguments are refused before any vendor call."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.dashboards import warm
from tests.fixtures.graph import GraphQuery, open_graph, sandbox_settings
from tests.fixtures.truth import (
    customer_channel,
    expected_customer,
    last_full_month,
    organization_id_of,
    organization_name_of,
    reseller_id_of,
    reseller_name_of,
    talkdesk_truth,
    teli_user_truth,
)
from usagegraph.sandbox.dataset import Dataset, months_between, teli_source_name
from usagegraph.sandbox.server import SandboxServer

PAGE = """
query ($first: Int, $after: String, $last: Int, $before: String, $order: ListOrder,
       $filter: ListFilter) {
  organizationsConnection(first: $first, after: $after, last: $last, before: $before,
                          orderBy: $order, filter: $filter) {
    totalCount
    edges { cursor node { id } }
    nodes { id }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


# -- the truth ------------------------------------------------------------------------------


def customers(ds: Dataset) -> list[str]:
    return sorted(ds.customer_names)


def sms_segments(ds: Dataset, customer: str, first: date, last: date) -> int:
    """Every direction's SMS segments, Talkdesk's "other" direction included."""
    exp = expected_customer(ds, customer, first, last)
    other = sum(
        talkdesk_truth(ds.talkdesk_rows([a.id], months_between(first, last))).sms_other
        for a in ds.talkdesk_accounts.values()
        if a.customer == customer
    )
    return (exp.sms_in or 0) + (exp.sms_out or 0) + other


def organization_value(ds: Dataset, customer: str, field: str, first: date, last: date) -> Any:
    if field == "NAME":
        return organization_name_of(ds, customer).casefold()
    if field == "SMS_SEGMENTS":
        return sms_segments(ds, customer, first, last)
    exp = expected_customer(ds, customer, first, last)
    return exp.voice_seconds if field == "VOICE_SECONDS" else exp.costs.get("USD", Decimal(0))


def organization_figures(ds: Dataset, field: str, first: date, last: date) -> dict[str, Any]:
    """Organization id -> its sort value under `field` (the truth, straight from the dataset)."""
    return {
        organization_id_of(ds, c): organization_value(ds, c, field, first, last)
        for c in customers(ds)
    }


def ordered(figures: dict[str, Any], descending: bool) -> list[str]:
    """Ids by value (descending or not), ties by id ascending."""
    by_id = sorted(figures)
    return sorted(by_id, key=lambda i: figures[i], reverse=descending)


def order_input(field: str, descending: bool, first: date, last: date) -> dict[str, Any]:
    order: dict[str, Any] = {"field": field, "direction": "DESC" if descending else "ASC"}
    if field != "NAME":
        order["range"] = {"firstDay": str(first), "lastDay": str(last)}
    if field == "COST":
        order["currency"] = "USD"
    return order


# -- paging helpers -------------------------------------------------------------------------


async def page_forward(
    fetch: Callable[[dict[str, Any]], Any], size: int
) -> tuple[list[str], list[dict[str, Any]]]:
    """Every id, first/after until hasNextPage is false; and each page's connection."""
    ids: list[str] = []
    pages: list[dict[str, Any]] = []
    after = None
    while True:
        connection = await fetch({"first": size, "after": after})
        pages.append(connection)
        ids += [e["node"]["id"] for e in connection["edges"]]
        assert [n["id"] for n in connection["nodes"]] == [
            e["node"]["id"] for e in connection["edges"]
        ]
        if not connection["pageInfo"]["hasNextPage"]:
            return ids, pages
        after = connection["pageInfo"]["endCursor"]
        assert len(pages) < 100, "paging never ends"


async def page_backward(
    fetch: Callable[[dict[str, Any]], Any], size: int
) -> tuple[list[str], list[dict[str, Any]]]:
    """Every id, last/before until hasPreviousPage is false (returned in list order)."""
    ids: list[str] = []
    pages: list[dict[str, Any]] = []
    before = None
    while True:
        connection = await fetch({"last": size, "before": before})
        pages.append(connection)
        ids = [e["node"]["id"] for e in connection["edges"]] + ids
        if not connection["pageInfo"]["hasPreviousPage"]:
            return ids, pages
        before = connection["pageInfo"]["startCursor"]
        assert len(pages) < 100, "paging never ends"


def assert_ends(pages: list[dict[str, Any]], total: int, forward: bool) -> None:
    for connection in pages:
        assert connection["totalCount"] == total
    first_page, last_page = (pages[0], pages[-1]) if forward else (pages[-1], pages[0])
    assert first_page["pageInfo"]["hasPreviousPage"] is False
    assert last_page["pageInfo"]["hasNextPage"] is False
    for connection in pages[:-1] if forward else pages[1:]:
        info = connection["pageInfo"]
        edges = connection["edges"]
        assert (info["startCursor"], info["endCursor"]) == (edges[0]["cursor"], edges[-1]["cursor"])
    if len(pages) > 1:  # the middle pages have both neighbours
        assert pages[0]["pageInfo"]["hasNextPage" if forward else "hasPreviousPage"] is True


def fetcher(graph: GraphQuery, field: str, **fixed: Any) -> Callable[[dict[str, Any]], Any]:
    async def fetch(arguments: dict[str, Any]) -> Any:
        result = await graph(PAGE, {**fixed, **arguments})
        assert "errors" not in result, result["errors"]
        return result["data"][field]

    return fetch


# -- organizations: every ordering, both ways -------------------------------------------------


@pytest.mark.parametrize(
    ("field", "descending"),
    [
        ("NAME", False),
        ("NAME", True),
        ("VOICE_SECONDS", True),
        ("SMS_SEGMENTS", True),
        ("COST", True),
        ("COST", False),
    ],
)
async def test_organizations_paged_to_the_end_both_ways_equal_the_truths_order(
    graph: GraphQuery, dataset: Dataset, field: str, descending: bool
) -> None:
    first, last = last_full_month(dataset)
    truth = ordered(organization_figures(dataset, field, first, last), descending)
    assert len(set(organization_figures(dataset, field, first, last).values())) > 1
    fetch = fetcher(
        graph, "organizationsConnection", order=order_input(field, descending, first, last)
    )

    forward, forward_pages = await page_forward(fetch, 6)
    backward, backward_pages = await page_backward(fetch, 7)

    assert forward == truth  # no duplicate, no gap, the truth's order (ties by id)
    assert backward == truth
    assert_ends(forward_pages, len(truth), forward=True)
    assert_ends(backward_pages, len(truth), forward=False)
    assert len(forward_pages) == 4  # 20 organizations: 6 + 6 + 6 + 2


async def test_the_default_order_is_by_name_then_id_with_the_default_page(
    graph: GraphQuery, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    truth = ordered(organization_figures(dataset, "NAME", first, last), False)

    result = await graph(PAGE)

    connection = result["data"]["organizationsConnection"]
    assert [n["id"] for n in connection["nodes"]] == truth[:20]  # [graph] default_page_size
    assert connection["totalCount"] == len(truth)


async def test_first_and_last_together_take_the_last_of_the_first(
    graph: GraphQuery, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    truth = ordered(organization_figures(dataset, "NAME", first, last), False)

    result = await graph(PAGE, {"first": 6, "last": 2})

    connection = result["data"]["organizationsConnection"]
    assert [n["id"] for n in connection["nodes"]] == truth[4:6]
    assert connection["pageInfo"]["hasPreviousPage"] is True
    assert connection["pageInfo"]["hasNextPage"] is True


async def test_a_zero_page_is_empty_with_null_cursors(graph: GraphQuery, dataset: Dataset) -> None:
    result = await graph(PAGE, {"first": 0})

    connection = result["data"]["organizationsConnection"]
    assert connection["edges"] == []
    assert connection["totalCount"] == len(dataset.customer_names)
    assert connection["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": None,
        "endCursor": None,
    }


async def test_a_page_nodes_usage_is_each_organizations_own(
    graph: GraphQuery, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    query = """
    query ($range: DateRange!) {
      organizationsConnection(first: 5, orderBy: {field: COST, direction: DESC, range: $range,
                                                  currency: "USD"}) {
        nodes { id usage(range: $range) { costs { amount currency } } }
        edges { node { id usage(range: $range) { voice { seconds } } } }
      }
    }
    """
    result = await graph(query, {"range": {"firstDay": str(first), "lastDay": str(last)}})

    assert "errors" not in result, result
    by_id = {organization_id_of(dataset, c): c for c in customers(dataset)}
    connection = result["data"]["organizationsConnection"]
    for node, edge in zip(connection["nodes"], connection["edges"], strict=True):
        exp = expected_customer(dataset, by_id[node["id"]], first, last)
        assert node["usage"]["costs"] == exp.cost_list()
        assert edge["node"]["usage"]["voice"]["seconds"] == exp.voice_seconds


# -- the other lists --------------------------------------------------------------------------

RESELLERS = """
query ($first: Int, $after: String, $last: Int, $before: String, $order: ListOrder) {
  resellersConnection(first: $first, after: $after, last: $last, before: $before,
                      orderBy: $order) {
    totalCount
    edges { cursor node { id } }
    nodes { id }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


@pytest.mark.parametrize(("field", "descending"), [("NAME", False), ("VOICE_SECONDS", True)])
async def test_resellers_paged_both_ways_equal_the_truth(
    graph: GraphQuery, dataset: Dataset, field: str, descending: bool
) -> None:
    first, last = last_full_month(dataset)
    figures: dict[str, Any] = {}
    for channel in sorted(dataset.channel_names):
        members = [c for c in customers(dataset) if customer_channel(dataset, c) == channel]
        figures[reseller_id_of(dataset, channel)] = (
            reseller_name_of(dataset, channel).casefold()
            if field == "NAME"
            else sum(expected_customer(dataset, c, first, last).voice_seconds for c in members)
        )
    truth = ordered(figures, descending)
    order = order_input(field, descending, first, last)

    async def fetch(arguments: dict[str, Any]) -> Any:
        result = await graph(RESELLERS, {"order": order, **arguments})
        assert "errors" not in result, result["errors"]
        return result["data"]["resellersConnection"]

    forward, forward_pages = await page_forward(fetch, 2)
    backward, backward_pages = await page_backward(fetch, 2)

    assert forward == truth
    assert backward == truth
    assert_ends(forward_pages, len(truth), forward=True)
    assert_ends(backward_pages, len(truth), forward=False)


NESTED = """
query ($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $order: ListOrder) {
  organization(id: $id) {
    LIST(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
      totalCount
      edges { cursor node { id } }
      nodes { id }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}
"""


@pytest.mark.parametrize(("field", "descending"), [("NAME", False), ("VOICE_SECONDS", True)])
async def test_agents_paged_both_ways_equal_the_truth(
    graph: GraphQuery, dataset: Dataset, field: str, descending: bool
) -> None:
    first, last = last_full_month(dataset)
    org = max(dataset.telzino_orgs, key=lambda o: len(o.agents))
    assert len(org.agents) >= 3
    figures = {
        f"telzino:{a.id}": (
            a.display_name.casefold()
            if field == "NAME"
            else dataset.telzino_agent_seconds(a.id, first, last)
        )
        for a in org.agents
    }
    truth = ordered(figures, descending)
    query = NESTED.replace("LIST", "agentsConnection")
    order = order_input(field, descending, first, last)
    variables = {"id": organization_id_of(dataset, org.customer), "order": order}

    async def fetch(arguments: dict[str, Any]) -> Any:
        result = await graph(query, {**variables, **arguments})
        assert "errors" not in result, result["errors"]
        return result["data"]["organization"]["agentsConnection"]

    forward, forward_pages = await page_forward(fetch, 2)
    backward, backward_pages = await page_backward(fetch, 2)

    assert forward == truth
    assert backward == truth
    assert_ends(forward_pages, len(truth), forward=True)
    assert_ends(backward_pages, len(truth), forward=False)


@pytest.mark.parametrize(
    ("field", "descending"),
    [("NAME", False), ("VOICE_SECONDS", True), ("SMS_SEGMENTS", True), ("COST", True)],
)
async def test_users_paged_both_ways_equal_the_truth(
    graph: GraphQuery, dataset: Dataset, field: str, descending: bool
) -> None:
    first, last = last_full_month(dataset)
    tenant, org = max(
        ((t, o) for t in dataset.teli_tenants for o in t.organizations),
        key=lambda pair: len(pair[1].users),
    )
    assert len(org.users) >= 3

    def value(unique_id: str, name: str) -> Any:
        truth = teli_user_truth(dataset, unique_id, first, last)
        return {
            "NAME": name.casefold(),
            "VOICE_SECONDS": truth.voice_seconds,
            "SMS_SEGMENTS": truth.sms_in + truth.sms_out,
            "COST": truth.cost_usd,
        }[field]

    figures = {
        f"{teli_source_name(tenant)}:{u.unique_id}": value(u.unique_id, u.name) for u in org.users
    }
    truth = ordered(figures, descending)
    order = order_input(field, descending, first, last)
    query = NESTED.replace("LIST", "usersConnection")
    variables = {"id": organization_id_of(dataset, org.customer), "order": order}

    async def fetch(arguments: dict[str, Any]) -> Any:
        result = await graph(query, {**variables, **arguments})
        assert "errors" not in result, result["errors"]
        return result["data"]["organization"]["usersConnection"]

    forward, forward_pages = await page_forward(fetch, 2)
    backward, backward_pages = await page_backward(fetch, 2)

    assert forward == truth
    assert backward == truth
    assert_ends(forward_pages, len(truth), forward=True)
    assert_ends(backward_pages, len(truth), forward=False)


async def test_a_resellers_organizations_are_its_own_in_order(
    graph: GraphQuery, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    channel = sorted(dataset.channel_names)[0]
    members = [c for c in customers(dataset) if customer_channel(dataset, c) == channel]
    figures = {
        organization_id_of(dataset, c): expected_customer(dataset, c, first, last).costs.get(
            "USD", Decimal(0)
        )
        for c in members
    }
    query = """
    query ($id: ID!, $order: ListOrder, $after: String) {
      reseller(id: $id) {
        organizationsConnection(first: 3, after: $after, orderBy: $order) {
          totalCount nodes { id } pageInfo { hasNextPage endCursor }
        }
      }
    }
    """
    order = order_input("COST", True, first, last)
    variables = {"id": reseller_id_of(dataset, channel), "order": order}

    async def fetch(arguments: dict[str, Any]) -> Any:
        result = await graph(query, {**variables, "after": arguments["after"]})
        assert "errors" not in result, result["errors"]
        connection = result["data"]["reseller"]["organizationsConnection"]
        assert connection["totalCount"] == len(members)
        connection["edges"] = [{"node": n} for n in connection["nodes"]]
        return connection

    ids, _pages = await page_forward(fetch, 3)

    assert ids == ordered(figures, True)


# -- filters --------------------------------------------------------------------------------


async def test_name_contains_is_case_insensitive(graph: GraphQuery, dataset: Dataset) -> None:
    names = {
        organization_id_of(dataset, c): organization_name_of(dataset, c) for c in customers(dataset)
    }
    word = next(iter(sorted(names.values()))).split()[0]
    expected = sorted(
        (i for i, n in names.items() if word.casefold() in n.casefold()),
        key=lambda i: (names[i].casefold(), i),
    )

    result = await graph(PAGE, {"first": 100, "filter": {"nameContains": word.swapcase()}})

    connection = result["data"]["organizationsConnection"]
    assert [n["id"] for n in connection["nodes"]] == expected
    assert connection["totalCount"] == len(expected)
    assert 0 < len(expected) < len(names)


async def test_source_keeps_organizations_with_a_part_there(
    graph: GraphQuery, dataset: Dataset
) -> None:
    tenant = dataset.teli_tenants[0]
    source = teli_source_name(tenant)
    expected = {organization_id_of(dataset, o.customer) for o in tenant.organizations}

    result = await graph(PAGE, {"first": 100, "filter": {"source": source}})

    connection = result["data"]["organizationsConnection"]
    assert {n["id"] for n in connection["nodes"]} == expected
    assert connection["totalCount"] == len(expected)


async def test_has_usage_in_keeps_the_organizations_with_usage_then(
    graph: GraphQuery, dataset: Dataset
) -> None:
    # a day, so that some organizations have none: Talkdesk (monthly) counts for nothing then
    first, _ = last_full_month(dataset)
    day = first.replace(day=3)
    expected = set()
    for customer in customers(dataset):
        exp = expected_customer(dataset, customer, day, day)
        activity = [exp.voice_seconds, exp.sms_in, exp.sms_out, exp.mms_in, exp.mms_out]
        if any(activity) or any(exp.costs.values()):
            expected.add(organization_id_of(dataset, customer))
    rng = {"firstDay": str(day), "lastDay": str(day)}

    result = await graph(PAGE, {"first": 100, "filter": {"hasUsageIn": rng}})

    assert "errors" not in result, result
    connection = result["data"]["organizationsConnection"]
    assert {n["id"] for n in connection["nodes"]} == expected
    assert connection["totalCount"] == len(expected)
    assert 0 < len(expected) < len(dataset.customer_names)


# -- upstream calls -------------------------------------------------------------------------


@pytest.fixture
async def uncached(sandbox: SandboxServer, directory_file: Path) -> AsyncIterator[GraphQuery]:
    """No cache across requests: every query's calls can be counted."""
    settings = sandbox_settings(sandbox, directory_file, cache={"enabled": False})
    async with open_graph(settings) as graph:
        await warm(graph, sandbox)
        yield graph


async def test_ranking_a_page_costs_what_ranking_all_costs_and_no_telzino_call(
    uncached: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    rng = {"firstDay": str(first), "lastDay": str(last)}
    whole = "query ($r: DateRange!) { organizations { usage(range: $r) { costs { amount } } } }"
    await uncached(whole, {"r": rng})
    all_calls = sandbox.control.count()
    sandbox.control.reset()
    order = order_input("COST", True, first, last)

    page = await uncached(PAGE, {"first": 5, "order": order})
    page_calls = sandbox.control.count()
    sandbox.control.reset()
    after = page["data"]["organizationsConnection"]["pageInfo"]["endCursor"]
    await uncached(PAGE, {"first": 5, "after": after, "order": order})
    next_calls = sandbox.control.count()

    # costs: one call per Teli tenant and Talkdesk connection; Telzino measures no cost
    assert all_calls == len(dataset.teli_tenants) + len(dataset.talkdesk_orgs)
    assert page_calls == next_calls == all_calls
    assert sandbox.control.count(mount="telzino-api") == 0


async def test_a_ranked_page_with_its_nodes_usage_costs_one_call_per_source(
    uncached: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    query = """
    query ($r: DateRange!) {
      organizationsConnection(first: 5, orderBy: {field: VOICE_SECONDS, direction: DESC,
                                                   range: $r}) {
        nodes { usage(range: $r) { voice { seconds } costs { amount } } }
      }
    }
    """
    result = await uncached(query, {"r": {"firstDay": str(first), "lastDay": str(last)}})

    assert "errors" not in result, result
    # the ranking's calls answer the page's usage too: one per source, none more
    assert sandbox.control.count() == 1 + len(dataset.teli_tenants) + len(dataset.talkdesk_orgs)


async def test_name_order_filters_and_total_count_call_no_vendor(
    uncached: GraphQuery, sandbox: SandboxServer
) -> None:
    query = """
    {
      organizationsConnection(first: 5, filter: {nameContains: "a"}) {
        totalCount nodes { id name } pageInfo { hasNextPage endCursor }
      }
      resellersConnection { totalCount nodes { organizationsConnection(first: 2) { totalCount } } }
    }
    """
    result = await uncached(query)

    assert "errors" not in result, result
    assert sandbox.control.count() == 0


# -- refusals -------------------------------------------------------------------------------


def refusal(result: dict[str, Any]) -> dict[str, Any]:
    assert result["data"] is None, result
    [error] = result["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    return error


def cursor_of(payload: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "%%%not base64%%%",
        cursor_of(b"\xff\xfe not utf-8"),
        cursor_of(b"not json"),
        cursor_of(b'{"a": 1}'),
        cursor_of(b'[1, "x", "y"]'),
        cursor_of(b'[2, "x", "y", "z"]'),
        "A" * 5000,
    ],
)
async def test_a_garbage_cursor_is_refused_before_any_call(
    graph: GraphQuery, sandbox: SandboxServer, cursor: str
) -> None:
    sandbox.control.reset()

    error = refusal(await graph(PAGE, {"first": 3, "after": cursor}))

    assert error["extensions"]["argument"] == "after"
    assert error["extensions"]["at"] == ["organizationsConnection"]
    assert sandbox.control.count() == 0


async def test_a_cursor_of_another_ordering_or_filter_is_refused(
    graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    by_name = (await graph(PAGE, {"first": 3}))["data"]["organizationsConnection"]
    cursor = by_name["pageInfo"]["endCursor"]
    cost = order_input("COST", True, first, last)
    other_month = order_input("COST", True, first.replace(month=first.month % 12 + 1), last)
    sandbox.control.reset()

    for variables in (
        {"order": cost},
        {"order": order_input("NAME", True, first, last)},
        {"filter": {"nameContains": "a"}},
    ):
        error = refusal(await graph(PAGE, {"first": 3, "before": cursor, **variables}))
        assert error["extensions"]["argument"] == "before"
        assert "another ordering or filter" in error["message"]
    ranked = (await graph(PAGE, {"first": 3, "order": cost}))["data"]["organizationsConnection"]
    sandbox.control.reset()
    error = refusal(
        await graph(
            PAGE,
            {
                "first": 3,
                "after": ranked["pageInfo"]["endCursor"],
                "order": {**cost, "currency": "EUR"},
            },
        )
    )
    assert error["extensions"]["argument"] == "after"
    assert other_month != cost
    assert sandbox.control.count() == 0


@pytest.mark.parametrize(
    ("variables", "argument", "message"),
    [
        ({"first": 101}, "first", "first must be at most 100 (a page), got 101"),
        ({"first": -1}, "first", "first must not be negative, got -1"),
        ({"last": -3}, "last", "last must not be negative, got -3"),
        ({"last": 1000}, "last", "last must be at most 100 (a page), got 1000"),
        (
            {
                "order": {
                    "field": "COST",
                    "range": {"firstDay": "2026-01-01", "lastDay": "2026-01-31"},
                }
            },
            "orderBy",
            "ordering by COST needs a currency, e.g. USD",
        ),
        (
            {
                "order": {
                    "field": "COST",
                    "currency": "usd",
                    "range": {"firstDay": "2026-01-01", "lastDay": "2026-01-31"},
                }
            },
            "orderBy",
            "currency must be an ISO-4217 code such as USD, got 'usd'",
        ),
        (
            {"order": {"field": "VOICE_SECONDS"}},
            "orderBy",
            "ordering by VOICE_SECONDS needs a range",
        ),
        (
            {
                "order": {
                    "field": "SMS_SEGMENTS",
                    "range": {"firstDay": "2026-02-01", "lastDay": "2026-01-31"},
                }
            },
            "orderBy",
            "range: lastDay 2026-01-31 is before firstDay 2026-02-01",
        ),
        ({"filter": {"source": "nowhere"}}, "filter", "'nowhere' is not a configured source"),
        (
            {"filter": {"hasUsageIn": {"firstDay": "2024-01-01", "lastDay": "2026-01-31"}}},
            "filter",
            "hasUsageIn: the range spans 762 days; at most 366 are allowed",
        ),
    ],
)
async def test_bad_page_arguments_are_refused_before_any_call(
    graph: GraphQuery,
    sandbox: SandboxServer,
    variables: dict[str, Any],
    argument: str,
    message: str,
) -> None:
    sandbox.control.reset()

    error = refusal(await graph(PAGE, variables))

    assert error["message"] == f"argument {argument} of organizationsConnection: {message}"
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "argument": argument,
        "field": "Query.organizationsConnection",
        "at": ["organizationsConnection"],
    }
    assert sandbox.control.count() == 0


async def test_agents_cannot_be_ordered_by_a_figure_they_lack(
    graph: GraphQuery, sandbox: SandboxServer
) -> None:
    query = """
    { organizations { agentsConnection(orderBy: {field: COST, currency: "USD",
        range: {firstDay: "2026-01-01", lastDay: "2026-01-31"}}) { totalCount } } }
    """
    sandbox.control.reset()

    error = refusal(await graph(query))

    assert error["message"] == (
        "argument orderBy of organizations.agentsConnection: Agent lists are ordered by NAME "
        "or VOICE_SECONDS"
    )
    assert sandbox.control.count() == 0


# -- configured limits and the query cost ----------------------------------------------------


async def test_configured_page_sizes_bound_and_default_the_page(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    settings = sandbox_settings(
        sandbox, directory_file, graph={"max_page_size": 8, "default_page_size": 3}
    )
    async with open_graph(settings) as graph:
        default = await graph(PAGE)
        refused = await graph(PAGE, {"first": 9})

    assert len(default["data"]["organizationsConnection"]["nodes"]) == 3
    assert refusal(refused)["message"] == (
        "argument first of organizationsConnection: first must be at most 8 (a page), got 9"
    )


COSTLY = """
query ($first: Int) {
  organizationsConnection(first: $first) {
    nodes { id usage(range: {firstDay: "2026-01-01", lastDay: "2026-01-31"}) { voice { seconds } } }
  }
}
"""


async def test_the_cost_limit_counts_the_page_size(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    # a page item costs 14 (nodes 1, id 1, usage 10 + voice 1 + seconds 1): 20 items, 281
    limits = {"max_cost": 500}
    async with open_graph(sandbox_settings(sandbox, directory_file, limits=limits)) as graph:
        small = await graph(COSTLY, {"first": 20})
        default = await graph(COSTLY)
        large = await graph(COSTLY, {"first": 40})
    async with open_graph(
        sandbox_settings(sandbox, directory_file, limits=limits, graph={"default_page_size": 40})
    ) as graph:
        large_default = await graph(COSTLY)

    assert "errors" not in small and "errors" not in default
    for result in (large, large_default):
        [error] = result["errors"]
        assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert "its estimated cost is 561" in error["message"]


# -- a failed source ------------------------------------------------------------------------


async def test_a_ranking_whose_source_failed_is_null_with_the_error_and_siblings_answer(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    from tests.fixtures.graph import tuned_sandbox_settings

    settings = tuned_sandbox_settings(
        sandbox, directory_file, {"max_attempts": 1, "timeout_total": 5.0}
    )
    query = """
    query ($order: ListOrder) {
      ranked: organizationsConnection(first: 3, orderBy: $order) { nodes { id } }
      named: organizationsConnection(first: 3) { totalCount }
    }
    """
    async with open_graph(settings) as graph:
        await graph("{ resellers { id } }")  # discovery before the fault
        sandbox.control.inject(vendor="teli", path="/v1/analytics", status=503)
        result = await graph(query, {"order": order_input("COST", True, first, last)})

    assert result["data"]["ranked"] is None
    assert result["data"]["named"] == {"totalCount": len(dataset.customer_names)}
    [error] = result["errors"]
    assert error["path"] == ["ranked"]
    assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert error["extensions"]["source"].startswith("teli")


# -- the example operation ------------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[2] / "examples/operations/TopOrganizationsByCost.graphql"


async def test_the_example_gives_the_top_ten_by_cost_then_the_next_ten(
    graph: GraphQuery, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    truth = ordered(organization_figures(dataset, "COST", first, last), True)
    text = EXAMPLE.read_text(encoding="utf-8")
    variables = {"firstDay": str(first), "lastDay": str(last)}

    top = (await graph(text, variables))["data"]["organizationsConnection"]
    after = top["pageInfo"]["endCursor"]
    following = (await graph(text, {**variables, "after": after}))["data"][
        "organizationsConnection"
    ]

    assert [n["id"] for n in top["nodes"]] == truth[:10]
    assert [n["id"] for n in following["nodes"]] == truth[10:20]
    assert top["pageInfo"]["hasNextPage"] is True
    assert following["pageInfo"]["hasNextPage"] is (len(truth) > 20)
    by_id = {organization_id_of(dataset, c): c for c in customers(dataset)}
    best = expected_customer(dataset, by_id[truth[0]], first, last)
    assert top["nodes"][0]["usage"]["costs"] == best.cost_list()


async def test_the_next_page_of_a_large_telzino_account_costs_no_call_with_the_cache(
    graph_app: Any, graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    """An account larger than one id chunk: the page's voice comes from the whole account's
    report, one call, so the next page is answered from the result cache (issue 20: paging does
    not grow the calls). With an id filter each page was a new report."""
    telzino = graph_app.state.graph.connections["telzino"].telzino
    telzino.max_ids_per_call = 2  # the sandbox's account is then many chunks
    first, last = last_full_month(dataset)
    rng = {"firstDay": str(first), "lastDay": str(last)}
    query = """
    query ($r: DateRange!, $after: String) {
      organizationsConnection(first: 3, after: $after) {
        nodes { id usage(range: $r) { voice { seconds } } }
        pageInfo { endCursor }
      }
    }
    """
    await warm(graph, sandbox)
    page = await graph(query, {"r": rng})
    assert "errors" not in page, page
    assert sandbox.control.count(mount="telzino-api") == 1
    sandbox.control.reset()

    after = page["data"]["organizationsConnection"]["pageInfo"]["endCursor"]
    following = await graph(query, {"r": rng, "after": after})

    assert "errors" not in following, following
    assert sandbox.control.count(mount="telzino-api") == 0
    nodes = following["data"]["organizationsConnection"]["nodes"]
    assert len(nodes) == 3 and all(n["usage"]["voice"]["seconds"] is not None for n in nodes)

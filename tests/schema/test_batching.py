"""Upstream calls per query never exceed the lower bound, counted by the sandbox's recorder.

Discovery (catalog and Teli users) is warmed up first and counted in its own tests, so each
count below is exactly the usage calls a query costs.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

from tests.fixtures.dashboards import DASHBOARD, warm
from tests.fixtures.graph import GraphQuery, open_graph, sandbox_settings
from tests.fixtures.truth import (
    customer_parts,
    expected_customer,
    last_full_month,
    organization_id_of,
    teli_user_truth,
)
from usagegraph.sandbox.control import SandboxControl
from usagegraph.sandbox.dataset import Dataset, teli_source_name
from usagegraph.sandbox.server import SandboxServer

MINUTES = "/v1/reports/minutes-by-organization"
TELI_ORGS = "/v1/analytics/organizations"
TELI_USERS = "/v1/analytics/users"
TALKDESK_USAGE = "/express/usage/month"


def calls(control: SandboxControl) -> list[tuple[str, str]]:
    return [(r.mount, r.path) for r in control.requests]


async def test_all_resellers_down_to_agents_and_users_cost_the_lower_bound(
    graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    await warm(graph, sandbox)

    result = await graph(DASHBOARD, {"first": str(first), "last": str(last)})

    assert "errors" not in result, result
    control = sandbox.control
    orgs_with_users = [o for o in dataset.teli_orgs.values() if o.users]
    assert control.count(mount="telzino-api", path=MINUTES) == 1  # agents primed by it
    assert control.count(mount="telzino-api") == 1
    assert control.count(mount="telzino-dashboard") == 0
    assert control.count("teli", path=TELI_ORGS) == len(dataset.teli_tenants)
    users_calls = control.calls("teli", path=TELI_USERS)
    assert sorted(dict(c.params)["organization_id"] for c in users_calls) == sorted(
        o.unique_id for o in orgs_with_users
    )
    assert control.count("talkdesk", path=TALKDESK_USAGE) == len(dataset.talkdesk_orgs)
    expected_total = (
        1 + len(dataset.teli_tenants) + len(orgs_with_users) + len(dataset.talkdesk_orgs)
    )
    assert control.count() == expected_total, calls(control)

    # and the batched answers are the right ones
    orgs = {o["id"]: o for r in result["data"]["resellers"] for o in r["organizations"]}
    for customer in ("cust0000", "cust0010"):
        exp = expected_customer(dataset, customer, first, last)
        assert orgs[customer]["usage"]["voice"]["seconds"] == exp.voice_seconds
    for tenant in dataset.teli_tenants:
        for org in tenant.organizations:
            users = {
                u["id"]: u["usage"]["voice"]["seconds"]
                for u in orgs[organization_id_of(dataset, org.customer)]["users"]
            }
            assert users == {
                f"{teli_source_name(tenant)}:{u.unique_id}": teli_user_truth(
                    dataset, u.unique_id, first, last
                ).voice_seconds
                for u in org.users
            }
    for org in dataset.telzino_orgs:
        agents = {
            a["id"]: a["usage"]["voice"]["seconds"]
            for a in orgs[organization_id_of(dataset, org.customer)]["agents"]
        }
        assert agents == {
            f"telzino:{a.id}": dataset.telzino_agent_seconds(a.id, first, last) for a in org.agents
        }


async def test_agents_alone_cost_one_telzino_report(
    graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    await warm(graph, sandbox)
    query = """
    query ($first: Date!, $last: Date!) {
      organizations {
        agents { usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } } }
      }
    }
    """
    result = await graph(query, {"first": str(first), "last": str(last)})
    assert "errors" not in result
    assert sandbox.control.count() == 1, calls(sandbox.control)
    assert sandbox.control.count(mount="telzino-api", path=MINUTES) == 1


ONE_ORG = """
query ($id: ID!, $first: Date!, $last: Date!) {
  organization(id: $id) {
    usage(range: {firstDay: $first, lastDay: $last}) {
      voice { seconds } sms { outboundSegments } costs { amount currency }
      bySource { source voice { seconds } }
    }
    agents(rankedBy: {firstDay: $first, lastDay: $last}, first: 2) {
      id usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } }
    }
    users { usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } } }
  }
}
"""


async def test_one_organization_costs_one_call_per_source(
    graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    await warm(graph, sandbox)

    result = await graph(ONE_ORG, {"id": "cust0000", "first": str(first), "last": str(last)})

    assert "errors" not in result, result
    control = sandbox.control
    telzino = next(o for o in dataset.telzino_orgs if o.customer == "cust0000")
    teli = next(o for o in dataset.teli_orgs.values() if o.customer == "cust0000")
    (minutes,) = control.calls(mount="telzino-api", path=MINUTES)
    # the account fits one id chunk: the same one call, unfiltered, answers every organization
    assert "organization_ids" not in dict(minutes.params)
    assert telzino.id  # (still answered exactly below)
    (users,) = control.calls("teli", path=TELI_USERS)
    assert dict(users.params)["organization_id"] == teli.unique_id
    assert control.count("teli", path=TELI_ORGS) == 1
    (talkdesk,) = control.calls("talkdesk", path=TALKDESK_USAGE)
    assert control.count() == 4, calls(control)
    # a connection with few accounts is asked for all of them: a filter of months only
    talkdesk_filter = dict(talkdesk.params)["filter"]
    assert "account_id" not in talkdesk_filter
    assert f"month eq '{first:%Y-%m}'" in talkdesk_filter
    exp = expected_customer(dataset, "cust0000", first, last)
    assert result["data"]["organization"]["usage"]["voice"]["seconds"] == exp.voice_seconds


async def test_two_root_fields_share_one_batch(
    graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    await warm(graph, sandbox)
    query = """
    query ($first: Date!, $last: Date!) {
      a: organization(id: "cust0000") { ...monthUsage }
      b: organization(id: "cust0010") { ...monthUsage }
      c: resellers { id }
    }
    fragment monthUsage on Organization {
      usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } }
    }
    """
    result = await graph(query, {"first": str(first), "last": str(last)})
    assert "errors" not in result
    control = sandbox.control
    assert control.count(mount="telzino-api", path=MINUTES) == 1
    # cust0000 and cust0010 are at different Teli tenants and Talkdesk connections
    assert control.count("teli", path=TELI_ORGS) == 2
    assert control.count("talkdesk", path=TALKDESK_USAGE) == 2
    assert control.count() == 5, calls(control)


MANY = """
query ($ids: [ID!], $first: Date!, $last: Date!, $first2: Date!, $last2: Date!) {
  organizations(ids: $ids) {
    id
    a: usage(range: {firstDay: $first, lastDay: $last}) { ...f }
    b: usage(range: {firstDay: $first, lastDay: $last}) { ...f }
    c: usage(range: {firstDay: $first2, lastDay: $last2}) { ...f }
    d: usage(range: {firstDay: $first2, lastDay: $last2}) { voice { seconds } ...f }
  }
  again: organizations(ids: $ids) {
    usage(range: {firstDay: $first, lastDay: $last}) { ...f }
  }
}
fragment f on Usage { voice { seconds } sms { outboundSegments } costs { amount currency } }
"""


async def test_many_organizations_with_aliases_and_two_ranges(
    graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    last2 = first - timedelta(days=1)
    first2 = last2.replace(day=1)
    customers = ["cust0000", "cust0004", "cust0005", "cust0007", "cust0013", "cust0016"]
    ids = [organization_id_of(dataset, c) for c in customers]
    # reach one of them by its part id: the same node, so no extra key
    ids[0] = f"telzino:{next(o.id for o in dataset.telzino_orgs if o.customer == customers[0])}"
    await warm(graph, sandbox)

    variables = {
        "ids": ids,
        "first": str(first),
        "last": str(last),
        "first2": str(first2),
        "last2": str(last2),
    }
    result = await graph(MANY, variables)

    assert "errors" not in result, result
    parts = [p for c in customers for p in customer_parts(dataset, c)]
    sources = {p.source for p in parts}
    control = sandbox.control
    assert control.count(mount="telzino-api", path=MINUTES) == 2  # one per distinct range
    teli_sources = {s for s in sources if s.startswith("teli-")}
    assert control.count("teli", path=TELI_ORGS) == 2 * len(teli_sources)
    talkdesk_sources = {s for s in sources if s.startswith("talkdesk-")}
    assert control.count("talkdesk", path=TALKDESK_USAGE) == 2 * len(talkdesk_sources)
    assert control.count() == 2 * (1 + len(teli_sources) + len(talkdesk_sources)), calls(control)

    for org, customer in zip(result["data"]["organizations"], customers, strict=True):
        assert org["a"] == org["b"]
        assert org["c"] == org["d"]
        exp = expected_customer(dataset, customer, first, last)
        exp2 = expected_customer(dataset, customer, first2, last2)
        assert org["a"]["voice"]["seconds"] == exp.voice_seconds
        assert org["c"]["voice"]["seconds"] == exp2.voice_seconds
    assert [o["usage"] for o in result["data"]["again"]] == [
        o["a"] for o in result["data"]["organizations"]
    ]


async def test_costs_alone_make_no_telzino_call(
    graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    await warm(graph, sandbox)
    query = """
    query ($first: Date!, $last: Date!) {
      organizations {
        usage(range: {firstDay: $first, lastDay: $last}) { costs { amount currency } }
      }
      resellers { usage(range: {firstDay: $first, lastDay: $last}) { costs { amount } } }
    }
    """
    result = await graph(query, {"first": str(first), "last": str(last)})
    assert "errors" not in result
    control = sandbox.control
    assert control.count("telzino") == 0
    assert control.count("teli", path=TELI_ORGS) == len(dataset.teli_tenants)
    assert control.count("talkdesk", path=TALKDESK_USAGE) == len(dataset.talkdesk_orgs)
    assert control.count() == len(dataset.teli_tenants) + len(dataset.talkdesk_orgs)


async def test_range_fields_alone_make_no_upstream_call(
    graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    await warm(graph, sandbox)
    query = """
    query ($first: Date!, $last: Date!) {
      organizations {
        usage(range: {firstDay: $first, lastDay: $last}) { firstDay lastDay days __typename }
      }
      resellers { usage(range: {firstDay: $first, lastDay: $last}) { firstDay } }
    }
    """
    result = await graph(query, {"first": str(first), "last": str(last)})
    assert "errors" not in result
    days = (last - first).days + 1
    assert {
        (u["usage"]["firstDay"], u["usage"]["lastDay"], u["usage"]["days"])
        for u in result["data"]["organizations"]
    } == {(str(first), str(last), days)}
    assert sandbox.control.count() == 0, calls(sandbox.control)


DISCOVERY = {
    ("telzino-api", "/oauth/token"),
    ("telzino-api", MINUTES),
    ("teli", "/v1/organizations"),
    ("talkdesk-id", "/oauth/token"),
    ("talkdesk", "/express/accounts"),
}


def discovery_calls(control: SandboxControl) -> list[tuple[str, str]]:
    return sorted((r.mount, r.path) for r in control.requests)


def expected_discovery(dataset: Dataset) -> list[tuple[str, str]]:
    talkdesk = len(dataset.talkdesk_orgs)
    return sorted(
        [("telzino-api", "/oauth/token"), ("telzino-api", MINUTES)]
        + [("teli", "/v1/organizations")] * len(dataset.teli_tenants)
        + [("talkdesk-id", "/oauth/token"), ("talkdesk", "/express/accounts")] * talkdesk
    )


async def test_discovery_runs_once_per_ttl_across_requests(
    graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first = await graph("{ resellers { id } }")
    assert "errors" not in first
    assert discovery_calls(sandbox.control) == expected_discovery(dataset)
    sandbox.control.reset()

    second = await graph("{ organizations { id name } resellers { id organizations { id } } }")

    assert "errors" not in second
    assert sandbox.control.count() == 0, calls(sandbox.control)


async def test_concurrent_first_requests_share_one_discovery(
    graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    results = await asyncio.gather(*(graph("{ organizations { id } }") for _ in range(4)))
    assert all("errors" not in r for r in results)
    assert discovery_calls(sandbox.control) == expected_discovery(dataset)


async def test_an_expired_ttl_discovers_again(
    sandbox: SandboxServer, dataset: Dataset, directory_file: Path
) -> None:
    settings = sandbox_settings(sandbox, directory_file, graph={"discovery_ttl_seconds": 0})
    async with open_graph(settings) as run:
        await run("{ resellers { id } }")
        sandbox.control.reset()
        await run("{ resellers { id } }")
    # tokens are still cached; the catalog is fetched again
    again = sorted(c for c in discovery_calls(sandbox.control) if not c[1].endswith("/token"))
    assert again == sorted(c for c in expected_discovery(dataset) if not c[1].endswith("/token"))


async def test_teli_users_are_discovered_once_per_ttl(
    graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    await graph("{ resellers { id } }")
    sandbox.control.reset()
    query = '{ organization(id: "cust0000") { users { id } } }'
    await graph(query)
    teli = next(o for o in dataset.teli_orgs.values() if o.customer == "cust0000")
    assert [r.path for r in sandbox.control.requests] == [
        f"/v1/organizations/{teli.unique_id}/users"
    ]
    sandbox.control.reset()
    await graph(query)
    user = await graph(
        "query ($id: ID!) { user(id: $id) { id } }",
        {"id": f"teli-northwind:{teli.users[0].unique_id}"},
    )
    assert user["data"]["user"] is not None
    assert sandbox.control.count("teli", path=f"/v1/organizations/{teli.unique_id}/users") == 0


async def test_reseller_organization_agent_and_billing_levels_share_their_calls(
    graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    await warm(graph, sandbox)
    query = """
    query ($first: Date!, $last: Date!) {
      resellers {
        usage(range: {firstDay: $first, lastDay: $last}) { ...f }
        organizations {
          usage(range: {firstDay: $first, lastDay: $last}) { ...f }
          agents { usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } } }
        }
      }
    }
    fragment f on Usage {
      voice { seconds } costs { amount currency }
      bySource { telzino { billing { billedSeconds } } }
    }
    """
    result = await graph(query, {"first": str(first), "last": str(last)})
    assert "errors" not in result, result
    control = sandbox.control
    assert control.count(mount="telzino-api", path=MINUTES) == 1
    billing = control.calls(mount="telzino-dashboard", path="/v1/billing-report")
    assert len(billing) == 1, [c.query for c in billing]
    assert control.count("teli", path=TELI_ORGS) == len(dataset.teli_tenants)
    assert control.count("talkdesk", path=TALKDESK_USAGE) == len(dataset.talkdesk_orgs)
    assert control.count() == 2 + len(dataset.teli_tenants) + len(dataset.talkdesk_orgs)


async def test_knowledge_base_seconds_ask_teli_only_where_they_can_be_known(
    graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    await warm(graph, sandbox)
    query = """
    query ($first: Date!, $last: Date!) {
      organizations { id usage(range: {firstDay: $first, lastDay: $last}) {
        voice { knowledgeBaseSeconds } } }
    }
    """
    result = await graph(query, {"first": str(first), "last": str(last)})
    assert "errors" not in result
    knowable = []  # Teli orgs whose total has no Telzino or Talkdesk voice in it
    for org in dataset.teli_orgs.values():
        others = 0
        for part in customer_parts(dataset, org.customer):
            if part.kind == "TELZINO":
                others += dataset.telzino_org_seconds(str(part.native_id), first, last)
            if part.kind == "TALKDESK":
                rows = dataset.talkdesk_rows([str(part.native_id)], [first.strftime("%Y-%m")])
                others += sum(r.number_of_units for r in rows if r.type == "CALL")
        if not others:
            knowable.append(org)
    assert knowable
    calls_made = sandbox.control.calls("teli", path="/v1/analytics/usage")
    assert sorted(dict(c.params)["organization_id"] for c in calls_made) == sorted(
        o.unique_id for o in knowable
    )
    got = {
        o["id"]: o["usage"]["voice"]["knowledgeBaseSeconds"]
        for o in result["data"]["organizations"]
    }
    for org in dataset.teli_orgs.values():
        expected = (
            dataset.teli_org_totals(org.unique_id, first, last)["kb_seconds"]
            if org in knowable
            else None
        )
        assert got[organization_id_of(dataset, org.customer)] == expected


async def test_a_second_organization_in_the_same_range_costs_no_call(
    graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    await warm(graph, sandbox)
    await graph(ONE_ORG, {"id": "cust0000", "first": str(first), "last": str(last)})
    sandbox.control.reset()
    query = """
    query ($id: ID!, $first: Date!, $last: Date!) {
      organization(id: $id) { usage(range: {firstDay: $first, lastDay: $last}) { ...all } }
    }
    fragment all on Usage { voice { seconds } sms { outboundSegments } costs { amount } }
    """

    # another customer of the same connections (Telzino, teli-northwind, talkdesk-northwind)
    def connections(customer: str) -> set[str]:
        found = {"telzino"} if any(o.customer == customer for o in dataset.telzino_orgs) else set()
        found |= {
            f"teli-{t.channel}"
            for t in dataset.teli_tenants
            for o in t.organizations
            if o.customer == customer
        }
        found |= {
            f"talkdesk-{d.slug}"
            for d in dataset.talkdesk_orgs
            for a in d.accounts
            if a.customer == customer
        }
        return found

    other = next(
        c
        for c in dataset.customer_names
        if c != "cust0000" and connections(c) == connections("cust0000")
    )
    result = await graph(query, {"id": other, "first": str(first), "last": str(last)})
    assert "errors" not in result, result
    exp = expected_customer(dataset, other, first, last)
    assert result["data"]["organization"]["usage"]["voice"]["seconds"] == exp.voice_seconds
    assert sandbox.control.count() == 0, calls(sandbox.control)


def test_a_large_telzino_account_is_asked_only_for_the_wanted_ids() -> None:
    from types import SimpleNamespace

    from usagegraph.resolvers.loaders import Loaders
    from usagegraph.resolvers.ranges import DayRange

    rng = DayRange(date(2026, 1, 1), date(2026, 1, 31))
    known = {f"org-{i}": None for i in range(250)}
    conn = SimpleNamespace(kind="telzino", telzino=SimpleNamespace(max_ids_per_call=100))
    loaders = Loaders.__new__(Loaders)
    loaders.naive = False
    loaders.service = SimpleNamespace(cache=None)  # without a result cache
    loaders.catalog = SimpleNamespace(organizations_with_part=lambda source: known)
    loaders._connection = lambda source: conn  # type: ignore[method-assign]
    few = [("telzino", "org-7", rng), ("telzino", "org-3", rng)]
    assert loaders._telzino_ids("telzino", few) == ["org-3", "org-7"]
    many = [("telzino", f"org-{i}", rng) for i in range(101)]
    assert loaders._telzino_ids("telzino", many) is None  # more than a chunk: one unfiltered call
    known_small = {f"org-{i}": None for i in range(40)}
    loaders.catalog = SimpleNamespace(organizations_with_part=lambda source: known_small)
    assert loaders._telzino_ids("telzino", few) is None  # the whole account fits one call
    # with a result cache the whole account's report is the same one call, and it answers the
    # next page of a connection, or any other organization, from the cache
    loaders.catalog = SimpleNamespace(organizations_with_part=lambda source: known)
    loaders.service = SimpleNamespace(cache=object())
    assert loaders._telzino_ids("telzino", few) is None

"""Entities and identity: who exists, under which id, named how, made of which source parts.

Every expectation comes from the dataset (tests/fixtures/truth.py), never from the graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fixtures.graph import GraphQuery, open_graph, sandbox_settings
from tests.fixtures.truth import (
    PartTruth,
    channel_parts,
    customer_channel,
    customer_parts,
    last_full_month,
    organization_id_of,
    organization_name_of,
    reseller_id_of,
    reseller_name_of,
)
from usagegraph.sandbox.dataset import Dataset, teli_source_name
from usagegraph.sandbox.server import SandboxServer

SOURCES = "sources { source kind nativeId name }"


def parts(links: list[dict[str, Any]]) -> list[PartTruth]:
    return [PartTruth(s["source"], s["kind"], s["nativeId"], s["name"]) for s in links]


def expected_org_ids(ds: Dataset) -> dict[str, str]:
    """customer key -> the organization id the graph must use."""
    return {c: organization_id_of(ds, c) for c in ds.customer_names}


async def test_resellers_are_every_channel_with_its_parts(
    graph: GraphQuery, dataset: Dataset
) -> None:
    result = await graph(f"{{ resellers {{ id name {SOURCES} }} }}")
    assert "errors" not in result
    got = {r["id"]: (r["name"], parts(r["sources"])) for r in result["data"]["resellers"]}
    expected = {
        reseller_id_of(dataset, c): (reseller_name_of(dataset, c), channel_parts(dataset, c))
        for c in dataset.channel_names
    }
    assert got == expected


async def test_reseller_lookup_accepts_the_directory_id_and_every_part_id(
    graph: GraphQuery, dataset: Dataset
) -> None:
    for channel in dataset.channel_names:
        want = reseller_id_of(dataset, channel)
        # every part's id; a Talkdesk connection's is the bare source name
        forms = [want] + [p.global_id for p in channel_parts(dataset, channel)]
        assert any(p.native_id is None for p in channel_parts(dataset, channel))
        for form in forms:
            result = await graph("query ($id: ID!) { reseller(id: $id) { id } }", {"id": form})
            assert result == {"data": {"reseller": {"id": want}}}, form


async def test_organizations_merge_linked_customers_and_keep_unlinked_ones_apart(
    graph: GraphQuery, dataset: Dataset
) -> None:
    result = await graph(f"{{ organizations {{ id name {SOURCES} }} }}")
    assert "errors" not in result
    got = {o["id"]: (o["name"], parts(o["sources"])) for o in result["data"]["organizations"]}
    expected = {
        organization_id_of(dataset, c): (
            organization_name_of(dataset, c),
            customer_parts(dataset, c),
        )
        for c in dataset.customer_names
    }
    assert got == expected
    # both kinds exist in the dataset: merged customers and single-vendor ones
    assert any(":" not in i for i in got) and any(":" in i for i in got)


async def test_organization_lookup_accepts_either_id_form(
    graph: GraphQuery, dataset: Dataset
) -> None:
    query = "query ($id: ID!) { organization(id: $id) { id name } }"
    checked = 0
    for customer in dataset.customer_names:
        want = organization_id_of(dataset, customer)
        for form in {want, *(p.global_id for p in customer_parts(dataset, customer))}:
            result = await graph(query, {"id": form})
            assert result == {
                "data": {
                    "organization": {"id": want, "name": organization_name_of(dataset, customer)}
                }
            }, form
            checked += 1
    assert checked > len(dataset.customer_names)  # merged ones were looked up several ways


async def test_organizations_by_ids_keeps_the_asked_order_and_skips_unknown(
    graph: GraphQuery, dataset: Dataset
) -> None:
    telzino_only = next(
        o for o in dataset.telzino_orgs if len(customer_parts(dataset, o.customer)) == 1
    )
    asked = ["cust0010", "telzino:does-not-exist", f"telzino:{telzino_only.id}", "cust0000"]
    result = await graph("query ($ids: [ID!]) { organizations(ids: $ids) { id } }", {"ids": asked})
    assert [o["id"] for o in result["data"]["organizations"]] == [
        "cust0010",
        f"telzino:{telzino_only.id}",
        "cust0000",
    ]


async def test_an_unnamed_telzino_organization_is_named_by_its_id(
    graph: GraphQuery, dataset: Dataset
) -> None:
    unnamed = [o for o in dataset.telzino_orgs if o.name is None]
    unlinked = [o for o in unnamed if len(customer_parts(dataset, o.customer)) == 1]
    assert unlinked, "the dataset has an unnamed, unlinked Telzino organization"
    for org in unlinked:
        result = await graph(
            "query ($id: ID!) { organization(id: $id) { id name sources { name } } }",
            {"id": f"telzino:{org.id}"},
        )
        node = result["data"]["organization"]
        assert node == {"id": f"telzino:{org.id}", "name": org.id, "sources": [{"name": org.id}]}


async def test_organization_reseller_and_reseller_organizations_agree_with_the_dataset(
    graph: GraphQuery, dataset: Dataset
) -> None:
    query = "{ resellers { id organizations { id reseller { id name } } } }"
    result = await graph(query)
    assert "errors" not in result
    expected: dict[str, set[str]] = {
        reseller_id_of(dataset, c): set() for c in dataset.channel_names
    }
    for customer in dataset.customer_names:
        channel = customer_channel(dataset, customer)
        expected[reseller_id_of(dataset, channel)].add(organization_id_of(dataset, customer))
    got: dict[str, set[str]] = {}
    for reseller in result["data"]["resellers"]:
        got[reseller["id"]] = {o["id"] for o in reseller["organizations"]}
        for org in reseller["organizations"]:
            assert org["reseller"]["id"] == reseller["id"]
    assert got == expected
    names = {
        reseller_id_of(dataset, c): reseller_name_of(dataset, c) for c in dataset.channel_names
    }
    one = await graph('{ organization(id: "cust0000") { reseller { id name } } }')
    channel = customer_channel(dataset, "cust0000")
    want = reseller_id_of(dataset, channel)
    assert one["data"]["organization"]["reseller"] == {"id": want, "name": names[want]}


async def test_organization_agents_are_its_telzino_agents(
    graph: GraphQuery, dataset: Dataset
) -> None:
    query = """
    query ($id: ID!) {
      organization(id: $id) {
        id
        agents { id name sources { source kind nativeId name } organization { id } }
      }
    }
    """
    for org in dataset.telzino_orgs:
        org_id = organization_id_of(dataset, org.customer)
        result = await graph(query, {"id": org_id})
        agents = result["data"]["organization"]["agents"]
        got = {a["id"]: a for a in agents}
        assert len(got) == len(agents) == len(org.agents)
        for agent in org.agents:
            node = got[f"telzino:{agent.id}"]
            assert node["name"] == agent.display_name
            assert node["sources"] == [
                {
                    "source": "telzino",
                    "kind": "TELZINO",
                    "nativeId": agent.id,
                    "name": agent.display_name,
                }
            ]
            assert node["organization"] == {"id": org_id}
    # an organization with no Telzino part has no agents
    teli_only = next(
        o for o in dataset.teli_orgs.values() if len(customer_parts(dataset, o.customer)) == 1
    )
    tenant = next(t for t in dataset.teli_tenants if teli_only in t.organizations)
    result = await graph(query, {"id": f"{teli_source_name(tenant)}:{teli_only.unique_id}"})
    assert result["data"]["organization"]["agents"] == []


async def test_agents_ranked_by_voice_seconds_most_first_and_cut_by_first(
    graph: GraphQuery, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    query = """
    query ($id: ID!, $first: Date!, $last: Date!, $n: Int) {
      organization(id: $id) {
        agents(rankedBy: {firstDay: $first, lastDay: $last}, first: $n) {
          id usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } }
        }
      }
    }
    """
    org = max(dataset.telzino_orgs, key=lambda o: len(o.agents))
    assert len(org.agents) >= 3
    seconds = {
        f"telzino:{a.id}": dataset.telzino_agent_seconds(a.id, first, last) for a in org.agents
    }
    ranked = sorted(seconds, key=lambda i: (-seconds[i], i))
    variables = {"id": organization_id_of(dataset, org.customer), "first": str(first)}
    variables["last"] = str(last)

    result = await graph(query, {**variables, "n": None})
    agents = result["data"]["organization"]["agents"]
    assert [a["id"] for a in agents] == ranked
    assert [a["usage"]["voice"]["seconds"] for a in agents] == [seconds[i] for i in ranked]

    top = await graph(query, {**variables, "n": 2})
    assert [a["id"] for a in top["data"]["organization"]["agents"]] == ranked[:2]


async def test_organization_users_are_its_teli_users(graph: GraphQuery, dataset: Dataset) -> None:
    query = """
    query ($id: ID!) {
      organization(id: $id) {
        users { id name email sources { source kind nativeId name } organization { id } }
      }
    }
    """
    for tenant in dataset.teli_tenants:
        source = teli_source_name(tenant)
        for org in tenant.organizations:
            org_id = organization_id_of(dataset, org.customer)
            result = await graph(query, {"id": org_id})
            assert "errors" not in result
            got = result["data"]["organization"]["users"]
            assert sorted(got, key=lambda u: u["id"]) == sorted(
                (
                    {
                        "id": f"{source}:{u.unique_id}",
                        "name": u.name,
                        "email": u.email,
                        "sources": [
                            {
                                "source": source,
                                "kind": "TELI",
                                "nativeId": u.unique_id,
                                "name": u.name,
                            }
                        ],
                        "organization": {"id": org_id},
                    }
                    for u in org.users
                ),
                key=lambda u: u["id"],
            )
    # an organization with no Teli part has no users
    telzino_only = next(
        o for o in dataset.telzino_orgs if len(customer_parts(dataset, o.customer)) == 1
    )
    result = await graph(query, {"id": f"telzino:{telzino_only.id}"})
    assert result == {"data": {"organization": {"users": []}}}


async def test_user_and_agent_lookups_by_id(graph: GraphQuery, dataset: Dataset) -> None:
    tenant = dataset.teli_tenants[-1]
    org = tenant.organizations[0]
    user = org.users[-1]
    user_id = f"{teli_source_name(tenant)}:{user.unique_id}"
    result = await graph(
        "query ($id: ID!) { user(id: $id) { id name email organization { id } } }",
        {"id": user_id},
    )
    assert result == {
        "data": {
            "user": {
                "id": user_id,
                "name": user.name,
                "email": user.email,
                "organization": {"id": organization_id_of(dataset, org.customer)},
            }
        }
    }

    agent_org = dataset.telzino_orgs[-1]
    agent = agent_org.agents[-1]
    result = await graph(
        "query ($id: ID!) { agent(id: $id) { id name organization { id name } } }",
        {"id": f"telzino:{agent.id}"},
    )
    assert result == {
        "data": {
            "agent": {
                "id": f"telzino:{agent.id}",
                "name": agent.display_name,
                "organization": {
                    "id": organization_id_of(dataset, agent_org.customer),
                    "name": organization_name_of(dataset, agent_org.customer),
                },
            }
        }
    }


async def test_unknown_ids_are_null_without_errors(graph: GraphQuery, dataset: Dataset) -> None:
    agent_id = dataset.telzino_orgs[0].agents[0].id
    user_id = dataset.teli_tenants[0].organizations[0].users[0].unique_id
    query = """
    query ($agent: ID!, $user: ID!, $teli: ID!) {
      r1: reseller(id: "no-such-reseller") { id }
      r2: reseller(id: "telzino:00000000-0000-4000-8000-000000000000") { id }
      r3: reseller(id: "cust0000") { id }
      o1: organization(id: "no-such-org") { id }
      o2: organization(id: "telzino:00000000-0000-4000-8000-000000000000") { id }
      o3: organization(id: "unknown-source:abc") { id }
      o4: organization(id: "northwind") { id }
      a1: agent(id: "telzino:00000000-0000-4000-8000-000000000000") { id }
      a2: agent(id: $agent) { id }
      a3: agent(id: "cust0000") { id }
      u1: user(id: "teli-northwind:1700000000000x000000000000000000") { id }
      u2: user(id: $user) { id }
      u3: user(id: $teli) { id }
      u4: user(id: "telzino:abc") { id }
    }
    """
    nulls = [
        f"{kind}{n}"
        for kind, count in (("r", 3), ("o", 4), ("a", 3), ("u", 4))
        for n in range(1, count + 1)
    ]
    teli_source = teli_source_name(dataset.teli_tenants[0])
    result = await graph(
        query,
        # an agent uuid without its source, a user unique_id without its source, and a bare
        # Teli source name: none of them is an id
        {"agent": agent_id, "user": user_id, "teli": teli_source},
    )
    assert result == {"data": dict.fromkeys(nulls)}


def directory_with(dataset: Dataset, extra: str, tmp_path: Path) -> Path:
    path = tmp_path / "directory.toml"
    path.write_text(dataset.directory_toml() + "\n" + extra, encoding="utf-8")
    return path


async def test_a_directory_link_no_source_knows_is_a_source_warning(
    sandbox: SandboxServer, dataset: Dataset, tmp_path: Path
) -> None:
    teli_only = next(
        o for o in dataset.teli_orgs.values() if len(customer_parts(dataset, o.customer)) == 1
    )
    tenant = next(t for t in dataset.teli_tenants if teli_only in t.organizations)
    teli_link = f"{teli_source_name(tenant)}:{teli_only.unique_id}"
    ghost = "telzino:00000000-0000-4000-8000-000000000000"
    extra = f"""
[[organizations]]
id = "half-linked"
name = "Half Linked Co"
links = ["{ghost}", "{teli_link}"]

[[organizations]]
id = "ghost-only"
name = "Ghost Only"
links = ["talkdesk-{dataset.talkdesk_orgs[0].slug}:ffffffffffffffffffffffff"]
"""
    settings = sandbox_settings(sandbox, directory_with(dataset, extra, tmp_path))
    async with open_graph(settings) as run:
        result = await run(
            """
            query ($part: ID!) {
              sources { name warnings }
              half: organization(id: "half-linked") { id name sources { source nativeId } }
              byPart: organization(id: $part) { id }
              ghost: organization(id: "ghost-only") { id }
            }
            """,
            {"part": teli_link},
        )
    assert "errors" not in result
    warnings = {s["name"]: s["warnings"] for s in result["data"]["sources"]}
    assert len(warnings["telzino"]) == 1
    assert ghost in warnings["telzino"][0] and "half-linked" in warnings["telzino"][0]
    talkdesk = f"talkdesk-{dataset.talkdesk_orgs[0].slug}"
    assert len(warnings[talkdesk]) == 1 and "ghost-only" in warnings[talkdesk][0]
    assert all(not w for name, w in warnings.items() if name not in ("telzino", talkdesk))
    # the link that matches still merges; the node no source backs is not invented
    assert result["data"]["half"] == {
        "id": "half-linked",
        "name": "Half Linked Co",
        "sources": [{"source": teli_source_name(tenant), "nativeId": teli_only.unique_id}],
    }
    assert result["data"]["byPart"] == {"id": "half-linked"}
    assert result["data"]["ghost"] is None


async def test_the_default_directory_has_no_warnings(graph: GraphQuery) -> None:
    result = await graph("{ sources { name kind warnings } }")
    assert "errors" not in result
    assert result["data"]["sources"]
    assert all(s["warnings"] == [] for s in result["data"]["sources"])


async def test_a_whole_connection_link_merges_that_connections_reseller_without_warning(
    sandbox: SandboxServer, dataset: Dataset, tmp_path: Path
) -> None:
    tenant = dataset.teli_tenants[0]
    source = teli_source_name(tenant)
    text = dataset.directory_toml().replace(f'"{source}:{tenant.tenant_id}"', f'"{source}"')
    assert f'"{source}"' in text
    path = tmp_path / "directory.toml"
    path.write_text(text, encoding="utf-8")
    async with open_graph(sandbox_settings(sandbox, path)) as run:
        result = await run(
            """
            query ($tenant: ID!) {
              sources { name warnings }
              byTenant: reseller(id: $tenant) { id sources { source nativeId } }
            }
            """,
            {"tenant": f"{source}:{tenant.tenant_id}"},
        )
    assert "errors" not in result, result
    channel = tenant.channel
    assert result["data"]["byTenant"]["id"] == reseller_id_of(dataset, channel)
    assert [s["source"] for s in result["data"]["byTenant"]["sources"]] == [
        p.source for p in channel_parts(dataset, channel)
    ]
    assert {s["name"]: s["warnings"] for s in result["data"]["sources"]}[source] == []


async def test_without_a_directory_every_part_stands_alone(
    sandbox: SandboxServer, dataset: Dataset
) -> None:
    async with open_graph(sandbox_settings(sandbox, None)) as run:
        result = await run(
            """
            {
              resellers { id name sources { source nativeId } organizations { id } }
              organizations { id name reseller { id } }
            }
            """
        )
        talkdesk = f"talkdesk-{dataset.talkdesk_orgs[0].slug}"
        lookup = await run("query ($id: ID!) { reseller(id: $id) { id name } }", {"id": talkdesk})
    assert "errors" not in result, result
    resellers = {r["id"]: r for r in result["data"]["resellers"]}
    expected_resellers = {
        p.global_id: p for c in dataset.channel_names for p in channel_parts(dataset, c)
    }
    assert set(resellers) == set(expected_resellers)
    for reseller_id, part in expected_resellers.items():
        # a vendor's name, else the id: an unnamed Telzino reseller is named by its uuid,
        # and a Talkdesk connection's reseller is just `<source>`
        assert resellers[reseller_id]["name"] == (part.name or part.global_id)
        assert resellers[reseller_id]["sources"] == [
            {"source": part.source, "nativeId": part.native_id}
        ]
    assert lookup["data"]["reseller"] == {"id": talkdesk, "name": talkdesk}

    orgs = {o["id"]: o for o in result["data"]["organizations"]}
    expected_orgs = {
        p.global_id: p for c in dataset.customer_names for p in customer_parts(dataset, c)
    }
    assert set(orgs) == set(expected_orgs)
    for customer in dataset.customer_names:
        channel = customer_channel(dataset, customer)
        for part in customer_parts(dataset, customer):
            org = orgs[part.global_id]
            assert org["name"] == part.name
            (parent,) = [p for p in channel_parts(dataset, channel) if p.source == part.source]
            assert org["reseller"] == {"id": parent.global_id}
            assert {"id": part.global_id} in resellers[parent.global_id]["organizations"]

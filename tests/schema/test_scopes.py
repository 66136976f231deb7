"""A key scoped to some resellers sees only them, their organizations, agents and users, by every
way in: lists, lookups by either id form, nested fields, aliases, fragments, usage totals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.auth import ask, auth_settings, client_for, started
from tests.fixtures.truth import (
    customer_channel,
    customer_parts,
    expected_customer,
    last_full_month,
    organization_id_of,
)
from usagegraph.resolvers.catalog import Catalog
from usagegraph.resolvers.scope import NOBODY
from usagegraph.sandbox.dataset import Dataset
from usagegraph.sandbox.server import SandboxServer


@pytest.fixture
async def client(sandbox: SandboxServer, directory_file: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with started(auth_settings(sandbox, directory_file)) as app, client_for(app) as http:
        yield http


def channel_orgs(ds: Dataset, channel: str) -> set[str]:
    """The graph ids of every organization whose customer belongs to `channel`."""
    return {
        organization_id_of(ds, c)
        for c in ds.customer_names
        if customer_parts(ds, c) and customer_channel(ds, c) == channel
    }


def southpoint_ids(ds: Dataset) -> dict[str, str]:
    """Out-of-scope ids (for the northwind key) in every form a caller could try."""
    reseller = next(r for r in ds.telzino_resellers if r.channel == "southpoint")
    org = next(o for o in ds.telzino_orgs if o.customer == "cust0007")  # Harbor Clinics
    agent = next(a for o in ds.telzino_orgs if o.customer == "cust0010" for a in o.agents)
    tenant = next(t for t in ds.teli_tenants if t.channel == "southpoint")
    user = next(u for o in tenant.organizations for u in o.users)
    return {
        "reseller": "southpoint",
        "reseller_part": f"telzino:{reseller.id}",
        "reseller_connection": "talkdesk-southpoint",
        "organization": "cust0007",
        "organization_part": f"telzino:{org.id}",
        "agent": f"telzino:{agent.id}",
        "user": f"teli-southpoint:{user.unique_id}",
    }


ALL_IDS = """
{ resellers { id } organizations { id agents { id } users { id } } }
"""


async def test_a_scoped_key_lists_only_its_reseller_and_its_organizations(
    client: httpx.AsyncClient, dataset: Dataset
) -> None:
    data = (await ask(client, "northwind", ALL_IDS))["data"]
    assert [r["id"] for r in data["resellers"]] == ["northwind"]
    assert {o["id"] for o in data["organizations"]} == channel_orgs(dataset, "northwind")
    northwind_agents = {
        f"telzino:{a.id}"
        for o in dataset.telzino_orgs
        if dataset.telzino_reseller_by_id[o.reseller_id].channel == "northwind"
        for a in o.agents
    }
    assert {a["id"] for o in data["organizations"] for a in o["agents"]} == northwind_agents
    tenant = next(t for t in dataset.teli_tenants if t.channel == "northwind")
    northwind_users = {
        f"teli-northwind:{u.unique_id}" for o in tenant.organizations for u in o.users
    }
    assert {u["id"] for o in data["organizations"] for u in o["users"]} == northwind_users


async def test_an_unscoped_key_sees_every_reseller(
    client: httpx.AsyncClient, dataset: Dataset
) -> None:
    data = (await ask(client, "ops", ALL_IDS))["data"]
    assert {r["id"] for r in data["resellers"]} == {"northwind", "southpoint", "eastgate"}
    every = set().union(*(channel_orgs(dataset, c) for c in dataset.channel_names))
    assert {o["id"] for o in data["organizations"]} == every


async def test_a_scope_given_by_a_part_id_grants_the_merged_reseller(
    client: httpx.AsyncClient, dataset: Dataset
) -> None:
    data = (await ask(client, "eastgate", ALL_IDS))["data"]
    assert [r["id"] for r in data["resellers"]] == ["eastgate"]
    assert {o["id"] for o in data["organizations"]} == channel_orgs(dataset, "eastgate")


LOOKUPS = """
query ($reseller: ID!, $organization: ID!, $agent: ID!, $user: ID!) {
  reseller(id: $reseller) { id }
  organization(id: $organization) { id }
  agent(id: $agent) { id }
  user(id: $user) { id }
}
"""


@pytest.mark.parametrize("form", ["canonical", "part"])
async def test_out_of_scope_ids_answer_exactly_like_ids_that_do_not_exist(
    client: httpx.AsyncClient, dataset: Dataset, sandbox: SandboxServer, form: str
) -> None:
    ids = southpoint_ids(dataset)
    hidden = {
        "reseller": ids["reseller"] if form == "canonical" else ids["reseller_part"],
        "organization": ids["organization"] if form == "canonical" else ids["organization_part"],
        "agent": ids["agent"],
        "user": ids["user"],
    }
    missing = {
        "reseller": "nope",
        "organization": "telzino:nope",
        "agent": "telzino:nope",
        "user": "teli-southpoint:nope",
    }
    scoped = await ask(client, "northwind", LOOKUPS, hidden)
    assert scoped == await ask(client, "northwind", LOOKUPS, missing)
    assert scoped == {"data": {"reseller": None, "organization": None, "agent": None, "user": None}}
    # the hidden ids exist: the ops key finds every one of them
    seen = (await ask(client, "ops", LOOKUPS, hidden))["data"]
    assert {k: v["id"] for k, v in seen.items()} == {
        "reseller": "southpoint",
        "organization": "cust0007",
        "agent": ids["agent"],
        "user": ids["user"],
    }


async def test_a_whole_connection_id_of_another_reseller_is_hidden(
    client: httpx.AsyncClient, dataset: Dataset
) -> None:
    query = """{
      reseller(id: "talkdesk-southpoint") { id }
      mine: reseller(id: "talkdesk-northwind") { id }
    }"""
    data = (await ask(client, "northwind", query))["data"]
    assert data == {"reseller": None, "mine": {"id": "northwind"}}


async def test_user_lookup_never_lists_users_of_hidden_organizations(
    client: httpx.AsyncClient, dataset: Dataset, sandbox: SandboxServer
) -> None:
    ids = southpoint_ids(dataset)
    sandbox.control.reset()
    data = (await ask(client, "northwind", LOOKUPS, {**_nothing(), "user": ids["user"]}))["data"]
    assert data["user"] is None
    # no southpoint organization is visible, so not one of their user lists was fetched
    assert sandbox.control.count("teli", path="/v1/organizations/") == 0


def _nothing() -> dict[str, str]:
    return {"reseller": "x", "organization": "x", "agent": "x", "user": "x"}


async def test_visible_ids_resolve_in_both_forms_with_their_parents(
    client: httpx.AsyncClient, dataset: Dataset
) -> None:
    org = next(o for o in dataset.telzino_orgs if o.customer == "cust0000")  # Acme Solar
    agent = org.agents[0]
    tenant = next(t for t in dataset.teli_tenants if t.channel == "northwind")
    user = next(u for o in tenant.organizations if o.customer == "cust0000" for u in o.users)
    query = """
    query ($part: ID!, $agent: ID!, $user: ID!) {
      byDirectory: organization(id: "cust0000") { id reseller { id } }
      byPart: organization(id: $part) { id reseller { id organizations { id } } }
      reseller(id: "teli-northwind:tenant_northwind") { id }
      agent(id: $agent) { id organization { id reseller { id } } }
      user(id: $user) { id organization { id } }
    }
    """
    variables = {
        "part": f"telzino:{org.id}",
        "agent": f"telzino:{agent.id}",
        "user": f"teli-northwind:{user.unique_id}",
    }
    data = (await ask(client, "northwind", query, variables))["data"]
    assert data["byDirectory"] == {"id": "cust0000", "reseller": {"id": "northwind"}}
    assert data["byPart"]["id"] == "cust0000"
    assert {o["id"] for o in data["byPart"]["reseller"]["organizations"]} == channel_orgs(
        dataset, "northwind"
    )
    assert data["reseller"] == {"id": "northwind"}
    assert data["agent"] == {
        "id": f"telzino:{agent.id}",
        "organization": {"id": "cust0000", "reseller": {"id": "northwind"}},
    }
    assert data["user"] == {"id": variables["user"], "organization": {"id": "cust0000"}}


async def test_organizations_by_ids_drops_hidden_ones_in_any_form(
    client: httpx.AsyncClient, dataset: Dataset
) -> None:
    ids = southpoint_ids(dataset)
    query = "query ($ids: [ID!]!) { organizations(ids: $ids) { id } }"
    asked = [ids["organization"], "cust0000", ids["organization_part"], "cust0012"]
    data = (await ask(client, "northwind", query, {"ids": asked}))["data"]
    assert [o["id"] for o in data["organizations"]] == ["cust0000", "cust0012"]


async def test_aliases_and_fragments_see_the_same_scope(
    client: httpx.AsyncClient, dataset: Dataset
) -> None:
    query = """
    fragment Org on Organization { id reseller { id } }
    fragment Everything on Query {
      resellers { id organizations { ...Org } }
    }
    {
      mine: organization(id: "cust0000") { ...Org }
      theirs: organization(id: "cust0007") { ...Org }
      other: organization(id: "cust0005") { ... on Organization { id } }
      everyone: resellers { ... on Reseller { id } }
      ...Everything
      ... on Query { organizations { id } }
    }
    """
    data = (await ask(client, "northwind", query))["data"]
    assert data["mine"] == {"id": "cust0000", "reseller": {"id": "northwind"}}
    assert data["theirs"] is None
    assert data["other"] is None
    assert data["everyone"] == [{"id": "northwind"}]
    assert [r["id"] for r in data["resellers"]] == ["northwind"]
    nested = {o["id"] for o in data["resellers"][0]["organizations"]}
    assert nested == {o["id"] for o in data["organizations"]} == channel_orgs(dataset, "northwind")


USAGE = """
query ($first: Date!, $last: Date!) {
  resellers {
    id
    usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } sms { outboundSegments } }
  }
}
"""


async def test_a_reseller_usage_total_counts_only_its_own_organizations(
    client: httpx.AsyncClient, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    variables = {"first": str(first), "last": str(last)}
    scoped = (await ask(client, "northwind", USAGE, variables))["data"]["resellers"]
    customers = [
        c
        for c in dataset.customer_names
        if customer_parts(dataset, c) and customer_channel(dataset, c) == "northwind"
    ]
    expected = [expected_customer(dataset, c, first, last) for c in customers]
    assert scoped == [
        {
            "id": "northwind",
            "usage": {
                "voice": {"seconds": sum(e.voice_seconds for e in expected)},
                "sms": {"outboundSegments": sum(e.sms_out or 0 for e in expected)},
            },
        }
    ]
    everyone = (await ask(client, "ops", USAGE, variables))["data"]["resellers"]
    assert next(r for r in everyone if r["id"] == "northwind") == scoped[0]


async def test_sources_is_forbidden_to_scoped_keys_only(client: httpx.AsyncClient) -> None:
    scoped = await ask(client, "northwind", "{ sources { name lastError } }")
    assert scoped["data"] is None
    [error] = scoped["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert error["path"] == ["sources"]
    ops = await ask(client, "ops", "{ sources { name } }")
    assert len(ops["data"]["sources"]) == 6


async def test_the_scoped_view_is_built_once_per_catalog_and_scope(
    client: httpx.AsyncClient,
) -> None:
    app: Any = client._transport.app  # type: ignore[attr-defined]
    service = app.state.graph
    await ask(client, "northwind", "{ resellers { id } }")
    await ask(client, "northwind", "{ organizations { id } }")
    await ask(client, "eastgate", "{ resellers { id } }")
    catalog: Catalog = await service.catalog()
    views = {scope: view for scope, (base, view) in service._views.items() if base is catalog}
    assert set(views) == {frozenset({"northwind"}), frozenset({"talkdesk-eastgate"})}
    assert (
        service.scoped_catalog(catalog, frozenset({"northwind"})) is views[frozenset({"northwind"})]
    )
    # a fresh catalog (after the discovery TTL) gets a fresh view
    refreshed = Catalog(
        dict(catalog.resellers),
        dict(catalog.organizations),
        dict(catalog.agents),
        dict(catalog.aliases),
        {},
        {},
    )
    view = service.scoped_catalog(refreshed, frozenset({"northwind"}))
    assert view is not views[frozenset({"northwind"})]
    assert list(view.resellers) == ["northwind"]


async def test_an_empty_scope_sees_nothing(client: httpx.AsyncClient) -> None:
    app: Any = client._transport.app  # type: ignore[attr-defined]
    service = app.state.graph
    catalog = await service.catalog()
    assert NOBODY.resellers is not None
    view = service.scoped_catalog(catalog, NOBODY.resellers)
    assert (view.resellers, view.organizations, view.agents, view.aliases) == ({}, {}, {}, {})

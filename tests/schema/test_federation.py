"""usagegraph as an Apollo Federation v2 subgraph: `_service`, `_entities` and `@key`, the
client-facing SDL without any of it, and entity lookups that cost what a list query costs."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from graphql import build_schema as parse_sdl

from tests.fixtures.auth import ask, auth_settings, client_for, started
from tests.fixtures.graph import GraphQuery, open_graph, sandbox_settings
from tests.fixtures.truth import (
    customer_parts,
    expected_customer,
    last_full_month,
    organization_id_of,
)
from usagegraph import cli
from usagegraph.sandbox.dataset import Dataset, generate
from usagegraph.sandbox.server import SandboxServer
from usagegraph.schema import build_schema, schema
from usagegraph.schema.federation import FEDERATION_FIELDS, FEDERATION_TYPES

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"
ENTITIES = ("Agent", "Organization", "Reseller", "User")

USAGE = """
usage(range: {firstDay: $first, lastDay: $last}) {
  voice { seconds } sms { outboundSegments } costs { amount currency }
}"""
LIST_QUERY = f"""
query ($ids: [ID!], $first: Date!, $last: Date!) {{
  organizations(ids: $ids) {{ id name {USAGE} }}
}}
"""
ENTITIES_QUERY = f"""
query ($representations: [_Any!]!, $first: Date!, $last: Date!) {{
  _entities(representations: $representations) {{
    __typename
    ... on Organization {{ id name {USAGE} }}
  }}
}}
"""


def org_refs(ids: list[str]) -> list[dict[str, str]]:
    return [{"__typename": "Organization", "id": i} for i in ids]


# -- the SDLs --------------------------------------------------------------------------------------


def test_schema_graphql_has_no_federation_parts() -> None:
    sdl = SCHEMA_FILE.read_text(encoding="utf-8")
    built = parse_sdl(sdl)

    assert not FEDERATION_TYPES & set(built.type_map)
    assert not FEDERATION_FIELDS & set(built.query_type.fields)  # type: ignore[union-attr]
    assert "@key" not in sdl and "@link" not in sdl and "_Service" not in sdl
    # and it is still the whole client schema
    assert {"Organization", "Reseller", "Agent", "User", "Usage"} <= set(built.type_map)


def test_subgraph_sdl_keys_the_four_entities_and_links_federation_2() -> None:
    sdl = schema.subgraph_sdl()

    keyed = re.findall(r'^type (\w+) @key\(fields: "id"\)', sdl, re.M)
    assert sorted(keyed) == list(ENTITIES)
    assert sdl.startswith('schema @link(url: "https://specs.apollo.dev/federation/v2.')
    assert "union _Entity = Agent | Organization | Reseller | User" in sdl
    # apart from Federation's parts, both SDLs define the same types
    defined = set(re.findall(r"^(?:type|input|enum|scalar|interface|union) (\w+)", sdl, re.M))
    client = set(
        re.findall(r"^(?:type|input|enum|scalar|interface|union) (\w+)", schema.as_str(), re.M)
    )
    assert defined - client == {"_Any", "_Entity", "_Service"}


def test_export_schema_prints_the_client_sdl_and_with_federation_the_subgraph_sdl(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["export-schema"]) == 0
    assert capsys.readouterr().out == SCHEMA_FILE.read_text(encoding="utf-8")

    assert cli.main(["export-schema", "--federation"]) == 0
    assert capsys.readouterr().out == schema.subgraph_sdl() + "\n"


def test_limits_do_not_change_either_sdl() -> None:
    from usagegraph.schema.limits import SchemaLimits

    tight = build_schema(SchemaLimits(max_depth=3, introspection=False))
    assert tight.as_str() == schema.as_str()
    assert tight.subgraph_sdl() == schema.subgraph_sdl()


async def test_service_sdl_is_the_exported_subgraph_sdl(graph: GraphQuery) -> None:
    result = await graph("{ _service { sdl } }")

    assert result == {"data": {"_service": {"sdl": schema.subgraph_sdl()}}}


# -- _entities -------------------------------------------------------------------------------------


async def test_entities_resolve_every_key_type_in_order_with_null_for_unknown_ids(
    graph: GraphQuery, dataset: Dataset
) -> None:
    catalog = await graph(
        "{ resellers { id organizations { id name agents { id } users { id } } } }"
    )
    reseller = catalog["data"]["resellers"][0]
    org = next(o for o in reseller["organizations"] if o["agents"] and o["users"])
    agent, user = org["agents"][0]["id"], org["users"][0]["id"]
    telzino_org = next(o for o in dataset.telzino_orgs if o.customer == org["id"])
    representations = [
        {"__typename": "User", "id": user},
        {"__typename": "Organization", "id": f"telzino:{telzino_org.id}"},  # the other id form
        {"__typename": "Organization", "id": "no-such-org"},
        {"__typename": "Agent", "id": agent},
        {"__typename": "Reseller", "id": reseller["id"]},
        {"__typename": "User", "id": "teli-northwind:nobody"},
    ]
    query = """
    query ($r: [_Any!]!) {
      _entities(representations: $r) {
        __typename
        ... on Reseller { id }
        ... on Organization { id name }
        ... on Agent { id organization { id } }
        ... on User { id organization { id } }
      }
    }"""

    result = await graph(query, {"r": representations})

    assert "errors" not in result, result
    assert result["data"]["_entities"] == [
        {"__typename": "User", "id": user, "organization": {"id": org["id"]}},
        {"__typename": "Organization", "id": org["id"], "name": org["name"]},
        None,
        {"__typename": "Agent", "id": agent, "organization": {"id": org["id"]}},
        {"__typename": "Reseller", "id": reseller["id"]},
        None,
    ]


async def test_entity_usage_is_the_dataset_truth(graph: GraphQuery, dataset: Dataset) -> None:
    first, last = last_full_month(dataset)
    customers = [
        c
        for c in sorted(dataset.customer_names)
        if customer_parts(dataset, c) and expected_customer(dataset, c, first, last).voice_seconds
    ][:4]
    ids = [organization_id_of(dataset, c) for c in customers]

    result = await graph(
        ENTITIES_QUERY, {"representations": org_refs(ids), "first": str(first), "last": str(last)}
    )

    assert "errors" not in result, result
    for customer, entity in zip(customers, result["data"]["_entities"], strict=True):
        truth = expected_customer(dataset, customer, first, last)
        assert entity["usage"]["voice"]["seconds"] == truth.voice_seconds
        assert entity["usage"]["costs"] == truth.cost_list()


async def test_entities_outside_a_keys_scope_are_null(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    query = """
    query ($r: [_Any!]!) {
      _entities(representations: $r) { ... on Organization { id } ... on Reseller { id } }
    }"""
    refs = [
        {"__typename": "Organization", "id": "cust0000"},  # northwind's
        {"__typename": "Organization", "id": "cust0007"},  # southpoint's
        {"__typename": "Reseller", "id": "southpoint"},
        {"__typename": "Reseller", "id": "northwind"},
    ]
    async with started(auth_settings(sandbox, directory_file)) as app, client_for(app) as http:
        scoped = await ask(http, "northwind", query, {"r": refs})
        everyone = await ask(http, "ops", query, {"r": refs})

    assert scoped["data"]["_entities"] == [{"id": "cust0000"}, None, None, {"id": "northwind"}]
    assert everyone["data"]["_entities"] == [
        {"id": "cust0000"},
        {"id": "cust0007"},
        {"id": "southpoint"},
        {"id": "northwind"},
    ]


# -- batching: _entities costs what the list query costs -------------------------------------------


async def _calls_of(
    sandbox: SandboxServer, directory: Path | None, query: str, variables: dict[str, Any]
) -> tuple[dict[str, Any], Counter[tuple[str, str]]]:
    """The result and upstream calls (mount, path) of `query` on a fresh app, discovery (and
    tokens) warmed up first so only the query's own calls count."""
    async with open_graph(sandbox_settings(sandbox, directory)) as run:
        warm = await run("{ organizations { id } }")
        assert "errors" not in warm
        sandbox.control.reset()
        result = await run(query, variables)
        calls = Counter((r.mount, r.path) for r in sandbox.control.requests)
    assert "errors" not in result, result.get("errors")
    return result, calls


async def _same_calls_for_entities_and_list(
    sandbox: SandboxServer, directory: Path | None, dataset: Dataset
) -> int:
    first, last = last_full_month(dataset)
    async with open_graph(sandbox_settings(sandbox, directory)) as run:
        ids = [o["id"] for o in (await run("{ organizations { id } }"))["data"]["organizations"]]
    dates = {"first": str(first), "last": str(last)}

    listed, list_calls = await _calls_of(sandbox, directory, LIST_QUERY, {"ids": ids, **dates})
    entities, entity_calls = await _calls_of(
        sandbox, directory, ENTITIES_QUERY, {"representations": org_refs(ids), **dates}
    )

    by_id = {o["id"]: o for o in listed["data"]["organizations"]}
    assert [e["id"] for e in entities["data"]["_entities"]] == ids
    for entity in entities["data"]["_entities"]:
        assert {k: v for k, v in entity.items() if k != "__typename"} == by_id[entity["id"]]
    assert entity_calls == list_calls
    # and it is batched: a handful of calls, not one per organization
    assert sum(list_calls.values()) < len(ids) / 2
    return len(ids)


async def test_entities_for_every_organization_cost_the_same_calls_as_the_list_query(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    count = await _same_calls_for_entities_and_list(sandbox, directory_file, dataset)
    assert count >= len(dataset.customer_names) - 1  # every organization the graph lists


async def test_entities_for_500_organizations_cost_the_same_calls_as_the_list_query(
    tmp_path: Path,
) -> None:
    dataset = generate(seed=7, scale="L")  # 2,000 customers; the first 500 graph ids are used
    directory = tmp_path / "directory.toml"
    directory.write_text(dataset.directory_toml(), encoding="utf-8")
    customers = [c for c in sorted(dataset.customer_names) if customer_parts(dataset, c)]
    ids = [organization_id_of(dataset, c) for c in customers[:500]]
    with SandboxServer(dataset) as server:
        first, last = last_full_month(dataset)
        dates = {"first": str(first), "last": str(last)}

        listed, list_calls = await _calls_of(server, directory, LIST_QUERY, {"ids": ids, **dates})
        entities, entity_calls = await _calls_of(
            server, directory, ENTITIES_QUERY, {"representations": org_refs(ids), **dates}
        )

    assert [o["id"] for o in listed["data"]["organizations"]] == ids  # all 500 exist
    assert [e["id"] for e in entities["data"]["_entities"]] == ids
    assert [e["usage"] for e in entities["data"]["_entities"]] == [
        o["usage"] for o in listed["data"]["organizations"]
    ]
    assert entity_calls == list_calls
    assert sum(entity_calls.values()) < 50  # batched, not 500 calls

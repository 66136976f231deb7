"""usagegraph in a real supergraph: composed with a second subgraph (tests/federation/crm.py) by
@theguild/federation-composition, served by Hive Gateway (@graphql-hive/gateway), both from npm
(federation/package-lock.json; `make test-federation`). The gateway joins one organization's
fields from both subgraphs, in both directions (usagegraph's root field + the CRM's entities,
and the CRM's root field + usagegraph's `_entities`); connections page through it as they do on
the subgraph itself."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.federation.crm import MANAGERS, CrmServer, crm_schema
from tests.fixtures.serve import node_or_skip, running, serve_usagegraph
from tests.fixtures.truth import expected_customer, last_full_month, organization_name_of
from usagegraph.sandbox.dataset import Dataset
from usagegraph.sandbox.server import free_port
from usagegraph.schema import schema

pytestmark = pytest.mark.federation

ROOT = Path(__file__).resolve().parents[2]
FEDERATION = ROOT / "federation"
COMPOSE = FEDERATION / "compose.mjs"
GATEWAY = FEDERATION / "node_modules" / "@graphql-hive" / "gateway" / "dist" / "bin.js"


@dataclass(frozen=True)
class Stack:
    gateway: str  # the supergraph's GraphQL URL
    subgraph: str  # usagegraph's own GraphQL URL, for the direct answer
    public_sdl: str  # the composed API schema


def compose(node: str, subgraphs: list[dict[str, str]], output: Path) -> dict[str, Any]:
    """Run federation/compose.mjs; its one-line JSON report."""
    spec = output.with_suffix(".spec.json")
    spec.write_text(json.dumps({"output": str(output), "subgraphs": subgraphs}), encoding="utf-8")
    done = subprocess.run(
        [node, str(COMPOSE), str(spec)],
        cwd=FEDERATION,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout.strip(), done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def node() -> str:
    node = node_or_skip()
    if not GATEWAY.is_file():
        pytest.fail("federation/node_modules is not installed: run `make test-federation`")
    return node


@pytest.fixture(scope="module")
def stack(node: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("federation")
    with serve_usagegraph(logs / "usagegraph.log") as usagegraph, CrmServer() as crm:
        # the composer asks each running subgraph for its SDL, as a gateway's tooling does
        supergraph = logs / "supergraph.graphql"
        report = compose(
            node,
            [
                {"name": "usagegraph", "url": f"{usagegraph}/graphql"},
                {"name": "crm", "url": crm.url},
            ],
            supergraph,
        )
        assert report["ok"], report["errors"]
        port = free_port()
        command = [
            node,
            str(GATEWAY),
            "supergraph",
            str(supergraph),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        base = f"http://127.0.0.1:{port}"
        with running(
            command, ready_url=f"{base}/healthcheck", log=logs / "gateway.log", cwd=FEDERATION
        ):
            yield Stack(
                gateway=f"{base}/graphql",
                subgraph=f"{usagegraph}/graphql",
                public_sdl=report["publicSdl"],
            )


def ask(
    stack: Stack, query: str, variables: dict[str, Any] | None = None, *, direct: bool = False
) -> dict[str, Any]:
    """The gateway's answer (`direct`: usagegraph's own, bypassing the gateway)."""
    url = stack.subgraph if direct else stack.gateway
    response = httpx.post(url, json={"query": query, "variables": variables or {}}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def month(dataset: Dataset) -> dict[str, str]:
    first, last = last_full_month(dataset)
    return {"first": str(first), "last": str(last)}


def test_the_supergraph_joins_organization_across_both_subgraphs(stack: Stack) -> None:
    organization = re.search(r"^type Organization \{.*?^\}", stack.public_sdl, re.S | re.M)

    assert organization is not None
    fields = re.findall(r"^  (\w+)[(:]", organization.group(0), re.M)
    assert {"id", "name", "usage", "agents", "accountManager"} <= set(fields)
    assert "accountsManagedBy(" in stack.public_sdl and "organization(" in stack.public_sdl
    # the API schema hides federation's plumbing from the gateway's clients
    assert "_entities" not in stack.public_sdl and "_Service" not in stack.public_sdl


def test_one_organization_with_a_field_from_each_subgraph(stack: Stack, dataset: Dataset) -> None:
    query = """
    query ($first: Date!, $last: Date!) {
      organization(id: "cust0000") {
        id
        name
        accountManager
        usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } }
      }
    }"""
    dates = month(dataset)

    result = ask(stack, query, dates)

    assert "errors" not in result, result
    truth = expected_customer(dataset, "cust0000", *last_full_month(dataset))
    assert result["data"]["organization"] == {
        "id": "cust0000",
        "name": organization_name_of(dataset, "cust0000"),
        "accountManager": MANAGERS["cust0000"],
        "usage": {"voice": {"seconds": truth.voice_seconds}},
    }
    assert truth.voice_seconds > 0


def test_the_crms_root_field_gets_names_and_usage_from_usagegraph_entities(
    stack: Stack, dataset: Dataset
) -> None:
    query = """
    query ($first: Date!, $last: Date!) {
      accountsManagedBy(manager: "Dana Whitfield") {
        id
        accountManager
        name
        usage(range: {firstDay: $first, lastDay: $last}) {
          voice { seconds }
          costs { amount currency }
        }
      }
    }"""

    result = ask(stack, query, month(dataset))

    assert "errors" not in result, result
    first, last = last_full_month(dataset)
    managed = sorted(org for org, name in MANAGERS.items() if name == "Dana Whitfield")
    expected = []
    for org in managed:
        truth = expected_customer(dataset, org, first, last)
        expected.append(
            {
                "id": org,
                "accountManager": "Dana Whitfield",
                "name": organization_name_of(dataset, org),
                "usage": {"voice": {"seconds": truth.voice_seconds}, "costs": truth.cost_list()},
            }
        )
    assert result["data"]["accountsManagedBy"] == expected


PAGE = """
query ($first: Date!, $last: Date!, $after: String) {
  organizationsConnection(first: 6, after: $after, orderBy: {field: COST, direction: DESC,
      range: {firstDay: $first, lastDay: $last}, currency: "USD"}) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id name }
  }
}"""


def pages(stack: Stack, dates: dict[str, str], *, direct: bool) -> list[dict[str, Any]]:
    """organizationsConnection paged to its end, each page after the previous `endCursor`."""
    out: list[dict[str, Any]] = []
    after = None
    while True:
        result = ask(stack, PAGE, {**dates, "after": after}, direct=direct)
        assert "errors" not in result, result
        page = result["data"]["organizationsConnection"]
        out.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            return out
        after = page["pageInfo"]["endCursor"]
        assert len(out) < 10, "the pages never end"


def test_organizations_page_through_the_gateway_as_on_the_subgraph(
    stack: Stack, dataset: Dataset
) -> None:
    dates = month(dataset)

    through_gateway = pages(stack, dates, direct=False)
    direct = pages(stack, dates, direct=True)

    assert through_gateway == direct
    ids = [node["id"] for page in through_gateway for node in page["nodes"]]
    assert [len(page["nodes"]) for page in through_gateway] == [6, 6, 6, 2]
    assert {page["totalCount"] for page in through_gateway} == {20}
    assert len(set(ids)) == 20  # no organization twice, none missing
    # a cursor the gateway passed on is the subgraph's own: the subgraph continues from it
    cursor = through_gateway[0]["pageInfo"]["endCursor"]
    resumed = ask(stack, PAGE, {**dates, "after": cursor}, direct=True)
    assert resumed["data"]["organizationsConnection"] == through_gateway[1]


AGENTS = """
query ($after: String) {
  accountsManagedBy(manager: "Dana Whitfield") {
    id
    accountManager
    agentsConnection(first: 2, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { id name }
    }
  }
}"""

AGENTS_DIRECT = """
query ($id: ID!, $after: String) {
  organization(id: $id) {
    agentsConnection(first: 2, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { id name }
    }
  }
}"""


def test_an_entity_organizations_agents_page_through_the_gateway(stack: Stack) -> None:
    first = ask(stack, AGENTS)
    assert "errors" not in first, first
    organizations = first["data"]["accountsManagedBy"]

    assert [o["id"] for o in organizations] == ["cust0000", "cust0005"]
    for org in organizations:
        direct = ask(stack, AGENTS_DIRECT, {"id": org["id"]}, direct=True)
        assert org["agentsConnection"] == direct["data"]["organization"]["agentsConnection"]
    # cust0000 has 3 agents, cust0005 4 (Telzino): each a page of 2 with more after it
    assert [o["agentsConnection"]["totalCount"] for o in organizations] == [3, 4]
    assert all(o["agentsConnection"]["pageInfo"]["hasNextPage"] for o in organizations)
    # the next page of cust0005's agents, after the cursor the gateway passed on
    cursor = organizations[1]["agentsConnection"]["pageInfo"]["endCursor"]
    second = ask(stack, AGENTS, {"after": cursor})
    direct = ask(stack, AGENTS_DIRECT, {"id": "cust0005", "after": cursor}, direct=True)
    page = second["data"]["accountsManagedBy"][1]["agentsConnection"]
    assert page == direct["data"]["organization"]["agentsConnection"]
    assert len(page["nodes"]) == 2 and page["pageInfo"]["hasNextPage"] is False
    first_ids = {n["id"] for n in organizations[1]["agentsConnection"]["nodes"]}
    assert first_ids.isdisjoint(n["id"] for n in page["nodes"])


def test_composition_refuses_a_conflicting_subgraph(node: str, tmp_path: Path) -> None:
    # the CRM also defining Organization.name, without @shareable, must not compose
    conflicting = crm_schema.as_str().replace(
        "  accountManager: String\n", "  accountManager: String\n  name: String\n"
    )
    assert conflicting != crm_schema.as_str()

    report = compose(
        node,
        [
            {
                "name": "usagegraph",
                "url": "http://127.0.0.1:1/graphql",
                "sdl": schema.subgraph_sdl(),
            },
            {"name": "crm", "url": "http://127.0.0.1:2/graphql", "sdl": conflicting},
        ],
        tmp_path / "supergraph.graphql",
    )

    assert report["ok"] is False
    assert any("Organization.name" in error for error in report["errors"]), report["errors"]

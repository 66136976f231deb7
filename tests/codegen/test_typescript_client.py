"""The TypeScript client (examples/clients/typescript): GraphQL Code Generator's types and typed
documents from schema.graphql and examples/operations, type-checked with tsc; the ids a
typed-document-node client hashes match examples/persisted-operations.json; and Apollo Client's
persisted-query link speaks APQ with a running `usagegraph serve` (hash-only GET, miss,
register, hit). Needs `make test-clients` (npm ci); skipped only when node is absent."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.codegen.ranking import by_cost
from tests.fixtures.serve import node_or_skip, serve_usagegraph
from tests.fixtures.truth import last_full_month
from usagegraph.sandbox.dataset import Dataset

pytestmark = pytest.mark.codegen

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "examples" / "clients" / "typescript"
MODULES = HERE / "node_modules"
MANIFEST = ROOT / "examples" / "persisted-operations.json"


def run_node(node: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [node, *args], cwd=HERE, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def node() -> str:
    node = node_or_skip()
    if not (MODULES / "@graphql-codegen" / "cli").is_dir():
        pytest.fail("examples/clients/typescript/node_modules is missing: run `make test-clients`")
    return node


@pytest.fixture(scope="module")
def generated(node: str) -> Path:
    """Run GraphQL Code Generator (npm run generate) afresh; the generated module's path."""
    output = HERE / "src" / "generated" / "graphql.ts"
    output.unlink(missing_ok=True)
    done = run_node(node, str(MODULES / ".bin" / "graphql-codegen"), "--config", "codegen.ts")
    assert done.returncode == 0, done.stdout + done.stderr
    return output


def test_codegen_types_every_operation(generated: Path) -> None:
    text = generated.read_text(encoding="utf-8")
    operations = sorted(p.stem for p in (ROOT / "examples" / "operations").glob("*.graphql"))

    for name in operations:
        assert f"export type {name}Query = " in text
        assert f"export type {name}QueryVariables = " in text
        assert f"export const {name}Document = " in text
    # Decimal and Date arrive as strings: exact money, no float
    assert "minutes: string" in text and "firstDay: string" in text


def test_the_usage_file_type_checks_and_its_mistakes_do_not(node: str, generated: Path) -> None:
    done = run_node(node, str(MODULES / "typescript" / "bin" / "tsc"), "--noEmit", "-p", ".")

    # src/usage.ts marks each mistake @ts-expect-error: tsc fails if one compiled
    assert done.returncode == 0, done.stdout + done.stderr


def test_typed_documents_hash_to_the_manifest_ids(node: str, generated: Path) -> None:
    done = run_node(node, "persisted-ids.mjs")
    assert done.returncode == 0, done.stderr
    client_ids = json.loads(done.stdout)
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))

    assert {op["name"]: op["id"] for op in manifest["operations"]} == {
        name: entry["id"] for name, entry in client_ids.items()
    }
    assert [op["body"] for op in manifest["operations"]] == [
        client_ids[op["name"]]["body"] for op in manifest["operations"]
    ]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_usagegraph(tmp_path_factory.mktemp("serve") / "serve.log") as base:
        yield f"{base}/graphql"


@pytest.fixture(scope="module")
def compiled(node: str, generated: Path) -> Iterator[Path]:
    """src/ compiled by tsc into a folder inside the package (its node_modules, its ESM type)."""
    (HERE / "dist").mkdir(exist_ok=True)
    out = Path(tempfile.mkdtemp(dir=HERE / "dist"))
    try:
        tsc = str(MODULES / "typescript" / "bin" / "tsc")
        done = run_node(node, tsc, "-p", ".", "--noEmit", "false", "--outDir", str(out))
        assert done.returncode == 0, done.stdout + done.stderr
        yield out
    finally:
        shutil.rmtree(out)


def test_the_client_pages_top_organizations_by_cost_twice_with_the_cursor(
    node: str, compiled: Path, server: str, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    truth = by_cost(dataset)

    done = run_node(node, "paging-check.mjs", str(compiled), server, str(first), str(last), "3")

    assert done.returncode == 0, done.stderr
    pages = json.loads(done.stdout.strip().splitlines()[-1])["pages"]
    # 20 organizations, 10 a page: the third page is never asked (hasNextPage false)
    assert [p["totalCount"] for p in pages] == [20, 20]
    assert [p["pageInfo"]["hasNextPage"] for p in pages] == [True, False]
    nodes = [n for page in pages for n in page["nodes"]]
    assert [n["id"] for n in nodes] == [org_id for org_id, _ in truth]
    for node_answer, (_, expected) in zip(nodes, truth, strict=True):
        costs = node_answer["usage"]["costs"]
        # Decimal amounts arrive as exact strings: compared as decimals, never floats
        amounts = {c["currency"]: Decimal(c["amount"]) for c in costs or ()}
        assert amounts == (expected.costs if expected.measured_costs else {})
        assert (costs is None) == (not expected.measured_costs)


def test_apollo_clients_persisted_query_link_registers_then_sends_the_hash_alone(
    node: str, server: str, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    variables = {"organization": "cust0000", "firstDay": str(first), "lastDay": str(last), "top": 3}
    operation = ROOT / "examples" / "operations" / "TopAgents.graphql"

    done = run_node(node, "apq-check.mjs", server, str(operation), json.dumps(variables))

    assert done.returncode == 0, done.stderr
    runs: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])["runs"]
    hash_only = {"sentQuery": False, "sentHash": True, "status": 200}
    # first run: the GET with the hash alone misses, the link resends it with the query
    assert runs[0]["requests"] == [
        {"method": "GET", **hash_only, "codes": ["PERSISTED_QUERY_NOT_FOUND"]},
        {"method": "POST", "sentQuery": True, "sentHash": True, "status": 200, "codes": []},
    ]
    # a new client: the hash alone over GET now runs the stored query
    assert runs[1]["requests"] == [{"method": "GET", **hash_only, "codes": []}]
    assert runs[0]["error"] is runs[1]["error"] is None
    assert runs[0]["data"] == runs[1]["data"]
    agents = runs[1]["data"]["organization"]["agents"]
    assert [a["usage"]["voice"]["seconds"] for a in agents] == [
        dataset.telzino_agent_seconds(a["id"].partition(":")[2], first, last) for a in agents
    ]

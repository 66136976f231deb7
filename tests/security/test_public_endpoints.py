"""Finding 5: what the endpoints that need no key reveal.

Before: without any key, `/readyz` listed every source by name with its last error (what the
`sources` query refuses to scoped keys), and `/metrics` labels carried client-chosen operation
names (200 of them). Now, with `[auth]`: `/readyz` answers only ready or not, unless the caller
sends a key with the "operator" role (or `[observability] readyz_details` is on); `/metrics`,
whose series are labelled by source, needs an operator key (or `metrics_public`); an
`operation` label names only persisted operations (manifest or APQ), at most 200 APQ names.
Nothing else public (GraphiQL page, static files, 404s, OpenAPI) names a source or a secret.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.auth import KEYS, auth_config, bearer, client_for, started
from tests.fixtures.graph import sandbox_settings, tuned_sandbox_settings
from tests.fixtures.truth import last_full_month
from usagegraph.auth import hash_key
from usagegraph.observability.metrics import MAX_OPERATION_NAMES, PrometheusMetrics
from usagegraph.persisted import sha256_hex
from usagegraph.sandbox.control import Fault
from usagegraph.sandbox.dataset import Dataset
from usagegraph.sandbox.server import SandboxServer
from usagegraph.settings import Settings

MANIFEST = Path(__file__).resolve().parents[2] / "examples" / "persisted-operations.json"
LISTED = json.loads(MANIFEST.read_text(encoding="utf-8"))["operations"][0]
OPERATOR_KEY = "ug_operator-key-0123456789"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}
MINUTES = "/v1/reports/minutes-by-organization"
FAST = {"max_attempts": 1, "breaker_failures": 1000}
ORG_USAGE = """
query OrgUsage($id: ID!, $first: Date!, $last: Date!) {
  organization(id: $id) { usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } } }
}
"""


def with_operator(sandbox: SandboxServer, directory: Path, **overrides: Any) -> Settings:
    """`KEYS` (ops, northwind, eastgate) and an `operator` key with the operator role."""
    config = auth_config()
    config["keys"].append(
        {"name": "operator", "sha256": hash_key(OPERATOR_KEY), "roles": ["operator"]}
    )
    return tuned_sandbox_settings(
        sandbox, directory, FAST, auth=config, limits={"requests_per_second": 0}, **overrides
    )


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with started(settings) as app, client_for(app) as http:
        http.app = app  # type: ignore[attr-defined]
        yield http


def secrets_and_names(sandbox: SandboxServer) -> set[str]:
    """What a public answer must never contain: source names and credentials."""
    found: set[str] = set()
    for entry in sandbox.sources():
        found.add(entry["name"])
        found |= {v for k, v in entry.items() if "secret" in k or k == "api_key"}
    found |= set(KEYS.values()) | {OPERATOR_KEY}
    return found


def org_usage(dataset: Dataset) -> dict[str, Any]:
    first, last = last_full_month(dataset)
    return {"id": "cust0000", "first": str(first), "last": str(last)}


# -- /readyz ---------------------------------------------------------------------------------------


async def test_readyz_tells_a_caller_without_an_operator_key_only_ready_or_not(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    hidden = secrets_and_names(sandbox)
    async with serving(with_operator(sandbox, directory_file)) as http:
        ready = {
            "no key": await http.get("/readyz"),
            "wrong key": await http.get("/readyz", headers={"Authorization": "Bearer nope"}),
            "tenant key": await http.get("/readyz", headers=bearer("northwind")),
            "unscoped key": await http.get("/readyz", headers=bearer("ops")),
        }
        sandbox.control.inject(Fault(mount="telzino-api", path=MINUTES, status=503))
        await http.post(
            "/graphql",
            json={"query": ORG_USAGE, "variables": org_usage(dataset)},
            headers=bearer("ops"),
        )
        down = await http.get("/readyz", headers=bearer("northwind"))
        operator = await http.get("/readyz", headers=OPERATOR)

    for name, response in ready.items():
        assert (response.status_code, response.json()) == (200, {"status": "ready"}), name
    assert (down.status_code, down.json()) == (503, {"status": "not ready"})
    assert not any(secret in down.text for secret in hidden)
    # the operator sees which source, and why
    assert operator.status_code == 503
    [telzino] = [s for s in operator.json()["sources"] if not s["ready"]]
    assert telzino["name"] == "telzino"
    assert telzino["last_error"] == f"telzino: GET {MINUTES} answered 503"


async def test_readyz_details_can_be_made_public_by_the_operator(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    settings = with_operator(sandbox, directory_file, observability={"readyz_details": True})
    async with serving(settings) as http:
        response = await http.get("/readyz")

    names = [entry["name"] for entry in sandbox.sources()]
    assert [s["name"] for s in response.json()["sources"]] == names


async def test_without_auth_readyz_keeps_its_details(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    # no [auth]: every caller may run `sources` anyway (and serve listens on loopback only)
    async with serving(sandbox_settings(sandbox, directory_file)) as http:
        response = await http.get("/readyz")

    assert response.json()["status"] == "ready"
    assert len(response.json()["sources"]) == len(sandbox.sources())


# -- /metrics --------------------------------------------------------------------------------------


async def test_metrics_need_an_operator_key_when_auth_is_on(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    hidden = secrets_and_names(sandbox)
    async with serving(with_operator(sandbox, directory_file)) as http:
        await http.get("/readyz")  # every source called: their series exist
        anonymous = await http.get("/metrics")
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
        tenant = await http.get("/metrics", headers=bearer("northwind"))
        operator = await http.get("/metrics", headers=OPERATOR)

    for refused, status, code in ((anonymous, 401, "UNAUTHORIZED"), (wrong, 401, "UNAUTHORIZED")):
        assert refused.status_code == status
        assert refused.json()["errors"][0]["extensions"] == {"code": code}
        assert refused.headers["www-authenticate"] == "Bearer"
        assert not any(secret in refused.text for secret in hidden)
    assert tenant.status_code == 403
    assert tenant.json()["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    assert operator.status_code == 200
    assert 'source="telzino"' in operator.text


async def test_metrics_can_be_made_public_by_the_operator(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    settings = with_operator(sandbox, directory_file, observability={"metrics_public": True})
    async with serving(settings) as http:
        response = await http.get("/metrics")

    assert response.status_code == 200
    assert response.text.startswith("# HELP")


def operation_labels(text: str) -> set[str]:
    return {
        sample.labels["operation"]
        for family in text_string_to_metric_families(text)
        if family.name == "usagegraph_graphql_operations"
        for sample in family.samples
    }


async def test_only_persisted_operations_name_a_metric_label(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    listed = LISTED
    settings = sandbox_settings(
        sandbox,
        directory_file,
        limits={"requests_per_second": 0},
        persisted_queries={"manifest": MANIFEST},
    )
    registered = "query Registered { __typename }"
    async with serving(settings) as http:
        for text in ("query DropTable { __typename }", "query Zx81 { __typename }"):
            await http.post("/graphql", json={"query": text})  # names chosen by the client
        await http.post("/graphql", json={"query": "{ __typename }"})
        apq = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(registered)}}
        await http.post("/graphql", json={"query": registered, "extensions": apq})
        await http.post("/graphql", json={"extensions": apq})
        by_hash = {"persistedQuery": {"version": 1, "sha256Hash": listed["id"]}}
        await http.post("/graphql", json={"extensions": by_hash, "variables": {}})
        labels = operation_labels((await http.get("/metrics")).text)

    assert labels == {"other", "anonymous", "Registered", listed["name"]}


async def test_apq_names_label_at_most_the_bound_then_other(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    settings = sandbox_settings(sandbox, directory_file, limits={"requests_per_second": 0})
    async with serving(settings) as http:
        for index in range(MAX_OPERATION_NAMES + 30):
            query = f"query Op{index} {{ __typename }}"
            apq = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(query)}}
            await http.post("/graphql", json={"query": query, "extensions": apq})
        labels = operation_labels((await http.get("/metrics")).text)

    assert len(labels) == MAX_OPERATION_NAMES + 1
    assert "other" in labels
    assert f"Op{MAX_OPERATION_NAMES + 29}" not in labels


def test_manifest_names_are_never_crowded_out_by_apq_names() -> None:
    metrics = PrometheusMetrics()
    for index in range(MAX_OPERATION_NAMES):
        metrics.observe_operation(f"Junk{index}", 0.001, (), origin="apq")

    assert metrics.observe_operation("Late", 0.001, (), origin="apq") == "other"
    assert metrics.observe_operation("Dashboard", 0.001, (), origin="manifest") == "Dashboard"
    assert metrics.observe_operation("Chosen", 0.001, ()) == "other"
    assert metrics.observe_operation(None, 0.001, ()) == "anonymous"


# -- everything else that needs no key -------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/healthz", 200),
        ("/openapi.json", 404),
        ("/docs", 404),
        ("/redoc", 404),
        ("/nowhere", 404),
        ("/graphql/static/graphiql.min.js.map", 404),
        ("/graphql/static/..%2F..%2Fsettings.py", 404),
        ("/graphql", 200),  # the GraphiQL page (Accept: text/html)
    ],
)
async def test_public_pages_name_no_source_nor_secret(
    sandbox: SandboxServer, directory_file: Path, path: str, status: int
) -> None:
    hidden = secrets_and_names(sandbox)
    async with serving(with_operator(sandbox, directory_file)) as http:
        await http.get("/readyz", headers=OPERATOR)  # sources called: statuses filled
        response = await http.get(path, headers={"accept": "text/html"})

    assert response.status_code == status
    assert not any(secret in response.text for secret in hidden)
    app: FastAPI = http.app  # type: ignore[attr-defined]
    assert app.openapi_url is None

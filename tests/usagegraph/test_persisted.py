"""Persisted queries at /graphql: Apollo's APQ protocol (POST and GET), the safelist mode, the
off mode, the gate in front of them, the store, and the committed operations manifest."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.auth import auth_settings, bearer, client_for, started
from tests.fixtures.graph import sandbox_settings
from usagegraph import cli
from usagegraph.persisted import (
    MANIFEST_FORMAT,
    Manifest,
    ManifestError,
    build_manifest,
    normalize,
    sha256_hex,
)
from usagegraph.persisted.store import ENTRY_OVERHEAD, MemoryQueryStore
from usagegraph.sandbox.server import SandboxServer
from usagegraph.schema import schema
from usagegraph.schema.federation import client_schema
from usagegraph.settings import ConfigError

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "examples" / "operations"
MANIFEST = ROOT / "examples" / "persisted-operations.json"

QUERY = "{ resellers { id name } }"
HASH = sha256_hex(QUERY)


def apq(sha256: str = HASH) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256}}


def get_params(extensions: dict[str, Any], **more: str) -> dict[str, str]:
    return {"extensions": json.dumps(extensions), **more}


@pytest.fixture
async def client(graph_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(graph_app) as http:
        yield http


@pytest.fixture
async def safelist(
    sandbox: SandboxServer, directory_file: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = sandbox_settings(
        sandbox,
        directory_file,
        persisted_queries={"mode": "safelist", "manifest": MANIFEST},
    )
    async with started(settings) as app, client_for(app) as http:
        yield http


def manifest_entry(name: str) -> dict[str, str]:
    data = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return next(op for op in data["operations"] if op["name"] == name)


# -- APQ (the default mode) ------------------------------------------------------------------------


async def test_unknown_hash_answers_persisted_query_not_found_with_200(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/graphql", json={"extensions": apq()})

    assert response.status_code == 200
    assert response.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }
    assert response.headers["cache-control"] == "no-store"  # a CDN must not keep the miss


async def test_hash_with_query_registers_it_then_the_hash_alone_runs_it(
    client: httpx.AsyncClient, graph_app: FastAPI
) -> None:
    plain = (await client.post("/graphql", json={"query": QUERY})).json()

    registered = await client.post("/graphql", json={"query": QUERY, "extensions": apq()})
    by_hash = await client.post("/graphql", json={"extensions": apq()})
    by_get = await client.get("/graphql", params=get_params(apq()))

    assert plain["data"]["resellers"]
    assert registered.status_code == by_hash.status_code == by_get.status_code == 200
    assert registered.json() == by_hash.json() == by_get.json() == plain
    # stored in the persisted-query store, never in the result cache's backend
    assert await graph_app.state.persisted_store.get(HASH) == QUERY
    assert await graph_app.state.cache_backend.get(f"pq:{HASH}") is None


async def test_get_with_the_hash_alone_passes_variables_and_operation_name(
    client: httpx.AsyncClient,
) -> None:
    query = "query One($id: ID!) { organization(id: $id) { id } } query Two { resellers { id } }"
    sha = sha256_hex(query)
    await client.post("/graphql", json={"query": query, "extensions": apq(sha)})

    response = await client.get(
        "/graphql",
        params=get_params(apq(sha), variables=json.dumps({"id": "cust0000"}), operationName="One"),
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"organization": {"id": "cust0000"}}}


async def test_get_with_an_unknown_hash_is_not_found_not_the_graphiql_page(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/graphql", params=get_params(apq(sha256_hex("{ x }"))), headers={"accept": "*/*"}
    )

    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_hash_that_does_not_match_the_query_is_refused(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/graphql", json={"query": QUERY, "extensions": apq(sha256_hex("{ other }"))}
    )
    then = await client.post("/graphql", json={"extensions": apq(sha256_hex("{ other }"))})

    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": "provided sha does not match query",
                "extensions": {"code": "BAD_USER_INPUT"},
            }
        ]
    }
    assert then.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize(
    ("persisted", "message"),
    [
        ({"version": 2, "sha256Hash": HASH}, "Unsupported persisted query version"),
        ({"version": 1, "sha256Hash": "abc"}, "persistedQuery.sha256Hash must be 64 hex digits"),
        ("nope", "Unsupported persisted query version"),
    ],
)
async def test_malformed_persisted_query_extensions_are_bad_input(
    client: httpx.AsyncClient, persisted: Any, message: str
) -> None:
    response = await client.post("/graphql", json={"extensions": {"persistedQuery": persisted}})

    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "message": message,
        "extensions": {"code": "BAD_USER_INPUT"},
    }


async def test_an_invalid_operation_runs_once_but_is_not_stored(
    client: httpx.AsyncClient, graph_app: FastAPI
) -> None:
    bad = "{ resellers { noSuchField } }"
    sha = sha256_hex(bad)

    first = await client.post("/graphql", json={"query": bad, "extensions": apq(sha)})
    again = await client.post("/graphql", json={"extensions": apq(sha)})

    assert first.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert again.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert await graph_app.state.persisted_store.get(sha) is None


async def test_plain_requests_are_untouched(client: httpx.AsyncClient) -> None:
    post = await client.post("/graphql", json={"query": QUERY, "extensions": {"other": 1}})
    get = await client.get("/graphql", params={"query": QUERY})

    assert post.status_code == get.status_code == 200
    assert post.json() == get.json()
    assert post.json()["data"]["resellers"]


async def test_the_api_key_is_checked_before_a_persisted_query_is_looked_up(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    async with started(auth_settings(sandbox, directory_file)) as app, client_for(app) as http:
        registered = await http.post(
            "/graphql", json={"query": QUERY, "extensions": apq()}, headers=bearer("ops")
        )
        get_without_key = await http.get("/graphql", params=get_params(apq()))
        post_without_key = await http.post("/graphql", json={"extensions": apq()})
        get_scoped = await http.get(
            "/graphql", params=get_params(apq()), headers=bearer("eastgate")
        )

    assert registered.status_code == 200
    assert get_without_key.status_code == post_without_key.status_code == 401
    assert get_without_key.json()["errors"][0]["extensions"] == {"code": "UNAUTHORIZED"}
    # the stored query runs under the caller's own scope
    assert get_scoped.status_code == 200
    assert [r["id"] for r in get_scoped.json()["data"]["resellers"]] == ["eastgate"]


# -- safelist --------------------------------------------------------------------------------------


async def test_safelist_runs_a_listed_operation_by_hash_alone(
    safelist: httpx.AsyncClient,
) -> None:
    entry = manifest_entry("LifetimeUsage")
    variables = {"organization": "cust0000"}

    post = await safelist.post(
        "/graphql", json={"extensions": apq(entry["id"]), "variables": variables}
    )
    get = await safelist.get(
        "/graphql", params=get_params(apq(entry["id"]), variables=json.dumps(variables))
    )

    assert post.status_code == get.status_code == 200
    assert post.json() == get.json()
    assert post.json()["data"]["organization"]["name"] == "Acme Solar"


async def test_safelist_runs_a_listed_operation_sent_as_text_whatever_its_formatting(
    safelist: httpx.AsyncClient,
) -> None:
    file_text = (OPERATIONS / "LifetimeUsage.graphql").read_text(encoding="utf-8")
    squeezed = " ".join(line for line in file_text.splitlines() if not line.startswith("#"))

    for text in (file_text, squeezed):
        response = await safelist.post(
            "/graphql", json={"query": text, "variables": {"organization": "cust0000"}}
        )
        assert response.status_code == 200, response.text
        assert response.json()["data"]["organization"]["name"] == "Acme Solar"


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"method": "POST", "json": {"query": QUERY}},
        {"method": "POST", "json": {"query": QUERY, "extensions": apq()}},
        {"method": "POST", "json": {"extensions": apq()}},
        {"method": "GET", "params": {"query": QUERY}},
        {"method": "GET", "params": get_params(apq())},
        {"method": "POST", "json": [{"query": QUERY}]},
        {"method": "POST", "json": {"query": "{ __schema { types { name } } }"}},
    ],
    ids=["text", "text+hash", "hash", "get-text", "get-hash", "batch", "introspection"],
)
async def test_safelist_refuses_anything_else(
    safelist: httpx.AsyncClient, request_kwargs: dict[str, Any]
) -> None:
    kwargs = dict(request_kwargs)
    response = await safelist.request(kwargs.pop("method"), "/graphql", **kwargs)

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "PERSISTED_QUERY_NOT_ALLOWED"}
    assert "data" not in response.json()


async def test_safelist_still_checks_the_hash_against_the_query(
    safelist: httpx.AsyncClient,
) -> None:
    entry = manifest_entry("TopAgents")
    response = await safelist.post(
        "/graphql", json={"query": entry["body"], "extensions": apq(sha256_hex("{ x }"))}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "provided sha does not match query"


# -- off, and apq with a manifest ------------------------------------------------------------------


async def test_off_mode_answers_persisted_query_not_supported_and_runs_plain_queries(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    settings = sandbox_settings(sandbox, directory_file, persisted_queries={"mode": "off"})
    async with started(settings) as app, client_for(app) as http:
        hashed = await http.post("/graphql", json={"query": QUERY, "extensions": apq()})
        plain = await http.post("/graphql", json={"query": QUERY})

    assert hashed.status_code == 200
    assert hashed.json()["errors"] == [
        {
            "message": "PersistedQueryNotSupported",
            "extensions": {"code": "PERSISTED_QUERY_NOT_SUPPORTED"},
        }
    ]
    assert plain.json()["data"]["resellers"]


async def test_apq_with_a_manifest_knows_its_operations_from_the_start(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    settings = sandbox_settings(sandbox, directory_file, persisted_queries={"manifest": MANIFEST})
    entry = manifest_entry("LifetimeUsage")
    async with started(settings) as app, client_for(app) as http:
        listed = await http.post(
            "/graphql",
            json={"extensions": apq(entry["id"]), "variables": {"organization": "cust0000"}},
        )
        other = await http.post("/graphql", json={"query": QUERY})

    assert listed.json()["data"]["organization"]["name"] == "Acme Solar"
    assert other.json()["data"]["resellers"]  # apq mode runs anything


async def test_a_manifest_with_a_wrong_id_stops_start_up(
    sandbox: SandboxServer, directory_file: Path, tmp_path: Path
) -> None:
    data = json.loads(MANIFEST.read_text(encoding="utf-8"))
    data["operations"][0]["id"] = "0" * 64
    broken = tmp_path / "manifest.json"
    broken.write_text(json.dumps(data), encoding="utf-8")
    settings = sandbox_settings(
        sandbox, directory_file, persisted_queries={"mode": "safelist", "manifest": broken}
    )

    with pytest.raises(ConfigError, match=r"persisted_queries\.manifest: .*operations\[0\]\.id"):
        async with started(settings):
            pass


# -- the manifest and the store --------------------------------------------------------------------


def test_committed_manifest_is_what_export_operations_prints(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    assert cli.main(["export-operations"]) == 0

    assert capsys.readouterr().out == MANIFEST.read_text(encoding="utf-8"), (
        "examples/persisted-operations.json is stale: run `make persisted-operations`"
    )


def test_manifest_lists_every_example_operation_with_its_hash() -> None:
    data = json.loads(MANIFEST.read_text(encoding="utf-8"))
    files = sorted(OPERATIONS.glob("*.graphql"))

    assert data["format"] == MANIFEST_FORMAT
    assert [op["name"] for op in data["operations"]] == [p.stem for p in files]
    for op, path in zip(data["operations"], files, strict=True):
        assert op["id"] == sha256_hex(op["body"])
        assert op["body"] == normalize(path.read_text(encoding="utf-8"))
        assert op["type"] == "query"


def test_export_operations_refuses_an_operation_the_schema_does_not_have(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "Bad.graphql").write_text("query Bad { resellers { nope } }", encoding="utf-8")

    assert cli.main(["export-operations", str(tmp_path)]) == 2
    assert "Cannot query field 'nope' on type 'Reseller'" in capsys.readouterr().err


def test_build_manifest_wants_one_named_operation_per_file(tmp_path: Path) -> None:
    anonymous = tmp_path / "a.graphql"
    anonymous.write_text("{ resellers { id } }", encoding="utf-8")

    with pytest.raises(ManifestError, match="exactly one named operation"):
        build_manifest([anonymous], client_schema(schema._schema))


def test_manifest_allows_listed_text_in_any_formatting_only() -> None:
    body = manifest_entry("TopAgents")["body"]
    manifest = Manifest({sha256_hex(body): body})

    assert manifest.allows(body)
    assert manifest.allows("# a comment\n" + body.replace("\n", " "))
    assert not manifest.allows(body.replace("seconds", "calls"))
    assert not manifest.allows("{ unparsable")
    # reformatted text is parsed to compare it: within [limits] max_tokens only
    assert not manifest.allows(body.replace("\n", " "), max_tokens=5)


async def test_memory_store_is_bounded_by_bytes_and_expires() -> None:
    now = [0.0]
    size = ENTRY_OVERHEAD + 5  # what a 5-byte query is charged
    store = MemoryQueryStore(
        max_bytes=2 * size,
        max_bytes_per_owner=2 * size,
        max_queries_per_owner=10,
        ttl=5,
        clock=lambda: now[0],
    )
    await store.set("a", "12345", owner="k")
    await store.set("b", "12345", owner="k")
    assert await store.get("a") == "12345"  # a is now the most recently used
    await store.set("c", "123", owner="k")  # over the bound: the least recently used (b) goes

    assert await store.get("b") is None
    assert await store.get("a") == "12345"
    assert await store.get("c") == "123"
    assert not await store.set("big", "x" * (2 * size), owner="k")  # larger than the store
    assert await store.get("big") is None
    now[0] = 5.0
    assert await store.get("a") is None  # expired

"""Finding 4: `introspection = false` was bypassed by `{ _service { sdl } }` (Federation's SDL
prints the whole schema), and "Did you mean ...?" suggestions named fields.

With introspection off, `_service` answers only a key with the `federation` role (the
gateway); everyone else gets INTROSPECTION_DISABLED, however the field is reached. Validation
and variable errors keep their codes but suggest no name. With introspection on, nothing
changes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.auth import KEYS, auth_config, bearer, client_for, started
from tests.fixtures.graph import sandbox_settings
from usagegraph.auth import hash_key
from usagegraph.sandbox.server import SandboxServer
from usagegraph.schema import schema as served
from usagegraph.settings import settings_from_sources

GATEWAY_KEY = "ug_gateway-key-0123456789"
OPERATOR_KEY = "ug_operator-key-0123456789"
JANUARY = '{firstDay: "2026-01-01", lastDay: "2026-01-31"}'

SERVICE_FORMS = {
    "plain": "{ _service { sdl } }",
    "aliased": "{ schemaText: _service { sdl } }",
    "named fragment": "query Q { ...S } fragment S on Query { _service { sdl } }",
    "inline fragment": "{ ... on Query { _service { sdl } } }",
    "skipped": "{ resellers { id } _service @skip(if: true) { sdl } }",
    "typename only": "{ _service { __typename } }",
    "beside other fields": "{ resellers { id } _service { sdl } }",
}


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def closed(sandbox: SandboxServer, directory_file: Path) -> AsyncIterator[httpx.AsyncClient]:
    """[auth] with the usual keys plus a gateway (federation) and an operator key;
    introspection off."""
    keys = auth_config()["keys"] + [
        {"name": "gateway", "sha256": hash_key(GATEWAY_KEY), "roles": ["federation"]},
        {"name": "operator", "sha256": hash_key(OPERATOR_KEY), "roles": ["operator"]},
    ]
    settings = settings_from_sources(
        sandbox.sources(),
        directory={"path": directory_file},
        auth={"keys": keys},
        server={"introspection": False},
    )
    async with started(settings) as app, client_for(app) as client:
        yield client


def refused_introspection(response: httpx.Response) -> None:
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "INTROSPECTION_DISABLED"}
    assert error["message"] == (
        "GraphQL introspection has been disabled, but the requested query contained the "
        "field '_service'."
    )
    assert "@key" not in response.text and "type Organization" not in response.text


@pytest.mark.parametrize("form", SERVICE_FORMS)
async def test_service_is_refused_to_keys_without_the_federation_role(
    closed: httpx.AsyncClient, sandbox: SandboxServer, form: str
) -> None:
    sandbox.control.reset()
    for caller in (bearer("ops"), bearer("northwind"), headers(OPERATOR_KEY)):
        response = await closed.post(
            "/graphql", json={"query": SERVICE_FORMS[form]}, headers=caller
        )
        refused_introspection(response)
        # and the same over GET
        response = await closed.get(
            "/graphql", params={"query": SERVICE_FORMS[form]}, headers=caller
        )
        refused_introspection(response)
    assert sandbox.control.count() == 0


async def test_the_gateway_key_still_reads_the_subgraph_sdl(closed: httpx.AsyncClient) -> None:
    for form in ("plain", "named fragment"):
        response = await closed.post(
            "/graphql", json={"query": SERVICE_FORMS[form]}, headers=headers(GATEWAY_KEY)
        )
        assert response.json() == {"data": {"_service": {"sdl": served.subgraph_sdl()}}}
    # but not the rest of introspection
    response = await closed.post(
        "/graphql",
        json={"query": "{ __schema { queryType { name } } }"},
        headers=headers(GATEWAY_KEY),
    )
    errors = response.json()["errors"]
    assert {e["extensions"]["code"] for e in errors} == {"INTROSPECTION_DISABLED"}


async def test_entities_stay_open_to_every_key(closed: httpx.AsyncClient) -> None:
    query = (
        'query { _entities(representations: [{__typename: "Reseller", id: "northwind"}]) '
        "{ ... on Reseller { id } } }"
    )
    for caller in (bearer("northwind"), headers(GATEWAY_KEY)):
        response = await closed.post("/graphql", json={"query": query}, headers=caller)
        assert response.json() == {"data": {"_entities": [{"id": "northwind"}]}}


async def test_without_auth_and_with_introspection_off_nobody_reads_the_sdl(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    settings = sandbox_settings(sandbox, directory_file, server={"introspection": False})
    async with started(settings) as app, client_for(app) as client:
        refused_introspection(await client.post("/graphql", json={"query": "{ _service { sdl } }"}))


async def test_with_introspection_on_service_answers_everyone(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    settings = sandbox_settings(sandbox, directory_file, auth=auth_config())
    async with started(settings) as app, client_for(app) as client:
        response = await client.post(
            "/graphql", json={"query": "{ _service { sdl } }"}, headers=bearer("northwind")
        )
        assert response.json() == {"data": {"_service": {"sdl": served.subgraph_sdl()}}}


# -- suggestions ---------------------------------------------------------------------------------

# (query, variables, code, the name graphql-core suggests): each a typo it would answer with
# "Did you mean ...?"
TYPOS: dict[str, tuple[str, dict[str, Any] | None, str, str | None]] = {
    "field": ("{ reseler { id } }", None, "GRAPHQL_VALIDATION_FAILED", "resellers"),
    "nested field": ("{ resellers { nam } }", None, "GRAPHQL_VALIDATION_FAILED", "name"),
    "argument": (
        '{ organization(id: "x") { agents(frist: 2) { id } } }',
        None,
        "GRAPHQL_VALIDATION_FAILED",
        "first",
    ),
    "fragment type": (
        "{ ...F } fragment F on Querry { resellers { id } }",
        None,
        "GRAPHQL_VALIDATION_FAILED",
        "Query",
    ),
    "variable type": (
        'query ($r: DateRang!) { organization(id: "x") { usage(range: $r) { days } } }',
        None,
        "GRAPHQL_VALIDATION_FAILED",
        "DateRange",
    ),
    "enum literal": (
        f'{{ organization(id: "x") {{ usage(range: {JANUARY}, partialMonths: WHOLE_MONTH) '
        "{ days } } }",
        None,
        "BAD_USER_INPUT",
        "WHOLE_MONTHS",
    ),
    "input field literal": (
        '{ organization(id: "x") { usage(range: {firstDay: "2026-01-01", lastDay: '
        '"2026-01-31", lastDays: "x"}) { days } } }',
        None,
        "BAD_USER_INPUT",
        "lastDay",
    ),
    # (the message quotes the value it was given, keys and all: only "Did you mean" tells)
    "input field in variables": (
        'query ($r: DateRange!) { organization(id: "x") { usage(range: $r) { days } } }',
        {"r": {"firstDay": "2026-01-01", "lastDay": "2026-01-31", "lastDays": "x"}},
        "BAD_USER_INPUT",
        None,
    ),
    "enum in variables": (
        'query ($p: PartialMonths!) { organization(id: "x") { usage(range: '
        f"{JANUARY}, partialMonths: $p) {{ days }} }} }}",
        {"p": "WHOLE_MONTH"},
        "BAD_USER_INPUT",
        "WHOLE_MONTHS",
    ),
}


async def post(client: httpx.AsyncClient, typo: str) -> dict[str, Any]:
    query, variables, _, _ = TYPOS[typo]
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=bearer("ops")
    )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("typo", TYPOS)
async def test_with_introspection_off_errors_suggest_no_names(
    closed: httpx.AsyncClient, typo: str
) -> None:
    body = await post(closed, typo)
    assert body["errors"]
    assert {e["extensions"]["code"] for e in body["errors"]} == {TYPOS[typo][2]}
    messages = " ".join(e["message"] for e in body["errors"])
    assert "Did you mean" not in messages
    if TYPOS[typo][3] is not None:
        assert f"'{TYPOS[typo][3]}'" not in messages, messages


@pytest.mark.parametrize("typo", TYPOS)
async def test_with_introspection_on_errors_still_suggest(
    sandbox: SandboxServer, directory_file: Path, typo: str
) -> None:
    settings = sandbox_settings(sandbox, directory_file, auth=auth_config())
    async with started(settings) as app, client_for(app) as client:
        body = await post(client, typo)
    assert {e["extensions"]["code"] for e in body["errors"]} == {TYPOS[typo][2]}
    messages = " ".join(e["message"] for e in body["errors"])
    assert "Did you mean" in messages
    if TYPOS[typo][3] is not None:
        assert f"'{TYPOS[typo][3]}'" in messages


def test_the_keys_used_here_are_distinct() -> None:
    assert GATEWAY_KEY not in KEYS.values() and OPERATOR_KEY not in KEYS.values()

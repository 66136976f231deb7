"""GraphQL over HTTP by the spec (issue 16, point 1): the media type from `Accept`, and the
status codes of each media type (usagegraph/negotiation.py, usagegraph/protocol.py).

Under `application/graphql-response+json` a request that could not run (parse, validation,
unknown operation, variable coercion) is a 400 without `data`; under `application/json` it
is a 200 with `data: null`, as before. An answer once execution began is a 200 under both.
graphql-http's own audit runs against a real server in tests/http_audit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.auth import auth_settings, bearer, client_for, started
from tests.fixtures.graph import sandbox_settings
from usagegraph.negotiation import GRAPHQL_RESPONSE, JSON, negotiate
from usagegraph.sandbox.server import SandboxServer

NEW = {"accept": GRAPHQL_RESPONSE}
LEGACY = {"accept": JSON}
LABELLED = f"{GRAPHQL_RESPONSE}; charset=utf-8"


@pytest.fixture
async def client(sandbox: SandboxServer, directory_file: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = sandbox_settings(sandbox, directory_file, limits={"requests_per_second": 0})
    async with started(settings) as app, client_for(app) as http:
        yield http


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON),  # absent: what graphql-http's audit and legacy clients expect
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}; charset=utf-8, {JSON}; charset=utf-8", GRAPHQL_RESPONSE),
        (f"{JSON}, {GRAPHQL_RESPONSE}", JSON),  # equal quality: the one listed first
        (f"{GRAPHQL_RESPONSE};q=0.5, {JSON}", JSON),
        (f"{GRAPHQL_RESPONSE}, {JSON};q=0.9", GRAPHQL_RESPONSE),  # what Apollo Client sends
        (f"{JSON};q=0, */*", GRAPHQL_RESPONSE),  # the type's own range outranks the wildcard
        ("text/html, */*;q=0.8", JSON),  # a browser
        ("application/json, multipart/mixed", JSON),  # GraphiQL's fetcher
        ("text/html", None),
        (f"{JSON}; charset=latin-1", None),
        (f"{GRAPHQL_RESPONSE};q=0, {JSON};q=0", None),
        (f"{JSON};q=oops", None),
    ],
)
def test_the_media_type_follows_accept(accept: str | None, chosen: str | None) -> None:
    assert negotiate(accept) == chosen


async def test_a_successful_answer_is_labelled_with_the_chosen_type(
    client: httpx.AsyncClient,
) -> None:
    new = await client.post("/graphql", json={"query": "{ __typename }"}, headers=NEW)
    legacy = await client.post("/graphql", json={"query": "{ __typename }"}, headers=LEGACY)

    assert (new.status_code, new.headers["content-type"]) == (200, LABELLED)
    assert (legacy.status_code, legacy.headers["content-type"]) == (200, JSON)
    assert new.json() == legacy.json() == {"data": {"__typename": "Query"}}
    assert new.headers["vary"] == legacy.headers["vary"] == "Accept"


REQUEST_ERRORS = {
    "a parse failure": ({"query": "{"}, "GRAPHQL_PARSE_FAILED"),
    "a validation failure": ({"query": "{ nope }"}, "GRAPHQL_VALIDATION_FAILED"),
    "an unknown operation name": (
        {"query": "query A { __typename }", "operationName": "B"},
        "OPERATION_RESOLUTION_FAILURE",
    ),
    "a variable coercion failure": (
        {"query": "query ($id: ID!) { organization(id: $id) { id } }", "variables": {"id": None}},
        "BAD_USER_INPUT",
    ),
    "a variable of the wrong shape": (
        {
            "query": "query ($r: DateRange!) { resellers { usage(range: $r) { days } } }",
            "variables": {"r": {"firstDay": "2026-01-01"}},
        },
        "BAD_USER_INPUT",
    ),
}


@pytest.mark.parametrize("case", list(REQUEST_ERRORS), ids=list(REQUEST_ERRORS))
async def test_a_request_error_is_a_400_without_data_under_the_new_type(
    client: httpx.AsyncClient, sandbox: SandboxServer, case: str
) -> None:
    body, code = REQUEST_ERRORS[case]
    sandbox.control.reset()

    response = await client.post("/graphql", json=body, headers=NEW)

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == LABELLED
    payload = response.json()
    assert set(payload) == {"errors"}  # no `data` entry at all: nothing ran
    assert payload["errors"][0]["extensions"]["code"] == code
    assert sandbox.control.count() == 0


@pytest.mark.parametrize("case", list(REQUEST_ERRORS), ids=list(REQUEST_ERRORS))
async def test_a_request_error_is_a_200_with_null_data_under_json(
    client: httpx.AsyncClient, case: str
) -> None:
    body, code = REQUEST_ERRORS[case]

    response = await client.post("/graphql", json=body, headers=LEGACY)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == JSON
    payload = response.json()
    assert payload["data"] is None
    assert payload["errors"][0]["extensions"]["code"] == code


async def test_an_argument_refused_before_execution_is_a_200_with_null_data_under_both(
    client: httpx.AsyncClient, sandbox: SandboxServer
) -> None:
    """An execution-phase answer (schema/arguments.py): the document and variables are valid,
    the values are not; the spec keeps `data` (null) and 2xx for those."""
    query = """query ($r: DateRange!) {
      resellers { organizations { usage(range: $r) { voice { seconds } } } }
    }"""
    inverted = {"r": {"firstDay": "2026-03-01", "lastDay": "2026-02-01"}}
    sandbox.control.reset()

    answers = [
        await client.post("/graphql", json={"query": query, "variables": inverted}, headers=h)
        for h in (NEW, LEGACY)
    ]

    for response in answers:
        assert response.status_code == 200
        payload = response.json()
        assert payload["data"] is None
        [error] = payload["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["at"] == ["resellers", "organizations", "usage"]
    assert sandbox.control.count() == 0


async def test_an_accept_admitting_neither_type_is_a_406_but_the_ide_page_is_served(
    client: httpx.AsyncClient, sandbox: SandboxServer
) -> None:
    sandbox.control.reset()

    refused = await client.post(
        "/graphql", json={"query": "{ resellers { id } }"}, headers={"accept": "text/html"}
    )
    page = await client.get("/graphql", headers={"accept": "text/html"})

    assert refused.status_code == 406
    assert refused.json() == {
        "errors": [
            {
                "message": f"the Accept header admits neither {GRAPHQL_RESPONSE} nor {JSON}",
                "extensions": {"code": "NOT_ACCEPTABLE"},
            }
        ]
    }
    assert sandbox.control.count() == 0
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")


async def test_the_gates_refusals_carry_the_chosen_type(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    settings = auth_settings(sandbox, directory_file)
    async with started(settings) as app, client_for(app) as http:
        missing: Any = await http.post("/graphql", json={"query": "{ __typename }"}, headers=NEW)

    assert missing.status_code == 401
    assert missing.headers["content-type"] == LABELLED
    assert missing.json()["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"


async def test_an_error_while_executing_keeps_null_data_and_a_200_under_the_new_type(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    """A non-null root field failing while executing (`sources` refuses a scoped key) nulls
    `data` through the non-null chain: that is a response with `data`, so a 200."""
    settings = auth_settings(sandbox, directory_file)
    async with started(settings) as app, client_for(app) as http:
        response = await http.post(
            "/graphql",
            json={"query": "{ sources { name } }"},
            headers={**NEW, **bearer("northwind")},
        )

    assert response.status_code == 200
    assert response.headers["content-type"] == LABELLED
    payload = response.json()
    assert payload["data"] is None
    assert payload["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert payload["errors"][0]["path"] == ["sources"]

"""The app factory: GraphQL + GraphiQL at /graphql, /healthz, per-source clients in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from usagegraph.app import create_app
from usagegraph.settings import Settings, settings_from_sources

ENTRIES = [
    {
        "name": "telzino",
        "kind": "telzino",
        "reports_url": "http://telzino.test",
        "billing_url": "http://dashboard.telzino.test",
        "token_url": "http://telzino.test/oauth/token",
        "client_id": "id",
        "client_secret": "secret",
    },
    {"name": "teli-a", "kind": "teli", "base_url": "http://teli.test", "api_key": "k"},
    {
        "name": "talkdesk-a",
        "kind": "talkdesk",
        "base_url": "http://talkdesk.test",
        "token_url": "http://a.talkdeskid.test/oauth/token",
        "client_id": "id",
        "client_secret": "secret",
        "timeout_read": 4.0,
        "max_concurrency": 3,
    },
]


def make_settings(*, graphiql: bool = True) -> Settings:
    return settings_from_sources(ENTRIES, server={"graphiql": graphiql})


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, behind an in-memory HTTP client."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://usagegraph") as client:
            yield client


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with serving(create_app(make_settings())) as client:
        yield client


async def test_healthz_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_sources_query_lists_the_configured_sources_in_order(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/graphql", json={"query": "{ sources { name kind } }"})

    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "sources": [
                {"name": "telzino", "kind": "TELZINO"},
                {"name": "teli-a", "kind": "TELI"},
                {"name": "talkdesk-a", "kind": "TALKDESK"},
            ]
        }
    }


async def test_browser_gets_graphiql_at_the_graphql_path(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_graphiql_can_be_switched_off() -> None:
    async with serving(create_app(make_settings(graphiql=False))) as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        query = await client.post("/graphql", json={"query": "{ sources { name } }"})

    assert page.status_code == 404
    assert query.json()["data"]["sources"][0] == {"name": "telzino"}


def test_settings_are_kept_on_app_state() -> None:
    settings = make_settings()

    assert create_app(settings).state.settings is settings


async def test_lifespan_opens_one_client_per_source_and_closes_them() -> None:
    app = create_app(make_settings())

    async with app.router.lifespan_context(app):
        connections = app.state.graph.connections
        clients = {name: conn.transport.http for name, conn in connections.items()}
        assert list(clients) == ["telzino", "teli-a", "talkdesk-a"]
        assert not any(c.is_closed for c in clients.values())
        assert clients["talkdesk-a"].timeout.read == 4.0
        assert clients["talkdesk-a"].timeout.connect == 3.0
        assert clients["telzino"].timeout.read == 15.0

    assert all(c.is_closed for c in clients.values())

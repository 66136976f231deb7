"""Our offline GraphiQL: the page at GET /graphql, its files under /graphql/static, the fallback.

No npm or browser here: a folder of stand-in files plays the installed assets (the real files
are checked in tests/browser, `make test-browser`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from usagegraph import graphiql
from usagegraph.app import create_app
from usagegraph.graphiql import ASSETS, STATIC_PATH
from usagegraph.settings import settings_from_sources

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [{"name": "teli-a", "kind": "teli", "base_url": "http://teli.test", "api_key": "k"}]
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
CDN_HOSTS = ("unpkg.com", "jsdelivr", "cdnjs", "esm.sh")


@asynccontextmanager
async def serving(*, graphiql_on: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings_from_sources(SOURCES, server={"graphiql": graphiql_on}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://usagegraph") as client:
            yield client


@pytest.fixture
def assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Stand-ins for the installed files, each with distinct content."""
    folder = tmp_path / "graphiql"
    folder.mkdir()
    for name in ASSETS:
        (folder / name).write_text(f"/* stand-in for {name} */\n", encoding="utf-8")
    monkeypatch.setattr(graphiql, "ASSETS_DIR", folder)
    return folder


@pytest.fixture
def no_assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "not-installed"
    monkeypatch.setattr(graphiql, "ASSETS_DIR", folder)
    return folder


def page_urls(page: str) -> list[str]:
    """Every script and stylesheet URL (the favicon is an inline data: URL)."""
    urls = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', page)
    return [url for url in urls if not url.startswith("data:")]


async def test_page_loads_every_asset_from_our_server_and_nothing_from_a_cdn(assets: Path) -> None:
    async with serving() as client:
        response = await client.get("/graphql", headers=HTML)

    urls = page_urls(response.text)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert sorted(urls) == sorted(f"{STATIC_PATH}/{name}" for name in ASSETS)
    assert not any(host in response.text for host in CDN_HOSTS)
    assert "https://" not in response.text
    assert "GraphiQL.createFetcher" in response.text


async def test_a_plain_client_accepting_anything_gets_the_page_too(assets: Path) -> None:
    # Strawberry's rule (and so ours): text/html or */* in Accept means a browser-ish client.
    async with serving() as client:
        response = await client.get("/graphql", headers={"Accept": "*/*"})

    assert response.status_code == 200
    assert f"{STATIC_PATH}/graphiql.min.js" in response.text


async def test_assets_are_served_with_their_content_types(assets: Path) -> None:
    async with serving() as client:
        responses = {name: await client.get(f"{STATIC_PATH}/{name}") for name in ASSETS}

    assert {name: r.status_code for name, r in responses.items()} == dict.fromkeys(ASSETS, 200)
    assert responses["graphiql.min.js"].headers["content-type"] == "text/javascript; charset=utf-8"
    assert responses["react.production.min.js"].headers["content-type"] == (
        "text/javascript; charset=utf-8"
    )
    assert responses["graphiql.min.css"].headers["content-type"] == "text/css; charset=utf-8"
    assert responses["plugin-explorer.css"].headers["content-type"] == "text/css; charset=utf-8"
    for name, response in responses.items():
        assert response.headers["content-type"] == ASSETS[name]
        assert response.text == f"/* stand-in for {name} */\n"


async def test_only_the_listed_assets_are_served(assets: Path) -> None:
    (assets / "secret.txt").write_text("not for the web", encoding="utf-8")
    async with serving() as client:
        unlisted = await client.get(f"{STATIC_PATH}/secret.txt")
        escaping = await client.get(f"{STATIC_PATH}/..%2Fgraphiql.py")

    assert unlisted.status_code == 404
    assert escaping.status_code == 404


async def test_missing_assets_give_a_page_that_says_what_to_run(no_assets: Path) -> None:
    async with serving() as client:
        page = await client.get("/graphql", headers=HTML)
        asset = await client.get(f"{STATIC_PATH}/graphiql.min.js")

    assert page.status_code == 200
    assert "GraphiQL assets are not installed: run <code>make graphiql-assets</code>" in page.text
    assert "curl -s http://usagegraph/graphql -H 'content-type: application/json'" in page.text
    assert "<script" not in page.text
    assert asset.status_code == 404


async def test_missing_assets_are_logged_at_start_up(
    no_assets: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="usagegraph.graphiql"):
        create_app(settings_from_sources(SOURCES))

    # the console logs its own missing files on its own logger (tests/usagegraph/test_console.py)
    assert [r.getMessage() for r in caplog.records if r.name == "usagegraph.graphiql"] == [
        "GraphiQL assets are not installed (run `make graphiql-assets`): GET /graphql shows how"
    ]


async def test_graphiql_off_serves_no_page_and_no_assets(assets: Path) -> None:
    async with serving(graphiql_on=False) as client:
        page = await client.get("/graphql", headers=HTML)
        asset = await client.get(f"{STATIC_PATH}/graphiql.min.js")
        query = await client.post("/graphql", json={"query": "{ sources { name } }"})

    assert page.status_code == 404
    assert asset.status_code == 404
    assert query.json() == {"data": {"sources": [{"name": "teli-a"}]}}


async def test_the_root_redirects_to_graphiql(assets: Path) -> None:
    async with serving() as client:
        root = await client.get("/", headers=HTML)
        followed = await client.get("/", headers=HTML, follow_redirects=True)

    assert root.status_code == 307
    assert root.headers["location"] == "/graphql"
    assert followed.status_code == 200
    assert '<div id="graphiql"' in followed.text


async def test_the_root_is_not_found_with_graphiql_off(assets: Path) -> None:
    async with serving(graphiql_on=False) as client:
        root = await client.get("/", headers=HTML)

    assert root.status_code == 404


async def test_graphql_over_post_and_get_still_reaches_the_api(assets: Path) -> None:
    async with serving() as client:
        posted = await client.post("/graphql", json={"query": "{ sources { name kind } }"})
        # A browser-like GET that carries a query is a GraphQL request, not a page request.
        got = await client.get(
            "/graphql", params={"query": "{ sources { name kind } }"}, headers=HTML
        )

    expected = {"data": {"sources": [{"name": "teli-a", "kind": "TELI"}]}}
    assert posted.json() == expected
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/json"
    assert got.json() == expected


def test_makefile_installs_every_asset_the_page_loads() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("$(GRAPHIQL_STAMP):", 1)[1].split("\n\n", 1)[0]

    assert [name for name in ASSETS if name not in recipe] == []
    assert "npm ci" in recipe

"""The usage console's server side: the page at GET /console, its files under /console/static,
the fallback page, the `[server] console` switch and GraphiQL's link to it.

No npm or browser here: a folder of stand-in files plays the built assets (the real console is
checked in tests/browser, `make test-browser`).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from graphql import build_schema, parse, validate

from usagegraph import console, graphiql
from usagegraph.app import create_app
from usagegraph.console import ASSETS, STATIC_PATH
from usagegraph.settings import ConfigError, settings_from_sources

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [{"name": "teli-a", "kind": "teli", "base_url": "http://teli.test", "api_key": "k"}]
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@asynccontextmanager
async def serving(**server: object) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings_from_sources(SOURCES, server=server))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://usagegraph") as client:
            yield client


@pytest.fixture
def assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Stand-ins for the built files, each with distinct content."""
    folder = tmp_path / "console"
    folder.mkdir()
    for name in ASSETS:
        (folder / name).write_text(f"/* stand-in for {name} */\n", encoding="utf-8")
    monkeypatch.setattr(console, "ASSETS_DIR", folder)
    return folder


@pytest.fixture
def no_assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "not-built"
    monkeypatch.setattr(console, "ASSETS_DIR", folder)
    return folder


async def test_page_loads_its_two_files_from_our_server(assets: Path) -> None:
    async with serving() as client:
        response = await client.get("/console", headers=HTML)

    urls = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', response.text)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert sorted(u for u in urls if not u.startswith("data:")) == sorted(
        f"{STATIC_PATH}/{name}" for name in ASSETS
    )
    assert "https://" not in response.text
    assert '<a href="/graphql">GraphiQL</a>' in response.text


async def test_files_are_served_with_their_types_and_nothing_else(assets: Path) -> None:
    async with serving() as client:
        served = {name: await client.get(f"{STATIC_PATH}/{name}") for name in ASSETS}
        (assets / "secret.txt").write_text("not for the web", encoding="utf-8")
        unlisted = await client.get(f"{STATIC_PATH}/secret.txt")
        climbing = await client.get(f"{STATIC_PATH}/..%2F..%2Fconsole.html")

    for name, response in served.items():
        assert response.status_code == 200, name
        assert response.headers["content-type"] == ASSETS[name]
        assert response.text == f"/* stand-in for {name} */\n"
    assert unlisted.status_code == 404
    assert climbing.status_code == 404


async def test_without_built_files_the_page_says_what_to_run(no_assets: Path) -> None:
    async with serving() as client:
        page = await client.get("/console", headers=HTML)
        script = await client.get(f"{STATIC_PATH}/console.js")

    assert page.status_code == 200
    assert "make console-assets" in page.text
    assert "/console/static/" not in page.text
    assert script.status_code == 404


async def test_switched_off_there_is_no_console(assets: Path) -> None:
    async with serving(console=False) as client:
        page = await client.get("/console", headers=HTML)
        script = await client.get(f"{STATIC_PATH}/console.js")

    assert page.status_code == 404
    assert script.status_code == 404


def test_a_misspelt_switch_is_named_with_the_right_one() -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_sources(SOURCES, server={"consol": False})

    assert str(caught.value) == (
        "config error: server: unknown key 'consol' (did you mean 'console'?)"
    )


async def test_graphiql_links_to_the_console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "graphiql"
    folder.mkdir()
    for name in graphiql.ASSETS:
        (folder / name).write_text("/* stand-in */\n", encoding="utf-8")
    monkeypatch.setattr(graphiql, "ASSETS_DIR", folder)
    async with serving() as client:
        page = await client.get("/graphql", headers=HTML)

    # relative, so /graphql -> /console also under a root_path
    assert '<a class="console-link" href="console">Usage console</a>' in page.text


def test_the_console_operations_are_valid_against_schema_graphql() -> None:
    # the browser build type-checks them too; this catches a schema change without npm
    schema = build_schema((ROOT / "schema.graphql").read_text(encoding="utf-8"))
    folder = ROOT / "web" / "console" / "operations"
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.graphql")))
    document = parse(text)
    names = sorted(d.name.value for d in document.definitions if d.name is not None)

    assert validate(schema, document) == []
    assert names == ["ConsoleOrganization", "ConsoleReseller", "ConsoleResellers", "ConsoleUsage"]

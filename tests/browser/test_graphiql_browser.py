"""GraphiQL in a real headless browser, with no internet: `make test-browser`.

Starts `usagegraph serve` with no config (the embedded sandbox) as a subprocess, opens /graphql in
Debian's chromium driven by playwright-core (drive_graphiql.mjs beside this file), pastes the
README's first query and then a resellers query into the editor, runs each with the run button,
and checks what the result pane shows against the API and the sandbox dataset, and that every
request the page made stayed on 127.0.0.1. Skipped only when chromium is not installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from usagegraph.graphiql import ASSETS, ASSETS_DIR, STATIC_PATH
from usagegraph.sandbox.dataset import generate
from usagegraph.sandbox.server import free_port

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DRIVER = HERE / "drive_graphiql.mjs"
USAGEGRAPH = Path(sys.executable).with_name("usagegraph")
RESELLERS_QUERY = "{ resellers { id name organizations { id name } } }"


def squeeze(query: str) -> str:
    return " ".join(query.split())


def readme_first_query() -> str:
    """The README's first ```graphql block: the query it tells a newcomer to run in GraphiQL."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^```graphql\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    assert match is not None, "README.md has no ```graphql block"
    return match.group(1).strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`usagegraph serve --port N` on the embedded sandbox; yields its base URL."""
    missing = [name for name in ASSETS if not (ASSETS_DIR / name).is_file()]
    if missing:
        pytest.fail(f"GraphiQL assets missing ({', '.join(missing)}): run `make test-browser`")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "USAGEGRAPH_CONFIG"}
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with log.open("w") as out:
        # A file, not a pipe: nobody reads the log while the test runs, and a full pipe blocks.
        process = subprocess.Popen(
            [str(USAGEGRAPH), "serve", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"usagegraph serve did not come up:\n{log.read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def session(server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One browser session: the README's first query, then RESELLERS_QUERY (unless that is the
    README's), each pasted and run through the UI."""
    executable = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install chromium); GraphiQL not checked")
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "playwright-core").is_dir():
        pytest.fail("node and playwright-core are needed: run `make test-browser`")
    queries = [readme_first_query()]
    if squeeze(RESELLERS_QUERY) != squeeze(queries[0]):
        queries.append(RESELLERS_QUERY)
    screenshot = tmp_path_factory.mktemp("graphiql") / "graphiql.png"
    spec = {
        "url": f"{server}/graphql",
        "queries": queries,
        "executable": executable,
        "screenshot": str(screenshot),
    }
    done = subprocess.run(
        [node, str(DRIVER), json.dumps(spec)],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["error"] is None, (
        f"{report['error']}\nfailed requests: {report['failed']}\n"
        f"page errors: {report['pageErrors']}\nscreenshot: {screenshot}"
    )
    # What GraphiQL sent is what was pasted (the editor may only have changed whitespace).
    assert [squeeze(run["sent"]) for run in report["runs"]] == [squeeze(q) for q in spec["queries"]]
    return report


def run_of(session: dict[str, Any], query: str) -> dict[str, Any]:
    return next(run for run in session["runs"] if squeeze(run["query"]) == squeeze(query))


def api(server: str, query: str) -> dict[str, Any]:
    response = httpx.post(f"{server}/graphql", json={"query": query}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_readme_query_run_in_graphiql_shows_the_api_answer(
    server: str, session: dict[str, Any]
) -> None:
    run = run_of(session, readme_first_query())
    expected = api(server, run["query"])

    assert "errors" not in expected
    assert all(expected["data"].values()), expected  # real data, not empty lists or nulls
    assert json.loads(run["result"]) == expected


def test_resellers_query_shows_the_sandbox_resellers_and_their_organizations(
    server: str, session: dict[str, Any]
) -> None:
    dataset = generate()
    run = run_of(session, RESELLERS_QUERY)
    shown = json.loads(run["result"])
    resellers = {r["id"]: r for r in shown["data"]["resellers"]}

    assert shown == api(server, RESELLERS_QUERY)
    assert resellers["northwind"]["name"] == dataset.channel_names["northwind"]
    assert {"id": "cust0000", "name": dataset.customer_names["cust0000"]} in resellers["northwind"][
        "organizations"
    ]
    # And on screen, not only in the editor's model.
    assert "Northwind Channel" in run["visible"]
    assert "Acme Solar" in run["visible"]


def test_the_explorer_lists_the_domain_fields_and_not_federations(
    session: dict[str, Any],
) -> None:
    lines = [line for line in session["explorer"] if line]
    roots = ["agent", "organization", "organizations", "reseller", "resellers", "sources", "user"]

    # the root fields in the order shown (the example query also unfolds some nested ones)
    shown = list(dict.fromkeys(line for line in lines if line in roots))

    assert shown == roots
    # the explorer sorts by name, so Federation's _entities/_service came first; they are
    # left out of GraphiQL's copy of the schema (as of schema.graphql)
    assert "_entities" not in lines and "_service" not in lines


def test_the_server_root_opens_graphiql(server: str) -> None:
    response = httpx.get(f"{server}/", headers={"accept": "text/html"}, follow_redirects=True)

    assert response.status_code == 200
    assert str(response.url) == f"{server}/graphql"
    assert "graphiql" in response.text.lower()


def test_page_loads_only_from_the_local_server(session: dict[str, Any]) -> None:
    hosts = {urlsplit(url).hostname for url in session["requests"]}
    assets = {
        urlsplit(url).path.removeprefix(f"{STATIC_PATH}/")
        for url in session["requests"]
        if urlsplit(url).path.startswith(f"{STATIC_PATH}/")
    }

    assert hosts == {"127.0.0.1"}, session["requests"]
    assert assets == set(ASSETS)
    assert session["failed"] == []
    assert session["pageErrors"] == []
    assert session["consoleErrors"] == []


def test_installed_assets_are_served_with_their_content_types(server: str) -> None:
    for name, media_type in ASSETS.items():
        response = httpx.get(f"{server}{STATIC_PATH}/{name}", timeout=10)

        assert response.status_code == 200, name
        assert response.headers["content-type"] == media_type
        assert response.content == (ASSETS_DIR / name).read_bytes()
        assert not response.text.lstrip().startswith("<")  # a real script/stylesheet, no page

"""The usage console (/console) in a real headless browser, with no internet: `make test-browser`.

Starts `usagegraph sandbox` (the S dataset, with its /_control API) and `usagegraph serve` on a
config over it, opens /console in Debian's chromium driven by playwright-core (drive_console.mjs
beside this file): the resellers for a month, a reseller, an organization's drill-down, a CSV
export, a partial-month range, then a Teli outage switched on in the sandbox and another month
picked. Checks what the screen shows against the API, that axe-core finds no violation, that the
first table is on screen within 1 s of navigation, and that every request stayed on 127.0.0.1.
Screenshots land in a temporary folder printed by the session fixture. Skipped only when
chromium is not installed.
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
from hashlib import sha256
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx
import pytest

from usagegraph.console import ASSETS, ASSETS_DIR, STATIC_PATH
from usagegraph.sandbox.dataset import generate, teli_source_name
from usagegraph.sandbox.server import free_port, sources_toml

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "drive_console.mjs"
USAGEGRAPH = Path(sys.executable).with_name("usagegraph")
MONTH = ("2026-11-01", "2026-11-30")
PARTIAL_DAYS = ("2026-10-01", "2026-10-10")
# outside the six months the charts of MONTH and PARTIAL_DAYS ask for: nothing of it is cached
OUTAGE_MONTH = "2026-03"
RESELLER = "Northwind Channel"
KEY = "console-browser-test-key"
ORGANIZATION = "Acme Solar"
DATASET = generate()
TELI_SOURCES = {teli_source_name(tenant) for tenant in DATASET.teli_tenants}

USAGE = """
  voice { minutes }
  sms { inboundSegments outboundSegments otherDirectionSegments }
  costs { amount currency }
  coverage { sources { source status reason } }
"""


class Servers(NamedTuple):
    base: str  # usagegraph serve without [auth]
    sandbox: str  # the vendor sandbox, with its /_control API
    keyed: str  # usagegraph serve with [auth] (one key: KEY)


def _wait_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{url} did not come up:\n{log.read_text()}")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "USAGEGRAPH_CONFIG"}
    with log.open("w") as out:
        # A file, not a pipe: nobody reads the log while the test runs, and a full pipe blocks.
        return subprocess.Popen([str(USAGEGRAPH), *args], env=env, stdout=out, stderr=out)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """The sandbox, and `usagegraph serve` over it twice: without and with [auth]."""
    missing = [name for name in ASSETS if not (ASSETS_DIR / name).is_file()]
    if missing:
        pytest.fail(f"console assets missing ({', '.join(missing)}): run `make test-browser`")
    folder = tmp_path_factory.mktemp("console-servers")
    sandbox_port, port, keyed_port = free_port(), free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    sandbox = _start(["sandbox", "--port", str(sandbox_port)], folder / "sandbox.log")
    try:
        _wait_up(f"{sandbox_url}/", sandbox, folder / "sandbox.log")
        (folder / "directory.toml").write_text(DATASET.directory_toml(), encoding="utf-8")
        config = folder / "usagegraph.toml"
        config.write_text(
            sources_toml(DATASET, sandbox_url) + '\n[directory]\npath = "directory.toml"\n',
            encoding="utf-8",
        )
        keyed_config = folder / "usagegraph-keyed.toml"
        keyed_config.write_text(
            config.read_text(encoding="utf-8")
            + f'\n[[auth.keys]]\nname = "console"\nsha256 = "{sha256(KEY.encode()).hexdigest()}"\n',
            encoding="utf-8",
        )
        command = ["serve", "--config", str(config), "--port", str(port)]
        serve = _start(command, folder / "serve.log")
        keyed_command = ["serve", "--config", str(keyed_config), "--port", str(keyed_port)]
        keyed = _start(keyed_command, folder / "serve-keyed.log")
        try:
            base, keyed_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{keyed_port}"
            _wait_up(f"{base}/healthz", serve, folder / "serve.log")
            _wait_up(f"{keyed_base}/healthz", keyed, folder / "serve-keyed.log")
            yield Servers(base, sandbox_url, keyed_base)
        finally:
            _stop(keyed)
            _stop(serve)
    finally:
        _stop(sandbox)


@pytest.fixture(scope="module")
def expected(servers: Servers) -> dict[str, Any]:
    """The API's answers for what the console shows, asked before the browser runs (and before
    the outage), so the page's own requests find nothing cached that the API did not say."""
    base = servers.base
    month = f'{{firstDay: "{MONTH[0]}", lastDay: "{MONTH[1]}"}}'
    partial = f'{{firstDay: "{PARTIAL_DAYS[0]}", lastDay: "{PARTIAL_DAYS[1]}"}}'
    query = f"""{{
      resellersConnection(first: 100) {{ nodes {{ id name usage(range: {month}) {{ {USAGE} }} }} }}
      organization(id: "cust0000") {{
        name
        usage(range: {month}) {{ bySource {{ source }} }}
        partial: usage(range: {partial}) {{ coverage {{ sources {{ source status reason }} }} }}
        agentsConnection(first: 10, orderBy: {{field: VOICE_SECONDS, direction: DESC,
          range: {month}}}) {{ nodes {{ name usage(range: {month}) {{ voice {{ minutes }} }} }} }}
        usersConnection(first: 50) {{ totalCount }}
      }}
    }}"""
    return api(base, query)["data"]


@pytest.fixture(scope="module")
def session(
    servers: Servers, expected: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    executable = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install chromium); console not checked")
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "axe-core").is_dir():
        pytest.fail("node, playwright-core and axe-core are needed: run `make test-browser`")
    base, sandbox_url = servers.base, servers.sandbox
    screenshots = tmp_path_factory.mktemp("console-screenshots")
    print(f"console screenshots: {screenshots}")  # the artifacts (pytest -s shows it)
    spec = {
        "url": f"{base}/console#/?first={MONTH[0]}&last={MONTH[1]}&partial=EXCLUDE",
        "executable": executable,
        "screenshots": str(screenshots),
        "reseller": RESELLER,
        "organization": ORGANIZATION,
        "filter": "NORTH",
        "partialDays": list(PARTIAL_DAYS),
        "sandbox": sandbox_url,
        "outageMonth": OUTAGE_MONTH,
        "outageVariant": "teli-down",
        "keyUrl": f"{servers.keyed}/console#/?first={MONTH[0]}&last={MONTH[1]}",
        "key": KEY,
    }
    done = subprocess.run(
        [node, str(DRIVER), json.dumps(spec)],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["error"] is None, (
        f"{report['error']}\nfailed requests: {report['failed']}\n"
        f"page errors: {report['pageErrors']}\nscreenshots: {screenshots}"
    )
    return report


def api(base: str, query: str) -> dict[str, Any]:
    response = httpx.post(f"{base}/graphql", json={"query": query}, timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    return body


def grouped(decimal: str) -> str:
    """A decimal string as the console writes it (thousands grouped, digits kept)."""
    whole, _, fraction = decimal.partition(".")
    whole = f"{int(whole):,}"
    return f"{whole}.{fraction}" if fraction else whole


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


def test_resellers_view_shows_the_sandbox_resellers_with_the_api_figures(
    session: dict[str, Any], expected: dict[str, Any]
) -> None:
    shown = {row[0]: row for row in session["resellers"]}
    resellers = expected["resellersConnection"]["nodes"]

    assert sorted(shown) == sorted(DATASET.channel_names.values())
    for reseller in resellers:
        usage = reseller["usage"]
        _name, minutes, sms, cost, coverage = shown[reseller["name"]]
        assert minutes == grouped(usage["voice"]["minutes"])
        assert sms == f"{sum(usage['sms'].values()):,}"
        for money in usage["costs"]:
            assert f"{grouped(money['amount'])} {money['currency']}" in cost
        # a whole month: every source exact, so the badge says complete
        assert {s["status"] for s in usage["coverage"]["sources"]} == {"EXACT"}
        assert coverage == "complete"


def test_name_filter_narrows_the_list_on_the_server(session: dict[str, Any]) -> None:
    # case-insensitive, as the connection's filter: {nameContains} is
    assert session["filtered"] == ["Northwind Channel"]


def test_first_table_renders_within_one_second(session: dict[str, Any]) -> None:
    assert session["firstTableMs"] is not None
    assert session["firstTableMs"] < 1000, session["firstTableMs"]


def test_drill_down_shows_agents_users_unattributed_and_sources(
    session: dict[str, Any], expected: dict[str, Any]
) -> None:
    org = expected["organization"]
    drill = session["drill"]
    rows = [row[0] for row in drill["bySource"]]

    assert drill["heading"] == ORGANIZATION
    assert drill["hash"].startswith("#/organization/cust0000?")
    assert rows == [s["source"] for s in org["usage"]["bySource"]] + ["Total", "Unattributed"]
    assert drill["agents"] == [
        [a["name"], grouped(a["usage"]["voice"]["minutes"])]
        for a in org["agentsConnection"]["nodes"]
    ]
    assert drill["users"] == min(50, org["usersConnection"]["totalCount"])
    assert [row[0] for row in session["organizations"]].count(ORGANIZATION) == 1


def test_charts_are_drawn(session: dict[str, Any]) -> None:
    # canvases with drawn bars and axes, not blank boxes (a 1400-px-wide chart has ~10^5 pixels)
    assert session["resellerChartPixels"] > 2000
    assert session["drill"]["monthlyPixels"] > 2000
    assert session["drill"]["agentsPixels"] > 2000


def test_csv_export_is_the_table_in_view(session: dict[str, Any]) -> None:
    csv = session["csv"]
    lines = csv["text"].split("\r\n")

    assert csv["name"] == "top-agents-by-voice-minutes.csv"
    assert lines[0] == "Agent,Voice minutes"
    assert [line.rsplit(",", 1)[0] for line in lines[1:]] == [
        row[0] for row in session["drill"]["agents"]
    ]
    # grouped figures are quoted, the digits as on screen
    assert lines[1].endswith(f'"{session["drill"]["agents"][0][1]}"') or lines[1].endswith(
        session["drill"]["agents"][0][1]
    )


def test_partial_month_range_marks_monthly_sources_missing(
    session: dict[str, Any], expected: dict[str, Any]
) -> None:
    partial = session["partial"]
    total = next(row for row in partial["bySource"] if row[0] == "Total")
    coarse = [
        s["source"]
        for s in expected["organization"]["partial"]["coverage"]["sources"]
        if s["reason"] == "GRANULARITY_TOO_COARSE"
    ]

    assert f"first={PARTIAL_DAYS[0]}&last={PARTIAL_DAYS[1]}" in partial["hash"]
    assert coarse, "the sandbox's Acme Solar has a Talkdesk part"
    for source in coarse:
        assert f"{source} missing: monthly only" in total[-1]
    assert "complete" not in total[-1]


def test_whole_months_mark_monthly_sources_expanded(
    session: dict[str, Any], expected: dict[str, Any]
) -> None:
    total = next(row for row in session["expanded"] if row[0] == "Total")
    coarse = [
        s["source"]
        for s in expected["organization"]["partial"]["coverage"]["sources"]
        if s["reason"] == "GRANULARITY_TOO_COARSE"
    ]

    assert coarse
    for source in coarse:  # all of October, which PARTIAL_DAYS lie in
        assert f"{source} expanded 2026-10-01 to 2026-10-31" in total[-1]
    assert "missing" not in total[-1]


def test_vendor_outage_shows_the_error_in_place_of_its_figures(session: dict[str, Any]) -> None:
    outage = session["outage"]

    assert set(outage["errorSources"]) <= TELI_SOURCES
    assert outage["errorSources"], "no error badge after the Teli outage"
    for name, minutes, sms, cost, _coverage in outage["resellers"]:
        # a figure Teli contributes to is never shown smaller: the error stands in its place
        if "teli-" in sms:
            assert re.search(r"\d", sms) is None, (name, sms)
            assert "error: UPSTREAM" in sms
            assert re.search(r"\d", cost) is None, (name, cost)
            assert re.search(r"\d", minutes) is None, (name, minutes)  # Teli measures voice too
    # exactly the resellers with a Teli part lost their SMS figures
    with_teli = {DATASET.channel_names[tenant.channel] for tenant in DATASET.teli_tenants}
    assert {row[0] for row in outage["resellers"] if "teli-" in row[2]} == with_teli
    assert outage["alerts"], "the response's errors are listed"


def test_with_auth_the_console_asks_for_a_key_and_sends_it_as_a_bearer_header(
    session: dict[str, Any],
) -> None:
    keyed = session["keyed"]

    assert "This server needs an API key." in keyed["prompt"]
    # the first try went without a key (401), every later one with it
    assert keyed["sent"][0] is None
    assert keyed["sent"][1:] and set(keyed["sent"][1:]) == {f"Bearer {KEY}"}
    assert keyed["stored"] == KEY  # sessionStorage: gone with the tab
    assert sorted(keyed["resellers"]) == sorted(DATASET.channel_names.values())


def test_no_accessibility_violations(session: dict[str, Any]) -> None:
    assert session["axe"] == {"resellers": [], "organization": [], "keyed": []}

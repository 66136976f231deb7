"""The `usagegraph` command line: errors, help, export-schema, and the two servers for real."""

from __future__ import annotations

import asyncio
import gc
import io
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.lifespan import record_gc_tuning, serve_lifespan
from usagegraph import cli
from usagegraph.sandbox.control import VARIANTS
from usagegraph.sandbox.server import free_port
from usagegraph.schema import schema
from usagegraph.settings import load_settings

USAGEGRAPH = Path(sys.executable).parent / "usagegraph"
SANDBOX_SOURCES = [
    "telzino",
    "teli-northwind",
    "teli-southpoint",
    "talkdesk-northwind",
    "talkdesk-southpoint",
    "talkdesk-eastgate",
]

CONFIG = """\
[[sources]]
name = "teli"
kind = "teli"
base_url = "https://api.teli.ai"
api_key = "${TEST_TELI_KEY}"

[server]
host = "127.0.0.2"
port = 8123
"""


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """`serve` configures the usagegraph logger; undo it so other tests' caplog still works."""
    logger = logging.getLogger("usagegraph")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TEST_TELI_KEY", "k")
    monkeypatch.delenv("USAGEGRAPH_CONFIG", raising=False)
    path = tmp_path / "usagegraph.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Replaces uvicorn: records what `serve` would have served, with the collector's frozen
    count and thresholds at that moment; restores the test process's collector afterwards."""
    calls: list[dict[str, Any]] = []
    thresholds = gc.get_threshold()

    def run(app: Any, **kw: Any) -> None:
        calls.append(
            {"app": app, "frozen": gc.get_freeze_count(), "thresholds": gc.get_threshold(), **kw}
        )

    monkeypatch.setattr(cli, "_run", run)
    yield calls
    gc.unfreeze()
    gc.set_threshold(*thresholds)


# -- in-process ----------------------------------------------------------------------------------


def test_config_error_exits_2_with_one_line_and_no_traceback(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file.write_text(CONFIG.replace("base_url", "base_urll"), encoding="utf-8")

    code = cli.main(["serve", "--config", str(config_file)])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err == ("config error: sources[0]: unknown key 'base_urll' (did you mean 'base_url'?)\n")
    assert "Traceback" not in err


def test_unset_variable_exits_2_naming_it(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TEST_TELI_KEY")

    code = cli.main(["serve", "--config", str(config_file)])

    assert code == 2
    assert capsys.readouterr().err == (
        "config error: sources[0].api_key: environment variable TEST_TELI_KEY is not set\n"
    )


def test_usagegraph_config_names_the_file_when_config_is_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "from-env.toml"
    monkeypatch.setenv("USAGEGRAPH_CONFIG", str(missing))

    code = cli.main(["serve"])

    assert code == 2
    assert capsys.readouterr().err == f"config error: {missing}: file not found\n"


def test_serve_uses_the_config_file_and_its_server_section(
    config_file: Path, served: list[dict[str, Any]]
) -> None:
    assert cli.main(["serve", "--config", str(config_file)]) == 0

    (call,) = served
    assert (call["host"], call["port"]) == ("127.0.0.2", 8123)
    assert [s.name for s in call["app"].state.settings.sources] == ["teli"]


def test_serve_hands_uvicorn_an_app_that_tunes_the_collector_at_start_up(
    config_file: Path, served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    tunings = record_gc_tuning(monkeypatch)
    assert cli.main(["serve", "--config", str(config_file)]) == 0

    (call,) = served
    assert tunings == []  # not before the server starts the app
    sent = asyncio.run(serve_lifespan(call["app"]))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert tunings == ["tuned"]


def test_serve_host_and_port_flags_override_the_config(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, served: list[dict[str, Any]]
) -> None:
    monkeypatch.setenv("USAGEGRAPH_CONFIG", str(config_file))

    assert cli.main(["serve", "--host", "127.0.0.3", "--port", "9123"]) == 0

    (call,) = served
    assert (call["host"], call["port"]) == ("127.0.0.3", 9123)
    assert call["app"].state.settings.source("teli").base_url == "https://api.teli.ai"


@pytest.mark.parametrize("port", ["0", "65536", "83556", "-1", "http"])
def test_a_port_flag_outside_1_to_65535_is_a_usage_error(
    port: str, served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["serve", "--port", port]) == 2

    assert served == []
    err = capsys.readouterr().err
    assert f"argument --port: must be a port number from 1 to 65535, not '{port}'" in err


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another server is listening on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def test_a_taken_port_is_one_line_and_exit_2_before_start_up(
    config_file: Path,
    taken_port: int,
    served: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config_file.write_text(CONFIG.replace("127.0.0.2", "127.0.0.1"), encoding="utf-8")

    code = cli.main(["serve", "--config", str(config_file), "--port", str(taken_port)])

    assert code == 2
    assert served == []  # uvicorn never started
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"config error: --port: cannot listen on 127.0.0.1:{taken_port}: "
        "address already in use (choose another port)\n"
    )


def test_a_taken_port_of_the_config_names_its_key(
    config_file: Path,
    taken_port: int,
    served: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config_file.write_text(
        CONFIG.replace("127.0.0.2", "127.0.0.1").replace("8123", str(taken_port)),
        encoding="utf-8",
    )

    assert cli.main(["serve", "--config", str(config_file)]) == 2

    assert served == []
    assert capsys.readouterr().err.startswith("config error: server.port: cannot listen on")


def test_a_host_that_is_not_this_machines_is_one_line_naming_the_flag(
    config_file: Path, served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    # 192.0.2.1 is a documentation address (RFC 5737): no interface has it; nothing is sent
    args = ["serve", "--config", str(config_file), "--host", "192.0.2.1"]

    assert cli.main([*args, "--allow-unauthenticated", "--port", "8123"]) == 2

    assert served == []
    assert capsys.readouterr().err == (
        "config error: --host: cannot listen on 192.0.2.1:8123: cannot assign requested address\n"
    )


def test_hash_key_with_nothing_on_stdin_points_to_generate(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # a pipe with nothing in it

    assert cli.main(["hash-key"]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "usagegraph hash-key: no key on stdin; to make a new key, run "
        "`usagegraph hash-key --generate`\n"
    )


@pytest.mark.parametrize("command", ["serve", "sandbox", "export-schema"])
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([command, "--help"]) == 0

    assert capsys.readouterr().out.startswith(f"usage: usagegraph {command}")


def test_missing_or_unknown_subcommand_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main([]) == 2
    assert cli.main(["serv"]) == 2
    assert "invalid choice: 'serv'" in capsys.readouterr().err


def test_export_schema_prints_the_sdl(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["export-schema"]) == 0

    out = capsys.readouterr().out
    assert out == schema.as_str() + "\n"
    assert "sources: [SourceStatus!]!" in out
    # arguments carry descriptions, so the SDL prints them one per line
    assert "    range: DateRange!\n" in out
    assert "    partialMonths: PartialMonths! = EXCLUDE\n  ): Usage!" in out


def test_sandbox_unknown_variant_exits_2_with_one_line_naming_the_known_ones(
    capsys: pytest.CaptureFixture[str], served: list[dict[str, Any]]
) -> None:
    code = cli.main(["sandbox", "--variant", "teli-down", "--variant", "talkdesk-links"])

    out, err = capsys.readouterr()
    assert code == 2
    assert served == []
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("usagegraph sandbox: unknown variant(s): talkdesk-links (known: ")
    for name in VARIANTS:
        assert name in err


async def test_sandbox_variants_are_active_from_the_first_request(
    capsys: pytest.CaptureFixture[str], served: list[dict[str, Any]]
) -> None:
    argv = ["sandbox", "--variant", "teli-down", "--variant", "talkdesk-top-level-links"]
    assert cli.main(argv) == 0

    (call,) = served
    app = call["app"]
    assert app.state.control.variants == {"teli-down", "talkdesk-top-level-links"}
    assert "# Variants: talkdesk-top-level-links, teli-down\n" in capsys.readouterr().out
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        first = await client.get("/teli/v1/organizations")
        listed = (await client.get("/_control/variants")).json()
    assert first.status_code == 503
    assert first.json() == {
        "success": False,
        "error": "Service temporarily unavailable",
        "powered_by": "Teli",
    }
    assert app.state.control.count("teli") == 1
    assert listed["active"] == ["talkdesk-top-level-links", "teli-down"]


# -- real processes ------------------------------------------------------------------------------


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "USAGEGRAPH_CONFIG"}


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=5) as client:
        yield client


def wait_until_up(process: subprocess.Popen[str], http: httpx.Client, url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"exited with {process.returncode}: {process.communicate()[1]}")
        try:
            http.get(url)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    pytest.fail(f"not up after 20 s: {process.communicate()[1]}")


def stop(process: subprocess.Popen[str], sig: signal.Signals) -> tuple[str, str]:
    process.send_signal(sig)
    try:
        return process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def test_serve_without_config_serves_the_embedded_sandbox(http: httpx.Client) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(USAGEGRAPH), "serve", "--port", str(port)],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, http, f"{base}/healthz")
        page = http.get(f"{base}/graphql", headers={"Accept": "text/html"})
        answer = http.post(f"{base}/graphql", json={"query": "{ sources { name kind } }"})
        # discovery calls every vendor of the embedded sandbox
        discovered = http.post(f"{base}/graphql", json={"query": "{ organizations { id } }"})
    finally:
        _, err = stop(process, signal.SIGINT)

    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
    assert answer.status_code == 200
    sources = answer.json()["data"]["sources"]
    assert [s["name"] for s in sources] == SANDBOX_SOURCES
    assert [s["kind"] for s in sources] == ["TELZINO", "TELI", "TELI"] + ["TALKDESK"] * 3
    first_line = err.splitlines()[0]
    assert "no config given: serving on the embedded sandbox at http://127.0.0.1:" in first_line
    assert "teli-northwind" in first_line
    assert '"POST /graphql HTTP/1.1" 200' in err  # the access log, on stderr
    # ...of usagegraph only: the sandbox's own access lines stay out of it (issue 16)
    assert discovered.json()["data"]["organizations"]
    assert "upstream calls: teli-northwind" in err
    assert not re.search(r'"(GET|POST) /(teli|talkdesk|telzino)', err), err
    assert "Traceback" not in err
    assert process.returncode == 0


def test_serve_on_a_taken_port_exits_2_with_one_line_before_the_sandbox_starts(
    taken_port: int,
) -> None:
    done = subprocess.run(
        [str(USAGEGRAPH), "serve", "--port", str(taken_port)],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"config error: --port: cannot listen on 127.0.0.1:{taken_port}: "
        "address already in use (choose another port)"
    ]


def test_sandbox_command_serves_the_emulators_and_prints_their_config(
    http: httpx.Client, tmp_path: Path
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(USAGEGRAPH), "sandbox", "--port", str(port), "--seed", "7"],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, http, f"{base}/_control/requests")
        root = http.get(f"{base}/").json()
        directory = http.get(f"{base}/directory.toml")
    finally:
        out, err = stop(process, signal.SIGTERM)

    assert [s["name"] for s in root["sources"]] == SANDBOX_SOURCES
    assert root["sources"][0]["reports_url"] == f"{base}/telzino-api"
    assert root["dataset"]["seed"] == 7
    assert directory.status_code == 200
    assert "[[sources]]" in out
    assert f"{base}/directory.toml" in out
    assert out.count(f'usage_url = "{base}/teli-proxy"') == 2  # both Teli tenants
    # The printed text is a config file as is.
    config = tmp_path / "sandbox.toml"
    config.write_text(out, encoding="utf-8")
    settings = load_settings(config, environ={})
    assert [s.name for s in settings.sources] == SANDBOX_SOURCES
    assert settings.source("teli-northwind").base_url == f"{base}/teli"
    assert "Traceback" not in err
    assert process.returncode == 0

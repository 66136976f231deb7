"""`usagegraph serve --workers N`: processes sharing the port, for real, and the values refused.

The two-worker tests run `usagegraph serve` as a subprocess over the sandbox on loopback; a
worker is told apart by `usagegraph_process_info{pid}` in /metrics (each scrape is answered by
one worker, with that worker's own counters).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.lifespan import record_gc_tuning, serve_lifespan
from tests.fixtures.serve import USAGEGRAPH, running, serve_usagegraph
from usagegraph import cli, workers
from usagegraph.sandbox.server import SandboxServer, free_port

RESELLERS = ["northwind", "southpoint", "eastgate"]
PROCESS_INFO = re.compile(r'^usagegraph_process_info\{pid="(\d+)"\} 1\.0$', re.M)
SERVED = re.compile(r'^usagegraph_http_requests_total\{path="/graphql",status="200"\} (\S+)$', re.M)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """`serve` and the worker factory configure the usagegraph logger: undo it."""
    logger = logging.getLogger("usagegraph")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


def write_config(folder: Path, sandbox: SandboxServer, server: str = "") -> Path:
    (folder / "directory.toml").write_text(sandbox.dataset.directory_toml(), encoding="utf-8")
    blocks = [
        "[[sources]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in entry.items())
        for entry in sandbox.sources()
    ]
    blocks.append('[directory]\npath = "directory.toml"\n')
    blocks.append('[server]\nlog_level = "info"\nlog_format = "text"\n' + server)
    config = folder / "usagegraph.toml"
    config.write_text("\n".join(blocks), encoding="utf-8")
    return config


def scrape(base: str) -> tuple[int, float]:
    """(pid, GraphQL requests it answered 200) of the worker that answers this scrape; a new
    connection each time, so any worker may accept it."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    (pid,) = PROCESS_INFO.findall(text)
    counted = SERVED.findall(text)
    return int(pid), float(counted[0]) if counted else 0.0


def scrape_workers(base: str, count: int, timeout: float = 60.0) -> dict[int, float]:
    """Scrape until `count` distinct workers have answered; their latest request counts."""
    seen: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < count:
        assert time.monotonic() < deadline, f"only workers {sorted(seen)} answered /metrics"
        pid, counted = scrape(base)
        seen[pid] = counted
    return seen


def resellers(base: str) -> list[str]:
    response = httpx.post(f"{base}/graphql", json={"query": "{ resellers { id } }"}, timeout=30)
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["data"]["resellers"]]


# -- for real ------------------------------------------------------------------------------------


def test_two_workers_answer_graphql_from_two_processes_and_stop_cleanly(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path, sandbox)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    command = [str(USAGEGRAPH), "serve", "--config", str(config), "--port", str(port)]
    with running([*command, "--workers", "2"], ready_url=f"{base}/healthz", log=log) as server:
        scrape_workers(base, 2)  # both workers up before the load
        # 8 clients at once, a new connection per request: a busy worker leaves the next
        # connection to the other one
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: resellers(base), range(24)))
        counts = scrape_workers(base, 2)
    assert answers == [RESELLERS] * 24
    assert len(counts) == 2
    assert server.pid not in counts  # the parent only supervises; workers serve
    assert all(n >= 1 for n in counts.values()), counts
    assert sum(counts.values()) == 24  # each GraphQL request answered by exactly one worker
    assert server.returncode == 0
    text = log.read_text()
    for pid in counts:  # each worker ran its lifespan's shutdown on the parent's SIGINT
        assert f"Finished server process [{pid}]" in text
    assert "Traceback" not in text


def test_workers_serve_the_embedded_sandbox_without_a_config(tmp_path: Path) -> None:
    with serve_usagegraph(tmp_path / "serve.log", "--workers", "2") as base:
        pids = scrape_workers(base, 2)
        assert resellers(base) == RESELLERS
    assert len(pids) == 2


# -- values refused -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-1", "65", "two", "1.5"])
def test_workers_flag_outside_1_to_64_is_a_usage_error(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["serve", "--workers", value])

    assert code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last == (
        "usagegraph serve: error: argument --workers: expected a whole number of processes "
        f"from 1 to 64, got '{value}'"
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0", "input should be greater than or equal to 1"),
        ("65", "input should be less than or equal to 64"),
        ("2.5", "input should be a valid integer, got a number with a fractional part"),
    ],
)
def test_server_workers_outside_1_to_64_is_a_config_error(
    value: str,
    problem: str,
    sandbox: SandboxServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path, sandbox, f"workers = {value}\n")
    started: list[dict[str, Any]] = []
    monkeypatch.setattr(workers, "run_workers", lambda *a, **kw: started.append(kw))
    err = _serve_err(["serve", "--config", str(config)], capsys)

    assert err.splitlines()[-1] == f"config error: server.workers: {problem}"
    assert started == []


def test_a_config_error_only_the_app_finds_exits_2_before_any_worker_starts(
    sandbox: SandboxServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path, sandbox)
    # the directory links an organization to a source the config does not have
    directory = tmp_path / "directory.toml"
    directory.write_text(
        directory.read_text(encoding="utf-8").replace('"telzino:', '"telzino-gone:', 1),
        encoding="utf-8",
    )
    started: list[dict[str, Any]] = []
    monkeypatch.setattr(workers, "run_workers", lambda *a, **kw: started.append(kw))

    err = _serve_err(["serve", "--config", str(config), "--workers", "2"], capsys)

    last = err.splitlines()[-1]
    assert last.startswith("config error: directory.path: ")
    assert last.endswith("names unknown source 'telzino-gone'")
    assert "serving from 2 worker processes" not in err
    assert started == []


def _serve_err(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """stderr of `cli.main(argv)`, which must exit 2."""
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    return err


# -- which runner, with what ---------------------------------------------------------------------


def test_server_workers_in_the_config_starts_that_many_and_the_flag_overrides_it(
    sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, sandbox, "workers = 3\nshutdown_timeout_seconds = 4\n")
    monkeypatch.delenv("USAGEGRAPH_CONFIG", raising=False)
    started: list[tuple[Path, dict[str, Any]]] = []
    single: list[dict[str, Any]] = []
    monkeypatch.setattr(workers, "run_workers", lambda c, **kw: started.append((c, kw)))
    monkeypatch.setattr(cli, "_run", lambda app, **kw: single.append(kw))
    thresholds = gc.get_threshold()
    port = free_port()
    try:
        assert cli.main(["serve", "--config", str(config), "--port", str(port)]) == 0
        assert (
            cli.main(["serve", "--config", str(config), "--port", str(port), "--workers", "1"]) == 0
        )
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)

    ((path, kw),) = started
    assert path == config
    assert (kw["workers"], kw["port"], kw["host"]) == (3, port, "127.0.0.1")
    assert (kw["log_level"], kw["log_format"], kw["shutdown_timeout"]) == ("info", "text", 4.0)
    assert len(single) == 1  # --workers 1: the one-process server, as before


def test_a_worker_builds_its_app_from_the_config_the_parent_names(
    sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, sandbox, "introspection = false\n")
    monkeypatch.setenv("USAGEGRAPH_CONFIG", str(config))
    tunings = record_gc_tuning(monkeypatch)
    app = workers.worker_app()

    settings = app.state.settings
    assert [s.name for s in settings.sources] == [s["name"] for s in sandbox.sources()]
    assert settings.server.introspection is False
    # the worker's start-up heap is frozen when its server starts the app, as a one-process serve
    assert tunings == []
    asyncio.run(serve_lifespan(app))
    assert tunings == ["tuned"]

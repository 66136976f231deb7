"""Graceful shutdown for real: SIGTERM while a slow query is in flight lets it finish.

`usagegraph sandbox --latency-ms` runs in its own process (so its latency does not slow the
server's event loop), and `usagegraph serve` runs on a config pointing at it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from usagegraph.sandbox.server import free_port

USAGEGRAPH = Path(sys.executable).parent / "usagegraph"
LATENCY_MS = 300


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(USAGEGRAPH), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin"},  # no USAGEGRAPH_CONFIG from the caller
    )


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


def toml_value(value: Any) -> str:
    return json.dumps(value)  # a JSON string or number is a valid TOML one


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=20) as client:
        yield client


@pytest.fixture
def slow_sandbox(http: httpx.Client) -> Iterator[str]:
    port = free_port()
    process = start("sandbox", "--port", str(port), "--latency-ms", str(LATENCY_MS))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, http, f"{base}/_control/requests")
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def write_config(folder: Path, sandbox: str, http: httpx.Client) -> Path:
    (folder / "directory.toml").write_text(http.get(f"{sandbox}/directory.toml").text)
    blocks = [
        "[[sources]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in entry.items())
        for entry in http.get(f"{sandbox}/").json()["sources"]
    ]
    blocks.append('[directory]\npath = "directory.toml"\n')
    blocks.append("[server]\nshutdown_timeout_seconds = 10\n")
    config = folder / "usagegraph.toml"
    config.write_text("\n".join(blocks), encoding="utf-8")
    return config


def test_sigterm_lets_the_query_in_flight_finish_then_exits_0(
    slow_sandbox: str, http: httpx.Client, tmp_path: Path
) -> None:
    config = write_config(tmp_path, slow_sandbox, http)
    port = free_port()
    server = start("serve", "--config", str(config), "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    answers: list[httpx.Response] = []
    try:
        wait_until_up(server, http, f"{base}/healthz")
        http.delete(f"{slow_sandbox}/_control/requests")
        query = threading.Thread(
            target=lambda: answers.append(
                http.post(f"{base}/graphql", json={"query": "{ resellers { id } }"})
            )
        )
        started = time.monotonic()
        query.start()
        # In flight: the server has asked the (slow) sandbox for something.
        while not http.get(f"{slow_sandbox}/_control/requests").json()["requests"]:
            assert time.monotonic() - started < 10, "the query never reached the sandbox"
            time.sleep(0.02)
        server.send_signal(signal.SIGTERM)
        signalled = time.monotonic() - started
        query.join(timeout=20)
        _, err = server.communicate(timeout=20)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()

    (answer,) = answers
    assert answer.status_code == 200
    assert [r["id"] for r in answer.json()["data"]["resellers"]] == [
        "northwind",
        "southpoint",
        "eastgate",
    ]
    assert signalled < LATENCY_MS / 1000  # SIGTERM really came while the query waited upstream
    assert server.returncode == 0
    # Production logging: every stderr line is one JSON object.
    lines = [json.loads(line) for line in err.splitlines()]
    messages = [line["message"] for line in lines]
    assert "Waiting for application shutdown." in messages
    assert messages.index("Shutting down") < messages.index("Waiting for application shutdown.")
    (access,) = [line for line in lines if line.get("path") == "/graphql"]
    assert (access["logger"], access["method"], access["status"]) == ("uvicorn.access", "POST", 200)
    (operation,) = [line for line in lines if line["logger"] == "usagegraph.operations"]
    assert operation["request_id"] == access["request_id"]
    assert sum(operation["upstream_calls"].values()) > 0

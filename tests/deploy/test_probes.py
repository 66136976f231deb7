"""The Deployment's probes against a real server built from deploy/kubernetes/usagegraph.toml
(the sandbox standing in for the vendors, memory standing in for Redis), over HTTP on loopback,
sent as the kubelet sends them: no API key."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn

from tests.fixtures.manifests import find
from usagegraph.app import create_app
from usagegraph.sandbox.server import SandboxServer, free_port
from usagegraph.settings import CacheSettings, Settings, settings_from_sources

pytest.importorskip("yaml", reason="the deploy extra: make deploy-check")

PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """`settings`' app under uvicorn in a background thread; yields its base URL."""
    port = free_port("127.0.0.1")
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="usagegraph", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "usagegraph did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture
def deployed_on_sandbox(deployed_settings: Settings, sandbox: SandboxServer) -> Iterator[str]:
    """The deployed config with the sandbox's sources instead of the vendors' (their [auth],
    [server], limits and observability kept)."""
    sources = settings_from_sources(sandbox.sources()).sources
    settings = deployed_settings.model_copy(update={"sources": sources, "cache": CacheSettings()})
    with serving(settings) as base_url:
        yield base_url


def probe(container: dict[str, Any], kind: str, base_url: str) -> httpx.Response:
    """One probe as the kubelet sends it: GET on the probe's path, within its timeout. (The
    server listens on a free port here; test_manifests checks the named port is the config's.)"""
    get = container[kind]["httpGet"]
    assert get["port"] in {p["name"] for p in container["ports"]}
    timeout = container[kind].get("timeoutSeconds", 1)  # Kubernetes' default is 1 s
    return httpx.get(base_url + get["path"], timeout=timeout, headers={"User-Agent": "kube-probe"})


def test_every_probe_passes_on_a_healthy_server(
    deployed_on_sandbox: str, manifests: list[dict[str, Any]]
) -> None:
    (container,) = find(manifests, "Deployment", "usagegraph")["spec"]["template"]["spec"][
        "containers"
    ]
    answers = {kind: probe(container, kind, deployed_on_sandbox) for kind in PROBES}
    assert {kind: r.status_code for kind, r in answers.items()} == dict.fromkeys(PROBES, 200)
    assert answers["livenessProbe"].json() == {"status": "ok"}
    # without an operator key the kubelet gets the verdict only, no source names
    assert answers["readinessProbe"].json() == {"status": "ready"}
    # and the API itself still wants a key: the probes are not a way around [auth]
    graphql = httpx.post(f"{deployed_on_sandbox}/graphql", json={"query": "{ __typename }"})
    assert graphql.status_code == 401


def test_readiness_turns_false_when_a_vendor_is_down(
    deployed_on_sandbox: str, manifests: list[dict[str, Any]], sandbox: SandboxServer
) -> None:
    (container,) = find(manifests, "Deployment", "usagegraph")["spec"]["template"]["spec"][
        "containers"
    ]
    sandbox.control.enable("teli-down")
    assert probe(container, "readinessProbe", deployed_on_sandbox).status_code == 503
    assert probe(container, "livenessProbe", deployed_on_sandbox).status_code == 200


def test_readiness_timeout_outlasts_the_readyz_probe(
    manifests: list[dict[str, Any]], deployed_settings: Settings
) -> None:
    (container,) = find(manifests, "Deployment", "usagegraph")["spec"]["template"]["spec"][
        "containers"
    ]
    waits = deployed_settings.observability.ready_probe_timeout_seconds
    assert container["readinessProbe"]["timeoutSeconds"] > waits

"""Hive Gateway in front of the fleet: federation/compose.mjs composes our one subgraph (asking
it for its SDL through the balancer, as a gateway's tooling would), then the gateway serves the
supergraph. Both come from npm through federation/package-lock.json (`make test-federation`,
`make fleet` and `make test-fleet` install it)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from fleet.processes import HOST, Child

__all__ = ["FEDERATION", "GATEWAY_BIN", "compose_supergraph", "start_gateway"]

ROOT = Path(__file__).resolve().parents[1]
FEDERATION = ROOT / "federation"
COMPOSE = FEDERATION / "compose.mjs"
GATEWAY_BIN = FEDERATION / "node_modules" / "@graphql-hive" / "gateway" / "dist" / "bin.js"


def node() -> str:
    found = shutil.which("node")
    if found is None:
        raise RuntimeError("node is not installed: Hive Gateway needs node 20+ and npm")
    if not GATEWAY_BIN.is_file():
        raise RuntimeError("federation/node_modules is not installed: run `make fleet` once")
    return found


def compose_supergraph(subgraph_url: str, output: Path) -> None:
    """Write the supergraph of our one subgraph to `output`; RuntimeError with the composer's
    errors when it does not compose."""
    spec = output.with_suffix(".spec.json")
    subgraphs = [{"name": "usagegraph", "url": subgraph_url}]
    spec.write_text(json.dumps({"output": str(output), "subgraphs": subgraphs}), encoding="utf-8")
    done = subprocess.run(
        [node(), str(COMPOSE), str(spec)],
        cwd=FEDERATION,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    report = json.loads(lines[-1]) if lines else {"ok": False, "errors": [done.stderr]}
    if not report["ok"]:
        raise RuntimeError(f"the supergraph did not compose: {report['errors']}")


def start_gateway(supergraph: Path, port: int, logs: Path) -> Child:
    """Hive Gateway serving `supergraph` on `port`; `/graphql` is its API, `/healthcheck` its
    liveness."""
    argv = [node(), str(GATEWAY_BIN), "supergraph", str(supergraph)]
    argv += ["--host", HOST, "--port", str(port)]
    gateway = Child("gateway", argv, logs, cwd=FEDERATION)
    gateway.wait_until_answering(f"http://{HOST}:{port}/healthcheck", timeout=90)
    return gateway

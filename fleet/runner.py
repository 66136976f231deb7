"""`Fleet`: starts the vendors, Redis, the replicas, the balancer and Hive Gateway, in that
order, and stops them in the reverse one; in between, the chaos a test needs (kill a replica,
restart Redis) and what it measures (the vendors' call clock, the balancer's counts)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from fleet.balancer import STATS_PATH
from fleet.gateway import compose_supergraph, start_gateway
from fleet.processes import HOST, Child, free_port
from fleet.redis_server import RedisServer
from fleet.vendors import CALLS_PATH

__all__ = ["Fleet", "FleetOptions", "VendorCall"]

ROOT = Path(__file__).resolve().parents[1]
USAGEGRAPH = str(Path(sys.executable).with_name("usagegraph"))


@dataclass(frozen=True)
class FleetOptions:
    replicas: int = 3
    scale: str = "S"
    seed: int = 7
    latency_ms: int = 30  # each vendor call's latency at the sandbox
    # every Teli account's limit, as the vendor states it (per account, whatever the replicas)
    teli_rate_per_second: float = 4.0
    teli_burst: int = 4


@dataclass(frozen=True)
class VendorCall:
    at: float  # wall-clock seconds, when the sandbox received it
    mount: str
    path: str
    account: str  # the Teli source whose API key it carried; else the vendor

    @property
    def vendor(self) -> str:
        return self.mount.split("-", 1)[0]

    @property
    def is_token(self) -> bool:
        return self.path.endswith("/oauth/token")


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # JSON string escapes are valid TOML basic-string escapes


def replica_config(
    sources: Sequence[dict[str, str]], directory: Path, redis_url: str, options: FleetOptions
) -> str:
    """The one config every replica runs with."""
    lines = ["# written by fleet/runner.py: every replica of the fleet runs with it", ""]
    for source in sources:
        lines.append("[[sources]]")
        lines += [f"{key} = {_toml(value)}" for key, value in source.items()]
        if source["kind"] == "teli":
            lines.append(f"rate_limit_per_second = {_toml(options.teli_rate_per_second)}")
            lines.append(f"rate_limit_burst = {_toml(options.teli_burst)}")
        lines.append("")
    lines += ["[directory]", f"path = {_toml(directory)}", ""]
    lines += ["[cache]", 'backend = "redis"', f"url = {_toml(redis_url)}", ""]
    # every request reaches a replica from the balancer's one address, so per-caller limits
    # would count all the fleet's clients as one caller
    lines += ["[limits]", "requests_per_second = 0", "upstream_calls_per_minute = 0", ""]
    lines += ["[server]", 'log_format = "text"', ""]
    return "\n".join(lines)


class Fleet:
    """A running fleet; its logs, configs and supergraph in `folder`."""

    def __init__(self, folder: Path, options: FleetOptions | None = None) -> None:
        self.folder = folder
        self.options = options or FleetOptions()
        self.children: list[Child] = []  # in start order
        self.replicas: list[Child] = []
        self.replica_ports: list[int] = []
        self.vendors_port = free_port()
        self.balancer_port = free_port()
        self.gateway_port = free_port()
        self.redis = RedisServer(free_port(), folder)

    # -- URLs ----------------------------------------------------------------------------------
    @property
    def gateway_url(self) -> str:
        return f"http://{HOST}:{self.gateway_port}/graphql"

    @property
    def balancer_url(self) -> str:
        return f"http://{HOST}:{self.balancer_port}"

    @property
    def vendors_url(self) -> str:
        return f"http://{HOST}:{self.vendors_port}"

    @property
    def replica_urls(self) -> list[str]:
        return [f"http://{HOST}:{port}" for port in self.replica_ports]

    # -- lifetime ------------------------------------------------------------------------------
    def __enter__(self) -> Fleet:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        vendors_argv = [sys.executable, "-m", "fleet.vendors", "--port", str(self.vendors_port)]
        vendors_argv += ["--scale", self.options.scale, "--seed", str(self.options.seed)]
        vendors_argv += ["--latency-ms", str(self.options.latency_ms)]
        vendors = self._child("vendors", vendors_argv)
        vendors.wait_until_answering(self.vendors_url + "/", timeout=120)
        self.redis.start()
        config = self.folder / "replica.toml"
        config.write_text(self._replica_config(), encoding="utf-8")
        for index in range(self.options.replicas):
            port = free_port()
            argv = [USAGEGRAPH, "serve", "--config", str(config), "--port", str(port)]
            self.replicas.append(self._child(f"replica-{index}", argv))
            self.replica_ports.append(port)
        for replica, url in zip(self.replicas, self.replica_urls, strict=True):
            replica.wait_until_answering(url + "/healthz")
        balancer_argv = [sys.executable, "-m", "fleet.balancer", "--port", str(self.balancer_port)]
        for url in self.replica_urls:
            balancer_argv += ["--replica", url]
        self._child("balancer", balancer_argv).wait_until_answering(self.balancer_url + STATS_PATH)
        supergraph = self.folder / "supergraph.graphql"
        compose_supergraph(self.balancer_url + "/graphql", supergraph)
        self.children.append(start_gateway(supergraph, self.gateway_port, self.folder))

    def stop(self) -> None:
        """Every process still running, the last started first; Redis in its turn."""
        for child in reversed(self.children):
            if child.name == "vendors":
                self.redis.stop()
            child.stop()
        self.children.clear()

    def _child(self, name: str, argv: list[str]) -> Child:
        child = Child(name, argv, self.folder, cwd=ROOT)
        self.children.append(child)
        return child

    def _replica_config(self) -> str:
        described = httpx.get(self.vendors_url + "/", timeout=30).json()
        directory = self.folder / "directory.toml"
        directory.write_text(
            httpx.get(self.vendors_url + "/directory.toml", timeout=30).text, encoding="utf-8"
        )
        return replica_config(described["sources"], directory, self.redis.url, self.options)

    # -- chaos ---------------------------------------------------------------------------------
    def kill_replica(self, index: int) -> None:
        """kill -9: the replica's requests in flight are cut."""
        self.replicas[index].kill()

    def restart_redis(self, down_for: float = 1.0) -> None:
        self.redis.restart(down_for)

    def slow_vendors(self, extra_ms: int) -> None:
        """Every vendor call takes `extra_ms` longer (the sandbox's latency fault); 0 clears."""
        faults = self.vendors_url + "/_control/faults"
        httpx.delete(faults, timeout=30).raise_for_status()
        if extra_ms:
            httpx.post(faults, json={"latency_ms": extra_ms}, timeout=30).raise_for_status()

    # -- measures ------------------------------------------------------------------------------
    def vendor_calls(self) -> list[VendorCall]:
        answer = httpx.get(self.vendors_url + CALLS_PATH, timeout=60).json()
        return [VendorCall(*call) for call in answer["calls"]]

    def forget_vendor_calls(self) -> None:
        httpx.delete(self.vendors_url + CALLS_PATH, timeout=30).raise_for_status()

    def balancer_stats(self) -> list[dict[str, Any]]:
        replicas: list[dict[str, Any]] = httpx.get(
            self.balancer_url + STATS_PATH, timeout=30
        ).json()["replicas"]
        return replicas

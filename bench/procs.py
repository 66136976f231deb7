"""Processes under test: the sandbox, `usagegraph serve`, and memory sampling.

Each process runs on a free loopback port with its output in a log file under the run's work
folder; `stop()` sends SIGINT (both usagegraph commands shut down cleanly on it) and kills only
what it started.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import psutil

__all__ = [
    "Process",
    "RssSampler",
    "Sandbox",
    "ServeOptions",
    "free_port",
    "start_serve",
    "toml_value",
    "usagegraph_command",
]

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def usagegraph_command() -> list[str]:
    """The `usagegraph` console script of the running interpreter's environment."""
    script = Path(sys.executable).with_name("usagegraph")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from usagegraph.cli import main; raise SystemExit(main())"]


class Process:
    """One child process with its stdout/stderr in files."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        workdir: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.stdout_path = workdir / f"{name}.stdout.log"
        self.stderr_path = workdir / f"{name}.stderr.log"
        self._stdout: IO[bytes] = self.stdout_path.open("wb")
        self._stderr: IO[bytes] = self.stderr_path.open("wb")
        merged = dict(os.environ)
        merged.update(env or {})
        self.popen = subprocess.Popen(
            self.argv,
            stdout=self._stdout,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            env=merged,
            cwd=cwd,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stderr_text(self) -> str:
        if not self._stderr.closed:
            self._stderr.flush()
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def rss(self) -> int:
        """Resident memory of the process and its children, in bytes (0 once it has exited)."""
        try:
            proc = psutil.Process(self.pid)
            total = proc.memory_info().rss
            for child in proc.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            return int(total)
        except psutil.NoSuchProcess:
            return 0

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process and its live children so far (a server's
        own work, whatever else runs on the machine; 0 once it has exited)."""
        try:
            proc = psutil.Process(self.pid)
            processes = [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0.0
        total = 0.0
        for p in processes:
            try:
                times = p.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGINT, then SIGKILL after `timeout`; returns the exit code."""
        if self.alive():
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        self._stdout.close()
        self._stderr.close()
        return self.popen.returncode


class RssSampler:
    """Samples a process's RSS in a background thread; `peak`, `samples` for the report."""

    def __init__(self, process: Process, interval: float = 0.1) -> None:
        self.process = process
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss", daemon=True)
        self._t0 = time.monotonic()

    def _run(self) -> None:
        while not self._stop.is_set():
            value = self.process.rss()
            if value:
                self.samples.append((time.monotonic() - self._t0, value))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def peak(self) -> int:
        return max((v for _t, v in self.samples), default=0)


def wait_http(url: str, process: Process, timeout: float = 60.0) -> None:
    """Poll `url` until it answers 200; fail early when the process died."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if not process.alive():
                raise RuntimeError(
                    f"{process.name} exited with {process.popen.returncode}:\n"
                    + process.stderr_text()[-3000:]
                )
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"{process.name} did not answer {url} within {timeout:.0f} s")


# -- sandbox --------------------------------------------------------------------------------------


@dataclass
class Sandbox:
    """`usagegraph sandbox` in its own process, plus its /_control API."""

    scale: str
    latency_ms: int
    seed: int
    workdir: Path
    port: int = 0
    process: Process | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> Sandbox:
        self.port = free_port()
        argv = [
            *usagegraph_command(),
            "sandbox",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--scale",
            self.scale,
            "--seed",
            str(self.seed),
            "--latency-ms",
            str(self.latency_ms),
        ]
        self.process = Process(f"sandbox-{self.scale}", argv, self.workdir)
        wait_http(self.url + "/", self.process, timeout=120)
        self.info = httpx.get(self.url + "/", timeout=30).json()
        directory = httpx.get(self.url + "/directory.toml", timeout=30).text
        (self.workdir / "directory.toml").write_text(directory, encoding="utf-8")
        return self

    @property
    def sources(self) -> list[dict[str, str]]:
        return list(self.info["sources"])

    @property
    def directory_path(self) -> Path:
        return self.workdir / "directory.toml"

    def requests(self) -> list[dict[str, Any]]:
        return list(httpx.get(self.url + "/_control/requests", timeout=60).json()["requests"])

    def reset(self) -> None:
        """Forget recorded requests (this also clears faults)."""
        httpx.delete(self.url + "/_control/requests", timeout=30).raise_for_status()

    def inject(self, **fault: Any) -> None:
        httpx.post(self.url + "/_control/faults", json=fault, timeout=30).raise_for_status()

    def clear_faults(self) -> None:
        httpx.delete(self.url + "/_control/faults", timeout=30).raise_for_status()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


# -- usagegraph serve -----------------------------------------------------------------------------


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Path):
        value = str(value)
    # JSON string escapes are valid TOML basic-string escapes
    return json.dumps(str(value))


@dataclass
class ServeOptions:
    """What goes into one `usagegraph serve` config besides the sandbox's sources.

    `sections` are required settings; `optional` ones are dropped (and reported) when this
    version of usagegraph does not know them, so the harness runs before and after features
    such as the response cache or the vendor protections land. A section name of "sources"
    applies the keys to every [[sources]] entry.
    """

    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    optional: dict[str, dict[str, Any]] = field(default_factory=dict)
    # only the sandbox's sources of these kinds (None: all), to measure on what a peer expresses
    kinds: frozenset[str] | None = None


def _config_text(
    sources: Sequence[Mapping[str, str]],
    directory: Path,
    sections: Mapping[str, Mapping[str, Any]],
) -> str:
    lines: list[str] = []
    for source in sources:
        lines.append("[[sources]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in source.items()]
        lines += [f"{k} = {toml_value(v)}" for k, v in sections.get("sources", {}).items()]
        lines.append("")
    merged = {k: dict(v) for k, v in sections.items() if k != "sources"}
    merged.setdefault("directory", {})["path"] = directory
    for name, values in merged.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
        lines.append("")
    return "\n".join(lines)


def _directory_for(directory: Path, source_names: set[str], name: str) -> Path:
    """The directory with only the links to `source_names` (a server refuses links to sources
    it does not have); entries left without a link are dropped."""
    data = tomllib.loads(directory.read_text(encoding="utf-8"))
    kept_resellers: set[str] = set()
    lines: list[str] = []
    for table in ("resellers", "organizations"):
        for entry in data.get(table, []):
            links = [x for x in entry.get("links", []) if x.split(":", 1)[0] in source_names]
            reseller = entry.get("reseller")
            if not links or (reseller is not None and reseller not in kept_resellers):
                continue
            if table == "resellers":
                kept_resellers.add(entry["id"])
            lines.append(f"[[{table}]]")
            lines += [f"{k} = {toml_value(v)}" for k, v in {**entry, "links": links}.items()]
            lines.append("")
    path = directory.with_name(f"{name}-directory.toml")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


_UNKNOWN = re.compile(r"unknown key '([^']+)'")


@dataclass
class Serve:
    process: Process
    port: int
    config_path: Path
    applied: dict[str, dict[str, Any]]
    dropped: list[str]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/graphql"

    def stop(self, timeout: float = 20.0) -> None:
        self.process.stop(timeout)


def start_serve(
    name: str,
    sandbox: Sandbox,
    options: ServeOptions,
    *,
    profile_to: Path | None = None,
) -> Serve:
    """Start `usagegraph serve`; optional settings it rejects as unknown are dropped in turn."""
    optional = {k: dict(v) for k, v in options.optional.items()}
    dropped: list[str] = []
    while True:
        sections: dict[str, dict[str, Any]] = {k: dict(v) for k, v in options.sections.items()}
        for section, values in optional.items():
            sections.setdefault(section, {}).update(values)
        config_path = sandbox.workdir / f"{name}.toml"
        sources = [
            src for src in sandbox.sources if options.kinds is None or src["kind"] in options.kinds
        ]
        directory = sandbox.directory_path
        if len(sources) < len(sandbox.sources):
            directory = _directory_for(directory, {src["name"] for src in sources}, name)
        config_path.write_text(_config_text(sources, directory, sections), encoding="utf-8")
        port = free_port()
        argv = [*usagegraph_command(), "serve", "--config", str(config_path), "--port", str(port)]
        if profile_to is not None:
            argv = [
                sys.executable,
                "-m",
                "pyinstrument",
                "--renderer",
                "pyisession",
                "--outfile",
                str(profile_to),
                *argv,
            ]
        process = Process(name, argv, sandbox.workdir)
        try:
            wait_http(f"http://{HOST}:{port}/healthz", process, timeout=60)
        except RuntimeError:
            process.stop()
            unknown = _UNKNOWN.findall(process.stderr_text())
            victim = _drop_optional(optional, set(unknown))
            if victim is None:
                raise
            dropped.append(victim)
            continue
        return Serve(process, port, config_path, sections, dropped)


def _drop_optional(optional: dict[str, dict[str, Any]], unknown: set[str]) -> str | None:
    """Remove the optional setting (or whole section) named in an 'unknown key' error."""
    for section in list(optional):
        if section in unknown:
            del optional[section]
            return f"[{section}]"
        for key in list(optional[section]):
            if key in unknown:
                del optional[section][key]
                if not optional[section]:
                    del optional[section]
                return f"{section}.{key}"
    return None

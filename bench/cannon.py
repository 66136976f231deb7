"""The Python side of `bench/peers/cannon.mjs`: autocannon (npm) as the throughput loads' client.

The spec handed to the node script on stdin, running it, and its JSON answer parsed. On this
2-core machine an httpx client spends 1.4-2.5 ms of CPU per request, more than the servers under
test, so its req/s measured itself; autocannon spends a few tens of microseconds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "CANNON_SCRIPT",
    "Answer",
    "CannonError",
    "CannonResult",
    "CannonSpec",
    "cannon_installed",
    "cannon_version",
    "parse_result",
    "run_cannon",
]

PEER_DIR = Path(__file__).resolve().parent / "peers"
CANNON_SCRIPT = PEER_DIR / "cannon.mjs"
AUTOCANNON = PEER_DIR / "node_modules" / "autocannon" / "package.json"

Capture = Literal["hashes", "bodies", "none"]


class CannonError(RuntimeError):
    """The node script failed, or printed something other than its JSON result."""


def cannon_installed() -> bool:
    """node on PATH and autocannon installed in bench/peers (`make bench` runs npm ci there)."""
    return shutil.which("node") is not None and AUTOCANNON.exists()


def cannon_version() -> str:
    """ "autocannon X.Y.Z", as installed (the node script reports the same)."""
    try:
        return f"autocannon {json.loads(AUTOCANNON.read_text(encoding='utf-8'))['version']}"
    except (OSError, ValueError, KeyError):
        return "autocannon"


@dataclass(frozen=True)
class CannonSpec:
    """One load: `connections` clients for `duration` seconds, each sending its next request as
    soon as its answer arrives. Either every request is `body`, or the `bodies` are handed out
    in order, each once (then they start over, counted as reused)."""

    url: str
    connections: int
    duration: float
    body: str | None = None
    bodies: Sequence[str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    capture: Capture = "hashes"
    timeout: float = 60.0
    max_samples: int = 1000

    def __post_init__(self) -> None:
        if (self.body is None) == (self.bodies is None):
            raise ValueError("a cannon spec needs exactly one of body or bodies")
        if self.bodies is not None and not self.bodies:
            raise ValueError("a cannon spec's bodies must not be empty")
        if self.connections < 1 or self.duration <= 0:
            raise ValueError("a cannon spec needs connections >= 1 and duration > 0")

    def to_json(self) -> str:
        spec: dict[str, Any] = {
            "url": self.url,
            "connections": self.connections,
            "duration": self.duration,
            "headers": dict(self.headers),
            "capture": self.capture,
            "timeout": self.timeout,
            "max_samples": self.max_samples,
        }
        if self.body is not None:
            spec["body"] = self.body
        else:
            spec["bodies"] = list(self.bodies or ())
        return json.dumps(spec)


@dataclass(frozen=True)
class Answer:
    """One captured answer: with capture "hashes", one per distinct (status, body) and how many
    requests got it; with "bodies", one per request and the index of the body it answered."""

    status: int
    body: str
    count: int = 1
    index: int | None = None

    def payload(self) -> dict[str, Any]:
        """The decoded GraphQL answer; a non-JSON or non-200 answer carries an error."""
        try:
            decoded = json.loads(self.body)
        except ValueError:
            decoded = None
        if not isinstance(decoded, dict):
            return {"errors": [{"message": f"HTTP {self.status}: not a JSON object"}]}
        if self.status != 200 and "errors" not in decoded:
            decoded["errors"] = [{"message": f"HTTP {self.status}"}]
        return decoded


@dataclass(frozen=True)
class CannonResult:
    generator: str
    requests: int  # answered
    seconds: float  # from the start to the last answer
    throughput: float
    p50: float  # seconds
    p95: float
    p99: float
    non2xx: int
    transport_errors: int  # connection errors and timeouts: requests without an answer
    reused: int  # requests that got a body already sent (bodies ran out)
    bodies_sent: int | None  # bodies handed out, with `bodies`
    answers: list[Answer]
    unsampled: int  # answers not kept: more distinct ones than max_samples
    cpu_seconds: float  # the generator's own CPU over the load


def _ms(value: Any) -> float:
    return float(value) / 1000 if isinstance(value, int | float) else float("nan")


def parse_result(text: str) -> CannonResult:
    """The node script's JSON line; latencies come in milliseconds and leave in seconds."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise CannonError(f"cannon printed no JSON: {text[:300]!r}") from exc
    if not isinstance(raw, dict) or "requests" not in raw:
        raise CannonError(f"cannon printed no result: {text[:300]!r}")
    latency = raw.get("latency_ms") or {}
    return CannonResult(
        generator=str(raw.get("generator", "autocannon")),
        requests=int(raw["requests"]),
        seconds=float(raw["seconds"]),
        throughput=float(raw["requests_per_second"]),
        p50=_ms(latency.get("p50")),
        p95=_ms(latency.get("p95")),
        p99=_ms(latency.get("p99")),
        non2xx=int(raw.get("non2xx", 0)),
        transport_errors=int(raw.get("errors", 0)),
        reused=int(raw.get("reused", 0)),
        bodies_sent=raw.get("handed_out"),
        answers=[
            Answer(int(a["status"]), str(a["body"]), int(a.get("count", 1)), a.get("index"))
            for a in raw.get("answers") or []
        ],
        unsampled=int(raw.get("unsampled", 0)),
        cpu_seconds=float(raw.get("cpu_seconds", 0.0)),
    )


def run_cannon(spec: CannonSpec, *, node: str = "node") -> CannonResult:
    """Run one load; raises CannonError when the script fails."""
    timeout = spec.duration + spec.timeout + 120  # the drain and node's start, with room
    try:
        done = subprocess.run(
            [node, str(CANNON_SCRIPT)],
            input=spec.to_json(),
            capture_output=True,
            text=True,
            cwd=PEER_DIR,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CannonError(f"cannon did not run: {exc}") from exc
    if done.returncode != 0:
        raise CannonError(f"cannon exited {done.returncode}: {done.stderr.strip()[:500]}")
    return parse_result(done.stdout)

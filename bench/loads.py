"""The 16-client throughput loads: one request repeated, or requests each sent once.

autocannon (bench/cannon.py) sends them when bench/peers/node_modules has it; otherwise the
Python clients of bench.load do, and every figure says so (`generator`): their own CPU per
request exceeds the servers' on this machine, so their req/s measure the client, not the server.

Either way every answer is kept for checking after the load: the cannon keeps each distinct
answer of a repeated request once with its count, and every answer of distinct requests with the
index of the request it answers. Upstream calls are the sandbox's over the whole load: the cannon
stops sending at the deadline and waits for the answers in flight, so every request counted was
answered and every upstream call belongs to one of them.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from bench.cannon import (
    CannonError,
    CannonResult,
    CannonSpec,
    cannon_installed,
    cannon_version,
    run_cannon,
)
from bench.load import Classified, classify, percentile, run_load
from bench.procs import Sandbox
from bench.scenarios import Request

__all__ = [
    "PYTHON_FALLBACK",
    "LoadRun",
    "distinct_load",
    "generator_name",
    "identical_load",
]

PYTHON_FALLBACK = "python httpx clients (fallback: autocannon not installed in bench/peers)"
ACCEPT = {"accept": "application/json"}

Kept = tuple[Request, dict[str, Any], int]  # a request, its answer, how many requests got it


@dataclass
class LoadRun:
    generator: str
    requests: int  # answered (an unanswered request is a transport error)
    seconds: float
    throughput: float
    p50: float
    p95: float
    p99: float
    errors: int  # answers with GraphQL errors or a non-200 status, and requests never answered
    harness_cpu: float  # the load generator's own CPU seconds over the load
    answers: list[Kept]
    reused: int  # requests that repeated a distinct request already sent (they ran out)
    unchecked: int  # answers not kept for checking (more distinct ones than the cannon keeps)
    calls: Classified
    bound_calls: int  # the sum of the answered requests' lower bounds

    @property
    def calls_per_request(self) -> float:
        return self.calls.data_total / self.requests if self.requests else math.nan


def generator_name(use_cannon: bool | None = None) -> str:
    """What sends the loads: autocannon when installed, else the labelled Python fallback."""
    if use_cannon is None:
        use_cannon = cannon_installed()
    return f"{cannon_version()} (bench/peers/cannon.mjs)" if use_cannon else PYTHON_FALLBACK


def _today(sandbox: Sandbox) -> date:
    return date.fromisoformat(sandbox.info["dataset"]["last_day"])


def _settled_calls(sandbox: Sandbox) -> list[dict[str, Any]]:
    """The sandbox's recorded calls, once no more arrive (a server may still be finishing)."""
    recorded = sandbox.requests()
    for _ in range(20):
        time.sleep(0.1)
        again = sandbox.requests()
        if len(again) == len(recorded):
            return again
        recorded = again
    return recorded


def _errors(answers: Sequence[Kept]) -> int:
    return sum(count for _, payload, count in answers if payload.get("errors"))


def _from_cannon(
    result: CannonResult, answers: list[Kept], recorded: list[dict[str, Any]], today: date
) -> LoadRun:
    answered = sum(count for _, _, count in answers) + result.unsampled
    return LoadRun(
        generator=result.generator,
        requests=result.requests,
        seconds=result.seconds,
        throughput=result.throughput,
        p50=result.p50,
        p95=result.p95,
        p99=result.p99,
        errors=_errors(answers) + result.transport_errors + (result.requests - answered),
        harness_cpu=result.cpu_seconds,
        answers=answers,
        reused=result.reused,
        unchecked=result.unsampled,
        calls=classify(recorded, today),
        bound_calls=sum(req.plan.total * count for req, _, count in answers),
    )


def _python_load(
    url: str,
    sandbox: Sandbox,
    make: Callable[[int, int], Request],
    connections: int,
    duration: float,
) -> LoadRun:
    kept: list[tuple[Request, dict[str, Any]]] = []
    cpu0 = time.process_time()
    load = asyncio.run(
        run_load(url, sandbox, make, concurrency=connections, duration=duration, keep=kept)
    )
    harness = time.process_time() - cpu0
    answers = [(req, payload, 1) for req, payload in kept]
    return LoadRun(
        generator=PYTHON_FALLBACK,
        requests=load.requests,
        seconds=load.seconds,
        throughput=load.throughput,
        p50=percentile(load.latencies, 50),
        p95=percentile(load.latencies, 95),
        p99=percentile(load.latencies, 99),
        errors=load.errors,
        harness_cpu=harness,
        answers=answers,
        reused=0,
        unchecked=0,
        calls=load.calls,
        bound_calls=load.bound_calls,
    )


def identical_load(
    url: str,
    sandbox: Sandbox,
    req: Request,
    *,
    connections: int,
    duration: float,
    use_cannon: bool | None = None,
) -> LoadRun:
    """`connections` clients sending `req` back to back for `duration` seconds."""
    if not (cannon_installed() if use_cannon is None else use_cannon):
        return _python_load(url, sandbox, lambda c, i: req, connections, duration)
    spec = CannonSpec(
        url, connections, duration, body=json.dumps(req.body()), headers=ACCEPT, capture="hashes"
    )
    sandbox.reset()
    result = run_cannon(spec)
    recorded = _settled_calls(sandbox)
    answers = [(req, a.payload(), a.count) for a in result.answers]
    return _from_cannon(result, answers, recorded, _today(sandbox))


class _Cycle:
    """`make(client, i)` for the Python clients: the requests in order, counting repeats once
    they run out (as the cannon does)."""

    def __init__(self, requests: Sequence[Request]) -> None:
        self._requests = requests
        self._next: Iterator[int] = iter(range(10**9))
        self.reused = 0

    def __call__(self, client: int, i: int) -> Request:
        n = next(self._next)
        if n >= len(self._requests):
            self.reused += 1
        return self._requests[n % len(self._requests)]


def distinct_load(
    url: str,
    sandbox: Sandbox,
    requests: Sequence[Request],
    *,
    connections: int,
    duration: float,
    use_cannon: bool | None = None,
) -> LoadRun:
    """`connections` clients for `duration` seconds, each request the next of `requests`."""
    if not (cannon_installed() if use_cannon is None else use_cannon):
        make = _Cycle(requests)
        run = _python_load(url, sandbox, make, connections, duration)
        run.reused = make.reused
        return run
    bodies = [json.dumps(req.body()) for req in requests]
    spec = CannonSpec(url, connections, duration, bodies=bodies, headers=ACCEPT, capture="bodies")
    sandbox.reset()
    result = run_cannon(spec)
    recorded = _settled_calls(sandbox)
    if any(a.index is None for a in result.answers):
        raise CannonError("cannon answered distinct bodies without their index")
    answers = [(requests[a.index or 0], a.payload(), a.count) for a in result.answers]
    return _from_cannon(result, answers, recorded, _today(sandbox))

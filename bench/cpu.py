"""`python -m bench.cpu`: server CPU per request over warm fetches, measured in-process.

    python -m bench.cpu --scale S                       # the dashboard, S
    python -m bench.cpu --scale L --scenario drilldown  # another scenario
    python -m bench.cpu --scale S --profile /tmp/cpu     # and a pyinstrument profile

The sandbox runs in its own process (no latency), so its work never counts. The app is built
here from the sandbox's sources with the result cache on and the whole-answer cache off
(`[cache] answers = false`, where this version has it): every upstream fetch is answered from
the result cache, yet each request is executed in full. Requests are handed straight to the ASGI
app (no socket, no client library), and `time.process_time()` is read around each: the figure
is the server's CPU for that request, from the middleware down to the encoded JSON. `--mode
execute` times `schema.execute` alone (no HTTP layer, no JSON).

Checks before timing: the answer has no errors, and (sandbox recorder) the measured requests
made no upstream call at all. Garbage-collector settings are `usagegraph serve`'s.

`--without plain|direct|ahead` (repeatable) builds the schema without one of the bypasses of
library internals (schema/compat.py lists them), to measure what each one earns: Strawberry's
own executor instead of schema/plain.py's, Strawberry's resolver wrappers instead of
schema/direct.py's plain readers, per-organization `usage` instead of schema/ahead.py's.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from bench.procs import Sandbox
from bench.scenarios import Request, Workload
from usagegraph.app import create_app
from usagegraph.gc_tuning import tune_for_serving
from usagegraph.sandbox.dataset import generate
from usagegraph.settings import ConfigError, Settings, settings_from_sources

__all__ = ["CpuFigures", "app_settings", "asgi_post", "main", "measure"]

SCENARIOS = ("dashboard", "drilldown", "mixed")
# the engine, not the limiters: no caller or vendor throttling, no deadline cutting L short
_OVERRIDES: dict[str, Any] = {
    "limits": {"requests_per_second": 0, "upstream_calls_per_minute": 0},
    "graph": {"discovery_ttl_seconds": 3600, "request_deadline_seconds": 3600.0},
    "server": {"log_level": "warning"},
}
_SOURCE_KEYS = {"rate_limit_per_second": 100000.0, "rate_limit_burst": 100000}


def app_settings(sandbox: Sandbox) -> Settings:
    """The measured app's settings: result cache on, whole-answer cache off where it exists."""
    sources = [{**s, **_SOURCE_KEYS} for s in sandbox.sources]
    cache = {"enabled": True, "backend": "memory", "answers": False}
    directory = {"path": str(sandbox.directory_path)}
    try:
        return settings_from_sources(sources, directory=directory, cache=cache, **_OVERRIDES)
    except ConfigError as error:
        if "answers" not in str(error):
            raise
    # before the whole-answer cache landed: nothing to switch off
    del cache["answers"]
    return settings_from_sources(sources, directory=directory, cache=cache, **_OVERRIDES)


async def asgi_post(app: FastAPI, body: bytes) -> tuple[int, bytes]:
    """POST /graphql straight into the ASGI app; its status and body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"usagegraph"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # no disconnect while the request runs
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    status = 0
    chunks: list[bytes] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


@dataclass
class CpuFigures:
    scale: str
    scenario: str
    mode: str
    iterations: int
    best_ms: float
    median_ms: float
    p90_ms: float
    answer_bytes: int

    def line(self) -> str:
        return (
            f"{self.scale} {self.scenario} ({self.mode}): best {self.best_ms:.2f} ms, "
            f"median {self.median_ms:.2f} ms, p90 {self.p90_ms:.2f} ms CPU per request "
            f"over {self.iterations} ({self.answer_bytes} bytes)"
        )


Runner = Callable[[], Awaitable[bytes]]


def _runner(app: FastAPI, request: Request, mode: str) -> Runner:
    if mode == "http":
        body = json.dumps(request.body()).encode()

        async def http() -> bytes:
            status, answer = await asgi_post(app, body)
            if status != 200:
                raise RuntimeError(f"HTTP {status}: {answer[:500]!r}")
            return answer

        return http

    from usagegraph.resolvers.context import GraphContext

    graphql_schema = _schema_of(app)

    async def execute() -> bytes:
        context = GraphContext(app.state.graph)
        result = await graphql_schema.execute(
            request.query, variable_values=request.variables, context_value=context
        )
        if result.errors:
            raise RuntimeError(f"errors: {result.errors[:3]}")
        return json.dumps(result.data).encode()

    return execute


def _schema_of(app: FastAPI) -> Any:
    """The schema of the app's GraphQL router (FastAPI keeps the included router)."""
    for route in app.router.routes:
        router = getattr(route, "original_router", None)
        if router is not None and hasattr(router, "schema"):
            return router.schema
    raise RuntimeError("no GraphQL router found on the app")


async def measure(
    app: FastAPI,
    request: Request,
    *,
    mode: str = "http",
    iterations: int = 200,
    warmup: int = 5,
    on_sample: Callable[[float], None] | None = None,
) -> tuple[list[float], bytes]:
    """CPU seconds of each of `iterations` requests after `warmup` ones; and the last answer."""
    run = _runner(app, request, mode)
    answer = b""
    for _ in range(warmup):
        answer = await run()
    _check(answer)
    samples: list[float] = []
    for _ in range(iterations):
        start = time.process_time()
        answer = await run()
        spent = time.process_time() - start
        samples.append(spent)
        if on_sample is not None:
            on_sample(spent)
    _check(answer)
    return samples, answer


def _check(answer: bytes) -> None:
    decoded = json.loads(answer)
    if "data" in decoded and decoded.get("errors"):
        raise RuntimeError(f"the answer has errors: {decoded['errors'][:3]}")


def figures(
    scale: str, scenario: str, mode: str, samples: list[float], answer: bytes
) -> CpuFigures:
    ordered = sorted(samples)
    return CpuFigures(
        scale=scale,
        scenario=scenario,
        mode=mode,
        iterations=len(samples),
        best_ms=ordered[0] * 1000,
        median_ms=statistics.median(ordered) * 1000,
        p90_ms=ordered[int(0.9 * (len(ordered) - 1))] * 1000,
        answer_bytes=len(answer),
    )


@contextmanager
def _sandbox(scale: str, seed: int) -> Iterator[Sandbox]:
    with tempfile.TemporaryDirectory(prefix="bench-cpu-") as workdir:
        sandbox = Sandbox(scale=scale, latency_ms=0, seed=seed, workdir=Path(workdir)).start()
        try:
            yield sandbox
        finally:
            sandbox.stop()


def _without(bypasses: list[str]) -> None:
    """Build schemas without the named bypasses (for this process only)."""
    import usagegraph.schema as schema_module

    # setattr: the bypasses are names usagegraph.schema imports, not ones it exports
    if "direct" in bypasses:
        setattr(schema_module, "call_plain_resolvers_directly", lambda *_args: [])  # noqa: B010
    if "ahead" in bypasses:
        setattr(schema_module, "resolve_usage_ahead", lambda *_args: [])  # noqa: B010
    if "plain" in bypasses:
        from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

        setattr(schema_module, "PlainExecutor", StrawberryGraphQLCoreExecutionContext)  # noqa: B010


async def _run(args: argparse.Namespace, sandbox: Sandbox) -> tuple[list[CpuFigures], Any]:
    workload = Workload(generate(seed=args.seed, scale=args.scale))
    _without(args.without)
    app = create_app(app_settings(sandbox))
    results: list[CpuFigures] = []
    session = None
    async with app.router.lifespan_context(app):
        tune_for_serving()
        for scenario in args.scenario:
            request = workload.scenario(scenario)
            for mode in args.mode:
                # warm: every fetch in the result cache, then no upstream call while timing
                await _runner(app, request, mode)()
                sandbox.reset()
                samples, answer = await measure(
                    app, request, mode=mode, iterations=args.iterations, warmup=args.warmup
                )
                calls = len(sandbox.requests())
                if calls:
                    raise RuntimeError(f"{scenario}: {calls} upstream calls while measuring")
                label = mode + "".join(f", without {b}" for b in args.without)
                result = figures(args.scale, scenario, label, samples, answer)
                print(result.line(), flush=True)
                results.append(result)
        if args.profile is not None:
            session = await _profile(app, workload.scenario(args.scenario[0]), args)
    return results, session


async def _profile(app: FastAPI, request: Request, args: argparse.Namespace) -> Any:
    """A pyinstrument session of `--iterations` more requests."""
    from pyinstrument import Profiler

    run = _runner(app, request, args.mode[0])
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    for _ in range(args.iterations):
        await run()
    return profiler.stop()


def _write_profile(session: Any, out: Path, iterations: int) -> None:
    """profile.html and profile.txt in `out`, and the hot spots (bench/profiling.py) printed."""
    from bench.profiling import analyse_profile

    out.mkdir(parents=True, exist_ok=True)
    session_path = out / "profile.pyisession"
    session.save(str(session_path))
    spots = analyse_profile(session_path, out, top=25)
    print(f"profile of {iterations} requests in {out}; self time by area:")
    for area, seconds in spots["by_area"]:
        print(f"  {seconds:8.3f} s  {area}")
    print("hottest functions (self time):")
    for name, seconds in spots["self_time"]:
        print(f"  {seconds:8.3f} s  {name}")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cpu", description=__doc__.strip().split("\n")[0]
    )
    parser.add_argument("--scale", default="S", type=str.upper, choices=("S", "M", "L"))
    parser.add_argument(
        "--scenario", action="append", choices=SCENARIOS, help="repeatable (default: dashboard)"
    )
    parser.add_argument(
        "--mode", action="append", choices=("http", "execute"), help="repeatable (default: http)"
    )
    parser.add_argument("--iterations", type=int, default=None, help="default 300 at S, 30 at L")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--profile", type=Path, help="a folder for a pyinstrument profile")
    parser.add_argument(
        "--without",
        action="append",
        default=[],
        choices=("plain", "direct", "ahead"),
        help="build the schema without this bypass of library internals (repeatable)",
    )
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    args = parser.parse_args(argv)
    args.scenario = args.scenario or ["dashboard"]
    args.mode = args.mode or ["http"]
    if args.iterations is None:
        args.iterations = {"S": 300, "M": 60, "L": 30}[args.scale]
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    with _sandbox(args.scale, args.seed) as sandbox:
        coroutine = _run(args, sandbox)
        if args.loop == "uvloop":
            try:
                import uvloop
            except ImportError:
                print("uvloop is not installed: measuring on asyncio's loop", file=sys.stderr)
                results, session = asyncio.run(coroutine)
            else:
                results, session = uvloop.run(coroutine)
        else:
            results, session = asyncio.run(coroutine)
    if session is not None:
        _write_profile(session, args.profile, args.iterations)
    if args.json is not None:
        args.json.write_text(json.dumps([r.__dict__ for r in results], indent=2), encoding="utf-8")
    gc.collect()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

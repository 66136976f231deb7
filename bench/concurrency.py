"""Issue 15's shapes: many clients at once, ours against the peers with their deduplication on.

(a) identical dashboards: 16 clients send the same dashboard back to back for a few seconds,
    after a sequential run of it; for usagegraph with its defaults (answer cache on), with
    `[cache] enabled = false` (in-flight coalescing only), from two worker processes, and for
    Tailcall (`dedupe: true`) and Hive Gateway (`inboundInflightRequestDeduplication`).
(b) distinct variables: 16 clients, every request a date range sent nowhere before (1 to 27
    days, never a whole month), so neither a fetch cache nor an answer cache can answer it.
    Every answer of every load is checked against the dataset afterwards: Tailcall's batching
    serves concurrent requests of different ranges from one upstream call with the first
    range's dates (see bench/peers.py), so it also runs with `dedupe: false`, to show the
    deduplication is not the cause.

Every system answers the same dashboard over Telzino and Teli only (Tailcall cannot express
Talkdesk's filter, see bench/peers.py); usagegraph runs with only those sources configured.
Upstream calls per request are the sandbox's data calls over the whole load, divided by the
requests answered; the peers' per-request listing calls (their entity lists) are counted apart.

The 16 clients are autocannon's connections (bench.loads), whose own CPU per request is a small
fraction of any server's; without bench/peers/node_modules, bench.load's Python clients stand in
and every figure is labelled with the generator that sent it. Answers are checked from what the
generator kept: each distinct answer of the identical load once (weighted by how many requests
got it), every answer of the distinct load against its own request's range.

The checks (every mode, `make bench-quick` included) prove the mechanisms rather than time
them: 16 identical dashboards released at one instant on a server with the cache off cost one
request's upstream calls (coalescing); a repeated dashboard on the defaults is answered from
the answer cache (`X-Answer-Cache: hit`, counted in /metrics, no upstream call) with the same
answer as its execution; and, at S, an answer cache bounded to 32 KiB sent more than that holds
no more than that.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import httpx

from bench.answers import wrong_answers
from bench.bounds import Range
from bench.load import Sample, burst, percentile, sequential
from bench.loads import LoadRun, distinct_load, generator_name, identical_load
from bench.options import OURS, TAILCALL_KINDS, with_cache, with_workers
from bench.procs import Process, RssSampler, Sandbox, Serve, ServeOptions, start_serve
from bench.scenarios import Request, Workload, cold_ranges, distinct_ranges
from bench.scrape import answer_outcomes, scrape_workers, value
from usagegraph.sandbox.dataset import months_between

if TYPE_CHECKING:
    from bench.peers import PeerSetup

__all__ = [
    "CLIENTS",
    "DEFAULTS",
    "DISTINCT",
    "IDENTICAL",
    "SCALE",
    "answer_cache_usage",
    "check_answer_bound",
    "check_answer_cache",
    "check_coalescing",
    "run_distinct",
    "run_identical",
]

CLIENTS = 16
SCALE = "S"  # the shape: the S dashboard
ANSWER_HEADER = "x-answer-cache"
Log = Callable[[str], None]


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    system: str  # "ours", "mesh" or "tailcall"
    options: ServeOptions | None = None
    workers: int = 1
    dedupe: bool = True  # the peers' deduplication of identical operations in flight


OURS_TWO_SOURCES = ServeOptions(OURS.sections, OURS.optional, kinds=TAILCALL_KINDS)
DEFAULTS = Variant("ours", "usagegraph, defaults", "ours", with_cache(OURS_TWO_SOURCES))
CACHE_OFF = Variant(
    "ours-cache-off", "usagegraph, `[cache] enabled = false`", "ours", OURS_TWO_SOURCES
)
WORKERS = Variant(
    "ours-workers-2",
    "usagegraph, defaults, `--workers 2`",
    "ours",
    with_workers(with_cache(OURS_TWO_SOURCES), 2),
    workers=2,
)
TAILCALL = Variant("tailcall", "Tailcall 1.0.0, `dedupe: true`", "tailcall")
# without its deduplication: its answers are still wrong under concurrency (batching), see peers
TAILCALL_PLAIN = Variant(
    "tailcall-plain", "Tailcall 1.0.0, `dedupe: false`", "tailcall", dedupe=False
)
HIVE = Variant("hive-dedupe", "Hive Gateway 2.15, in-flight dedupe", "mesh")
IDENTICAL = (DEFAULTS, CACHE_OFF, WORKERS, TAILCALL, HIVE)
DISTINCT = (DEFAULTS, WORKERS, TAILCALL, TAILCALL_PLAIN, HIVE)


@dataclass
class Running:
    url: str
    process: Process
    workers: int
    serve: Serve | None  # usagegraph only: /metrics, settings dropped


@contextmanager
def _running(variant: Variant, sandbox: Sandbox, setup: PeerSetup | None) -> Iterator[Running]:
    if variant.system == "ours":
        assert variant.options is not None
        serve = start_serve(f"usagegraph-{variant.key}", sandbox, variant.options)
        try:
            workers = variant.workers if "server.workers" not in serve.dropped else 1
            scrape_workers(_base(serve.url), workers)  # every worker serving before the load
            yield Running(serve.url, serve.process, workers, serve)
        finally:
            serve.stop()
        return
    assert setup is not None
    peer = setup.start(variant.system, cached=False, dedupe=variant.dedupe)
    try:
        yield Running(peer.url, peer.process, 1, None)
    finally:
        peer.stop()


def _base(url: str) -> str:
    return url.removesuffix("/graphql")


def _request_for(
    variant: Variant, wl: Workload, setup: PeerSetup | None
) -> Callable[[Range], Request]:
    """The variant's dashboard for a range, Telzino and Teli only. The plan's count does not
    depend on the range (one Telzino report, one Teli report per tenant), so one is computed."""
    first = wl.last_month
    if variant.system == "ours":
        template = wl.dashboard(first, talkdesk=False)

        def ours(rng: Range) -> Request:
            return replace(template, variables=wl.dashboard(rng, talkdesk=False).variables)

        return ours
    assert setup is not None
    template = setup.dashboard(first, variant.system, talkdesk=False)

    def peer(rng: Range) -> Request:
        variables = {**template.variables, "start": rng[0].isoformat(), "end": rng[1].isoformat()}
        if "month" in variables:
            variables["month"] = months_between(*rng)[0]
        return replace(template, variables=variables)

    return peer


def _warm_up(run: Running, sandbox: Sandbox, req: Request) -> Sample:
    """`req` on a new connection, a few times with several workers (each connection may reach
    any of them): discovery, the gateways' own warm-up, each worker's first answer."""
    tries = 1 if run.workers == 1 else 4 * run.workers
    samples = [asyncio.run(sequential(run.url, sandbox, [req]))[0] for _ in range(tries)]
    return samples[0]


class ServerCpu:
    """CPU seconds the server's process tree spends during a load (user + system: its own work,
    whatever else runs on the shared machine)."""

    def __init__(self, server: Process) -> None:
        self._server = server
        self._start = server.cpu_seconds()
        self.seconds = 0.0

    def stop(self) -> None:
        self.seconds = self._server.cpu_seconds() - self._start


def _load_figures(run: LoadRun, cpu: ServerCpu) -> dict[str, Any]:
    """Throughput, latency, calls per request, and CPU per request: the server's own and the
    load generator's."""
    requests = run.requests or math.nan
    return {
        "generator": run.generator,
        "cpu_per_request": cpu.seconds / requests,
        "harness_cpu_per_request": run.harness_cpu / requests,
        "requests": run.requests,
        "seconds": run.seconds,
        "throughput": run.throughput,
        "p50": run.p50,
        "p95": run.p95,
        "p99": run.p99,
        "errors": run.errors,
        "calls_per_request": run.calls_per_request,
        "listing_per_request": run.calls.discovery_total / requests,
        "bound_per_request": run.bound_calls / requests,
    }


def _peer_problems(variant: Variant, first: Sample, wl: Workload) -> list[str]:
    if variant.system == "ours":
        return []
    from bench.answers import check_peer_dashboard

    problems = check_peer_dashboard(first.payload, wl.ds, wl.last_month)
    return [*problems, *(f"error: {e}" for e in first.errors)]


def _identical(
    variant: Variant,
    sandbox: Sandbox,
    wl: Workload,
    setup: PeerSetup | None,
    samples: int,
    duration: float,
) -> dict[str, Any]:
    with _running(variant, sandbox, setup) as run, RssSampler(run.process) as rss:
        req = _request_for(variant, wl, setup)(wl.last_month)
        first = _warm_up(run, sandbox, req)
        seq = asyncio.run(sequential(run.url, sandbox, [req] * samples))
        cpu = ServerCpu(run.process)
        load = identical_load(run.url, sandbox, req, connections=CLIENTS, duration=duration)
        cpu.stop()
        answers = answer_cache_usage(run.serve, run.workers) if run.serve else {}
        entry = {
            "label": variant.label,
            "workers": run.workers,
            "settings_dropped": run.serve.dropped if run.serve else [],
            "first_seconds": first.seconds,
            "sequential_p50": percentile([s.seconds for s in seq], 50),
            "sequential_calls": max(s.calls.data_total for s in seq),
            "bound": req.plan.total,
            "sequential_errors": sum(len(s.errors) for s in [first, *seq]),
            "wrong_or_missing": _peer_problems(variant, first, wl)[:5],
            **_load_figures(load, cpu),
            "answer_cache": answers,
        }
    return {**entry, **_checked(load, variant, wl), "peak_rss": rss.peak}


def _distinct(
    variant: Variant, sandbox: Sandbox, wl: Workload, setup: PeerSetup | None, duration: float
) -> dict[str, Any]:
    build = _request_for(variant, wl, setup)
    requests = [build(rng) for rng in distinct_ranges(wl.ds.start, wl.today)]
    with _running(variant, sandbox, setup) as run:
        _warm_up(run, sandbox, build(wl.last_month))
        cpu = ServerCpu(run.process)
        load = distinct_load(run.url, sandbox, requests, connections=CLIENTS, duration=duration)
        cpu.stop()
    return {
        "label": variant.label,
        "workers": run.workers,
        **_load_figures(load, cpu),
        **_checked(load, variant, wl),
        "ranges_reused": load.reused,
    }


def _checked(load: LoadRun, variant: Variant, wl: Workload) -> dict[str, Any]:
    """Every answer of the load checked against the dataset, after the load (not timed): the
    answers the load generator kept, each distinct answer of a repeated request once."""
    system = "ours" if variant.system == "ours" else "peer"
    wrong, examples = wrong_answers(load.answers, system, wl)
    return {"wrong_answers": wrong, "wrong_examples": examples, "unchecked": load.unchecked}


def run_identical(
    sandbox: Sandbox,
    wl: Workload,
    setup: PeerSetup | None,
    *,
    samples: int,
    duration: float,
    log: Log,
    variants: Sequence[Variant] = IDENTICAL,
) -> dict[str, Any]:
    """(a): per variant, the sequential p50 of the dashboard (after a warm-up request), then
    16 clients sending it for `duration` seconds. Peers only with a `setup`."""
    out: dict[str, Any] = {"clients": CLIENTS, "duration": duration, "generator": generator_name()}
    for variant in variants:
        if variant.system != "ours" and setup is None:
            continue
        try:
            entry = _identical(variant, sandbox, wl, setup, samples, duration)
        except Exception as exc:  # a variant that cannot run is a finding, not a crash
            out[variant.key] = {"label": variant.label, "failed": _failure(exc)}
            log(f"identical {variant.key}: failed: {str(exc)[:300]}")
            continue
        out[variant.key] = entry
        log(
            f"identical x{CLIENTS} {variant.key}: sequential p50 "
            f"{entry['sequential_p50'] * 1000:.1f} ms; {entry['throughput']:.0f} req/s, p50 "
            f"{entry['p50'] * 1000:.0f} ms, CPU {entry['cpu_per_request'] * 1000:.2f} ms/req, "
            f"data calls/req {entry['calls_per_request']:.3f} "
            f"(+{entry['listing_per_request']:.3f} listing), errors {entry['errors']}, wrong "
            f"{entry['wrong_answers']}"
        )
    return out


def run_distinct(
    sandbox: Sandbox,
    wl: Workload,
    setup: PeerSetup | None,
    *,
    duration: float,
    log: Log,
    variants: Sequence[Variant] = DISTINCT,
) -> dict[str, Any]:
    """(b): per variant, 16 clients for `duration` seconds, every request a range no request
    before it used (the same sequence for every variant)."""
    out: dict[str, Any] = {"clients": CLIENTS, "duration": duration, "generator": generator_name()}
    for variant in variants:
        if variant.system != "ours" and setup is None:
            continue
        try:
            entry = _distinct(variant, sandbox, wl, setup, duration)
        except Exception as exc:
            out[variant.key] = {"label": variant.label, "failed": _failure(exc)}
            log(f"distinct {variant.key}: failed: {str(exc)[:300]}")
            continue
        out[variant.key] = entry
        log(
            f"distinct x{CLIENTS} {variant.key}: {entry['throughput']:.0f} req/s, p50 "
            f"{entry['p50'] * 1000:.0f} ms, CPU {entry['cpu_per_request'] * 1000:.2f} ms/req, "
            f"data calls/req {entry['calls_per_request']:.2f} "
            f"(bound {entry['bound_per_request']:.2f}), errors {entry['errors']}, wrong "
            f"{entry['wrong_answers']}"
        )
    return out


def _failure(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


# -- the checks ------------------------------------------------------------------------------------


def check_coalescing(serve: Serve, sandbox: Sandbox, req: Request) -> dict[str, Any]:
    """16 identical requests released at one instant on `serve` (its cache off): with in-flight
    coalescing they cost the upstream data calls of one."""
    result = asyncio.run(burst(serve.url, sandbox, req, clients=CLIENTS))
    return {
        "clients": CLIENTS,
        "data_calls": result.calls.data_total,
        "by_endpoint": dict(result.calls.data),
        "one_request_bound": req.plan.total,
        "errors": result.errors,
        "p50": percentile(result.latencies, 50),
        "ok": result.calls.data_total == req.plan.total and not result.errors,
    }


def check_answer_cache(serve: Serve, sandbox: Sandbox, req: Request) -> dict[str, Any]:
    """`req` (not sent to `serve` before) twice: the second must be an answer-cache hit, counted
    in /metrics, with no upstream call and the same answer as the first, executed one."""
    base = _base(serve.url)
    before = answer_outcomes(scrape_workers(base))
    with httpx.Client(timeout=600) as client:
        first = client.post(serve.url, json=req.body())
        sandbox.reset()
        second = client.post(serve.url, json=req.body())
        second_calls = len(sandbox.requests())
    after = answer_outcomes(scrape_workers(base))
    first_json, second_json = _json(first), _json(second)
    hits = after.get("hit", 0.0) - before.get("hit", 0.0)
    out = {
        "first_header": first.headers.get(ANSWER_HEADER),
        "second_header": second.headers.get(ANSWER_HEADER),
        "hits_counted": hits,
        "second_upstream_calls": second_calls,
        "identical": first_json == second_json,
        "same_bytes": first.content == second.content,
        "errors": (first_json.get("errors") or []) + (second_json.get("errors") or []),
    }
    out["ok"] = (
        out["second_header"] == "hit"
        and hits == 1
        and second_calls == 0
        and out["identical"]
        and not out["errors"]
    )
    return out


BOUND_BYTES = 32 * 1024  # ten S dashboards' answers (each ~3 KB)
BOUND_REQUESTS = 24


def check_answer_bound(sandbox: Sandbox, wl: Workload) -> dict[str, Any]:
    """A server whose answer cache may hold BOUND_BYTES, sent BOUND_REQUESTS dashboards of
    distinct ranges (more bytes than that): what /metrics reports must stay within the bound,
    the oldest answers evicted."""
    options = with_cache(OURS)
    cache = {**options.optional["cache"], "answer_max_bytes": BOUND_BYTES}
    options = ServeOptions(options.sections, {**options.optional, "cache": cache})
    serve = start_serve("usagegraph-answer-bound", sandbox, options)
    try:
        if "cache.answer_max_bytes" in serve.dropped:
            return {"ok": False, "unsupported": True, "bound": BOUND_BYTES}
        ranges = cold_ranges(wl.ds.start, wl.today)
        sizes: list[int] = []
        with httpx.Client(timeout=600) as client:
            for _ in range(BOUND_REQUESTS):
                response = client.post(serve.url, json=wl.dashboard(next(ranges)).body())
                sizes.append(len(response.content))
        samples = scrape_workers(_base(serve.url))
    finally:
        serve.stop()
    held = value(samples, "usagegraph_answer_cache_bytes")
    entries = value(samples, "usagegraph_answer_cache_entries")
    return {
        "bound": BOUND_BYTES,
        "sent": BOUND_REQUESTS,
        "sent_bytes": sum(sizes),
        "bytes": held,
        "entries": entries,
        "ok": 0 < held <= BOUND_BYTES < sum(sizes) and entries < BOUND_REQUESTS,
    }


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"errors": [f"HTTP {response.status_code}: not JSON"]}
    return body if isinstance(body, dict) else {"errors": ["not a JSON object"]}


def answer_cache_usage(serve: Serve, workers: int = 1) -> dict[str, Any]:
    """The answer cache's memory and outcomes from /metrics (every worker's added up), and the
    bound it is kept under."""
    samples = scrape_workers(_base(serve.url), workers)
    configured = serve.applied.get("cache", {}).get("answer_max_bytes")
    return {
        "bytes": value(samples, "usagegraph_answer_cache_bytes"),
        "entries": value(samples, "usagegraph_answer_cache_entries"),
        "outcomes": answer_outcomes(samples),
        "bound_per_process": configured if configured is not None else _default_bound(),
        "processes": workers,
    }


def _default_bound() -> float:
    """`[cache] answer_max_bytes`'s default in this checkout (NaN before it existed)."""
    from usagegraph.settings import CacheSettings

    field = CacheSettings.model_fields.get("answer_max_bytes")
    default = field.default if field is not None else None
    return float(default) if isinstance(default, int | float) else math.nan

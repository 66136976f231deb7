"""`python -m bench`: run the scenarios at each scale, the baselines, the peers and the soak.

    python -m bench                      # S, M, L; peers when installed; soak; profile of L
    python -m bench --quick              # scale S only, ours and the naive baseline (CI)
    python -m bench --soak-only          # the 60 s fault soak alone
    python -m bench --concurrency-only   # 16 clients, identical and distinct dashboards at S
    python -m bench --paged-only --scales L  # the paged table (and the dashboard it compares with)

Exit status 1 when the harness breaks, when usagegraph makes more upstream data calls than the
lower bound in any scenario, when one of its answers has errors (or, paged table, differs from
the dataset's truth), when 16 identical concurrent
dashboards with the cache off cost more than one request's calls (coalescing), when a repeated
dashboard is not answered from the answer cache, or (soak) when a check fails. Timings are
recorded, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import math
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from bench import paged, report, side
from bench.bounds import Plan
from bench.concurrency import (
    CLIENTS,
    DEFAULTS,
    DISTINCT,
    IDENTICAL,
    answer_cache_usage,
    check_answer_bound,
    check_answer_cache,
    check_coalescing,
    run_distinct,
    run_identical,
)
from bench.concurrency import SCALE as CONCURRENCY_SCALE
from bench.figures import calls_figures, first_errors, latency_figures
from bench.load import Classified, LoadResult, percentile, run_load, sequential
from bench.loads import generator_name
from bench.options import CACHE, NAIVE, OURS, TAILCALL_KINDS, with_cache
from bench.procs import RssSampler, Sandbox, Serve, ServeOptions, start_serve
from bench.scenarios import Request, Workload
from usagegraph.sandbox.dataset import Dataset, generate

if TYPE_CHECKING:
    from bench.peers import PeerSetup

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("dashboard", "drilldown", "mixed")
PEERS_MISSING = "bench/peers/node_modules missing (make bench runs npm ci)"
CONCURRENCY = (1, 8, 32)


@dataclass
class Settings:
    scales: list[str]
    latency_ms: int
    seed: int
    quick: bool
    peers: bool
    soak: bool
    soak_only: bool
    soak_seconds: float
    soak_scale: str
    profile: bool
    out: Path
    write_docs: bool
    concurrency: bool
    concurrency_only: bool
    paged_only: bool
    failures: list[str] = field(default_factory=list)

    def samples(self, scale: str) -> int:
        return 5 if self.quick else {"S": 12, "M": 20, "L": 8}[scale]

    def duration(self, scale: str) -> float:
        return 1.0 if self.quick else {"S": 4.0, "M": 4.0, "L": 3.0}[scale]


def _parse(argv: list[str] | None) -> Settings:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--scales", default="S,M,L")
    parser.add_argument("--latency-ms", type=int, default=25)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="scale S, ours and naive only")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--no-soak", action="store_true")
    parser.add_argument("--soak-only", action="store_true")
    parser.add_argument("--soak-seconds", type=float, default=60.0)
    parser.add_argument("--soak-scale", default="M")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument(
        "--no-concurrency",
        action="store_true",
        help="skip the 16-client identical and distinct dashboards at S (bench.concurrency; "
        "--quick runs them for usagegraph's defaults only, 1 s each)",
    )
    parser.add_argument(
        "--concurrency-only",
        action="store_true",
        help="only the 16-client identical and distinct dashboards at S, peers included",
    )
    parser.add_argument(
        "--paged-only",
        action="store_true",
        help="only the paged table (bench.paged) and the cold dashboard it compares with, at "
        "--scales",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="results folder (default bench/results; --quick: bench/results/quick; "
        "--concurrency-only: bench/results/concurrency)",
    )
    parser.add_argument("--write-docs", action="store_true", help="rewrite docs/performance.md")
    a = parser.parse_args(argv)
    scales = ["S"] if a.quick else [s.strip().upper() for s in a.scales.split(",") if s.strip()]
    return Settings(
        scales=scales,
        latency_ms=a.latency_ms,
        seed=a.seed,
        quick=a.quick,
        peers=not (a.no_peers or a.quick),
        soak=not (a.no_soak or a.quick),
        soak_only=a.soak_only,
        soak_seconds=a.soak_seconds,
        soak_scale=a.soak_scale,
        profile=not (a.no_profile or a.quick),
        out=a.out or (ROOT / "bench" / "results" / _results_folder(a)),
        write_docs=a.write_docs,
        concurrency=not a.no_concurrency,
        concurrency_only=a.concurrency_only,
        paged_only=a.paged_only,
    )


def _results_folder(a: argparse.Namespace) -> str:
    """A partial run writes next to, never over, the full run's results."""
    if a.quick:
        return "quick"
    return "concurrency" if a.concurrency_only else "paged" if a.paged_only else ""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- figures --------------------------------------------------------------------------------------


def _load_figures(result: LoadResult) -> dict[str, Any]:
    return {
        "concurrency": result.concurrency,
        "requests": result.requests,
        "seconds": result.seconds,
        "throughput": result.throughput,
        "p50": percentile(result.latencies, 50),
        "p95": percentile(result.latencies, 95),
        "errors": result.errors,
        "calls_per_request": result.calls_per_request,
        "bound_per_request": result.bound_calls / result.requests if result.requests else math.nan,
        "ratio": result.ratio,
    }


# -- one scale ------------------------------------------------------------------------------------


def _warm_up(serve_url: str, sandbox: Sandbox, wl: Workload, drill_count: int) -> dict[str, Any]:
    """The first request after start (discovery + tokens), then every request shape once, so
    the measured requests find discovery (and Teli's per-org user lists) cached."""
    first = asyncio.run(sequential(serve_url, sandbox, [wl.dashboard()]))[0]
    extra = [wl.drilldown(org) for org in wl.drill_orgs[:drill_count]] + [wl.mixed()]
    extra += [wl.distinct("mixed", c) for c in range(1, 4)]
    rest = asyncio.run(sequential(serve_url, sandbox, extra))
    discovery = Classified()
    for s in [first, *rest]:
        discovery.discovery.update(s.calls.discovery)
        discovery.auth += s.calls.auth
    return {
        "first_request_seconds": first.seconds,
        "first_request_discovery_calls": first.calls.discovery_total,
        "first_request_auth_calls": first.calls.auth,
        "discovery_by_endpoint": dict(discovery.discovery),
        "discovery_total": discovery.discovery_total,
        "auth_total": discovery.auth,
        "errors": first_errors([first, *rest]),
    }


def _measure_ours(
    cfg: Settings, scale: str, serve: Serve, sandbox: Sandbox, wl: Workload, label: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in SCENARIOS:
        req = wl.scenario(name)
        samples = asyncio.run(sequential(serve.url, sandbox, [req] * cfg.samples(scale)))
        entry = {
            **calls_figures(samples, req.plan),
            **latency_figures(samples, req.plan.stages(), cfg.latency_ms),
            "errors": first_errors(samples),
        }
        out[name] = entry
        log(
            f"{scale} {label} {name}: calls {entry['calls']}/{entry['bound']} "
            f"p50 {entry['p50'] * 1000:.0f} ms p95 {entry['p95'] * 1000:.0f} ms"
        )
    return out


def _measure_without_talkdesk(
    cfg: Settings, scale: str, sandbox: Sandbox, wl: Workload
) -> dict[str, Any]:
    """Our cold dashboard with only Telzino and Teli configured: the part Tailcall's dashboard
    can express, so the two latencies compare like for like."""
    options = ServeOptions(OURS.sections, OURS.optional, kinds=TAILCALL_KINDS)
    serve = start_serve("usagegraph-without-talkdesk", sandbox, options)
    try:
        req = wl.dashboard()
        # discovery first, as for the full server (its calls are not the dashboard's)
        asyncio.run(sequential(serve.url, sandbox, [req]))
        samples = asyncio.run(sequential(serve.url, sandbox, [req] * cfg.samples(scale)))
        entry = {
            **latency_figures(samples, req.plan.stages(), cfg.latency_ms),
            "calls": max(s.calls.data_total for s in samples),
            "errors": first_errors(samples),
        }
    finally:
        serve.stop()
    log(
        f"{scale} without Talkdesk dashboard: calls {entry['calls']} "
        f"p50 {entry['p50'] * 1000:.0f} ms"
    )
    return {"dashboard": entry}


def _same_request(request: Request, _client: int, _index: int) -> Request:
    return request


def _distinct_request(wl: Workload, name: str, client: int, index: int) -> Request:
    return wl.distinct(name, client + index * 32)


def _throughput(
    cfg: Settings, scale: str, serve: Serve, sandbox: Sandbox, wl: Workload
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("dashboard", "drilldown"):
        same = wl.scenario(name)
        shapes: dict[str, Callable[[int, int], Request]] = {
            "same": partial(_same_request, same),
            "distinct": partial(_distinct_request, wl, name),
        }
        for shape, make in shapes.items():
            for conc in CONCURRENCY:
                result = asyncio.run(
                    run_load(
                        serve.url, sandbox, make, concurrency=conc, duration=cfg.duration(scale)
                    )
                )
                figures = _load_figures(result)
                out[f"{name}/{shape}/{conc}"] = figures
                log(
                    f"{scale} throughput {name} {shape} x{conc}: {figures['throughput']:.1f} "
                    "req/s, "
                    f"p50 {figures['p50'] * 1000:.0f} ms, calls/req "
                    f"{figures['calls_per_request']:.2f} "
                    f"(bound {figures['bound_per_request']:.2f}), errors {figures['errors']}"
                )
    return out


def _peer_setup(cfg: Settings, sandbox: Sandbox, wl: Workload) -> PeerSetup | None:
    """The peers' configs over this sandbox, or None without peers (--no-peers, --quick, or
    bench/peers/node_modules not installed)."""
    from bench.peers import PeerSetup, peers_installed

    if not cfg.peers or not peers_installed():
        return None
    return PeerSetup(sandbox, wl.ds)


def _run_peers(
    cfg: Settings, scale: str, sandbox: Sandbox, wl: Workload, setup: PeerSetup
) -> dict[str, Any]:
    from bench.answers import check_peer_dashboard

    out: dict[str, Any] = {}
    for system in ("mesh", "tailcall"):
        entry: dict[str, Any] = {}
        for cached in (False, True):
            state = "warm" if cached else "cold"
            try:
                peer = setup.start(system, cached=cached)
            except Exception as exc:  # a peer that cannot start is a finding, not a crash
                entry[state] = {"failed": f"{type(exc).__name__}: {exc}"[:2000]}
                log(f"{scale} {system} {state}: failed to start: {str(exc)[:300]}")
                continue
            try:
                with RssSampler(peer.process) as rss:
                    requests = {
                        "dashboard": setup.dashboard(wl.last_month, system),
                        "drilldown": setup.drilldown(wl.drill_orgs[0], wl.last_month),
                    }
                    figures: dict[str, Any] = {}
                    for name, req in requests.items():
                        # one request first: the gateway's own warm-up (and the warm cache's fill)
                        first = asyncio.run(sequential(peer.url, sandbox, [req]))[0]
                        samples = asyncio.run(
                            sequential(peer.url, sandbox, [req] * cfg.samples(scale))
                        )
                        f = {
                            **calls_figures(samples, req.plan),
                            **latency_figures(samples, req.plan.stages(), cfg.latency_ms),
                            "first_seconds": first.seconds,
                            "first_calls": first.calls.data_total + first.calls.discovery_total,
                            "errors": first_errors([first, *samples]),
                            "error_count": sum(len(s.errors) for s in [first, *samples]),
                        }
                        if name == "dashboard":
                            problems = check_peer_dashboard(first.payload, wl.ds, wl.last_month)
                            f["wrong_or_missing"] = len(problems)
                            f["wrong_examples"] = problems[:5]
                        figures[name] = f
                        log(
                            f"{scale} {system} {state} {name}: data calls "
                            f"{f['calls']}/{f['bound']} "
                            f"(+{f['discovery_per_request']} listing) p50 {f['p50'] * 1000:.0f} "
                            "ms, "
                            f"errors {f['error_count']}, wrong {f.get('wrong_or_missing', '-')}"
                        )
                figures["peak_rss"] = rss.peak
                entry[state] = figures
            except Exception as exc:
                entry[state] = {"failed": f"{type(exc).__name__}: {exc}"[:2000]}
                log(f"{scale} {system} {state}: failed: {str(exc)[:300]}")
            finally:
                peer.stop()
        out[system] = entry
    return out


def run_scale(cfg: Settings, scale: str, *, profile: bool) -> dict[str, Any]:
    workdir = cfg.out / "work" / scale
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"scale {scale}: starting the sandbox ({cfg.latency_ms} ms per upstream call)")
    sandbox = Sandbox(scale, cfg.latency_ms, cfg.seed, workdir).start()
    result: dict[str, Any] = {}
    try:
        meta = sandbox.info["dataset"]
        ds = _dataset(cfg, sandbox)
        wl = Workload(ds)
        result["dataset"] = {
            "first_day": meta["first_day"],
            "last_day": meta["last_day"],
            "organizations": len(wl.orgs),
            "resellers": len(ds.channel_names),
            "sources": len(sandbox.sources),
            "range": [d.isoformat() for d in wl.last_month],
        }
        drill_count = 8 if cfg.quick else 32
        wl.drill_orgs = wl.drill_orgs[:drill_count]

        serve = start_serve("usagegraph", sandbox, OURS)
        result["settings_dropped"] = serve.dropped
        try:
            with RssSampler(serve.process) as rss:
                result["warm_up"] = _warm_up(serve.url, sandbox, wl, drill_count)
                log(
                    f"{scale} first request "
                    f"{result['warm_up']['first_request_seconds'] * 1000:.0f} ms, "
                    f"discovery calls {result['warm_up']['discovery_total']}"
                )
                result["cold"] = _measure_ours(cfg, scale, serve, sandbox, wl, "cold")
                result["paged"] = {
                    "cold": paged.measure_cold(
                        serve.url, sandbox, wl, cfg.samples(scale), cfg.latency_ms
                    )
                }
                _log_paged(scale, "cold", result["paged"]["cold"])
                result["paged"].update(_paged_warm(cfg, scale, sandbox, wl))
                # the cache is off here: only in-flight coalescing can spare the 15 copies
                result["coalescing"] = check_coalescing(serve, sandbox, wl.dashboard())
                log(
                    f"{scale} {CLIENTS} identical dashboards at once, cache off: "
                    f"{result['coalescing']['data_calls']} data calls (one request's bound: "
                    f"{result['coalescing']['one_request_bound']}), errors "
                    f"{result['coalescing']['errors']}"
                )
                # the warm scenario: the dashboard repeated, with a response cache when this
                # version of usagegraph has one
                cached = start_serve(
                    "usagegraph-cache",
                    sandbox,
                    ServeOptions(OURS.sections, {**OURS.optional, **CACHE}),
                )
                cache_active = "[cache]" not in cached.dropped
                result["cache_active"] = cache_active
                target = cached if cache_active else serve
                if not cache_active:
                    cached.stop()
                try:
                    if cache_active:
                        # a range no request used yet on this server: executed, then a hit
                        check = check_answer_cache(target, sandbox, wl.dashboard(wl.pool[4]))
                        result["answer_cache_check"] = check
                        log(
                            f"{scale} answer cache: {check['first_header']} then "
                            f"{check['second_header']}, hits counted {check['hits_counted']}, "
                            f"second request's upstream calls {check['second_upstream_calls']}, "
                            f"same answer {check['identical']}"
                        )
                        # 32 identical dashboards at once on a cold cache: with single flight
                        # they cost the upstream calls of one
                        burst = asyncio.run(
                            run_load(
                                target.url,
                                sandbox,
                                lambda c, i: wl.dashboard(),
                                concurrency=32,
                                duration=0.0,
                            )
                        )
                        result["burst"] = {
                            **_load_figures(burst),
                            "data_calls": burst.calls.data_total,
                            "one_request_bound": wl.dashboard().plan.total,
                        }
                        log(
                            f"{scale} burst of 32 identical dashboards, cold cache: "
                            f"{burst.calls.data_total} data calls (one request's bound: "
                            f"{wl.dashboard().plan.total}), errors {burst.errors}"
                        )
                    asyncio.run(sequential(target.url, sandbox, [wl.dashboard()]))
                    warm = asyncio.run(
                        sequential(target.url, sandbox, [wl.dashboard()] * cfg.samples(scale))
                    )
                    plan = Plan() if cache_active else wl.dashboard().plan
                    result["warm"] = {
                        **calls_figures(warm, plan),
                        **latency_figures(warm, plan.stages(), cfg.latency_ms),
                        "errors": first_errors(warm),
                    }
                    log(
                        f"{scale} warm dashboard p50 {result['warm']['p50'] * 1000:.0f} ms "
                        f"(response cache: {cache_active})"
                    )
                    result["throughput"] = _throughput(cfg, scale, target, sandbox, wl)
                    if cache_active:  # after every warm and throughput request: its fullest
                        result["answer_cache"] = answer_cache_usage(target)
                finally:
                    if cache_active:
                        cached.stop()
            result["peak_rss"] = rss.peak
        finally:
            serve.stop()

        if scale == CONCURRENCY_SCALE:  # S: a bound a few of its answers fill
            result["answer_bound"] = check_answer_bound(sandbox, wl)
            b = result["answer_bound"]
            log(
                f"{scale} answer cache bounded to {b['bound']} bytes, sent "
                f"{b.get('sent_bytes', '-')} bytes of answers: holds {b.get('bytes', '-')} bytes "
                f"in {b.get('entries', '-')} answers"
            )

        naive = start_serve("naive", sandbox, NAIVE)
        try:
            # discovery (and the drill-down org's Teli users) before measuring; a naive dashboard
            # at L would cost half a minute for the same effect
            asyncio.run(sequential(naive.url, sandbox, [wl.drilldown()]))
            naive_out: dict[str, Any] = {"settings_dropped": naive.dropped}
            n_samples = 1 if scale == "L" else (2 if cfg.quick else 3)
            for name in SCENARIOS:
                req = wl.scenario(name)
                samples = asyncio.run(sequential(naive.url, sandbox, [req] * n_samples))
                naive_out[name] = {
                    **calls_figures(samples, req.plan),
                    **latency_figures(samples, req.plan.stages(), cfg.latency_ms),
                    "errors": first_errors(samples),
                }
                log(
                    f"{scale} naive {name}: calls {naive_out[name]['calls']}/{req.plan.total} p50 "
                    f"{naive_out[name]['p50'] * 1000:.0f} ms"
                )
            result["naive"] = naive_out
        finally:
            naive.stop()

        setup = _peer_setup(cfg, sandbox, wl)
        if setup is not None:
            result["peers"] = _run_peers(cfg, scale, sandbox, wl, setup)
            result["without_talkdesk"] = _measure_without_talkdesk(cfg, scale, sandbox, wl)
        elif cfg.peers:
            result["peers"] = {"skipped": PEERS_MISSING}

        if cfg.concurrency and scale == CONCURRENCY_SCALE:
            result["concurrency"] = _concurrency(cfg, sandbox, wl, setup)

        if profile:
            result["profile"] = _profile(cfg, sandbox, wl)
    finally:
        sandbox.stop()
    return result


def _log_paged(scale: str, state: str, figures: dict[str, Any]) -> None:
    for name, e in figures.items():
        if isinstance(e, dict):
            log(
                f"{scale} paged {state} {name}: calls {e['calls']}/{e['bound']} p50 "
                f"{e['p50'] * 1000:.0f} ms, {e['samples']} samples, pages of "
                f"{figures['page_size']}, wrong {e['wrong_answers']}"
            )


def _paged_warm(cfg: Settings, scale: str, sandbox: Sandbox, wl: Workload) -> dict[str, Any]:
    """The paged table warm, on a response cache of its own (the dashboards' cold-cache
    figures must not find its answers): {"warm": figures}, or {} without a response cache."""
    cached = start_serve("usagegraph-paged-cache", sandbox, with_cache(OURS))
    try:
        if "[cache]" in cached.dropped:
            return {}
        warm = paged.measure_warm(cached.url, sandbox, wl, cfg.samples(scale), cfg.latency_ms)
    finally:
        cached.stop()
    _log_paged(scale, "warm", warm)
    return {"warm": warm}


def _paged_only(cfg: Settings, scale: str) -> dict[str, Any]:
    """`--paged-only`: the paged table at `scale`, cold and warm, and the cold dashboard it is
    compared with, on a sandbox of its own."""
    workdir = cfg.out / "work" / f"paged-{scale}"
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"scale {scale}: paged table only ({cfg.latency_ms} ms per upstream call)")
    sandbox = Sandbox(scale, cfg.latency_ms, cfg.seed, workdir).start()
    try:
        wl = Workload(_dataset(cfg, sandbox))
        serve = start_serve("usagegraph", sandbox, OURS)
        try:
            asyncio.run(sequential(serve.url, sandbox, [wl.dashboard()]))  # discovery
            dashboard = _measure_one(cfg, scale, serve, sandbox, wl.dashboard())
            result: dict[str, Any] = {
                "organizations": len(wl.orgs),
                "dashboard": dashboard,
                "paged": {
                    "cold": paged.measure_cold(
                        serve.url, sandbox, wl, cfg.samples(scale), cfg.latency_ms
                    )
                },
            }
            _log_paged(scale, "cold", result["paged"]["cold"])
        finally:
            serve.stop()
        result["paged"].update(_paged_warm(cfg, scale, sandbox, wl))
    finally:
        sandbox.stop()
    return result


def _measure_one(
    cfg: Settings, scale: str, serve: Serve, sandbox: Sandbox, req: Request
) -> dict[str, Any]:
    samples = asyncio.run(sequential(serve.url, sandbox, [req] * cfg.samples(scale)))
    entry = {
        **calls_figures(samples, req.plan),
        **latency_figures(samples, req.plan.stages(), cfg.latency_ms),
        "errors": first_errors(samples),
    }
    log(
        f"{scale} cold {req.scenario}: calls {entry['calls']}/{entry['bound']} p50 "
        f"{entry['p50'] * 1000:.0f} ms"
    )
    return entry


def _concurrency(
    cfg: Settings, sandbox: Sandbox, wl: Workload, setup: PeerSetup | None
) -> dict[str, Any]:
    """Issue 15's 16-client shapes (bench.concurrency) over this scale's sandbox."""
    log(
        f"{CONCURRENCY_SCALE}: {CLIENTS} clients, identical then distinct dashboards, sent by "
        f"{generator_name()}"
    )
    # --quick (CI): usagegraph's defaults only, which the checks of _check_concurrency cover
    identical = (DEFAULTS,) if cfg.quick else IDENTICAL
    distinct = (DEFAULTS,) if cfg.quick else DISTINCT
    duration = cfg.duration(CONCURRENCY_SCALE)
    return {
        "scale": CONCURRENCY_SCALE,
        "peers": setup is not None,
        "generator": generator_name(),
        "identical": run_identical(
            sandbox,
            wl,
            setup,
            samples=cfg.samples(CONCURRENCY_SCALE),
            duration=duration,
            log=log,
            variants=identical,
        ),
        "distinct": run_distinct(sandbox, wl, setup, duration=duration, log=log, variants=distinct),
    }


def _concurrency_only(cfg: Settings) -> dict[str, Any]:
    """`--concurrency-only`: a sandbox at S for bench.concurrency alone."""
    workdir = cfg.out / "work" / f"concurrency-{CONCURRENCY_SCALE}"
    workdir.mkdir(parents=True, exist_ok=True)
    sandbox = Sandbox(CONCURRENCY_SCALE, cfg.latency_ms, cfg.seed, workdir).start()
    try:
        wl = Workload(_dataset(cfg, sandbox))
        return _concurrency(cfg, sandbox, wl, _peer_setup(cfg, sandbox, wl))
    finally:
        sandbox.stop()


def _dataset(cfg: Settings, sandbox: Sandbox) -> Dataset:
    """The dataset the sandbox serves, rebuilt here for the bounds and the answers' truth."""
    meta = sandbox.info["dataset"]
    return generate(
        seed=cfg.seed,
        scale=sandbox.scale,
        start=date.fromisoformat(meta["first_day"]),
        end=date.fromisoformat(meta["last_day"]),
    )


def _profile(cfg: Settings, sandbox: Sandbox, wl: Workload) -> dict[str, Any]:
    from bench.profiling import analyse_profile

    session = sandbox.workdir / "serve.pyisession"
    serve = start_serve("usagegraph-profiled", sandbox, OURS, profile_to=session)
    try:
        asyncio.run(sequential(serve.url, sandbox, [wl.dashboard()] * 2))
        asyncio.run(sequential(serve.url, sandbox, [wl.dashboard()] * 5, count_calls=False))
    finally:
        serve.stop(timeout=120)  # pyinstrument writes the session on the way out
    log("profile written; analysing")
    return analyse_profile(session, cfg.out)


# -- checks ---------------------------------------------------------------------------------------


def _check(cfg: Settings, scale: str, result: dict[str, Any]) -> None:
    """What fails the run: more calls than the bound, errors in our answers, a broken harness."""
    for name in SCENARIOS:
        entry = result["cold"][name]
        if entry["min_calls"] < entry["bound"]:
            cfg.failures.append(
                f"{scale} {name}: a cold sample made {entry['min_calls']} upstream calls, fewer "
                f"than the lower bound {entry['bound']}: a cache answered (cold is not cold)"
            )
        if entry["calls"] > entry["bound"]:
            cfg.failures.append(
                f"{scale} {name}: {entry['calls']} upstream data calls > lower bound "
                f"{entry['bound']} "
                f"({entry['by_endpoint']} vs {entry['bound_by_endpoint']})"
            )
        if entry["errors"]:
            cfg.failures.append(f"{scale} {name}: errors {entry['errors'][:2]}")
    warm = result["warm"]
    if warm["calls"] > warm["bound"]:
        cfg.failures.append(f"{scale} warm: {warm['calls']} calls > bound {warm['bound']}")
    if warm["errors"]:
        cfg.failures.append(f"{scale} warm: errors {warm['errors'][:2]}")
    if result["warm_up"]["errors"]:
        cfg.failures.append(f"{scale} warm-up: errors {result['warm_up']['errors'][:2]}")
    profile = result.get("profile")
    if profile is not None and not profile["request_handling_seconds"]:
        cfg.failures.append(
            f"{scale} profile: no time found handling requests (bench/profiling.py does not "
            "recognise this event loop's frames)"
        )
    _check_mechanisms(cfg, scale, result)
    cfg.failures += paged.paged_failures(scale, result["paged"])
    for key, figures in result["throughput"].items():
        if figures["errors"]:
            cfg.failures.append(
                f"{scale} throughput {key}: {figures['errors']} responses with errors"
            )
        if figures["ratio"] > 1.0:
            cfg.failures.append(f"{scale} throughput {key}: calls ratio {figures['ratio']:.2f} > 1")


def _check_mechanisms(cfg: Settings, scale: str, result: dict[str, Any]) -> None:
    """In-flight coalescing with the cache off, and the answer cache on the defaults."""
    c = result["coalescing"]
    if not c["ok"]:
        cfg.failures.append(
            f"{scale} coalescing: {c['clients']} identical dashboards at once with the cache off "
            f"made {c['data_calls']} upstream data calls, one request's bound is "
            f"{c['one_request_bound']} ({c['by_endpoint']}); errors {c['errors']}"
        )
    b = result.get("answer_bound")
    if b is not None and b.get("unsupported"):
        cfg.failures.append(f"{scale} answer cache bound: [cache] answer_max_bytes unknown")
    elif b is not None and not b["ok"]:
        cfg.failures.append(
            f"{scale} answer cache bound: {b['bytes']} bytes in {b['entries']} answers held "
            f"under a {b['bound']}-byte bound after {b['sent_bytes']} bytes of answers"
        )
    a = result.get("answer_cache_check")
    if a is None:
        cfg.failures.append(f"{scale} answer cache: not checked ([cache] not active)")
    elif not a["ok"]:
        cfg.failures.append(
            f"{scale} answer cache: a repeated dashboard was not answered from it: "
            f"X-Answer-Cache {a['first_header']!r} then {a['second_header']!r}, hits counted "
            f"{a['hits_counted']}, upstream calls {a['second_upstream_calls']}, same answer "
            f"{a['identical']}, errors {a['errors'][:2]}"
        )


def _check_concurrency(cfg: Settings, result: dict[str, Any]) -> None:
    """Ours in bench.concurrency: no errors, never more calls than the bound, and distinct
    ranges really cold (a cache answering them means the measurement is broken)."""
    for shape in ("identical", "distinct"):
        for key, entry in result[shape].items():
            if not isinstance(entry, dict) or not key.startswith("ours"):
                continue
            where = f"{result['scale']} {shape} x{CLIENTS} {key}"
            if "failed" in entry:
                cfg.failures.append(f"{where}: {entry['failed']}")
                continue
            if entry["errors"] or entry.get("sequential_errors"):
                cfg.failures.append(f"{where}: responses with errors")
            if entry["wrong_answers"]:
                cfg.failures.append(
                    f"{where}: {entry['wrong_answers']} wrong answers: {entry['wrong_examples']}"
                )
            if entry.get("unchecked"):
                cfg.failures.append(
                    f"{where}: {entry['unchecked']} answers unchecked (more distinct answers "
                    "to one repeated request than the load generator keeps)"
                )
            calls, bound = entry["calls_per_request"], entry["bound_per_request"]
            if calls > bound + 1e-9:
                cfg.failures.append(f"{where}: {calls:.3f} calls/request > bound {bound:.3f}")
            if shape == "distinct" and calls < bound - 1e-9 and not entry["ranges_reused"]:
                cfg.failures.append(
                    f"{where}: {calls:.3f} calls/request < bound {bound:.3f}: a cache answered "
                    "ranges no request had used (cold is not cold)"
                )


def _soak(cfg: Settings) -> dict[str, Any]:
    from bench.soak import run_soak

    scale = cfg.soak_scale
    workdir = cfg.out / "work" / f"soak-{scale}"
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"soak: scale {scale}, 32 clients, {cfg.soak_seconds:.0f} s, faults 5% 503 + 1% 429")
    sandbox = Sandbox(scale, cfg.latency_ms, cfg.seed, workdir).start()
    try:
        ds = _dataset(cfg, sandbox)
        wl = Workload(ds)
        pool = [wl.dashboard(r) for r in wl.pool[:4]]
        pool += [
            wl.drilldown(wl.drill_orgs[i % len(wl.drill_orgs)], wl.pool[i % 8]) for i in range(8)
        ]
        pool += [wl.mixed(offset=o) for o in (0, 25)]
        # production defaults (vendor protections on), only the per-caller limits (request rate,
        # upstream calls per minute) are off: every soak client shares one address
        # TTLs of 2 s keep the response cache (when there is one) missing, expiring and standing
        # in for failed sources all through the run instead of answering everything from memory;
        # two attempts per call (default four) let some injected faults through the retries, so
        # the partial-error path is exercised and checked too
        options = ServeOptions(
            sections={"server": {"log_level": "warning"}, "sources": {"max_attempts": 2}},
            optional={
                "limits": {"requests_per_second": 0, "upstream_calls_per_minute": 0},
                "cache": {"ttl_past_seconds": 2, "ttl_live_seconds": 2},
            },
        )
        serve = start_serve("usagegraph-soak", sandbox, options)
        try:
            sources = {s["name"] for s in sandbox.sources}
            result = asyncio.run(
                run_soak(serve, sandbox, pool, sources=sources, seconds=cfg.soak_seconds)
            )
            result["scale"] = scale
            result["settings_dropped"] = serve.dropped
        finally:
            serve.stop()
    finally:
        sandbox.stop()
    log(
        f"soak: {result['responses']} responses ({result['throughput']:.1f}/s), "
        f"{result['responses_with_errors']} with errors {result['error_codes']}, wrong "
        f"{result['wrong_count']}, "
        f"silent nulls {result['silent_count']}, RSS {result['rss_start'] / 2**20:.0f} -> "
        f"{result['rss_end'] / 2**20:.0f} MB (peak {result['rss_peak'] / 2**20:.0f})"
    )
    if result["bad_error_count"]:
        cfg.failures.append(
            f"soak: {result['bad_error_count']} errors not UPSTREAM_* from a source: "
            f"{result['bad_errors'][:3]}"
        )
    if result["wrong_count"]:
        cfg.failures.append(
            f"soak: {result['wrong_count']} wrong numbers: {result['wrong_numbers'][:3]}"
        )
    if result["silent_count"]:
        cfg.failures.append(
            f"soak: {result['silent_count']} nulls without an error: {result['silent_nulls'][:3]}"
        )
    if not result["rss_flat"]:
        cfg.failures.append("soak: memory not flat")
    return result


def _load() -> str:
    """The 1/5/15-minute load averages: other work on the machine skews every timing."""
    return " / ".join(f"{v:.1f}" for v in os.getloadavg())


def _machine() -> dict[str, Any]:
    return {
        "cpus": psutil.cpu_count(logical=True),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        **server_stack(),
    }


def server_stack() -> dict[str, str]:
    """What `usagegraph serve` runs on: uvicorn's "auto" loop and HTTP parser take uvloop and
    httptools whenever they are importable in this environment (the one serve runs from), else
    asyncio's loop and the pure-Python h11 (about half the req/s on a cached answer)."""
    return {
        "event_loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "http_parser": "httptools" if importlib.util.find_spec("httptools") else "h11",
    }


def main(argv: list[str] | None = None) -> int:
    cfg = _parse(argv)
    cfg.out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": _machine(),
        "latency_ms": cfg.latency_ms,
        "seed": cfg.seed,
        "quick": cfg.quick,
        "scales": {},
        "load_before": _load(),
    }
    try:
        if cfg.concurrency_only:
            results["concurrency"] = _concurrency_only(cfg)
        elif cfg.paged_only:
            results["paged"] = {scale: _paged_only(cfg, scale) for scale in cfg.scales}
            for scale, entry in results["paged"].items():
                cfg.failures += paged.paged_failures(scale, entry["paged"])
        elif not cfg.soak_only:
            largest = cfg.scales[-1] if cfg.scales else None
            for scale in cfg.scales:
                result = run_scale(cfg, scale, profile=cfg.profile and scale == largest)
                if "concurrency" in result:
                    results["concurrency"] = result.pop("concurrency")
                results["scales"][scale] = result
                _check(cfg, scale, result)
        if "concurrency" in results:
            _check_concurrency(cfg, results["concurrency"])
        if (cfg.soak or cfg.soak_only) and not (cfg.concurrency_only or cfg.paged_only):
            results["soak"] = _soak(cfg)
        if cfg.profile and not (cfg.soak_only or cfg.concurrency_only or cfg.paged_only):
            log("server CPU per request (bench.cpu) and vendor body decoding (bench.decoding)")
            results["side"] = side.measure()
    except Exception:
        cfg.failures.append("harness error:\n" + traceback.format_exc())
    results["seconds"] = time.monotonic() - t0
    results["load_after"] = _load()
    results["failures"] = cfg.failures
    (cfg.out / "results.json").write_text(
        json.dumps(results, indent=1, default=str), encoding="utf-8"
    )
    try:
        report.write(
            results, cfg.out, docs=ROOT / "docs" / "performance.md" if cfg.write_docs else None
        )
    except Exception:
        cfg.failures.append("report error:\n" + traceback.format_exc())
    log(f"done in {results['seconds']:.0f} s; report: {cfg.out / 'report.md'}")
    for failure in cfg.failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if cfg.failures else 0

"""The `usagegraph serve` configurations the benchmark runs (see bench.procs.ServeOptions)."""

from __future__ import annotations

from bench.procs import ServeOptions

__all__ = ["CACHE", "NAIVE", "NO_CACHE", "OURS", "TAILCALL_KINDS", "with_cache", "with_workers"]

# The graph under test: discovery cached for the whole run (its calls are reported separately),
# and no caller or vendor throttling so the figures measure the engine, not the limiters (the
# sandbox does not rate-limit; every load client shares one address, so one caller's upstream
# quota would throttle them all) nor a request deadline cutting the slowest baselines short.
# Settings this usagegraph version does not know are dropped.
# "Cold" means no response cache: it is switched off where this version has one (and a cold
# sample that makes fewer calls than the bound is reported as a broken measurement).
NO_CACHE = {"cache": {"enabled": False}}
OURS = ServeOptions(
    sections={"server": {"log_level": "warning"}, "graph": {"discovery_ttl_seconds": 3600}},
    optional={
        "limits": {"requests_per_second": 0, "upstream_calls_per_minute": 0},
        "graph": {"request_deadline_seconds": 3600.0},
        "sources": {"rate_limit_per_second": 100000.0, "rate_limit_burst": 100000},
        **NO_CACHE,
    },
)
NAIVE = ServeOptions(
    sections={
        "server": {"log_level": "warning"},
        "graph": {"discovery_ttl_seconds": 3600, "naive_loaders": True},
    },
    optional={
        "limits": {"requests_per_second": 0, "upstream_calls_per_minute": 0},
        "graph": {"max_upstream_calls_per_source": 1000000, "request_deadline_seconds": 3600.0},
        "sources": {
            "rate_limit_per_second": 100000.0,
            "rate_limit_burst": 100000,
            "breaker_failures": 1000000,
        },
        **NO_CACHE,
    },
)
CACHE = {"cache": {"enabled": True, "backend": "memory"}}
# What Tailcall's dashboard can express: the same server, with only these vendors configured.
TAILCALL_KINDS = frozenset({"telzino", "teli"})


def with_cache(options: ServeOptions) -> ServeOptions:
    """`options` with the response cache (and so the answer cache) on, in memory."""
    return ServeOptions(options.sections, {**options.optional, **CACHE}, kinds=options.kinds)


def with_workers(options: ServeOptions, workers: int) -> ServeOptions:
    """`options` served by `workers` processes (`[server] workers`; dropped, and reported, by a
    version without it)."""
    server = {**options.optional.get("server", {}), "workers": workers}
    optional = {**options.optional, "server": server}
    return ServeOptions(options.sections, optional, kinds=options.kinds)

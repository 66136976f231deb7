"""A scenario's figures from its samples: upstream calls against the bound, latency against the
critical path, the first few errors."""

from __future__ import annotations

import math
from typing import Any

from bench.bounds import Plan
from bench.load import Sample, percentile

__all__ = ["calls_figures", "first_errors", "latency_figures"]


def calls_figures(samples: list[Sample], plan: Plan) -> dict[str, Any]:
    """Upstream data calls of the worst sample, per endpoint, against the plan."""
    worst = max(samples, key=lambda s: s.calls.data_total)
    return {
        "calls": worst.calls.data_total,
        "by_endpoint": dict(worst.calls.data),
        "bound": plan.total,
        "bound_by_endpoint": dict(plan.calls),
        "ratio": worst.calls.data_total / plan.total if plan.total else math.nan,
        "discovery_per_request": max(s.calls.discovery_total for s in samples),
        "auth_per_request": max(s.calls.auth for s in samples),
        "min_calls": min(s.calls.data_total for s in samples),
    }


def latency_figures(samples: list[Sample], stages: int, latency_ms: int) -> dict[str, Any]:
    seconds = [s.seconds for s in samples]
    critical = stages * latency_ms / 1000
    p50 = percentile(seconds, 50)
    return {
        "samples": len(seconds),
        "p50": p50,
        "p95": percentile(seconds, 95),
        "stages": stages,
        "critical_path": critical,
        "overhead_p50": p50 - critical,
        "target": 1.5 * critical + 0.1,
    }


def first_errors(samples: list[Sample]) -> list[Any]:
    return [e for s in samples for e in s.errors][:5]

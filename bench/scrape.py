"""Reading `usagegraph serve`'s /metrics: one worker's samples, or every worker's added up.

With `--workers N` each scrape is answered by one worker (`usagegraph_process_info{pid}` says
which), counting only its own work; `scrape_workers` scrapes over new connections until all N
have answered and adds their samples.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Samples", "answer_outcomes", "scrape", "scrape_workers", "value"]

# (sample name, sorted label pairs) -> value
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

PROCESS_INFO = "usagegraph_process_info"
ANSWER_REQUESTS = "usagegraph_answer_cache_requests_total"


def scrape(base_url: str) -> tuple[int | None, Samples]:
    """One scrape over a new connection: (the answering process's pid, its samples)."""
    with httpx.Client(timeout=30) as client:
        text = client.get(f"{base_url}/metrics").text
    samples: Samples = {}
    pid: int | None = None
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == PROCESS_INFO:
                pid = int(s.labels["pid"])
                continue
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return pid, samples


def scrape_workers(base_url: str, workers: int = 1, *, timeout: float = 60.0) -> Samples:
    """Every worker's samples added up (one scrape when `workers` is 1); also the wait for
    all workers to serve after start-up."""
    per_pid: dict[int | None, Samples] = {}
    deadline = time.monotonic() + timeout
    while len(per_pid) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(per_pid)} of {workers} workers answered /metrics")
        pid, samples = scrape(base_url)
        per_pid[pid] = samples
        if pid is None:  # a server that does not say which process answered: one process
            break
    total: Samples = {}
    for samples in per_pid.values():
        for key, value in samples.items():
            total[key] = total.get(key, 0.0) + value
    return total


def value(samples: Mapping[tuple[str, tuple[tuple[str, str], ...]], float], name: str) -> float:
    """The sample `name` without labels; NaN when the server does not report it."""
    return samples.get((name, ()), float("nan"))


def answer_outcomes(samples: Samples) -> dict[str, float]:
    """usagegraph_answer_cache_requests_total by outcome (empty without an answer cache)."""
    return {
        dict(labels)["outcome"]: v
        for (name, labels), v in samples.items()
        if name == ANSWER_REQUESTS and "outcome" in dict(labels)
    }

"""The paged-table scenario: the cost-ordered `organizationsConnection` a table shows, page by
page (bench.scenarios.PAGED), measured cold and warm and checked against the dataset's truth.

Cold (no response cache): the first page, then the next one after its `endCursor`, each sent
`samples` times; each costs the ranking's calls (bench.bounds.paged_plan), never fewer (a
cache answered) nor more. Warm (response cache on, fresh): the first page fills the cache, then
the table is walked down page by page, each after the previous answer's `endCursor`: every
next page is a new answer (none repeats, so the answer cache cannot serve it) and its bound is 0
upstream calls. Every answer's ids and numbers are checked (bench.answers.check_paged).
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING, Any

from bench.answers import check_paged
from bench.bounds import Plan
from bench.figures import calls_figures, first_errors, latency_figures
from bench.load import Sample, sequential
from bench.scenarios import Workload

if TYPE_CHECKING:  # annotations only: bench.procs needs psutil (the bench extra)
    from bench.procs import Sandbox

__all__ = ["measure_cold", "measure_warm", "paged_failures"]


def _end_cursor(sample: Sample) -> str | None:
    connection = ((sample.payload or {}).get("data") or {}).get("organizationsConnection")
    return None if connection is None else connection["pageInfo"]["endCursor"]


def _entry(
    samples: list[Sample], plan: Plan, indexes: list[int], wl: Workload, latency_ms: int
) -> dict[str, Any]:
    problems = [
        p for s, i in zip(samples, indexes, strict=True) for p in check_paged(s.payload, wl, i)
    ]
    return {
        **calls_figures(samples, plan),
        **latency_figures(samples, plan.stages(), latency_ms),
        "errors": first_errors(samples),
        "wrong_answers": len(problems),
        "wrong_examples": problems[:5],
    }


def measure_cold(
    url: str, sandbox: Sandbox, wl: Workload, samples: int, latency_ms: int
) -> dict[str, Any]:
    """The first page and the next, each `samples` times, on a server without a response cache
    whose discovery is done."""
    first = asyncio.run(sequential(url, sandbox, [wl.paged(0, None)] * samples))
    cursor = _end_cursor(first[0])
    following = wl.paged(1, cursor)
    second = asyncio.run(sequential(url, sandbox, [following] * samples))
    return {
        "page_size": wl.page_size,
        "organizations": len(wl.orgs),
        "first": _entry(first, wl.paged(0, None).plan, [0] * samples, wl, latency_ms),
        "next": _entry(second, following.plan, [1] * samples, wl, latency_ms),
    }


def measure_warm(
    url: str, sandbox: Sandbox, wl: Workload, samples: int, latency_ms: int
) -> dict[str, Any]:
    """The first page on a fresh response cache, then up to `samples` next pages down the table
    (fewer when the table ends first)."""
    opening = wl.paged(0, None)
    fill = asyncio.run(sequential(url, sandbox, [opening]))
    pages = min(samples, math.ceil(len(wl.orgs) / wl.page_size) - 1)
    walked: list[Sample] = []
    cursor = _end_cursor(fill[0])
    for index in range(1, pages + 1):
        walked += asyncio.run(sequential(url, sandbox, [wl.paged(index, cursor)]))
        cursor = _end_cursor(walked[-1])
    return {
        "page_size": wl.page_size,
        "fill": _entry(fill, opening.plan, [0], wl, latency_ms),
        "next": {
            **_entry(walked, Plan(), list(range(1, pages + 1)), wl, latency_ms),
            "calls_by_page": [dict(s.calls.data) for s in walked],
        },
    }


def paged_failures(where: str, result: dict[str, Any]) -> list[str]:
    """What fails the run: a page over its bound (or under it cold: a cache answered), errors,
    an answer whose order or numbers differ from the truth."""
    failures: list[str] = []
    entries = {
        f"cold {name}": result["cold"][name] for name in ("first", "next") if "cold" in result
    }
    if "warm" in result:
        entries["warm first (fills the cache)"] = result["warm"]["fill"]
        entries["warm next pages"] = result["warm"]["next"]
    for label, e in entries.items():
        if e["calls"] > e["bound"]:
            failures.append(
                f"{where} paged {label}: {e['calls']} upstream data calls > bound {e['bound']} "
                f"({e['by_endpoint']} vs {e['bound_by_endpoint']})"
            )
        if label.startswith("cold") and e["min_calls"] < e["bound"]:
            failures.append(
                f"{where} paged {label}: a cold sample made {e['min_calls']} calls, fewer than the "
                f"bound {e['bound']}: a cache answered (cold is not cold)"
            )
        if e["errors"]:
            failures.append(f"{where} paged {label}: errors {e['errors'][:2]}")
        if e["wrong_answers"]:
            failures.append(
                f"{where} paged {label}: {e['wrong_answers']} wrong: {e['wrong_examples'][:3]}"
            )
    return failures

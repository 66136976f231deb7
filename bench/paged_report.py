"""The paged-table section of the report and of docs/performance.md (bench.paged's figures)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["section_lines"]

METHOD = (
    "The paged table (issue 20): `organizationsConnection(first: N, orderBy: {field: COST, "
    "direction: DESC, range: last month, currency: USD})` with each node's voice seconds, "
    "outbound SMS and costs, N = 20 (4 at S, whose 20 organizations would fill one page). "
    "Cold = no response cache: the first page, then the next after its `endCursor`; a page can "
    "only be cut from the whole ranking, so its bound is one call per Teli tenant and the "
    "Talkdesk pages of every account, plus one Telzino call for the nodes' voice (the unpaged "
    "dashboard's bound). Warm = response cache on: the first page fills it, then the table is "
    "walked down page by page, bound 0 calls each (no page repeats, so the answer cache serves "
    "none of them). Every page's ids, `totalCount`, `hasNextPage` and numbers are checked "
    "against the dataset."
)


def _ms(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value * 1000:.0f}"


def _cell(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "-"
    return f"{entry['calls']} / {entry['bound']} · {_ms(entry['p50'])} ms ({entry['samples']})"


def _rows(results: dict[str, Any]) -> dict[str, tuple[dict[str, Any], dict[str, Any] | None]]:
    """scale -> (its paged figures, its cold unpaged dashboard), from a full run or
    --paged-only."""
    rows: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {}
    for name, s in results.get("scales", {}).items():
        if "paged" in s:
            rows[name] = (s["paged"], s["cold"].get("dashboard"))
    for name, s in (results.get("paged") or {}).items():
        rows[name] = (s["paged"], s.get("dashboard"))
    return rows


def _entries(figures: dict[str, Any]) -> list[dict[str, Any]]:
    cold = figures.get("cold") or {}
    warm = figures.get("warm") or {}
    found = (cold.get("first"), cold.get("next"), warm.get("fill"), warm.get("next"))
    return [e for e in found if e]


def section_lines(results: dict[str, Any]) -> list[str]:
    rows = _rows(results)
    if not rows:
        return []
    at_bound = all(e["calls"] <= e["bound"] for f, _d in rows.values() for e in _entries(f))
    wrong = sum(e["wrong_answers"] for f, _d in rows.values() for e in _entries(f))
    lines = [
        "## Paged table: organizations by cost, page after page",
        "",
        "- **Upstream calls at the lower bound on every page**: "
        f"{'met' if at_bound else 'NOT met'}; answers differing from the dataset's truth: {wrong}.",
        "",
        "| scale | organizations, page size | first page cold: calls / bound · p50 (samples) "
        "| next page cold | next pages warm | unpaged dashboard cold |",
        "|---|---|---|---|---|---|",
    ]
    for name, (figures, dashboard) in rows.items():
        cold = figures.get("cold") or {}
        warm = figures.get("warm") or {}
        lines.append(
            f"| {name} | {cold.get('organizations', '-')}, {cold.get('page_size', '-')} | "
            f"{_cell(cold.get('first'))} | {_cell(cold.get('next'))} | {_cell(warm.get('next'))} | "
            f"{_cell(dashboard)} |"
        )
    return [*lines, "", METHOD, ""]

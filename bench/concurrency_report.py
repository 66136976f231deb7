"""Report lines for bench.concurrency and issue 15's targets, each a ratio from the same run."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["mechanism_lines", "section_lines", "target_lines"]

MB = 2**20
WARM_L_TARGET = 0.020  # seconds


def _ms(value: Any, digits: int = 0) -> str:
    if not isinstance(value, int | float) or math.isnan(value):
        return "-"
    return f"{value * 1000:.{digits}f}"


def _num(value: Any, digits: int = 1) -> str:
    if not isinstance(value, int | float) or math.isnan(value):
        return "-"
    return f"{value:.{digits}f}"


def _entry(results: dict[str, Any], shape: str, key: str) -> dict[str, Any] | None:
    entry = ((results.get("concurrency") or {}).get(shape) or {}).get(key)
    return entry if isinstance(entry, dict) and "failed" not in entry else None


def _ratio(ours: float, theirs: float) -> float:
    """ours / theirs, where 0 / 0 is 1 (both at zero is a tie) and x / 0 is infinite."""
    if theirs == 0:
        return 1.0 if ours == 0 else math.inf
    return ours / theirs


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def _cpu_note(ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    """The servers' own CPU per request next to a req/s ratio (req/s also measures the machine:
    the harness shares its cores)."""
    a, b = ours.get("cpu_per_request"), theirs.get("cpu_per_request")
    if a is None or b is None:
        return ""
    return f"; server CPU per request {_ms(a, 2)} vs {_ms(b, 2)} ms (x{_ratio(a, b):.2f})"


def _wrong_note(*entries: dict[str, Any]) -> str:
    """Said after a ratio whose load had wrong answers: speed that shares the wrong answer."""
    notes = [
        f"{e['label']}: {e['wrong_answers']} of {e['requests']} answers wrong"
        for e in entries
        if e.get("wrong_answers")
    ]
    return f" ({'; '.join(notes)})" if notes else ""


def _answer_cache_text(usage: dict[str, Any] | None) -> str:
    if not usage or math.isnan(usage.get("bytes", math.nan)):
        return "-"
    outcomes = usage.get("outcomes") or {}
    counted = ", ".join(f"{k} {v:.0f}" for k, v in sorted(outcomes.items()))
    return f"{usage['bytes'] / MB:.2f} MB in {usage['entries']:.0f} answers ({counted})"


def _wrong(entry: dict[str, Any]) -> str:
    wrong = entry.get("wrong_answers")
    if wrong is None:
        return "-"
    unchecked = entry.get("unchecked") or 0
    return f"{wrong} of {entry['requests']}" + (f" ({unchecked} unchecked)" if unchecked else "")


# -- the section ----------------------------------------------------------------------------------


def _generator_text(generator: str | None) -> str:
    if not generator:
        return "16 Python clients (results from before the generator was recorded)"
    if generator.startswith("python"):
        return (
            f"**{generator}**: their own CPU per request exceeds the servers', so req/s here "
            "measures the clients (`make bench` installs autocannon)"
        )
    return f"{generator}, 16 keep-alive connections, one request in flight on each"


def section_lines(results: dict[str, Any]) -> list[str]:
    """(a) and (b) as tables, and how each system failed, if any did."""
    conc = results.get("concurrency")
    if not conc:
        return []
    identical, distinct = conc["identical"], conc["distinct"]
    lines = [
        f"## {identical['clients']} clients: identical and distinct dashboards (scale "
        f"{conc['scale']}, Telzino + Teli)",
        "",
        "Every system answers the same dashboard over Telzino and Teli (what Tailcall can "
        "express); usagegraph runs with only those sources configured. The 16 clients: "
        f"{_generator_text(conc.get('generator'))}. Server CPU is the server's process tree's "
        "user + system time over the load per request (steadier than req/s on a shared "
        "machine); harness CPU is the load generator's own (it shares the same 2 cores: where "
        "server + harness CPU per request times req/s nears the core count, req/s measures the "
        "machine, and the server CPU column is the comparison that carries over). Upstream data "
        "calls per request are the sandbox's over the whole load divided by the requests "
        "answered; the peers' entity listings are counted apart. Sequential: one client, the "
        "same dashboard after one warm-up request (usagegraph's defaults answer it from the "
        "answer cache).",
        "",
        f"### Identical dashboards: {identical['clients']} clients for "
        f"{identical['duration']:.0f} s",
        "",
        "| system | sequential p50 ms | req/s | p50 ms | p95 ms | p99 ms | server CPU ms / "
        "request | harness CPU ms / request | upstream data calls / request | listing calls / "
        "request | errors | wrong answers | answer cache | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in identical.values():
        if not isinstance(entry, dict):
            continue
        if "failed" in entry:
            lines.append(f"| {entry['label']} | failed: `{entry['failed'][:200]}` |||||||||| ")
            continue
        errors = entry["errors"] + entry.get("sequential_errors", 0)
        wrong = entry.get("wrong_or_missing") or []
        lines.append(
            f"| {entry['label']} | {_ms(entry['sequential_p50'], 1)} | "
            f"{_num(entry['throughput'])} | {_ms(entry['p50'], 1)} | {_ms(entry['p95'], 1)} | "
            f"{_ms(entry.get('p99'), 1)} | {_ms(entry.get('cpu_per_request'), 2)} | "
            f"{_ms(entry.get('harness_cpu_per_request'), 2)} | "
            f"{_num(entry['calls_per_request'], 3)} | {_num(entry['listing_per_request'], 3)} | "
            f"{errors}{f' ({len(wrong)} wrong/missing)' if wrong else ''} | "
            f"{_wrong(entry)} | {_answer_cache_text(entry.get('answer_cache'))} | "
            f"{entry.get('peak_rss', 0) / MB:.0f} |"
        )
    lines += [
        "",
        f"### Distinct variables: {distinct['clients']} clients for {distinct['duration']:.0f} "
        "s, every request a range no request used before",
        "",
        "| system | req/s | p50 ms | p95 ms | p99 ms | server CPU ms / request | harness CPU ms "
        "/ request | upstream data calls / request | lower bound / request | listing calls / "
        "request | errors | wrong answers |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in distinct.values():
        if not isinstance(entry, dict):
            continue
        if "failed" in entry:
            lines.append(f"| {entry['label']} | failed: `{entry['failed'][:200]}` |||||||| ")
            continue
        reused = f" ({entry['ranges_reused']} ranges reused)" if entry["ranges_reused"] else ""
        lines.append(
            f"| {entry['label']} | {_num(entry['throughput'])}{reused} | {_ms(entry['p50'], 1)} "
            f"| {_ms(entry['p95'], 1)} | {_ms(entry.get('p99'), 1)} | "
            f"{_ms(entry.get('cpu_per_request'), 2)} | "
            f"{_ms(entry.get('harness_cpu_per_request'), 2)} | "
            f"{_num(entry['calls_per_request'], 2)} | "
            f"{_num(entry['bound_per_request'], 2)} | {_num(entry['listing_per_request'], 2)} | "
            f"{entry['errors']} | {_wrong(entry)} |"
        )
    lines.append("")
    for shape, entries in (("identical", identical), ("distinct", distinct)):
        for entry in entries.values():
            if isinstance(entry, dict) and entry.get("wrong_examples"):
                lines.append(
                    f"- {entry['label']}, {shape}: {entry['wrong_answers']} of "
                    f"{entry['requests']} answers wrong for their own request, e.g. "
                    f"`{'; '.join(entry['wrong_examples'])[:400]}`"
                )
    lines.append("")
    if not conc.get("peers"):
        lines += ["Peers not run (--no-peers, or bench/peers/node_modules missing).", ""]
    return lines


def mechanism_lines(scale: dict[str, Any]) -> list[str]:
    """One scale's coalescing and answer-cache checks, and the answer cache's memory."""
    lines: list[str] = []
    c = scale.get("coalescing")
    if c:
        lines.append(
            f"- Coalescing ({'ok' if c['ok'] else 'FAILED'}): {c['clients']} identical "
            f"dashboards released at one instant, cache off: {c['data_calls']} upstream data "
            f"calls in all, one request's bound {c['one_request_bound']}; p50 {_ms(c['p50'])} "
            f"ms, errors {c['errors']}."
        )
    a = scale.get("answer_cache_check")
    if a:
        lines.append(
            f"- Answer cache ({'ok' if a['ok'] else 'FAILED'}): a dashboard sent twice: "
            f"`X-Answer-Cache: {a['first_header']}` then `{a['second_header']}`, hits counted "
            f"in /metrics {a['hits_counted']:.0f}, the second's upstream calls "
            f"{a['second_upstream_calls']}, same answer {a['identical']} (same bytes "
            f"{a['same_bytes']})."
        )
    b = scale.get("answer_bound")
    if b and not b.get("unsupported"):
        lines.append(
            f"- Answer cache bound ({'ok' if b['ok'] else 'FAILED'}): `[cache] answer_max_bytes = "
            f"{b['bound']}`, {b['sent']} dashboards of distinct ranges ({b['sent_bytes']} bytes "
            f"of answers) sent: {b['bytes']:.0f} bytes in {b['entries']:.0f} answers kept."
        )
    u = scale.get("answer_cache")
    if u:
        lines.append(
            f"- Answer cache after the warm and throughput runs: "
            f"{_answer_cache_text(u)}; bound `[cache] answer_max_bytes` "
            f"{_num(u['bound_per_process'] / MB, 0)} MB per process."
        )
    return [*lines, ""] if lines else []


# -- targets --------------------------------------------------------------------------------------


def target_lines(results: dict[str, Any]) -> list[str]:
    """Issue 15's targets, each met / NOT met with its ratio (or why it was not measured)."""
    lines: list[str] = []
    ours = _entry(results, "identical", "ours")
    off = _entry(results, "identical", "ours-cache-off")
    two = _entry(results, "identical", "ours-workers-2")
    tail = _entry(results, "identical", "tailcall")
    hive_d = _entry(results, "distinct", "hive-dedupe")
    ours_d = _entry(results, "distinct", "ours")
    two_d = _entry(results, "distinct", "ours-workers-2")

    def missing(name: str) -> str:
        if not (results.get("concurrency") or {}).get("peers", True):
            why = "the peers did not run: --quick, --no-peers, or bench/peers/node_modules missing"
        else:
            why = "a system did not run; see the tables"
        return f"- **{name}**: not measured ({why})."

    if not results.get("concurrency"):  # --no-concurrency: only the per-scale ones
        return [_warm_l_line(results), _memory_line(results)]

    name = "Identical dashboards, 16 clients, defaults: req/s ≥ 1.5x Tailcall-with-dedupe's"
    if ours and tail:
        r = _ratio(ours["throughput"], tail["throughput"])
        lines.append(
            f"- **{name}**: {_verdict(r >= 1.5)} — {ours['throughput']:.0f} vs "
            f"{tail['throughput']:.0f} req/s (x{r:.2f}){_wrong_note(ours, tail)}"
            f"{_cpu_note(ours, tail)}."
        )
    else:
        lines.append(missing(name))
    name = "Cache off: upstream calls per request ≤ 1.1x Tailcall-with-dedupe's"
    if off and tail:
        r = _ratio(off["calls_per_request"], tail["calls_per_request"])
        lines.append(
            f"- **{name}**: {_verdict(r <= 1.1)} — {off['calls_per_request']:.3f} vs "
            f"{tail['calls_per_request']:.3f} data calls per request (x{r:.2f}; Tailcall also "
            f"lists entities: {tail['listing_per_request']:.3f} calls per request)."
        )
    else:
        lines.append(missing(name))
    name = "Cache off: sequential cold p50 ≤ Tailcall's"
    if off and tail:
        r = _ratio(off["sequential_p50"], tail["sequential_p50"])
        lines.append(
            f"- **{name}**: {_verdict(r <= 1.0)} — {_ms(off['sequential_p50'], 1)} vs "
            f"{_ms(tail['sequential_p50'], 1)} ms (x{r:.2f})."
        )
    else:
        lines.append(missing(name))
    name = "Distinct variables (each cold), 16 clients: req/s ≥ Hive Gateway-with-dedupe's"
    if ours_d and hive_d:
        r = _ratio(ours_d["throughput"], hive_d["throughput"])
        lines.append(
            f"- **{name}**: {_verdict(r >= 1.0)} — {ours_d['throughput']:.0f} vs "
            f"{hive_d['throughput']:.0f} req/s (x{r:.2f}){_wrong_note(ours_d, hive_d)}"
            f"{_cpu_note(ours_d, hive_d)}."
        )
    else:
        lines.append(missing(name))
    tail_d = _entry(results, "distinct", "tailcall")
    plain_d = _entry(results, "distinct", "tailcall-plain")
    if ours_d and (tail_d or plain_d):
        parts = [
            f"{e['label']} {e['throughput']:.0f} req/s (ours x"
            f"{_ratio(ours_d['throughput'], e['throughput']):.2f}), {e['wrong_answers']} of "
            f"{e['requests']} answers wrong"
            for e in (plain_d, tail_d)
            if e
        ]
        lines.append("- Distinct variables vs Tailcall (no target): " + "; ".join(parts) + ".")
    lines.append(_warm_l_line(results))
    lines.append(_memory_line(results))
    if ours and two:
        parts = [f"identical x{_ratio(two['throughput'], ours['throughput']):.2f}"]
        if ours_d and two_d:
            parts.append(f"distinct x{_ratio(two_d['throughput'], ours_d['throughput']):.2f}")
        lines.append(
            "- `--workers 2` vs 1 (req/s, 16 clients; no target, the machine's cores are shared "
            "with the harness and the sandbox): " + ", ".join(parts) + "."
        )
    return lines


def _warm_l_line(results: dict[str, Any]) -> str:
    name = "Warm L dashboard p50 ≤ 20 ms"
    warm = ((results.get("scales") or {}).get("L") or {}).get("warm")
    if not warm:
        return f"- **{name}**: not measured (scale L not run)."
    p50 = warm["p50"]
    return (
        f"- **{name}**: {_verdict(p50 <= WARM_L_TARGET)} — {_ms(p50, 1)} ms "
        f"(x{p50 / WARM_L_TARGET:.2f} of the target)."
    )


def _memory_line(results: dict[str, Any]) -> str:
    name = "Answer cache memory bounded and reported"
    parts: list[str] = []
    ok = True
    for scale, s in (results.get("scales") or {}).items():
        b = s.get("answer_bound")
        if b:
            ok = ok and b["ok"]
            parts.append(
                f"{scale} bound check: {b.get('bytes', math.nan):.0f} bytes held under a "
                f"{b['bound']}-byte bound after {b.get('sent_bytes', math.nan):.0f} bytes of "
                f"answers ({'held' if b['ok'] else 'NOT held'})"
            )
    for scale, s in (results.get("scales") or {}).items():
        u = s.get("answer_cache")
        if not u or math.isnan(u["bytes"]):
            ok = False
            parts.append(f"{scale}: not reported")
            continue
        bound = u["bound_per_process"] * u["processes"]
        ok = ok and u["bytes"] <= bound
        parts.append(
            f"{scale}: {u['bytes'] / MB:.2f} MB in {u['entries']:.0f} answers "
            f"(x{u['bytes'] / bound:.3f} of the {bound / MB:.0f} MB bound)"
        )
    if not parts:
        return f"- **{name}**: not measured (no scale run)."
    return f"- **{name}**: {_verdict(ok)} — " + "; ".join(parts) + "."

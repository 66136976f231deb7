"""The markdown report, the charts, and the summary in docs/performance.md."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench import paged_report, side
from bench.concurrency_report import mechanism_lines, section_lines, target_lines

__all__ = ["write"]

TALKDESK_USAGE = "talkdesk /express/usage/month"
SCENARIO_TITLES = {"dashboard": "1 dashboard", "drilldown": "2 drill-down", "mixed": "3 mixed"}
MB = 2**20


def _ms(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value * 1000:.0f}"


def _ratio(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.2f}"


def _peer(scale: dict[str, Any], system: str, state: str, scenario: str) -> dict[str, Any] | None:
    entry = ((scale.get("peers") or {}).get(system) or {}).get(state) or {}
    return entry.get(scenario) if isinstance(entry, dict) else None


def _peer_failed(scale: dict[str, Any], system: str, state: str) -> str | None:
    entry = ((scale.get("peers") or {}).get(system) or {}).get(state) or {}
    return entry.get("failed") if isinstance(entry, dict) else None


def _peer_calls(scale: dict[str, Any], system: str, scenario: str) -> str:
    f = _peer(scale, system, "cold", scenario)
    if f is None:
        return "-" if not _peer_failed(scale, system, "cold") else "failed"
    text = f"{f['calls']} + {f['discovery_per_request']} listing"
    if f.get("error_count"):
        text += f" ({f['error_count']} errors)"
    if f.get("wrong_or_missing"):
        text += f" ({f['wrong_or_missing']} wrong/missing)"
    return text


def _peer_p50(scale: dict[str, Any], system: str, state: str, scenario: str) -> str:
    f = _peer(scale, system, state, scenario)
    if f is None:
        return "failed" if _peer_failed(scale, system, state) else "-"
    return _ms(f["p50"])


def _targets(results: dict[str, Any]) -> list[str]:
    """The targets of every issue: calls and cold latency per scale, then issue 15's ratios."""
    scale_lines = _scale_targets(results) if results["scales"] else []
    return [*scale_lines, *target_lines(results)]


def _scale_targets(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    scales = results["scales"]
    at_bound = all(
        s["cold"][n]["calls"] <= s["cold"][n]["bound"]
        for s in scales.values()
        for n in SCENARIO_TITLES
    )
    worst = max(
        (s["cold"][n]["ratio"] for s in scales.values() for n in SCENARIO_TITLES), default=math.nan
    )
    lines.append(
        f"- **Upstream calls at the lower bound** (ratio 1.00 in every scenario): "
        f"{'met' if at_bound else 'NOT met'} (worst ratio {_ratio(worst)})."
    )
    naive = [
        f"{k} {SCENARIO_TITLES[n].split()[1]} x{_ratio(s['naive'][n]['ratio'])}"
        for k, s in scales.items()
        for n in SCENARIO_TITLES
        if "naive" in s
    ]
    if naive:
        lines.append(
            "- Naive baseline (no batching, no priming), calls / bound: " + ", ".join(naive) + "."
        )
    if "M" in scales:
        parts = []
        ok = True
        for n in SCENARIO_TITLES:
            c = scales["M"]["cold"][n]
            met = c["p50"] <= c["target"]
            ok = ok and met
            parts.append(
                f"{SCENARIO_TITLES[n]}: p50 {_ms(c['p50'])} ms vs target {_ms(c['target'])} ms "
                f"({'met' if met else 'not met'})"
            )
        lines.append(
            "- **Cold latency at M within 1.5x the critical path + 100 ms**: "
            + ("met" if ok else "NOT met")
            + " — "
            + "; ".join(parts)
            + "."
        )
    for scale_name in ("M", "L"):
        s = scales.get(scale_name)
        if not s or "peers" not in s or "skipped" in s["peers"]:
            continue
        for system in ("mesh", "tailcall"):
            verdicts = []
            for n in ("dashboard", "drilldown"):
                f = _peer(s, system, "cold", n)
                ours = s["cold"][n]
                if f is None:
                    verdicts.append(f"{SCENARIO_TITLES[n]}: peer failed")
                    continue
                peer_calls = f["calls"] + f["discovery_per_request"]
                ours_calls = ours["calls"]
                ours_p50 = ours["p50"]
                note = ""
                if system == "tailcall" and n == "dashboard":
                    # Tailcall cannot express Talkdesk: compare on Telzino and Teli only
                    ours_calls -= ours["by_endpoint"].get(TALKDESK_USAGE, 0)
                    alike = s.get("without_talkdesk", {}).get("dashboard")
                    if alike is not None:
                        ours_p50 = alike["p50"]
                        note = (
                            " (Telzino and Teli only: our p50 is the same server with only those"
                            f" sources configured; with Talkdesk too it is {_ms(ours['p50'])} ms)"
                        )
                    else:
                        note = (
                            " (calls on Telzino and Teli only; the latency is not like for like:"
                            " ours includes Talkdesk)"
                        )
                fewer = ours_calls < peer_calls
                lower = ours_p50 < f["p50"]
                verdicts.append(
                    f"{SCENARIO_TITLES[n]}: calls {ours_calls} vs {peer_calls} "
                    f"({'fewer' if fewer else 'NOT fewer'}), p50 {_ms(ours_p50)} vs "
                    f"{_ms(f['p50'])} ms "
                    f"({'lower' if lower else 'NOT lower'}){note}"
                )
            lines.append(f"- **{scale_name} vs {system}**: " + "; ".join(verdicts) + ".")
    return lines


def _charts(results: dict[str, Any], out: Path) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    scales = results["scales"]
    names = list(scales)
    if not names:
        return []
    written: list[str] = []
    systems: list[tuple[str, Any]] = [
        ("usagegraph cold", lambda s, n: s["cold"][n]["p50"]),
        ("usagegraph warm", lambda s, n: s["warm"]["p50"] if n == "dashboard" else math.nan),
        ("naive", lambda s, n: s.get("naive", {}).get(n, {}).get("p50", math.nan)),
        (
            "usagegraph cold, Telzino + Teli only",
            lambda s, n: s.get("without_talkdesk", {}).get(n, {}).get("p50", math.nan),
        ),
    ]
    for system in ("mesh", "tailcall"):
        for state in ("cold", "warm"):
            systems.append(
                (
                    f"{system} {state}",
                    lambda s, n, sy=system, st=state: (_peer(s, sy, st, n) or {}).get(
                        "p50", math.nan
                    ),
                )
            )
    colors = {label: f"C{i}" for i, (label, _get) in enumerate(systems)}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, scenario in zip(axes, ("dashboard", "drilldown"), strict=True):
        for label, get in systems:
            ys = [get(scales[k], scenario) * 1000 for k in names]
            if all(math.isnan(y) for y in ys):
                continue
            shown = label
            if scenario == "dashboard" and label.startswith("tailcall"):
                shown += " (no Talkdesk)"
            ax.plot(names, ys, marker="o", label=shown, color=colors[label])
        ax.legend(fontsize=7)
        ax.set_title(f"{SCENARIO_TITLES[scenario]}: p50 latency")
        ax.set_xlabel("scale")
        ax.set_ylabel("ms")
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "latency_by_scale.png", dpi=110)
    plt.close(fig)
    written.append("latency_by_scale.png")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.16
    for ax, scenario in zip(axes, ("dashboard", "drilldown"), strict=True):
        series = {
            "lower bound": [scales[k]["cold"][scenario]["bound"] for k in names],
            "usagegraph": [scales[k]["cold"][scenario]["calls"] for k in names],
            "naive": [
                scales[k].get("naive", {}).get(scenario, {}).get("calls", math.nan) for k in names
            ],
        }
        for system in ("mesh", "tailcall"):
            key = (
                f"{system} (no Talkdesk)"
                if system == "tailcall" and scenario == "dashboard"
                else system
            )
            series[key] = [
                (
                    (f := _peer(scales[k], system, "cold", scenario))
                    and f["calls"] + f["discovery_per_request"]
                )
                or math.nan
                for k in names
            ]
        for i, (label, ys) in enumerate(series.items()):
            xs = [j + (i - 2) * width for j in range(len(names))]
            ax.bar(xs, ys, width, label=label)
        ax.set_xticks(range(len(names)), names)
        ax.set_yscale("log")
        ax.set_title(f"{SCENARIO_TITLES[scenario]}: upstream calls per request")
        ax.set_xlabel("scale")
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "upstream_calls.png", dpi=110)
    plt.close(fig)
    written.append("upstream_calls.png")
    return written


def _scale_sections(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    lat = results["latency_ms"]
    for name, s in results["scales"].items():
        d = s["dataset"]
        lines += [
            f"## Scale {name}",
            "",
            f"{d['resellers']} resellers, {d['organizations']} organizations, {d['sources']} "
            "source "
            f"connections; dataset {d['first_day']} .. {d['last_day']}; usage range "
            f"{d['range'][0]} .. {d['range'][1]}. First request after start (discovery and "
            f"tokens): {_ms(s['warm_up']['first_request_seconds'])} ms; discovery calls during "
            f"warm-up: {s['warm_up']['discovery_total']} {s['warm_up']['discovery_by_endpoint']}, "
            f"token calls: {s['warm_up']['auth_total']}. Peak RSS of `usagegraph serve`: "
            f"{s['peak_rss'] / MB:.0f} MB. Settings this version rejected: "
            f"{s.get('settings_dropped') or 'none'}; response cache active: "
            f"{s.get('cache_active')}.",
            "",
            "### Upstream data calls per request (discovery excluded)",
            "",
            "| scenario | lower bound | usagegraph | ratio | naive | naive ratio | Mesh (data + "
            "listing) | Tailcall (data + listing) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for n, title in SCENARIO_TITLES.items():
            c = s["cold"][n]
            nv = s.get("naive", {}).get(n, {})
            peer_cells = (
                ("-", "-")
                if n == "mixed"
                else (_peer_calls(s, "mesh", n), _peer_calls(s, "tailcall", n))
            )
            lines.append(
                f"| {title} | {c['bound']} {c['bound_by_endpoint']} | {c['calls']} | "
                f"{_ratio(c['ratio'])} | "
                f"{nv.get('calls', '-')} | {_ratio(nv.get('ratio'))} | "
                f"{peer_cells[0]} | {peer_cells[1]} |"
            )
        w = s["warm"]
        lines += [
            f"| 4 warm | {w['bound']} | {w['calls']} | {_ratio(w['ratio'])} | - | - | "
            f"{_peer_calls_warm(s, 'mesh')} | {_peer_calls_warm(s, 'tailcall')} |",
            "",
            f"### Latency (ms; {lat} ms injected per upstream call)",
            "",
            "| scenario | stages | critical path | p50 cold | p95 cold | own overhead (p50 - "
            "critical path) | target 1.5xCP+100 | naive p50 | Mesh p50 cold / warm | Tailcall p50 "
            "cold / warm |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for n, title in SCENARIO_TITLES.items():
            c = s["cold"][n]
            nv = s.get("naive", {}).get(n, {})
            if n == "mixed":
                mesh = tail = "-"
            else:
                mesh = f"{_peer_p50(s, 'mesh', 'cold', n)} / {_peer_p50(s, 'mesh', 'warm', n)}"
                tail = (
                    f"{_peer_p50(s, 'tailcall', 'cold', n)} / {_peer_p50(s, 'tailcall', 'warm', n)}"
                )
            lines.append(
                f"| {title} | {c['stages']} | {_ms(c['critical_path'])} | {_ms(c['p50'])} | "
                f"{_ms(c['p95'])} | "
                f"{_ms(c['overhead_p50'])} | {_ms(c['target'])} | {_ms(nv.get('p50'))} | {mesh} | "
                f"{tail} |"
            )
        lines += [
            f"| 4 warm | {w['stages']} | {_ms(w['critical_path'])} | {_ms(w['p50'])} | "
            f"{_ms(w['p95'])} | "
            f"{_ms(w['overhead_p50'])} | - | - | - | - |",
            "",
            _burst_line(s),
            "",
            *mechanism_lines(s),
            "### Throughput (cache warm; same = every client sends the same request, distinct = "
            "each client its own organization and range)",
            "",
            "| scenario | load | clients | requests | req/s | p50 | p95 | upstream calls / request "
            "| lower bound / request | errors |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for key, figures in s["throughput"].items():
            scen, shape, conc = key.split("/")
            lines.append(
                f"| {SCENARIO_TITLES[scen]} | {shape} | {conc} | {figures['requests']} | "
                f"{figures['throughput']:.1f} | "
                f"{_ms(figures['p50'])} | {_ms(figures['p95'])} | "
                f"{figures['calls_per_request']:.2f} | "
                f"{figures['bound_per_request']:.2f} | {figures['errors']} |"
            )
        lines.append("")
        peers = s.get("peers") or {}
        if "skipped" in peers:
            lines += [f"Peers skipped: {peers['skipped']}", ""]
        for system in ("mesh", "tailcall"):
            for state in ("cold", "warm"):
                failed = _peer_failed(s, system, state)
                if failed:
                    lines += [f"**{system} ({state}) failed**: `{failed[:400]}`", ""]
                for n in ("dashboard", "drilldown"):
                    peer = _peer(s, system, state, n)
                    if peer and (peer.get("errors") or peer.get("wrong_examples")):
                        lines.append(
                            f"- {system} {state} {n}: errors {peer.get('error_count')}: "
                            f"`{str(peer.get('errors'))[:300]}`; wrong/missing: "
                            f"`{str(peer.get('wrong_examples'))[:300]}`"
                        )
                entry = ((peers.get(system) or {}).get(state)) or {}
                if isinstance(entry, dict) and entry.get("peak_rss"):
                    lines.append(f"- {system} {state}: peak RSS {entry['peak_rss'] / MB:.0f} MB")
        lines.append("")
    return lines


def _burst_line(s: dict[str, Any]) -> str:
    b = s.get("burst")
    if not b:
        return "No response cache: no cold-cache burst measured."
    return (
        f"Burst: 32 identical dashboards at once on a fresh server (cold cache): "
        f"{b['data_calls']} upstream data calls in all, one request's lower bound is "
        f"{b['one_request_bound']}; p50 {_ms(b['p50'])} ms, errors {b['errors']}."
    )


def _peer_calls_warm(s: dict[str, Any], system: str) -> str:
    f = _peer(s, system, "warm", "dashboard")
    if f is None:
        return "-"
    return f"{f['calls']} + {f['discovery_per_request']} listing"


def _soak_lines(soak: dict[str, Any] | None) -> list[str]:
    if not soak:
        return []
    timeline = soak.get("rss_timeline") or []
    coarse = ", ".join(f"{t:.0f} s {mb:.0f}" for t, mb in timeline[:: max(1, len(timeline) // 8)])
    return [
        "## Soak: 32 clients, faults injected",
        "",
        f"Scale {soak['scale']}, {soak['clients']} clients for {soak['seconds']:.0f} s over the "
        "dashboard, drill-down and mixed requests; the sandbox answered 5% of calls with 503 and "
        f"1% with 429 ({soak['faults_hit']} faults over {soak['upstream_calls']} upstream calls). "
        "Server settings: production defaults, except two attempts per upstream call (so faults "
        "can get through the retries), response-cache TTLs of 2 s (so the cache keeps missing and "
        "standing in for failed sources) and no per-caller request rate (all clients share one "
        "address).",
        "",
        "| responses | req/s | p50 ms | p95 ms | with errors | error codes | not UPSTREAM_* from a "
        "source | wrong numbers | nulls without an error | RSS MB start / first-half peak / end "
        "/ peak | flat |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {soak['responses']} | {soak['throughput']:.1f} | {_ms(soak['p50'])} | "
        f"{_ms(soak['p95'])} | {soak['responses_with_errors']} | {soak['error_codes'] or 'none'} | "
        f"{soak['bad_error_count']} | {soak['wrong_count']} | {soak['silent_count']} | "
        f"{soak['rss_start'] / MB:.0f} / {soak.get('rss_first_half_peak', 0) / MB:.0f} / "
        f"{soak['rss_end'] / MB:.0f} / {soak['rss_peak'] / MB:.0f} | "
        f"{'yes' if soak['rss_flat'] else 'NO'} |",
        "",
        *(
            [
                "No response carried an error: the retries (and the cache's stale entries, where "
                "it served them) absorbed every injected fault, so no partial error was left to "
                "check; the wrong-number and silent-null checks still covered every response.",
                "",
            ]
            if not soak["responses_with_errors"]
            else []
        ),
        f"RSS over the run (MB): {coarse}. Flat means the end is within 10% + 5 MB of the first "
        "half's high-water mark: CPython's RSS steps up when concurrent large responses coincide "
        "and then plateaus, a leak keeps climbing.",
        "",
    ]


def _profile_lines(results: dict[str, Any]) -> list[str]:
    for name, s in results["scales"].items():
        prof = s.get("profile")
        if not prof:
            continue
        lines = [
            f"## Profile (scale {name}, dashboard x7, pyinstrument)",
            "",
            f"`profile.html` / `profile.txt` next to this report. Request handling: "
            f"{prof['request_handling_seconds']:.2f} s of {prof['duration']:.2f} s recorded.",
            "",
            "Top self time while handling requests:",
            "",
        ]
        lines += [f"1. {fn}: {sec:.3f} s" for fn, sec in prof["self_time"]]
        lines += ["", "Self time by area:", ""]
        lines += [f"- {area}: {sec:.2f} s" for area, sec in prof.get("by_area", [])]
        lines += ["", "Project functions by cumulative time:", ""]
        lines += [f"1. {fn}: {sec:.3f} s" for fn, sec in prof["project_cumulative"]]
        return [*lines, ""]
    return []


HOT_SPOTS = """## Profile findings: fixed, and what remains

Fixed, each in its own commit (in-process timings against the sandbox at 25 ms):

1. httpcore imported the missing `sniffio` on every connection-pool operation (a failed import
   scans sys.path, ~0.4 ms per upstream call): now a dependency. M dashboard 149 -> 108 ms.
2. Strawberry's wrapper around self-only resolvers (Info, argument conversion, extension chain),
   a fifth of the L dashboard: 42 such fields are called directly (`schema/direct.py`);
   camelCase names are converted once (`schema/naming.py`).
3. A task per usage part (3 per organization): the loaders' futures are awaited together.
4. The checked JSON reader built each field's JSON path before reading it: one type check now.
5. Selection kinds once per AST node; usage totals summed once per object.
6. The sandbox summed every Teli user's series on each call (emulator CPU counts for everyone).
7. Garbage collection: `serve`/`sandbox` freeze the start-up heap and raise the young
   generation's threshold (older generations keep CPython's 10/10); see item 15 for its value.
8. Organization lists resolve their items' usage ahead (`schema/ahead.py`): one await for the
   whole list instead of Strawberry's argument conversion, a coroutine and graphql-core's tasks
   per organization; same loader keys, so the same calls. L dashboard CPU ~560 -> ~420 ms, M
   mixed 223 -> 160 ms in-process.
9. The sandbox rendered Talkdesk pages with a recursive Python encoder (~5 ms a page); the
   single-threaded emulator made every later answer wait behind them (at L, the Telzino report
   by ~100 ms). The json module's encoder writes them now, byte for byte the same.
10. Validation of a repeated operation (6 ms for the mixed query) is cached, keyed by its
   document and rules; parsing too (`schema/documents.py`: only texts that parsed are kept, so
   syntax errors keep their code).
11. httpcore's anyio network backend set up a cancel scope per read and write and, each time
   the pool handed out a connection, asked the kernel whether every idle socket had been
   dropped. Upstream sockets now run on an asyncio Protocol (`clients/network.py`): 1.3-1.5 ->
   0.8 ms of CPU per concurrent upstream call.
12. Every loader cache lived in a reference cycle with graphql-core's execution context, so the
   reports an operation loaded waited for an old-generation collection (~90,000 objects, an
   ~80 ms pause every few mixed requests). They are released when the operation ends
   (`schema/release.py`).
13. The sandbox computed and encoded each Telzino report (~7 ms at M) on every call, through
   the thread pool; it renders each distinct report once now, on the event loop.
14. Plain fields (`VoiceUsage.seconds`, `Money.amount`, a usage's voice/sms/costs objects) are
   completed in one step instead of graphql-core's per-field path (`schema/plain.py`): the
   mixed query with every answer cached 47 -> 42 ms in-process.
15. With little cyclic garbage left (item 12), the young generation is collected every 50,000
   allocations instead of 10,000: in-process L dashboard ~584 -> ~408 ms; the soak stays flat
   near 126 MB.
16. uvloop and httptools were measured, interleaved against the same server: no change in the
   mixed query's latency, so they are not dependencies (the clients are tested on uvloop, which
   uvicorn picks when it is installed). Later, measured with autocannon instead of the Python
   clients, httptools doubled the req/s of an answer from the answer cache (4,249 -> 8,186 at
   16 connections) and became a dependency; the header above names the loop and parser of
   each run.

What remains. In the M mixed query (72 calls): the HTTP client, ~0.6 ms of CPU per upstream
call in httpx's request/response models, URL parsing and httpcore's pool. In the L dashboard
(the profile above): decoding the vendors' rows into checked frozen dataclasses (the Telzino
report's 20,000 agents: `__init__`, `raw_decode`, `_agent_minutes`), completing 2,000
organizations' usage, summing each usage's parts, and freeing the operation's data at its end
(`dict.clear`). The response cache also decodes its entries on the event loop (warm scenario;
`python -m bench.cache_codec` times them).
This machine's speed also varies by about a fifth from minute to minute (a fixed Python loop
took 0.36-0.59 s), which moves every latency here by as much.
"""


METHOD = """## How the figures are computed

- **Upstream calls** are counted by the sandbox's request recorder, reset before each request.
  Discovery (organization, account, user and agent lists, the Telzino report over discovery's
  7-day window) and OAuth token calls are reported separately: the warm-up request pays them once
  per TTL. The **lower bound** comes from the dataset and the vendor contracts alone
  (`bench/bounds.py`): one Telzino report per range, one Teli tenant report per tenant and range,
  one Teli user report per organization, Talkdesk max(filter chunks, ceil(rows / 250)) pages per
  connection and month set.
- **Critical path** = sequential round-trip stages x injected latency. Per connection, pages of
  one Talkdesk query are sequential and at most `max_concurrency` (8) calls are in flight, so a
  connection needs max(longest page chain, ceil(calls / 8)) stages; connections run in parallel.
  The emulators' own processing time (same 2-core machine) is not in the critical path, so it
  shows up in the **own overhead** (p50 - critical path), together with ours.
- **Cold** = discovery cached, no response cache: every request makes its upstream calls.
  **Warm** = the dashboard repeated; with a response cache configured (`[cache]`) the repeats are
  served from it, otherwise they equal cold. **Throughput** runs each client back to back for a
  few seconds (in-flight requests finish), cache warm.
- The harness, the sandbox and the server share the machine's 2 cores, so absolute numbers are
  pessimistic; the ratios are what carries over.
- Benchmark server settings: `[graph] discovery_ttl_seconds = 3600`; `[limits]
  requests_per_second = 0` and per-source `rate_limit_per_second` raised (the sandbox does not
  rate-limit; the figures measure the engine, not the limiters). The naive baseline also lifts the
  per-operation call budget and the circuit breaker, so it shows the full N+1 shape. The soak's
  settings are given with its figures.
- **Peers** get the same endpoints; where they cannot express something the harness works around
  it as described in `bench/peers.py`: static tokens fetched by the harness (no OAuth flows), no
  cross-vendor identity, Talkdesk one call per account (no OR filter from batched keys, no HAL
  paging), money not summed per currency, Teli user analytics given the org id by the client,
  agents not ranked/sliced by the gateway. Their "listing" calls (entity lists they fetch on
  every request) are shown next to their data calls.
- Peer findings worth knowing: Mesh's `@resolveTo(keysArg)` matches batched results by position
  unless `valueKeyField` is set; without it, it silently answered with other organizations' rows
  (the harness sets it, and checks every peer dashboard number against the dataset). Tailcall 1.0.0
  cannot build Talkdesk's per-account filter (a query value mixing text and `{{...}}` renders as
  the text before the expression), so its dashboard leaves Talkdesk out (the harness compares it
  with our same server configured with only the Telzino and Teli sources); its batches are capped at
  100 keys (`@upstream(batch.maxSize)`), so Telzino costs ceil(organizations / 100) calls. Node's
  keep-alive reuse can race uvicorn's 5 s keep-alive timeout (`ECONNRESET`, seen once at L). At
  L, Hive Gateway's response cache served none of the dashboard repeats in our runs (every repeat
  made all its calls again); the cause was not investigated.
- usagegraph's cache keeps upstream responses (issue 5) and, with `[cache] answers` (on by
  default), whole answers (issue 15): a warm repeated request is answered without executing.
  Identical requests in flight at the same time are executed once, with or without the cache.
  The checks under each scale prove both mechanisms (a burst of 16 identical dashboards with the
  cache off costs one request's calls; a repeated dashboard is an `X-Answer-Cache: hit`).
- **16 clients** (issue 15): identical dashboards compare usagegraph (defaults, cache off,
  `--workers 2`) with Tailcall (`dedupe: true` on every `@http`, so its JIT executor also runs
  identical concurrent operations once) and Hive Gateway with
  `inboundInflightRequestDeduplication`; distinct variables send every request a date range of 1
  to 27 days no request used before, so no cache can answer it. All of them answer the same
  Telzino + Teli dashboard (Tailcall cannot express Talkdesk's filter). Every answer of both
  loads is checked against the dataset after the load (Telzino minutes and Teli SMS per
  organization): Tailcall 1.0.0's batching serves concurrent requests of different date ranges
  from one upstream call carrying the first request's dates, so most of its distinct-variables
  answers are another range's numbers, with `dedupe` on or off (one request at a time it is
  right); its speed there is not comparable.
- **The 16 clients** are autocannon's 16 keep-alive connections (npm, `bench/peers/cannon.mjs`),
  one request in flight on each, for the load's duration; then each finishes the request it has
  in flight, so every request sent is answered and every upstream call recorded belongs to one
  (the time ends at the last answer). Python's httpx spent 1.4-2.5 ms of CPU per request on this
  machine, more than the servers, so req/s measured the client; autocannon's own CPU per
  request is shown next to the servers'. Without `bench/peers/node_modules` the Python clients
  stand in, and the tables say so. The answers are checked from what autocannon kept: the
  identical load's distinct answers (by SHA-1 of the body) once each, counted for every request
  that got it; every answer of the distinct load against its own request's range. Sequential
  figures (one request at a time, each with its own upstream call count) still come from the
  Python client.
"""


def write(results: dict[str, Any], out: Path, *, docs: Path | None = None) -> None:
    charts = _charts(results, out) if results["scales"] else []
    m = results["machine"]
    lines = [
        "# usagegraph benchmark",
        "",
        f"{results['date']} · {m['cpus']} CPUs, {m['memory_gb']} GB · Python {m['python']} · "
        f"{m['platform']} · {_stack(m)} · {results['latency_ms']} ms injected per upstream "
        "call · run took "
        f"{results['seconds']:.0f} s{' · quick' if results['quick'] else ''} · load average "
        f"{results.get('load_before', '?')} before, {results.get('load_after', '?')} after",
        "",
    ]
    if results.get("failures"):
        lines += ["**Failures:**", "", *[f"- `{f[:500]}`" for f in results["failures"]], ""]
    if results["scales"] or results.get("concurrency"):
        lines += ["## Targets", "", *_targets(results), ""]
        lines += [f"![{c}]({c})" for c in charts] + [""]
    lines += section_lines(results)
    lines += paged_report.section_lines(results)
    lines += _scale_sections(results) if results["scales"] else []
    lines += _soak_lines(results.get("soak"))
    lines += _profile_lines(results) if results["scales"] else []
    lines += [METHOD]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    if docs is not None:
        docs.write_text(_docs(results), encoding="utf-8")


def _stack(machine: dict[str, Any]) -> str:
    """The event loop and HTTP parser uvicorn used (results before they were recorded: '?')."""
    return (
        f"uvicorn on {machine.get('event_loop', '?')} with {machine.get('http_parser', '?')} "
        "parsing HTTP"
    )


def _docs(results: dict[str, Any]) -> str:
    m = results["machine"]
    scales = results["scales"]
    lines = [
        "# Performance",
        "",
        "Measured by `make bench` (harness in `bench/`, full report with charts and the profile in",
        "`bench/results/`, not committed). Every figure is from one run on one machine; the "
        "harness,",
        "the vendor sandbox and the server share its cores.",
        "",
        f"- Date: {results['date']}",
        f"- Machine: {m['cpus']} CPUs, {m['memory_gb']} GB RAM, {m['processor']}, {m['platform']}, "
        f"Python {m['python']}, {_stack(m)}",
        f"- Load average (1 / 5 / 15 min) before and after: {results.get('load_before', '?')}; "
        f"{results.get('load_after', '?')} (other work on the machine skews timings, not calls)",
        f"- Injected upstream latency: {results['latency_ms']} ms per call; scales S (3 resellers, "
        "20 orgs), M (10, 200), L (20, 2,000)",
        "",
    ]
    if scales:
        lines += [
            "## Summary",
            "",
            "| scale | scenario | upstream calls (ours / bound / naive / Mesh / Tailcall) | p50 "
            "cold ms (ours / naive / Mesh / Tailcall) | critical path ms | own overhead ms |",
            "|---|---|---|---|---|---|",
        ]
        for name, s in scales.items():
            for n, title in SCENARIO_TITLES.items():
                c = s["cold"][n]
                nv = s.get("naive", {}).get(n, {})
                if n == "mixed":
                    pc = pl = "- / -"
                else:
                    pc = f"{_peer_calls(s, 'mesh', n)} / {_peer_calls(s, 'tailcall', n)}"
                    pl = (
                        f"{_peer_p50(s, 'mesh', 'cold', n)} / {_peer_p50(s, 'tailcall', 'cold', n)}"
                    )
                lines.append(
                    f"| {name} | {title} | {c['calls']} / {c['bound']} / {nv.get('calls', '-')} / "
                    f"{pc} | "
                    f"{_ms(c['p50'])} / {_ms(nv.get('p50'))} / {pl} | {_ms(c['critical_path'])} | "
                    f"{_ms(c['overhead_p50'])} |"
                )
        lines += [
            "",
            "| scale | warm dashboard p50 ms | req/s dashboard, same query, 1 / 8 / 32 clients | "
            "req/s dashboard, distinct variables, 1 / 8 / 32 | peak RSS MB | response cache | "
            "32 identical dashboards on a cold cache: upstream calls (one request's bound) |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, s in scales.items():
            t = s["throughput"]

            def rate(shape: str, t: dict[str, Any] = t) -> str:
                return " / ".join(
                    f"{t[f'dashboard/{shape}/{c}']['throughput']:.1f}" for c in (1, 8, 32)
                )

            lines.append(
                f"| {name} | {_ms(s['warm']['p50'])} | {rate('same')} | {rate('distinct')} | "
                f"{s['peak_rss'] / MB:.0f} | "
                f"{'on' if s.get('cache_active') else 'none configured'} | "
                + (
                    f"{s['burst']['data_calls']} ({s['burst']['one_request_bound']}) |"
                    if s.get("burst")
                    else "- |"
                )
            )
        lines += ["", "## Coalescing and the answer cache", ""]
        for name, s in scales.items():
            lines += [f"Scale {name}:", "", *mechanism_lines(s)]
    if scales or results.get("concurrency"):
        lines += ["## Targets", "", *_targets(results), ""]
    lines += section_lines(results)
    lines += paged_report.section_lines(results)
    lines += _soak_lines(results.get("soak"))
    lines += side.section_lines(results.get("side"))
    prof = next((s.get("profile") for s in scales.values() if s.get("profile")), None)
    if prof:
        lines += [
            "## Profile hot spots (largest scenario: the L dashboard, pyinstrument)",
            "",
            f"{prof['request_handling_seconds']:.1f} s spent handling 7 dashboard requests "
            "(profiler overhead included). Self time by area:",
            "",
        ]
        lines += [f"- {area}: {sec:.2f} s" for area, sec in prof.get("by_area", [])]
        lines += ["", "Top functions by self time:", ""]
        lines += [f"1. {fn}: {sec:.3f} s self" for fn, sec in prof["self_time"][:8]]
        lines += ["", "Project code by cumulative time:", ""]
        lines += [f"1. {fn}: {sec:.3f} s" for fn, sec in prof["project_cumulative"][:8]]
        lines.append("")
    lines += [HOT_SPOTS]
    if results.get("failures"):
        lines += [
            "## Failures in this run",
            "",
            *[f"- `{f[:300]}`" for f in results["failures"]],
            "",
        ]
    lines += [METHOD]
    return "\n".join(lines)

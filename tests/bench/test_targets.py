"""Issue 15's targets as the bench report prints them, and the ranges its cold load sends."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from bench.answers import check_ours_dashboard, wrong_answers
from bench.concurrency_report import section_lines, target_lines
from bench.scenarios import Workload, cold_ranges, distinct_ranges
from usagegraph.sandbox.dataset import Dataset

MB = 2**20


def identical(
    throughput: float, calls: float, p50: float, wrong: int = 0, cpu: float = 0.001
) -> dict[str, Any]:
    return {
        "label": "x",
        "cpu_per_request": cpu,
        "throughput": throughput,
        "calls_per_request": calls,
        "listing_per_request": calls,
        "sequential_p50": p50,
        "requests": 400,
        "wrong_answers": wrong,
    }


def answer_cache(megabytes: float) -> dict[str, Any]:
    return {
        "bytes": megabytes * MB,
        "entries": 10,
        "bound_per_process": 64 * MB,
        "processes": 1,
        "outcomes": {},
    }


def results(**identical_entries: dict[str, Any]) -> dict[str, Any]:
    return {
        "scales": {
            "S": {"answer_cache": answer_cache(2)},
            "L": {"answer_cache": answer_cache(48), "warm": {"p50": 0.0125}},
        },
        "concurrency": {
            "identical": identical_entries,
            "distinct": {
                "ours": identical(130.0, 3.0, 0.05),
                "hive-dedupe": identical(120.0, 3.0, 0.07),
                "tailcall": identical(160.0, 0.6, 0.06, wrong=573),
            },
        },
    }


def test_each_target_is_met_or_not_with_its_ratio() -> None:
    lines = target_lines(
        results(
            ours=identical(750.0, 0.0, 0.007, cpu=0.0007),
            **{"ours-cache-off": identical(400.0, 0.2, 0.031)},
            tailcall=identical(480.0, 0.125, 0.032, cpu=0.00036),
        )
    )

    assert lines[0].endswith(
        "met — 750 vs 480 req/s (x1.56); server CPU per request 0.70 vs 0.36 ms (x1.94)."
    )
    assert "**: NOT met — 0.200 vs 0.125 data calls per request (x1.60;" in lines[1]
    assert lines[2].endswith("met — 31.0 vs 32.0 ms (x0.97).")
    assert lines[3].endswith(
        "met — 130 vs 120 req/s (x1.08); server CPU per request 1.00 vs 1.00 ms (x1.00)."
    )
    assert "Tailcall" in lines[4] and "573 of 400 answers wrong" in lines[4]
    assert lines[5].endswith("met — 12.5 ms (x0.62 of the target).")
    assert lines[6].endswith(
        "met — S: 2.00 MB in 10 answers (x0.031 of the 64 MB bound); "
        "L: 48.00 MB in 10 answers (x0.750 of the 64 MB bound)."
    )


def test_answer_memory_over_its_bound_or_unreported_is_not_met() -> None:
    over = results()
    over["scales"]["L"]["answer_cache"] = answer_cache(65)
    unreported = results()
    del unreported["scales"]["S"]["answer_cache"]
    bound_broken = results()
    bound_broken["scales"]["S"]["answer_bound"] = {
        "ok": False,
        "bound": 32768,
        "bytes": 40000.0,
        "sent_bytes": 76000,
    }

    assert "**: NOT met — S: 2.00 MB" in target_lines(over)[-1]
    assert "(x1.016 of the 64 MB bound)" in target_lines(over)[-1]
    assert "**: NOT met — S: not reported; L: 48.00 MB" in target_lines(unreported)[-1]
    assert target_lines(bound_broken)[-1].startswith(
        "- **Answer cache memory bounded and reported**: NOT met — S bound check: 40000 bytes "
        "held under a 32768-byte bound after 76000 bytes of answers (NOT held); S: 2.00 MB"
    )


def test_zero_calls_on_both_sides_is_a_tie_not_a_division_error() -> None:
    lines = target_lines(
        results(
            ours=identical(100.0, 0.0, 0.007),
            **{"ours-cache-off": identical(100.0, 0.0, 0.031)},
            tailcall=identical(480.0, 0.0, 0.032),
        )
    )

    assert "NOT met — 100 vs 480 req/s (x0.21);" in lines[0]
    assert "**: met — 0.000 vs 0.000 data calls per request (x1.00;" in lines[1]


def test_a_system_that_did_not_run_is_said_so() -> None:
    lines = target_lines(results(ours=identical(750.0, 0.0, 0.007)))

    assert lines[0] == (
        "- **Identical dashboards, 16 clients, defaults: req/s ≥ 1.5x Tailcall-with-dedupe's**: "
        "not measured (a system did not run; see the tables)."
    )


def test_a_run_without_peers_says_why_their_targets_were_not_measured() -> None:
    quick = results(ours=identical(750.0, 0.0, 0.007))
    quick["concurrency"]["peers"] = False

    assert target_lines(quick)[0].endswith(
        "not measured (the peers did not run: --quick, --no-peers, or bench/peers/node_modules "
        "missing)."
    )


def test_cold_ranges_are_distinct_never_whole_months_and_stay_before_discovery() -> None:
    first, today = date(2026, 9, 1), date(2026, 12, 2)  # 85 days before discovery's window
    distinct = sum(85 - days + 1 for days in range(1, 28))
    spans = [rng for _, rng in zip(range(distinct + 1), cold_ranges(first, today), strict=False)]

    assert len(set(spans[:distinct])) == distinct == 1944
    assert spans[distinct] == spans[0]  # then they start over (the report counts the reuses)
    assert all(first <= a <= b <= today - timedelta(days=8) for a, b in spans)
    assert max((b - a).days + 1 for a, b in spans) == 27  # never a whole month


def test_the_distinct_load_gets_every_cold_range_once_and_no_more() -> None:
    first, today = date(2026, 9, 1), date(2026, 12, 2)
    every = distinct_ranges(first, today)
    capped = distinct_ranges(first, today, limit=100)

    assert len(every) == len(set(every)) == 1944  # the whole cycle of cold_ranges, no repeat
    assert every[:3] == [(first, first), (first + timedelta(days=1),) * 2, (date(2026, 9, 3),) * 2]
    assert capped == every[:100]


def _answer(wl: Workload, rng: tuple[date, date]) -> dict[str, Any]:
    """Our dashboard's answer with the dataset's outbound SMS for `rng`."""
    orgs = [
        {
            "id": o.id,
            "usage": {
                "sms": {
                    "outboundSegments": wl.ds.teli_org_totals(o.teli.unique_id, *rng)["sms_out"]
                }
            },
        }
        for o in wl.orgs
        if o.teli is not None
    ]
    return {"data": {"resellers": [{"organizations": orgs}]}}


def test_an_answer_for_another_range_is_caught(dataset: Dataset) -> None:
    wl = Workload(dataset)
    asked = wl.pool[3]  # a week of last month
    other = (asked[0] + timedelta(days=1), asked[1] + timedelta(days=1))

    assert check_ours_dashboard(_answer(wl, asked), wl, asked) == []
    wrong = check_ours_dashboard(_answer(wl, other), wl, asked)
    assert len(wrong) >= len([o for o in wl.orgs if o.teli]) // 2
    assert check_ours_dashboard({"data": {"resellers": []}}, wl, asked) == [
        "no organization with a Teli part in the answer"
    ]


def test_a_wrong_answer_counts_once_for_every_request_that_got_it(dataset: Dataset) -> None:
    wl = Workload(dataset)
    asked, other = wl.pool[3], wl.pool[4]
    kept = [
        (wl.dashboard(asked), _answer(wl, asked), 900),  # 900 requests got the right answer
        (wl.dashboard(asked), _answer(wl, other), 7),  # 7 got another week's numbers
    ]

    wrong, examples = wrong_answers(kept, "ours", wl)

    assert wrong == 7
    assert len(examples) == 1 and examples[0].startswith(f"{asked[0]}..{asked[1]}: ")


def _section(generator: str | None, **extra: Any) -> str:
    """The report's 16-client section for one identical-load row of ours."""
    entry = {**identical(100.0, 0.0, 0.003), "p50": 0.01, "p95": 0.02, "p99": 0.03, "errors": 0}
    conc: dict[str, Any] = {
        "scale": "S",
        "peers": False,
        "identical": {"clients": 16, "duration": 4.0, "ours": {**entry, **extra}},
        "distinct": {"clients": 16, "duration": 4.0},
    }
    if generator is not None:
        conc["generator"] = generator
    return "\n".join(section_lines({"concurrency": conc}))


def test_the_tables_name_the_load_generator_and_flag_the_python_fallback() -> None:
    cannon = _section("autocannon 8.0.0 (bench/peers/cannon.mjs)")
    fallback = _section("python httpx clients (fallback: autocannon not installed in bench/peers)")

    assert "The 16 clients: autocannon 8.0.0 (bench/peers/cannon.mjs), 16 keep-alive" in cannon
    assert "fallback" not in cannon
    assert (
        "The 16 clients: **python httpx clients (fallback: autocannon not installed in "
        "bench/peers)**: their own CPU per request exceeds the servers'" in fallback
    )
    assert "| x | 3.0 | 100.0 | 10.0 | 20.0 | 30.0 | 1.00 |" in cannon
    assert "| 0 of 400 |" in cannon


def test_answers_left_unchecked_are_shown_next_to_the_wrong_ones() -> None:
    assert "| 0 of 400 (12 unchecked) |" in _section("autocannon 8.0.0", unchecked=12)

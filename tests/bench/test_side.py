"""The CPU and decoding section of the bench report: each dashboard judged against its target."""

from __future__ import annotations

from bench.side import section_lines


def _figure(scale: str, scenario: str, median: float) -> dict[str, object]:
    return {
        "scale": scale,
        "scenario": scenario,
        "mode": "http",
        "median_ms": median,
        "best_ms": median - 0.1,
        "p90_ms": median + 0.1,
    }


def test_each_dashboard_is_judged_against_its_own_target() -> None:
    side = {
        "cpu": [
            _figure("S", "dashboard", 2.9),
            _figure("S", "drilldown", 9.0),
            _figure("L", "dashboard", 100.5),
        ],
        "decoding": "all 3.1x\n",
        "errors": ["bench.cpu --scale M: it broke"],
    }
    lines = section_lines(side)
    rows = [line for line in lines if line.startswith("| S") or line.startswith("| L")]
    assert rows == [
        "| S | dashboard (http) | 2.90 | 2.80 | 3.00 | ≤ 3 ms: met |",
        "| S | drilldown (http) | 9.00 | 8.90 | 9.10 | - |",
        "| L | dashboard (http) | 100.50 | 100.40 | 100.60 | ≤ 100 ms: NOT met |",
    ]
    assert "all 3.1x" in lines
    assert lines[-1] == "- not measured: bench.cpu --scale M: it broke"


def test_no_side_measurements_no_section() -> None:
    assert section_lines(None) == []

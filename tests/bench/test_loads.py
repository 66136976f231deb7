"""bench/loads.py over real HTTP: a sandbox and `usagegraph serve` (defaults, Telzino + Teli, as
the 16-client loads run it), loaded by autocannon when installed and by the labelled Python
fallback otherwise; the upstream calls each load records, and its answers checked."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("psutil", reason="the bench extra: pip install -e '.[dev,bench]'")

from bench import cannon
from bench.answers import range_of, wrong_answers
from bench.concurrency import DEFAULTS
from bench.load import sequential
from bench.loads import (
    PYTHON_FALLBACK,
    distinct_load,
    generator_name,
    identical_load,
)
from bench.procs import Sandbox, Serve, start_serve
from bench.run import server_stack
from bench.scenarios import Request, Workload, distinct_ranges
from usagegraph.sandbox.dataset import generate


@dataclass
class Served:
    sandbox: Sandbox
    serve: Serve
    wl: Workload
    used: int = 0

    def fresh_dashboards(self, n: int) -> list[Request]:
        """`n` dashboards of ranges no earlier test sent (so no cache holds them)."""
        ranges = distinct_ranges(self.wl.ds.start, self.wl.today)[self.used : self.used + n]
        self.used += n
        return [self.wl.dashboard(rng, talkdesk=False) for rng in ranges]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    workdir: Path = tmp_path_factory.mktemp("loads")
    sandbox = Sandbox("S", 5, 7, workdir).start()
    try:
        meta = sandbox.info["dataset"]
        ds = generate(
            seed=7,
            scale="S",
            start=date.fromisoformat(meta["first_day"]),
            end=date.fromisoformat(meta["last_day"]),
        )
        assert DEFAULTS.options is not None
        serve = start_serve("usagegraph-loads", sandbox, DEFAULTS.options)
        try:
            wl = Workload(ds)
            # discovery and the last month's answer before any load
            asyncio.run(sequential(serve.url, sandbox, [wl.dashboard(talkdesk=False)]))
            yield Served(sandbox, serve, wl)
        finally:
            serve.stop()
    finally:
        sandbox.stop()


def _cannon_or_skip() -> None:
    if not cannon.cannon_installed():
        pytest.skip("autocannon is not installed in bench/peers (make bench-concurrency)")


def test_without_autocannon_the_python_clients_send_and_say_so(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cannon, "AUTOCANNON", Path("/nonexistent/autocannon/package.json"))
    req = served.wl.dashboard(talkdesk=False)

    run = identical_load(served.serve.url, served.sandbox, req, connections=4, duration=0.3)

    assert generator_name() == run.generator == PYTHON_FALLBACK
    assert run.requests == len(run.answers) > 0
    assert run.errors == 0
    assert run.calls.data_total == 0  # answered from the answer cache
    assert wrong_answers(run.answers, "ours", served.wl) == (0, [])


def test_python_clients_count_distinct_requests_sent_again(served: Served) -> None:
    requests = served.fresh_dashboards(2)

    run = distinct_load(
        served.serve.url, served.sandbox, requests, connections=4, duration=0.3, use_cannon=False
    )

    assert run.requests > 2
    assert run.reused == run.requests - 2
    assert run.errors == 0


def test_cannon_identical_load_every_answer_counted_and_right(served: Served) -> None:
    _cannon_or_skip()
    req = served.wl.dashboard(talkdesk=False)

    run = identical_load(served.serve.url, served.sandbox, req, connections=16, duration=0.5)

    assert run.generator.startswith("autocannon ")
    assert sum(count for _, _, count in run.answers) == run.requests > 16
    assert run.errors == 0
    assert run.calls.data_total == 0
    assert run.harness_cpu > 0
    assert wrong_answers(run.answers, "ours", served.wl) == (0, [])


def test_cannon_distinct_load_sends_each_range_once_and_each_costs_its_bound(
    served: Served,
) -> None:
    _cannon_or_skip()
    requests = served.fresh_dashboards(5000)

    run = distinct_load(served.serve.url, served.sandbox, requests, connections=16, duration=0.5)

    ranges = [range_of(req) for req, _, _ in run.answers]
    assert len(ranges) == len(set(ranges)) == run.requests > 16
    assert run.reused == 0
    assert run.errors == 0
    # every range cold, every request sent answered: exactly the bound, no call unaccounted for
    assert run.calls.data_total == run.bound_calls == requests[0].plan.total * run.requests
    assert wrong_answers(run.answers, "ours", served.wl) == (0, [])


def test_the_results_name_uvicorns_loop_and_http_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    assert server_stack() == {"event_loop": "uvloop", "http_parser": "httptools"}

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("httptools", "uvloop") else real(name, *a),
    )
    assert server_stack() == {"event_loop": "asyncio", "http_parser": "h11"}

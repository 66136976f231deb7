"""How long the vendor clients take to decode their answers: the fast path against the reference.

`python -m bench.decoding [--scale L] [--repeat 9]` starts `usagegraph sandbox` at that scale in
its own process and records, over loopback through the real clients (bench/vendor_bodies.py),
every kind of body they read, then every body a cold dashboard reads (the app in this process,
as a server would). Each body is decoded by both paths, which must agree, then timed in CPU time
(`time.process_time`), best of `--repeat` samples taken turn about, with the server's GC
settings:

- reference: `json.loads(parse_float=Decimal)` and the tolerant `JsonReader` reads, what the
  clients did before (`Body.decode_tolerantly`);
- fast: `Body.decode`, msgspec shapes and the fast functions, the reference path where they must.

The bodies are timed twice: in a fresh interpreter (the tables), and in this process after the
dashboard ran in it (one line each). Decoding allocates tens of thousands of objects per large
body, and a heap a server has used makes that slower: the second figure is the more sobering one.
Last, whole client calls of the largest kinds are timed with each path (the sandbox answers from
its own process, so this process's CPU time is the client's: httpx, the transport, decoding), to
show what share of a call decoding is.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from bench.procs import Sandbox
from bench.vendor_bodies import Answer, dashboard, every_kind, load, save
from usagegraph.clients.bodies import Body
from usagegraph.clients.http_client import Timeouts, build_http_client
from usagegraph.clients.policy import TransportPolicy
from usagegraph.clients.talkdesk import TalkdeskClient, talkdesk_auth
from usagegraph.clients.telzino import TelzinoClient, telzino_auth
from usagegraph.clients.transport import SourceTransport
from usagegraph.gc_tuning import tune_for_serving

__all__ = ["main"]

# each timed sample runs a kind's bodies at least this long, so the timer's grain is negligible
_SAMPLE_SECONDS = 0.02
_TIMEOUTS = Timeouts(connect=5.0, read=300.0, total=600.0)


@dataclass(frozen=True)
class Timing:
    """One kind of body: how many, how big, and each path's CPU time to decode them all once."""

    kind: str
    bodies: int
    size: int
    reference_ms: float
    fast_ms: float


def _runs(action: Callable[[], object]) -> int:
    """How many runs of `action` make one sample."""
    started = time.process_time()
    action()
    return max(1, math.ceil(_SAMPLE_SECONDS / max(time.process_time() - started, 1e-6)))


def _decode_all(group: list[Answer], *, fast: bool) -> list[Any]:
    return [a.fast() if fast else a.reference() for a in group]


def _best_pair_ms(
    reference: Callable[[], object], fast: Callable[[], object], repeat: int
) -> tuple[float, float]:
    """CPU milliseconds of one run of each, best of `repeat` samples taken turn about (the
    machine's other load then weighs on both alike)."""
    runs = max(_runs(reference), _runs(fast))
    best = [math.inf, math.inf]
    for _ in range(repeat):
        for i, action in enumerate((reference, fast)):
            started = time.process_time()
            for _ in range(runs):
                action()
            best[i] = min(best[i], (time.process_time() - started) / runs)
    return best[0] * 1000, best[1] * 1000


def _timings(answers: list[Answer], repeat: int) -> list[Timing]:
    kinds: dict[str, list[Answer]] = {}
    for answer in answers:
        if answer.fast() != answer.reference():
            raise AssertionError(f"the two paths disagree on a {answer.kind} body")
        kinds.setdefault(answer.kind, []).append(answer)
    timings = []
    for kind, group in kinds.items():
        reference, fast = _best_pair_ms(
            partial(_decode_all, group, fast=False),
            partial(_decode_all, group, fast=True),
            repeat,
        )
        size = sum(len(a.content) for a in group)
        timings.append(Timing(kind, len(group), size, reference, fast))
    return timings


def _print_timings(title: str, timings: list[Timing], *, rows: bool = True) -> None:
    print(title)
    header = f"{'bodies':>6} {'KB':>7} {'reference ms':>13} {'fast ms':>8} {'ratio':>6}"
    print(f"  {'body':<50} {header}")
    for t in timings if rows else ():
        print(
            f"  {t.kind:<50} {t.bodies:>6} {t.size / 1024:>7.0f} {t.reference_ms:>13.2f} "
            f"{t.fast_ms:>8.2f} {t.reference_ms / t.fast_ms:>5.1f}x"
        )
    reference = sum(t.reference_ms for t in timings)
    fast = sum(t.fast_ms for t in timings)
    size = sum(t.size for t in timings)
    bodies = sum(t.bodies for t in timings)
    print(
        f"  {'all':<50} {bodies:>6} {size / 1024:>7.0f} {reference:>13.2f} {fast:>8.2f} "
        f"{reference / fast:>5.1f}x"
    )


@contextmanager
def _reference_path() -> Iterator[None]:
    """Clients decode by the reference path alone while it is open."""
    decode = Body.decode
    Body.decode = Body.decode_tolerantly  # type: ignore[method-assign]
    try:
        yield
    finally:
        Body.decode = decode  # type: ignore[method-assign]


Call = Callable[[TelzinoClient, TalkdeskClient], Awaitable[object]]


async def _timed_call(entries: list[dict[str, str]], use: Call) -> float:
    """CPU seconds of one `use` of fresh clients (a new pooled connection and token, as a cold
    request's). One event loop runs them all: `asyncio.run` per call would, on closing, make
    `signal` format the last task's result (the whole report) and count that too."""
    telzino = next(e for e in entries if e["kind"] == "telzino")
    talkdesk = next(e for e in entries if e["kind"] == "talkdesk")
    started = time.process_time()
    async with build_http_client(_TIMEOUTS) as http:
        telzino_client = TelzinoClient(
            SourceTransport(
                source="telzino",
                http=http,
                policy=TransportPolicy(timeouts=_TIMEOUTS),
                auth=telzino_auth(
                    token_url=telzino["token_url"],
                    client_id=telzino["client_id"],
                    client_secret=telzino["client_secret"],
                ),
            ),
            reports_url=telzino["reports_url"],
            billing_url=telzino["billing_url"],
        )
        talkdesk_client = TalkdeskClient(
            SourceTransport(
                source=talkdesk["name"],
                http=http,
                policy=TransportPolicy(timeouts=_TIMEOUTS),
                auth=talkdesk_auth(
                    token_url=talkdesk["token_url"],
                    client_id=talkdesk["client_id"],
                    client_secret=talkdesk["client_secret"],
                ),
            ),
            base_url=talkdesk["base_url"],
        )
        await use(telzino_client, talkdesk_client)
    return time.process_time() - started


async def _client_calls(
    entries: list[dict[str, str]], first: date, last: date, kinds: list[Timing], repeat: int
) -> None:
    """Whole client calls, each path, and the share of the fast call its decoding takes."""
    calls: dict[str, tuple[str, Call]] = {
        "telzino minutes_by_organization": (
            "telzino GET /v1/reports/minutes-by-organization",
            lambda t, _: t.minutes_by_organization(first, last),
        ),
        "telzino agents (every page)": ("telzino GET /v1/agents", lambda t, _: t.agents()),
        "talkdesk monthly_usage (every page)": (
            "talkdesk GET /express/usage/month",
            lambda _, d: d.monthly_usage(),
        ),
    }
    decoding = {t.kind: t.fast_ms for t in kinds}
    print("whole client calls over loopback, CPU of this process (the sandbox runs apart)")
    print(f"  {'call':<50} {'reference ms':>13} {'fast ms':>8} {'decoding':>9}")
    for name, (kind, use) in calls.items():
        best = [math.inf, math.inf]
        for _ in range(repeat):
            with _reference_path():
                best[0] = min(best[0], await _timed_call(entries, use))
            best[1] = min(best[1], await _timed_call(entries, use))
        reference, fast = best[0] * 1000, best[1] * 1000
        print(f"  {name:<50} {reference:>13.1f} {fast:>8.1f} {decoding[kind] / fast:>8.0%}")


_SETS = {
    "every-kind": "every kind of body, each client method once",
    "dashboard": "the bodies a cold dashboard decodes",
}


def _time_saved(folder: Path, scale: str, repeat: int) -> None:
    """The tables: each saved set of bodies timed in this (fresh) interpreter."""
    tune_for_serving()
    for name, title in _SETS.items():
        answers = load(folder / f"{name}.pickle")
        _print_timings(f"{scale}, fresh interpreter: {title}", _timings(answers, repeat))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="L", choices=("S", "M", "L"))
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--saved", type=Path, help=argparse.SUPPRESS)  # the fresh interpreter's
    args = parser.parse_args(argv)
    if args.saved is not None:
        _time_saved(args.saved, args.scale, args.repeat)
        return 0

    with tempfile.TemporaryDirectory() as workdir:
        folder = Path(workdir)
        sandbox = Sandbox(scale=args.scale, latency_ms=0, seed=7, workdir=folder).start()
        try:
            window = sandbox.info["dataset"]
            first = date.fromisoformat(window["first_day"])
            last = date.fromisoformat(window["last_day"])
            sets = {"every-kind": asyncio.run(every_kind(sandbox.sources, first, last))}
            directory = sandbox.directory_path.read_text(encoding="utf-8")
            sets["dashboard"] = asyncio.run(dashboard(sandbox.sources, directory))
            for name, answers in sets.items():
                save(answers, folder / f"{name}.pickle")
            command = [sys.executable, "-m", "bench.decoding", "--saved", workdir]
            command += ["--scale", args.scale, "--repeat", str(args.repeat)]
            subprocess.run(command, check=True)
            tune_for_serving()
            timings = {name: _timings(answers, args.repeat) for name, answers in sets.items()}
            for name, title in _SETS.items():
                _print_timings(
                    f"{args.scale}, here after the dashboard: {title}", timings[name], rows=False
                )
            calls = _client_calls(
                sandbox.sources, first, last, timings["every-kind"], max(3, args.repeat // 2)
            )
            asyncio.run(calls)
        finally:
            sandbox.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

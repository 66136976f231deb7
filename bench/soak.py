"""The soak run: 32 clients for 60 s while the sandbox fails 5% of calls with 503 and 1% with 429.

Fault-free answers are taken first for every request of the pool. Under faults, every response
must have no errors or only `UPSTREAM_*` errors naming a configured source; every number present
must equal the fault-free answer; a value that became null must be covered by an error at or
above its path (no silent nulls); and the serve process's memory must stay flat.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx

from bench.load import KEEPALIVE, percentile, post
from bench.procs import RssSampler, Sandbox, Serve
from bench.scenarios import Request

__all__ = ["compare", "run_soak"]

Path_ = tuple[str | int, ...]


def compare(
    got: Any, want: Any, path: Path_, covered: Sequence[Path_], wrong: list[str], silent: list[str]
) -> None:
    """Walk `got` against the fault-free `want`: numbers must match, nulls must be explained."""
    if got is None:
        if want is not None and not any(path[: len(c)] == c for c in covered):
            silent.append("/".join(map(str, path)))
        return
    if isinstance(want, dict) and isinstance(got, dict):
        for key, value in want.items():
            compare(got.get(key), value, (*path, key), covered, wrong, silent)
        return
    if isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            wrong.append(f"{'/'.join(map(str, path))}: {len(got)} items != {len(want)}")
            return
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            compare(g, w, (*path, i), covered, wrong, silent)
        return
    if got != want:
        wrong.append(f"{'/'.join(map(str, path))}: {got!r} != {want!r}")


async def run_soak(
    serve: Serve,
    sandbox: Sandbox,
    pool: Sequence[Request],
    *,
    sources: set[str],
    clients: int = 32,
    seconds: float = 60.0,
) -> dict[str, Any]:
    limits = httpx.Limits(
        max_connections=clients + 4,
        max_keepalive_connections=clients + 4,
        keepalive_expiry=KEEPALIVE,
    )
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        reference: list[dict[str, Any]] = []
        for req in pool:
            _s, payload = await post(client, serve.url, req.body())
            if payload.get("errors"):
                raise RuntimeError(
                    f"fault-free reference for {req.scenario} has errors: {payload['errors'][:2]}"
                )
            reference.append(payload["data"])

        await asyncio.to_thread(sandbox.reset)
        await asyncio.to_thread(sandbox.inject, status=503, rate=0.05)
        await asyncio.to_thread(sandbox.inject, status=429, rate=0.01)

        codes: Counter[str] = Counter()
        bad_errors: list[str] = []
        wrong: list[str] = []
        silent: list[str] = []
        latencies: list[float] = []
        responses = 0
        with_errors = 0

        async def loop(index: int, deadline: float) -> None:
            nonlocal responses, with_errors
            i = 0
            while time.monotonic() < deadline:
                k = (index + i * clients) % len(pool)
                seconds_taken, payload = await post(client, serve.url, pool[k].body())
                latencies.append(seconds_taken)
                responses += 1
                errors = payload.get("errors") or []
                covered: list[Path_] = []
                if errors:
                    with_errors += 1
                for error in errors:
                    ext = error.get("extensions") or {}
                    code = str(ext.get("code"))
                    codes[code] += 1
                    if not code.startswith("UPSTREAM_") or ext.get("source") not in sources:
                        bad_errors.append(f"{code} {ext.get('source')}: {error.get('message')}")
                    covered.append(tuple(error.get("path") or ()))
                compare(payload.get("data"), reference[k], (), covered, wrong, silent)
                i += 1

        with RssSampler(serve.process, interval=0.5) as rss:
            t0 = time.monotonic()
            await asyncio.gather(*(loop(c, t0 + seconds) for c in range(clients)))
            elapsed = time.monotonic() - t0
        snapshot = await asyncio.to_thread(
            lambda: httpx.get(sandbox.url + "/_control/requests", timeout=120).json()
        )
        await asyncio.to_thread(sandbox.clear_faults)

    samples = rss.samples
    window = max(1, len(samples) // 4)
    start = statistics.median(v for _t, v in samples[:window]) if samples else 0
    end = statistics.median(v for _t, v in samples[-window:]) if samples else 0
    first_half_peak = max((v for _t, v in samples[: max(1, len(samples) // 2)]), default=0)
    upstream = len(snapshot["requests"])
    injected = {f"{f['status']}": f["hits"] for f in snapshot["faults"]}
    return {
        "clients": clients,
        "seconds": elapsed,
        "responses": responses,
        "throughput": responses / elapsed if elapsed else 0.0,
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "responses_with_errors": with_errors,
        "error_codes": dict(codes),
        "bad_errors": bad_errors[:20],
        "bad_error_count": len(bad_errors),
        "wrong_numbers": wrong[:20],
        "wrong_count": len(wrong),
        "silent_nulls": silent[:20],
        "silent_count": len(silent),
        "upstream_calls": upstream,
        "faults_hit": injected,
        "rss_start": start,
        "rss_end": end,
        "rss_peak": rss.peak,
        # every 5th sample (2.5 s apart): seconds since the start, MB
        "rss_timeline": [(round(t, 1), round(v / 2**20, 1)) for t, v in samples[::5]],
        "rss_first_half_peak": first_half_peak,
        # flat: no growth past the first half's high-water mark (10% + 5 MB of allocator slack).
        # CPython's RSS steps up when concurrent large responses coincide and then plateaus; a
        # leak keeps climbing through the second half.
        "rss_flat": end <= first_half_peak * 1.10 + 5 * 2**20,
    }

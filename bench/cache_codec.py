"""How long the result cache's entries take to store and read: typed MessagePack against pickle.

`python -m bench.cache_codec [--scale L] [--top 6] [--repeat 15]` runs the benchmark's dashboard
in-process against the sandbox (cold, then warm), notes the entries the warm dashboard reads,
and times, for each of them, `pickle.dumps`/`pickle.loads` (the format before finding 9) and
`EntryCodec.encode`/`decode` (the one now), best of `--repeat`, with the server's GC settings.
The warm scenario decodes on the event loop, so `decode` is what a warm request waits for.
"""

from __future__ import annotations

import argparse
import asyncio
import pickle
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from bench.scenarios import DASHBOARD, range_pool
from usagegraph.app import create_app
from usagegraph.gc_tuning import tune_for_serving
from usagegraph.resolvers.cache import FETCH_VALUES, CacheBackend, Entry, EntryCodec, ResultCache
from usagegraph.sandbox.dataset import generate
from usagegraph.sandbox.server import SandboxServer
from usagegraph.settings import settings_from_sources

__all__ = ["main"]


async def _warm_entries(server: SandboxServer, workdir: Path) -> list[tuple[str, str, Entry[Any]]]:
    """(key, fetch name, entry) for every entry the warm dashboard reads."""
    directory = workdir / "directory.toml"
    directory.write_text(server.dataset.directory_toml(), encoding="utf-8")
    sources = [{**entry, "timeout_total": 120.0} for entry in server.sources()]
    app = create_app(settings_from_sources(sources, directory={"path": directory}))
    first, last = range_pool(datetime.now(UTC).date())[0]
    body = {
        "query": DASHBOARD,
        "variables": {"range": {"firstDay": str(first), "lastDay": str(last)}},
    }
    read: list[str] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", timeout=600
        ) as c:
            cold = await c.post("/graphql", json=body)
            cold.raise_for_status()
            cache: ResultCache = app.state.graph.cache
            backend: CacheBackend = cache.backend
            get = backend.get

            async def noting(key: str) -> bytes | None:
                read.append(key)
                return await get(key)

            backend.get = noting  # type: ignore[method-assign]
            (await c.post("/graphql", json=body)).raise_for_status()
            entries = []
            for key in dict.fromkeys(read):
                raw = await get(key)
                assert raw is not None, key
                name = key.split(":")[3]
                entries.append((key, name, cache.codec.decode(name, raw)))
    return entries


def _best_ms(action: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="L", choices=("S", "M", "L"))
    parser.add_argument("--top", type=int, default=6, help="largest entries listed one by one")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)

    dataset = generate(seed=7, scale=args.scale)
    with SandboxServer(dataset) as server, tempfile.TemporaryDirectory() as workdir:
        entries = asyncio.run(_warm_entries(server, Path(workdir)))
    tune_for_serving()
    codec = EntryCodec(FETCH_VALUES)
    rows: list[tuple[str, int, int, float, float, float, float]] = []
    for key, name, entry in entries:
        pickled = pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL)
        packed = codec.encode(name, entry)
        rows.append(
            (
                key,
                len(pickled),
                len(packed),
                _best_ms(
                    partial(pickle.dumps, entry, protocol=pickle.HIGHEST_PROTOCOL), args.repeat
                ),
                _best_ms(partial(codec.encode, name, entry), args.repeat),
                _best_ms(partial(pickle.loads, pickled), args.repeat),
                _best_ms(partial(codec.decode, name, packed), args.repeat),
            )
        )
    rows.sort(key=lambda row: -row[2])
    header = ("entry", "pickle B", "msgpack B", "dumps ms", "encode ms", "loads ms", "decode ms")
    print(f"{args.scale} warm dashboard: {len(rows)} entries read")
    print(f"{header[0]:<64} " + " ".join(f"{h:>10}" for h in header[1:]))
    for row in rows[: args.top]:
        print(
            f"{row[0][:64]:<64} {row[1]:>10} {row[2]:>10} "
            + " ".join(f"{v:>10.2f}" for v in row[3:])
        )
    pickled_bytes, packed_bytes = sum(r[1] for r in rows), sum(r[2] for r in rows)
    times_ms = [sum(r[3:][k] for r in rows) for k in range(4)]
    print(f"{'all ' + str(len(rows)) + ' entries':<64} {pickled_bytes:>10} {packed_bytes:>10} "
          + " ".join(f"{v:>10.2f}" for v in times_ms))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Garbage-collector settings for a long-running server process.

`install_gc_tuning(app, settings)` tunes the collector of whichever process serves the app, once,
when its ASGI server reports the lifespan start-up complete: `usagegraph serve`, its workers, or
`uvicorn`/gunicorn given the app directly. `[server] gc_tuning = false` leaves the collector as
CPython sets it. The sandbox and the benchmarks call `tune_for_serving` themselves.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:  # the benchmarks import this module without building an app
    from fastapi import FastAPI

    from usagegraph.settings import Settings

__all__ = ["install_gc_tuning", "tune_for_serving", "tune_once"]

_tuned = False


def tune_for_serving() -> None:
    """Freeze what start-up built, so full collections never walk it again, and collect the
    young generation every 50,000 allocations instead of 700.

    Full collections walked every imported module (and, in the sandbox, the whole dataset) on
    top of a request's promoted objects. A large dashboard allocates hundreds of thousands of
    containers that die with the request; at CPython's 700 they were traversed again and again
    on their way to the old generation, and a higher threshold cut that sharply. A high
    threshold only costs memory when requests leave cyclic garbage, and they leave little since
    what an operation loaded is released when it ends (schema/release.py): `make bench-soak`
    holds RSS flat (measured: see docs/measurements.md#garbage-collector-tuning). The older
    generations keep CPython's ratios (10 / 10) so full collections stay regular.

    Measured on CPython 3.11's generational collector (requires-python stops there): 3.14's
    collector is incremental and reads these thresholds differently, so re-measure before
    widening it.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 10, 10)


def tune_once() -> None:
    """`tune_for_serving` the first time this process asks, nothing after: every app a process
    serves asks at its start-up, and a second freeze would only pin what the first app's
    requests left behind."""
    global _tuned
    if not _tuned:
        _tuned = True
        tune_for_serving()


def install_gc_tuning(app: FastAPI, settings: Settings) -> None:
    """`tune_once` when `app`'s lifespan start-up completes, unless `[server] gc_tuning` is off."""
    if settings.server.gc_tuning:
        app.add_middleware(_TuneAtStartup)


class _TuneAtStartup:
    """Only the ASGI lifespan protocol, which a server speaks, triggers it: after the app's own
    start-up (pools, caches, directory), so that is frozen too. Tests that enter
    `app.router.lifespan_context` themselves leave the test process's collector alone."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def send_tuned(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                tune_once()  # blocks the loop once, before the server accepts a connection
            await send(message)

        await self.app(scope, receive, send_tuned)

"""The fleet's vendors: the sandbox in its own process, plus a clock of the calls it receives.

The sandbox's recorder says which calls came, not when; a vendor's limit is calls per second and
per account, so this process also notes each call's arrival time and account (the Teli tenant
its X-API-Key names; for Telzino and Talkdesk, the vendor) at `GET /_fleet/calls`
(`DELETE` forgets them). The sandbox itself is unchanged: the clock is ASGI middleware around it.

    python -m fleet.vendors --port 9000 [--scale S] [--seed 7] [--latency-ms 30]
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Sequence
from typing import Any

import uvicorn
from fastapi import FastAPI

from fleet.processes import HOST
from usagegraph.sandbox.control import SandboxControl, vendor_of
from usagegraph.sandbox.dataset import Dataset, generate, teli_source_name
from usagegraph.sandbox.server import create_sandbox_app

__all__ = ["CALLS_PATH", "CallClock", "main"]

CALLS_PATH = "/_fleet/calls"
VENDORS = frozenset({"telzino", "teli", "talkdesk"})
Scope = dict[str, Any]


class CallClock:
    """Each vendor call's arrival (wall-clock seconds), mount, path and account."""

    def __init__(self, dataset: Dataset) -> None:
        self.teli_accounts = {t.api_key: teli_source_name(t) for t in dataset.teli_tenants}
        self.calls: list[tuple[float, str, str, str]] = []
        self.lock = threading.Lock()

    def note(self, scope: Scope) -> None:
        mount, _, rest = scope["path"].lstrip("/").partition("/")
        vendor = vendor_of(mount)
        if scope["type"] != "http" or vendor not in VENDORS:
            return
        account = vendor
        if vendor == "teli":
            key = dict(scope["headers"]).get(b"x-api-key", b"").decode("latin-1")
            account = self.teli_accounts.get(key, "teli:unknown-key")
        with self.lock:
            self.calls.append((time.time(), mount, f"/{rest}", account))

    def snapshot(self) -> list[tuple[float, str, str, str]]:
        with self.lock:
            return list(self.calls)

    def clear(self) -> None:
        with self.lock:
            self.calls.clear()


def with_clock(app: FastAPI, clock: CallClock) -> Any:
    """`app` with its vendor calls noted, and the clock's own endpoints added."""

    @app.get(CALLS_PATH)
    async def calls() -> dict[str, Any]:
        return {"calls": clock.snapshot()}

    @app.delete(CALLS_PATH)
    async def forget() -> dict[str, bool]:
        clock.clear()
        return {"ok": True}

    async def clocked(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            clock.note(scope)
        await app(scope, receive, send)

    return clocked


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fleet.vendors", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--scale", default="S", choices=["S", "M", "L"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--latency-ms", type=int, default=30)
    args = parser.parse_args(argv)
    dataset = generate(seed=args.seed, scale=args.scale)
    app = create_sandbox_app(dataset, SandboxControl(base_latency_ms=args.latency_ms))
    served = with_clock(app, CallClock(dataset))
    uvicorn.run(served, host=HOST, port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

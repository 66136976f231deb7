"""One HTTP server hosting every vendor emulator, each on its own mount (its own "host").

Mounts: `/telzino-api` (api.telzino.com), `/telzino-dashboard` (dashboard.telzino.com), `/teli`
(api.teli.ai), `/teli-proxy` (partner.teli.ai/api/proxy), `/talkdesk` (api.talkdeskapp.com),
`/talkdesk-id` ({account}.talkdeskid.com).
`GET /` describes the sandbox as ready-to-use `[[sources]]` entries; `/_control/...` exposes the
recorder, fault injection and variants to other processes (benchmarks, frontend developers).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount

from usagegraph.sandbox import talkdesk, teli, telzino
from usagegraph.sandbox.control import VARIANTS, Fault, SandboxControl
from usagegraph.sandbox.dataset import (
    TELZINO_CLIENT_ID,
    TELZINO_CLIENT_SECRET,
    Dataset,
    teli_source_name,
)

__all__ = ["SandboxServer", "create_sandbox_app", "source_entries", "sources_toml"]


def source_entries(dataset: Dataset, base_url: str) -> list[dict[str, str]]:
    """The sandbox's vendors as `[[sources]]` config entries (same keys as the config file)."""
    base = base_url.rstrip("/")
    entries: list[dict[str, str]] = [
        {
            "name": "telzino",
            "kind": "telzino",
            "reports_url": f"{base}/telzino-api",
            "billing_url": f"{base}/telzino-dashboard",
            "token_url": f"{base}/telzino-api/oauth/token",
            "client_id": TELZINO_CLIENT_ID,
            "client_secret": TELZINO_CLIENT_SECRET,
        }
    ]
    for tenant in dataset.teli_tenants:
        entries.append(
            {
                "name": teli_source_name(tenant),
                "kind": "teli",
                "base_url": f"{base}/teli",
                # Teli's docs serve analytics/usage from the partner proxy, the rest from the API
                "usage_url": f"{base}/teli-proxy",
                "api_key": tenant.api_key,
            }
        )
    for org in dataset.talkdesk_orgs:
        entries.append(
            {
                "name": f"talkdesk-{org.slug}",
                "kind": "talkdesk",
                "base_url": f"{base}/talkdesk",
                "token_url": f"{base}/talkdesk-id/oauth/token",
                "client_id": org.client_id,
                "client_secret": org.client_secret,
            }
        )
    return entries


def sources_toml(dataset: Dataset, base_url: str) -> str:
    blocks = []
    for entry in source_entries(dataset, base_url):
        lines = ["[[sources]]"] + [f'{key} = "{value}"' for key, value in entry.items()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def create_sandbox_app(dataset: Dataset, control: SandboxControl | None = None) -> FastAPI:
    """The composed sandbox: every vendor mount behind the control middleware."""
    control = control or SandboxControl()
    app = FastAPI(title="usagegraph vendor sandbox", docs_url=None, redoc_url=None)
    app.state.dataset = dataset
    app.state.control = control

    mounts: dict[str, Any] = {}
    for vendor in (telzino, teli, talkdesk):
        mounts.update(vendor.create_apps(dataset, control))
    for name, vendor_app in mounts.items():
        app.router.routes.append(Mount(f"/{name}", app=control.middleware(name, vendor_app)))

    @app.get("/")
    async def describe(request: Request) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        return {
            "sandbox": "usagegraph vendor sandbox",
            "dataset": {
                "seed": dataset.seed,
                "scale": dataset.scale,
                "first_day": dataset.start.isoformat(),
                "last_day": dataset.end.isoformat(),
            },
            "sources": source_entries(dataset, base),
            "variants": sorted(control.variants),
        }

    @app.get("/directory.toml")
    async def directory() -> Response:
        return PlainTextResponse(dataset.directory_toml(), media_type="application/toml")

    @app.get("/_control/requests")
    async def requests_made() -> dict[str, Any]:
        return control.snapshot()

    @app.delete("/_control/requests")
    async def reset() -> dict[str, bool]:
        control.reset()
        return {"reset": True}

    @app.post("/_control/faults")
    async def inject(request: Request) -> JSONResponse:
        try:
            body = await _json_object(request)
            fault = control.inject(Fault(**body))
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"injected": fault.__dict__}, status_code=201)

    @app.delete("/_control/faults")
    async def clear() -> dict[str, bool]:
        control.clear_faults()
        return {"cleared": True}

    @app.get("/_control/variants")
    async def variants() -> dict[str, Any]:
        return {"active": sorted(control.variants), "known": dict(VARIANTS)}

    @app.post("/_control/variants")
    async def change_variants(request: Request) -> JSONResponse:
        try:
            enable, disable = _variant_changes(await _json_object(request))
            active = control.update_variants(enable=enable, disable=disable)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"active": sorted(active)})

    @app.delete("/_control/variants")
    async def clear_variants() -> dict[str, Any]:
        control.clear_variants()
        return {"cleared": True, "active": []}

    @app.post("/_control/revoke-tokens")
    async def revoke() -> dict[str, bool]:
        control.tokens.revoke_all()
        return {"revoked": True}

    return app


async def _json_object(request: Request) -> dict[str, Any]:
    """The request's JSON object body; ValueError for anything else (answered with a 400)."""
    try:
        body = await request.json()
    except ValueError:
        raise ValueError("the body must be JSON") from None
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _variant_changes(body: dict[str, Any]) -> tuple[list[str], list[str]]:
    """`{"enable": [...], "disable": [...]}` (both optional) as two lists of names."""
    extra = sorted(set(body) - {"enable", "disable"})
    if extra:
        raise ValueError(f"unknown key(s) {', '.join(extra)}: expected enable and/or disable")
    lists: list[list[str]] = []
    for key in ("enable", "disable"):
        names = body.get(key, [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"{key} must be a list of variant names")
        lists.append(names)
    return lists[0], lists[1]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class SandboxServer:
    """Runs the sandbox with uvicorn in a background thread (tests, embedded `serve`)."""

    def __init__(
        self,
        dataset: Dataset,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        control: SandboxControl | None = None,
    ) -> None:
        self.dataset = dataset
        self.control = control or SandboxControl()
        self.host = host
        self.port = port or free_port(host)
        self.app = create_sandbox_app(dataset, self.control)
        config = uvicorn.Config(
            self.app, host=host, port=self.port, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="sandbox", daemon=True)
        # uvicorn's protocols log access lines whenever the shared "uvicorn.access" logger has
        # handlers, whatever access_log says: a server in the same process (`usagegraph
        # serve`) gives it some, so the sandbox's own lines are dropped here, by thread
        self._access = logging.getLogger("uvicorn.access")

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def sources(self) -> list[dict[str, str]]:
        return source_entries(self.dataset, self.base_url)

    def start(self, timeout: float = 10.0) -> SandboxServer:
        self._access.addFilter(self._not_ours)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"sandbox did not start on {self.base_url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._access.removeFilter(self._not_ours)

    def _not_ours(self, record: logging.LogRecord) -> bool:
        return record.thread != self._thread.ident

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""The usage console at /console, from our own files, so it works with no internet.

`make console-assets` builds web/console (TypeScript typed by GraphQL Code Generator from
schema.graphql, bundled by esbuild) into usagegraph/static/console/ (git-ignored);
`mount_console` serves the page (usagegraph/console.html) at GET /console and the built files at
/console/static/<name>. Without the files the page says what to run. The console itself only
POSTs to /graphql, so the API's gate ([auth], rate limit) applies to everything it shows.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.requests import Request

from usagegraph.settings import Settings

__all__ = ["ASSETS", "ASSETS_DIR", "CONSOLE_PATH", "STATIC_PATH", "mount_console"]

logger = logging.getLogger("usagegraph.console")

CONSOLE_PATH = "/console"
STATIC_PATH = f"{CONSOLE_PATH}/static"
ASSETS_DIR = Path(__file__).parent / "static" / "console"
PAGE_TEMPLATE = Path(__file__).with_name("console.html")

# Every file the page loads, with its media type: the only files served (an allow-list, so no
# path tricks); web/console/build.mjs writes exactly these.
ASSETS: Mapping[str, str] = {
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}

_FALLBACK = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>usagegraph console: assets not built</title>
  </head>
  <body style="font-family: sans-serif; max-width: 46rem; margin: 3rem auto; line-height: 1.5">
    <h1>The console's assets are not built</h1>
    <p>Run <code>make console-assets</code> (it needs node 20+ and npm), then reload this page.
    <code>make run</code> does it for you when npm is there.</p>
    <p>The GraphQL API works without them: <a href="{graphql}">{graphql}</a>.</p>
  </body>
</html>
"""


def mount_console(app: FastAPI, settings: Settings, *, assets_dir: Path | None = None) -> None:
    """Serve the console at GET /console and its files under /console/static when
    `settings.server.console` is on; otherwise add nothing. `assets_dir` defaults to ASSETS_DIR
    (read at call time, so tests can point it elsewhere)."""
    if not settings.server.console:
        return
    folder = assets_dir if assets_dir is not None else ASSETS_DIR
    template = PAGE_TEMPLATE.read_text(encoding="utf-8")
    if _missing(folder):
        logger.warning(
            "console assets are not built (run `make console-assets`): GET %s shows how",
            CONSOLE_PATH,
        )

    async def page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        if _missing(folder):
            return HTMLResponse(_FALLBACK.format(graphql=html.escape(f"{root}/graphql")))
        filled = template.replace("__STATIC__", html.escape(root + STATIC_PATH))
        return HTMLResponse(filled.replace("__GRAPHQL__", html.escape(f"{root}/graphql")))

    async def asset(name: str) -> Response:
        path = folder / name
        if name not in ASSETS or not path.is_file():
            return Response("Not Found", status_code=404, media_type="text/plain")
        # Asset names carry no version: make browsers revalidate after an upgrade.
        return FileResponse(path, media_type=ASSETS[name], headers={"Cache-Control": "no-cache"})

    app.add_api_route(CONSOLE_PATH, page, methods=["GET"], include_in_schema=False)
    app.add_api_route(f"{STATIC_PATH}/{{name}}", asset, methods=["GET"], include_in_schema=False)


def _missing(folder: Path) -> list[str]:
    return [name for name in ASSETS if not (folder / name).is_file()]

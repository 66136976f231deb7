"""GraphiQL from our own files, so the IDE works with no internet.

Strawberry's GraphiQL page loads React and GraphiQL from a CDN and stays blank offline. Here
`make graphiql-assets` installs the npm packages pinned in web/graphiql/package-lock.json and
copies their browser builds into usagegraph/static/graphiql/ (git-ignored); `mount_graphiql`
serves our page (usagegraph/graphiql.html, Strawberry's template pointed at those files) at
GET /graphql to browsers, and the files at /graphql/static/<name>. Without the files the page
says what to run; POST /graphql works either way.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from usagegraph.settings import Settings

__all__ = ["ASSETS", "ASSETS_DIR", "GRAPHQL_PATH", "STATIC_PATH", "mount_graphiql"]

logger = logging.getLogger("usagegraph.graphiql")

GRAPHQL_PATH = "/graphql"
STATIC_PATH = f"{GRAPHQL_PATH}/static"
ASSETS_DIR = Path(__file__).parent / "static" / "graphiql"
PAGE_TEMPLATE = Path(__file__).with_name("graphiql.html")
STATIC_PLACEHOLDER = "__STATIC__"

_JS = "text/javascript; charset=utf-8"
_CSS = "text/css; charset=utf-8"
# Every file the page loads, with its media type: the only files served (an allow-list, so no
# path tricks), and the Makefile's graphiql-assets target copies exactly these.
ASSETS: Mapping[str, str] = {
    "react.production.min.js": _JS,
    "react-dom.production.min.js": _JS,
    "graphiql.min.js": _JS,
    "graphiql.min.css": _CSS,
    "plugin-explorer.umd.js": _JS,
    "plugin-explorer.css": _CSS,
}

_FALLBACK = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>usagegraph GraphiQL: assets not installed</title>
  </head>
  <body style="font-family: sans-serif; max-width: 46rem; margin: 3rem auto; line-height: 1.5">
    <h1>GraphiQL assets are not installed</h1>
    <p>GraphiQL assets are not installed: run <code>make graphiql-assets</code> (it needs npm),
    then reload this page. <code>make run</code> does it for you when npm is there.</p>
    <p>The GraphQL API works without them: POST a JSON body to this URL, for example</p>
    <pre>curl -s {url} -H 'content-type: application/json' \\
  -d '{{"query": "{{ sources {{ name kind }} }}"}}'</pre>
  </body>
</html>
"""


def mount_graphiql(app: FastAPI, settings: Settings, *, assets_dir: Path | None = None) -> None:
    """Serve our GraphiQL page at GET /graphql (to browsers) and its files under /graphql/static,
    and redirect GET / there, when `settings.server.graphiql` is on; otherwise add nothing.

    The page is answered by a middleware, ahead of the Strawberry router, so Strawberry's own
    CDN page is never served; GraphQL over POST and GET ?query= still reach the router.
    `assets_dir` defaults to ASSETS_DIR (read at call time, so tests can point it elsewhere).
    """
    if not settings.server.graphiql:
        return
    folder = assets_dir if assets_dir is not None else ASSETS_DIR
    template = PAGE_TEMPLATE.read_text(encoding="utf-8")
    if _missing(folder):
        logger.warning(
            "GraphiQL assets are not installed (run `make graphiql-assets`): GET %s shows how",
            GRAPHQL_PATH,
        )

    async def asset(name: str) -> Response:
        path = folder / name
        if name not in ASSETS or not path.is_file():
            return Response("Not Found", status_code=404, media_type="text/plain")
        # Asset names carry no version: make browsers revalidate after an upgrade.
        return FileResponse(path, media_type=ASSETS[name], headers={"Cache-Control": "no-cache"})

    async def home(request: Request) -> RedirectResponse:
        # a browser opened at the server's root lands in GraphiQL, not on a JSON 404
        return RedirectResponse(request.scope.get("root_path", "") + GRAPHQL_PATH, 307)

    app.add_api_route(f"{STATIC_PATH}/{{name}}", asset, methods=["GET"], include_in_schema=False)
    app.add_api_route("/", home, methods=["GET"], include_in_schema=False)
    app.add_middleware(_GraphiQLPage, template=template, assets_dir=folder)


class _GraphiQLPage:
    """ASGI middleware: answers the requests for which Strawberry would render its IDE."""

    def __init__(self, app: ASGIApp, *, template: str, assets_dir: Path) -> None:
        self.app = app
        self.template = template
        self.assets_dir = assets_dir

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _wants_ide(scope):
            await self._page(Request(scope))(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _page(self, request: Request) -> HTMLResponse:
        if _missing(self.assets_dir):
            url = str(request.url.replace(query="", fragment=""))
            return HTMLResponse(_FALLBACK.format(url=html.escape(url)))
        prefix = request.scope.get("root_path", "") + STATIC_PATH
        return HTMLResponse(self.template.replace(STATIC_PLACEHOLDER, html.escape(prefix)))


def _wants_ide(scope: Scope) -> bool:
    """Strawberry's own test (BaseView.should_render_graphql_ide), on the /graphql path."""
    path = scope["path"]
    root_path = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :]
    if scope["method"] != "GET" or path != GRAPHQL_PATH:
        return False
    if QueryParams(scope.get("query_string", b"")).get("query") is not None:
        return False
    accept = Headers(scope=scope).get("accept", "")
    return "text/html" in accept or "*/*" in accept


def _missing(folder: Path) -> list[str]:
    return [name for name in ASSETS if not (folder / name).is_file()]

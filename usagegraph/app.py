"""The FastAPI application factory: GraphQL at /graphql, a health check at /healthz.

`create_app(settings)` builds everything from one `Settings` object and owns the lifetime of the
per-source HTTP clients (opened in the lifespan, closed on shutdown) so each vendor gets one
connection pool shared by every request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from strawberry.fastapi import GraphQLRouter

from schema import schema
from usagegraph.settings import Settings, TalkdeskSource, TeliSource, TelzinoSource

__all__ = ["create_app"]


def create_app(settings: Settings) -> FastAPI:
    """The usagegraph ASGI app for `settings` (also kept on `app.state.settings`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            app.state.http_clients = {
                source.name: await stack.enter_async_context(_http_client(source))
                for source in settings.sources
            }
            yield
            # Leaving the stack closes every client, even if one close fails.

    app = FastAPI(title="usagegraph", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.http_clients = {}

    graphql = GraphQLRouter(
        schema,
        graphql_ide="graphiql" if settings.server.graphiql else None,
        context_getter=get_context,
    )
    app.include_router(graphql, prefix="/graphql")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def get_context(request: Request) -> dict[str, Any]:
    """Per-request GraphQL context (merged with Strawberry's `request`/`response`)."""
    return {
        "settings": request.app.state.settings,
        "http_clients": request.app.state.http_clients,
    }


def _http_client(source: TelzinoSource | TeliSource | TalkdeskSource) -> httpx.AsyncClient:
    """One pooled client per source, with the source's connect/read timeouts."""
    timeout = httpx.Timeout(
        source.timeout_read, connect=source.timeout_connect, pool=source.timeout_total
    )
    # The pool never needs more connections than the source's concurrency cap allows.
    limits = httpx.Limits(max_connections=source.max_concurrency)
    return httpx.AsyncClient(timeout=timeout, limits=limits)

"""The FastAPI application factory: GraphQL at /graphql, a health check at /healthz.

`create_app(settings)` builds everything from one `Settings` object. The lifespan opens one
pooled client per source and the app-wide graph service (discovery cache, directory); each
request gets its own context with fresh dataloaders.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from strawberry.fastapi import GraphQLRouter

from resolvers.context import GraphContext
from resolvers.directory import Directory, DirectoryError, load_directory
from resolvers.service import GraphService
from schema import schema
from usagegraph.connections import open_connections
from usagegraph.graphiql import mount_graphiql
from usagegraph.settings import ConfigError, Settings

__all__ = ["create_app"]


def _directory(settings: Settings) -> Directory:
    path = settings.directory.path if settings.directory else None
    try:
        return load_directory(path, sources=[s.name for s in settings.sources])
    except DirectoryError as exc:
        raise ConfigError("directory.path", str(exc)) from None


def create_app(settings: Settings) -> FastAPI:
    """The usagegraph ASGI app for `settings`; a bad directory file is a ConfigError here,
    at start-up, not on the first request."""
    directory = _directory(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_connections(settings) as connections:
            app.state.graph = GraphService(
                connections,
                directory=directory,
                discovery_ttl=settings.graph.discovery_ttl_seconds,
                max_range_days=settings.graph.max_range_days,
                naive_loaders=settings.graph.naive_loaders,
                max_calls_per_source=settings.graph.max_upstream_calls_per_source,
            )
            yield

    app = FastAPI(title="usagegraph", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings

    graphql = GraphQLRouter(
        schema,
        graphql_ide="graphiql" if settings.server.graphiql else None,
        context_getter=get_context,
    )
    app.include_router(graphql, prefix="/graphql")
    mount_graphiql(app, settings)  # our offline GraphiQL page, ahead of Strawberry's CDN one

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def get_context(request: Request) -> GraphContext:
    """A fresh context (and so fresh dataloaders) for every GraphQL request."""
    return GraphContext(request.app.state.graph)

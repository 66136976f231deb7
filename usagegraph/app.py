"""The FastAPI application factory: GraphQL at /graphql, /healthz, /readyz and /metrics.

`create_app(settings)` builds everything from one `Settings` object. The lifespan opens one
pooled client per source, the cache backend (`app.state.cache_backend`, closed at shutdown) and
the app-wide graph service (discovery, directory, result cache); each request gets its own
context with fresh dataloaders.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from fastapi import FastAPI, Request

from usagegraph.answers import build_answer_store, install_answers
from usagegraph.cache_setup import build_backend, catalog_ttl, result_cache
from usagegraph.console import mount_console
from usagegraph.fleet_link import fleet_link
from usagegraph.gc_tuning import install_gc_tuning
from usagegraph.graphiql import mount_graphiql
from usagegraph.limits import caller_of, identity_of, install_gate, schema_limits
from usagegraph.observability import Observability
from usagegraph.persisted.middleware import install_persisted_queries
from usagegraph.persisted.store import build_query_store
from usagegraph.protocol import BoundedGraphQLRouter, install_error_shape, install_request_check
from usagegraph.resolvers.context import GraphContext
from usagegraph.resolvers.directory import Directory, DirectoryError, load_directory
from usagegraph.resolvers.service import GraphService
from usagegraph.schema import build_schema
from usagegraph.schema.compat import graphql_schema
from usagegraph.settings import ConfigError, Settings
from usagegraph.source_clients import open_connections

__all__ = ["create_app"]


def _directory(settings: Settings) -> Directory:
    path = settings.directory.path if settings.directory else None
    try:
        return load_directory(path, sources=[s.name for s in settings.sources])
    except DirectoryError as exc:
        raise ConfigError("directory.path", str(exc)) from None


def create_app(settings: Settings, *, tracer_provider: Any | None = None) -> FastAPI:
    """The usagegraph ASGI app for `settings`; a bad directory file is a ConfigError here,
    at start-up, not on the first request. `tracer_provider` (an OpenTelemetry one) replaces the
    process-wide provider when `[observability] tracing` is on (tests)."""
    directory = _directory(settings)
    observability = Observability(settings, tracer_provider=tracer_provider)
    # the vendors' limits, breakers and per-caller limits, shared by the replicas on one Redis
    fleet = fleet_link(settings)
    if fleet is not None:
        observability.metrics.watch_fleet(lambda: fleet.replicas)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        backend = build_backend(settings)
        app.state.cache_backend = backend  # also for other features' values (see its API)
        # whole answers, apart from the fetches they are built on (usagegraph/answers)
        app.state.answer_store = build_answer_store(
            settings, backend, clock=lambda: app.state.graph.cache.clock()
        )
        # registered APQ queries: a store of their own, never in the result cache's LRU
        app.state.persisted_store = build_query_store(settings)
        # the replica count each replica divides a vendor's rate by when Redis is down
        heartbeat = asyncio.create_task(fleet.heartbeat_forever()) if fleet is not None else None
        try:
            # every upstream attempt feeds metrics, source statuses, debug events and spans
            async with open_connections(
                settings, on_call=observability.on_call, fleet=fleet
            ) as connections:
                app.state.graph = GraphService(
                    connections,
                    directory=directory,
                    discovery_ttl=catalog_ttl(settings),
                    max_range_days=settings.graph.max_range_days,
                    max_page_size=settings.graph.max_page_size,
                    default_page_size=settings.graph.default_page_size,
                    naive_loaders=settings.graph.naive_loaders,
                    max_calls_per_source=settings.graph.max_upstream_calls_per_source,
                    request_deadline=settings.request_deadline(),
                    cache=result_cache(settings, backend),
                )
                observability.bind(app.state.graph)
                try:
                    yield
                finally:
                    observability.bind(None)
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat
            await app.state.persisted_store.close()
            await backend.close()
            if fleet is not None:
                await fleet.close()

    # no OpenAPI document either: /graphql is described by its schema, nothing else needs one
    app = FastAPI(
        title="usagegraph", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.settings = settings
    app.state.observability = observability
    # whichever ASGI server runs the app: its process's collector, once, after start-up
    install_gc_tuning(app, settings)

    # the cost analysis counts a connection's page as the deployment sizes it
    limits = replace(
        schema_limits(settings),
        default_page_size=settings.graph.default_page_size,
        max_page_size=settings.graph.max_page_size,
    )
    schema = build_schema(limits)
    graphql = BoundedGraphQLRouter(
        schema,
        graphql_ide="graphiql" if settings.server.graphiql else None,
        context_getter=get_context,
        subscription_protocols=(),  # no subscriptions: no WebSocket way around the gate
    )
    app.include_router(graphql, prefix="/graphql")
    mount_graphiql(app, settings)  # our offline GraphiQL page, ahead of Strawberry's CDN one
    mount_console(app, settings)  # the usage console at /console (usagegraph/console.py)
    # identical operations run once, whole answers kept while fresh (usagegraph/answers):
    # innermost, on the checked request the gate and the persisted-query lookup let through
    install_answers(app, settings, schema.subgraph_sdl(), observability)
    # one bounded GraphQL request per call, or a 400 BAD_REQUEST (usagegraph/protocol.py)
    install_request_check(app)
    # APQ / safelist (usagegraph/persisted/): inside the gate, so it runs after the key check
    install_persisted_queries(app, settings, graphql_schema(schema))
    # API keys, rate limit (the fleet's with Redis), body size (usagegraph/limits.py)
    install_gate(app, settings, directory, fleet)
    # every error /graphql answers is GraphQL-shaped, the gate's included (usagegraph/protocol.py)
    install_error_shape(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # /readyz, /metrics, and the request-id middleware: last, so it wraps every other one
    observability.install(app)
    return app


async def get_context(request: Request) -> GraphContext:
    """A fresh context (and so fresh dataloaders) for every GraphQL request."""
    identity = identity_of(request.state, default=request.app.state.default_identity)
    return GraphContext(
        request.app.state.graph, identity, caller=caller_of(request.state, identity)
    )

"""`Observability`: the operability side of one app, wired in by `create_app`.

It owns the app's metrics registry, feeds source statuses, metrics, debug events and spans from
the transports' `on_call` hook, answers `/readyz` and `/metrics`, logs one line per GraphQL
operation, and puts the request middleware in front of everything.

`/readyz` and `/metrics` need no key, but what names sources (their names, last errors and
circuits; every metric labelled by source) is for operators: with `[auth]`, `/readyz` shows its
details, and `/metrics` answers at all, only to an API key with the "operator" role, unless
`[observability] readyz_details` / `metrics_public` say the endpoint is private. Without
`[auth]` every caller already sees all of it through the `sources` query, so both show it.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import JSONResponse, Response
from strawberry.extensions import SchemaExtension

from usagegraph.auth import KeyRing
from usagegraph.observability.health import observe_call, readiness
from usagegraph.observability.metrics import PrometheusMetrics
from usagegraph.observability.middleware import RequestObservability
from usagegraph.persisted.middleware import persisted_origin
from usagegraph.protocol import error_response
from usagegraph.schema.debug import OperationReport
from usagegraph.settings import ConfigError, Settings
from usagegraph.telemetry import record_call

if TYPE_CHECKING:
    from usagegraph.clients.transport import CallRecord
    from usagegraph.observability.tracing import Tracing
    from usagegraph.resolvers.service import GraphService

__all__ = ["Observability", "sdk_available"]

log = logging.getLogger("usagegraph.operations")


def sdk_available() -> bool:
    """Is the OpenTelemetry SDK (the `otel` extra) installed?"""
    try:
        return importlib.util.find_spec("opentelemetry.sdk") is not None
    except ModuleNotFoundError:  # not even the API
        return False


class Observability:
    """Metrics, health, operation logs, debug mode and tracing for one app."""

    def __init__(self, settings: Settings, *, tracer_provider: Any | None = None) -> None:
        self.metrics = PrometheusMetrics()
        self.debug = settings.server.debug
        self.ready_window = settings.observability.ready_window_seconds
        self.probe_timeout = settings.observability.ready_probe_timeout_seconds
        self.expose_metrics = settings.observability.metrics
        self.readyz_details = settings.observability.readyz_details
        self.metrics_public = settings.observability.metrics_public
        # None without [auth]: then every caller may see what `sources` shows anyway
        self.keys = KeyRing(settings.auth) if settings.auth is not None else None
        self.tracing: Tracing | None = None
        if settings.observability.tracing:
            if tracer_provider is None and not sdk_available():
                raise ConfigError(
                    "observability.tracing",
                    "tracing needs the OpenTelemetry SDK: pip install 'usagegraph[otel]'",
                )
            from usagegraph.observability.tracing import Tracing, default_tracer_provider

            self.tracing = Tracing(tracer_provider or default_tracer_provider())
        self._service: GraphService | None = None
        self.metrics.watch_sources(lambda: self._service)

    # -- lifecycle -----------------------------------------------------------------------------
    def bind(self, service: GraphService | None) -> None:
        """Follow `service`'s sources (in the lifespan; None when it shuts down)."""
        self._service = service
        if service is None and self.tracing is not None:
            self.tracing.flush()

    def install(self, app: FastAPI) -> None:
        """Add `/readyz`, `/metrics` and the request middleware (call it last in create_app)."""
        app.add_api_route("/readyz", self._readyz, methods=["GET"], include_in_schema=False)
        if self.expose_metrics:
            app.add_api_route("/metrics", self._metrics, methods=["GET"], include_in_schema=False)
        app.add_middleware(RequestObservability, metrics=self.metrics, observer=self)

    # -- the transports' hook ------------------------------------------------------------------
    def on_call(self, record: CallRecord) -> None:
        """Every upstream HTTP attempt: metrics, source status, debug events, a span."""
        self.metrics.observe_upstream(record)
        if self._service is not None:
            observe_call(self._service.statuses, record)
        record_call(record)
        if self.tracing is not None:
            self.tracing.record(record)

    # -- what the schema's extensions and the cache call (usagegraph.telemetry / schema.debug) --
    def record_cache(self, backend: str, hit: bool) -> None:
        self.metrics.record_cache(backend, hit)

    def record_cache_error(self, backend: str, reason: str) -> None:
        self.metrics.record_cache_error(backend, reason)

    def record_fleet_fallback(self, feature: str) -> None:
        self.metrics.record_fleet_fallback(feature)

    def operation_finished(self, report: OperationReport) -> None:
        # a client-chosen name labels metrics only when its query was persisted (manifest, APQ)
        self.metrics.observe_operation(
            report.name, report.duration_s, report.error_codes, origin=persisted_origin()
        )
        calls = report.trace.calls()
        duration_ms = round(report.duration_s * 1000, 1)
        log.info(
            "%s in %.1f ms; upstream calls: %s%s",
            report.name or "anonymous operation",
            duration_ms,
            ", ".join(f"{source} {count}" for source, count in calls.items()) or "none",
            f"; errors: {', '.join(report.error_codes)}" if report.error_codes else "",
            extra={
                "operation": report.name,
                "duration_ms": duration_ms,
                "upstream_calls": calls,
                "cache_hits": report.trace.cache_hits(),
                "error_codes": list(report.error_codes),
            },
        )

    def tracing_extension(self) -> SchemaExtension | None:
        return self.tracing.extension() if self.tracing is not None else None

    # -- endpoints -----------------------------------------------------------------------------
    def _operator(self, request: Request) -> bool | None:
        """True for an API key with the "operator" role, or anyone without [auth]; False for
        another valid key; None without a valid key."""
        if self.keys is None:
            return True
        identity = self.keys.identify(request.headers.get("authorization"))
        if identity is None:
            return None
        return identity.has_role("operator")

    async def _readyz(self, request: Request) -> JSONResponse:
        service = self._service
        details = self.readyz_details or bool(self._operator(request))
        if service is None:
            body: dict[str, Any] = {"status": "starting"}
            if details:
                body["sources"] = []
            return JSONResponse(body, status_code=503)
        ready, verdicts = await readiness(
            service, window=self.ready_window, probe_timeout=self.probe_timeout
        )
        body = {"status": "ready" if ready else "not ready"}
        if details:  # names every source and its last error: operators only
            body["sources"] = [v.as_dict() for v in verdicts]
        return JSONResponse(body, status_code=200 if ready else 503)

    async def _metrics(self, request: Request) -> Response:
        if not self.metrics_public:
            operator = self._operator(request)
            if operator is None:
                return error_response(
                    401,
                    "/metrics needs an API key with the operator role",
                    "UNAUTHORIZED",
                    {"WWW-Authenticate": "Bearer"},
                )
            if not operator:
                return error_response(
                    403, "/metrics needs an API key with the operator role", "FORBIDDEN"
                )
        return Response(self.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

"""OpenTelemetry tracing (the `otel` extra): a span per GraphQL operation and per upstream call.

Imported only when `[observability] tracing = true`. Operation spans come from Strawberry's
`OpenTelemetryExtensionSync` (the sync one: an async `resolve` hook would turn every field into a
coroutine); we make the operation span current while the operation runs, so the spans built
from the transport's call records become its children, in whichever task the call ran.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Generator
from typing import TYPE_CHECKING

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider
from strawberry.extensions import LifecycleStep
from strawberry.extensions.tracing import OpenTelemetryExtensionSync

if TYPE_CHECKING:
    from usagegraph.clients.transport import CallRecord

__all__ = ["OperationSpans", "Tracing", "default_tracer_provider"]

log = logging.getLogger("usagegraph.tracing")


def default_tracer_provider() -> TracerProvider:
    """The process's tracer provider; when nothing configured one (e.g. no
    `opentelemetry-instrument`), an SDK provider exporting over OTLP/HTTP, set up by the
    standard OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, ...)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    current = trace.get_tracer_provider()
    if isinstance(current, SdkTracerProvider):
        return current
    service = os.environ.get("OTEL_SERVICE_NAME", "usagegraph")
    provider = SdkTracerProvider(resource=Resource.create({"service.name": service}))
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        log.warning("tracing is on but no OTLP exporter is installed: spans are dropped")
    else:
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


class OperationSpans(OpenTelemetryExtensionSync):
    """Strawberry's operation/parse/validate/field spans, with the operation span current."""

    def on_operation(self) -> Generator[None, None, None]:
        steps = super().on_operation()
        next(steps)  # starts the operation span
        span = self._span_holder[LifecycleStep.OPERATION]
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            yield
        finally:
            otel_context.detach(token)
            result = self.execution_context.result
            if result is not None and result.errors:
                codes = sorted({str((e.extensions or {}).get("code")) for e in result.errors})
                span.set_attribute("graphql.error_codes", codes)
                span.set_status(Status(StatusCode.ERROR, ", ".join(codes)))
            next(steps, None)  # ends it


class Tracing:
    """Spans for one app, from `provider`."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = trace.get_tracer("usagegraph", tracer_provider=provider)

    def extension(self) -> OperationSpans:
        return OperationSpans(tracer_provider=self.provider)

    def record(self, record: CallRecord) -> None:
        """A CLIENT span for one finished upstream attempt, under the current span."""
        end = time.time_ns()
        span = self.tracer.start_span(
            f"{record.source} {record.endpoint}",
            kind=SpanKind.CLIENT,
            start_time=end - int(record.duration_s * 1e9),
            attributes={
                "usagegraph.source": record.source,
                "usagegraph.endpoint": record.endpoint,
                "usagegraph.attempt": record.attempt,
                "http.request.method": record.method,
                "url.full": record.url,  # without query string
            },
        )
        if record.status is not None:
            span.set_attribute("http.response.status_code", record.status)
        if record.error is not None:
            span.set_status(Status(StatusCode.ERROR, record.error))
        span.end(end_time=end)

    def flush(self) -> None:
        force_flush = getattr(self.provider, "force_flush", None)
        if force_flush is not None:
            force_flush()

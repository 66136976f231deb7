"""Operation telemetry: timing, upstream calls and error codes per operation; debug mode.

`OperationTelemetry` opens the operation's `OperationTrace` (every upstream call the transport
reports while it runs, in any task it starts) and, when it ends, hands a report to the app that
serves the request (metrics and the operation's log line). In debug mode it also adds
`extensions.upstream` to the response: one entry per upstream call, with source, endpoint,
method, status, duration_ms, attempt and cache ("hit"/"miss"/null), so a caller can see why a
query is slow. Debug mode is never on for a scoped API key.

Only sync operation-level hooks: no `resolve` hook, which would cost every field.
`operation_tracing` adds OpenTelemetry spans when the app has tracing on, and nothing otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from strawberry.extensions import SchemaExtension

from usagegraph.telemetry import Observer, OperationTrace, current_observer, operation_trace

__all__ = [
    "OperationObserver",
    "OperationReport",
    "OperationTelemetry",
    "debug_allowed",
    "operation_tracing",
]


@dataclass(frozen=True)
class OperationReport:
    """What one finished operation tells the app."""

    name: str | None  # None for an anonymous operation
    duration_s: float
    error_codes: tuple[str, ...]  # extensions.code of each error in the response
    trace: OperationTrace


@runtime_checkable
class OperationObserver(Observer, Protocol):
    """The app side (`usagegraph.observability.Observability`)."""

    debug: bool

    def operation_finished(self, report: OperationReport) -> None: ...

    def tracing_extension(self) -> SchemaExtension | None: ...


def debug_allowed(observer: OperationObserver, context: object) -> bool:
    """Debug mode is on in the config and the caller is not limited to some resellers."""
    identity = getattr(context, "identity", None)
    return observer.debug and not getattr(identity, "scoped", False)


def _current() -> OperationObserver | None:
    observer = current_observer()
    return observer if isinstance(observer, OperationObserver) else None


class OperationTelemetry(SchemaExtension):
    """Reports each operation to the app; lists its upstream calls in debug mode."""

    _observer: OperationObserver | None = None
    _trace: OperationTrace | None = None

    def on_operation(self) -> Iterator[None]:
        observer = _current()
        if observer is None:  # executed outside the app's middleware (e.g. schema.execute)
            yield
            return
        self._observer = observer
        started = time.perf_counter()
        with operation_trace() as trace:
            self._trace = trace
            try:
                yield
            finally:
                # Listed before ErrorCodes, so this runs after the errors got their codes.
                result = self.execution_context.result
                errors = (result.errors if result is not None else None) or []
                codes = tuple(
                    str((error.extensions or {}).get("code", "INTERNAL_SERVER_ERROR"))
                    for error in errors
                )
                observer.operation_finished(
                    OperationReport(
                        name=self.execution_context.operation_name,
                        duration_s=time.perf_counter() - started,
                        error_codes=codes,
                        trace=trace,
                    )
                )

    def get_results(self) -> dict[str, Any]:
        observer, trace = self._observer, self._trace
        if observer is None or trace is None:
            return {}
        if not debug_allowed(observer, self.execution_context.context):
            return {}
        return {"upstream": [event.as_dict() for event in list(trace.events)]}


class _NoTracing(SchemaExtension):
    """Stands in when tracing is off: it overrides no hook, so it costs nothing."""


def operation_tracing() -> SchemaExtension:
    """Extension factory: the app's OpenTelemetry extension, or a no-op one."""
    observer = _current()
    extension = observer.tracing_extension() if observer is not None else None
    return extension if extension is not None else _NoTracing()

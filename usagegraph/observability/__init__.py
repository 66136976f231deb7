"""Operability: health and readiness, Prometheus metrics, structured logs, debug mode, tracing.

`Observability` wires it all into one app; `usagegraph.observability.logs` configures logging
for `usagegraph serve`. The request-scoped recording API every layer may call lives in
`usagegraph.telemetry` (request id, upstream events, cache counters).
"""

from __future__ import annotations

from usagegraph.observability.core import Observability, sdk_available

__all__ = ["Observability", "sdk_available"]

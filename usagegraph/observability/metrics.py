"""Prometheus metrics, one `CollectorRegistry` per app (tests and several apps never collide).

usagegraph_upstream_requests_total{source,endpoint,status}      counter (each HTTP attempt)
usagegraph_upstream_request_duration_seconds{source,endpoint}   histogram
usagegraph_cache_hits_total{backend} / _misses_total{backend}   counters
usagegraph_cache_errors_total{backend,reason}                   counter: entries not read or
                                                                stored (unreadable, oversized,
                                                                unstorable)
usagegraph_fleet_fallback_total{feature}                        counter: times a replica acted on
                                                                its own state because Redis
                                                                failed (feature: single_flight...)
usagegraph_fleet_replicas                                       gauge: replicas sharing this one's
                                                                Redis, as its last heartbeat saw
                                                                (only with shared limits)
usagegraph_graphql_operations_total{operation}                  counter (operation: a persisted
                                                                query's name, else anonymous/other)
usagegraph_graphql_operation_duration_seconds{operation}        histogram
usagegraph_graphql_errors_total{operation,code}                 counter
usagegraph_http_requests_in_flight                              gauge
usagegraph_http_requests_total{path,status}                     counter
usagegraph_upstream_circuit_state{source}                       gauge: 0 closed, 1 half-open,
                                                                2 open (read at scrape time)
usagegraph_source_last_success_timestamp_seconds{source}        gauge (read at scrape time)
usagegraph_process_info{pid}                                    gauge, always 1: the process that
                                                                answered this scrape (with
                                                                `serve --workers N`, one of N,
                                                                each counting only its own work)
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from usagegraph.clients.transport import CallRecord
    from usagegraph.resolvers.service import GraphService

__all__ = ["CIRCUIT_STATES", "PrometheusMetrics", "operation_label"]

# Seconds; upstream calls are bounded by timeout_total (30 s by default).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CIRCUIT_STATES = {"closed": 0, "half_open": 1, "open": 2}
# Operation names come from clients: cap how many distinct label values they can create.
MAX_OPERATION_NAMES = 200
_GRAPHQL_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
# Paths we serve; anything else is counted as "other" (a scanner must not create series).
KNOWN_PATHS = frozenset({"/graphql", "/healthz", "/readyz", "/metrics"})


def operation_label(name: str | None, seen: set[str], origin: str | None = None) -> str:
    """A bounded label for an operation name: "anonymous" without one; "other" for a name the
    client chose freely (a text sent as is, or past MAX_OPERATION_NAMES names registered by
    APQ); else the name: a manifest's operations (the operator's list) always, and the first
    MAX_OPERATION_NAMES names of APQ-registered queries (`origin` "manifest" or "apq")."""
    if not name:
        return "anonymous"
    if origin is None:
        return "other"
    if not _GRAPHQL_NAME.fullmatch(name):
        return "invalid"
    if origin == "manifest" or name in seen:
        return name
    if len(seen) >= MAX_OPERATION_NAMES:
        return "other"
    seen.add(name)
    return name


def _status_label(record: CallRecord) -> str:
    if record.status is not None:
        return str(record.status)
    return "cancelled" if record.error == "cancelled" else "error"


class PrometheusMetrics:
    """Every metric of one app, registered in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.upstream_requests = Counter(
            "usagegraph_upstream_requests",
            "HTTP requests sent to upstream sources (each attempt, token calls included).",
            ["source", "endpoint", "status"],
            registry=r,
        )
        self.upstream_latency = Histogram(
            "usagegraph_upstream_request_duration_seconds",
            "Duration of one upstream HTTP attempt.",
            ["source", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.cache_hits = Counter(
            "usagegraph_cache_hits", "Response cache hits.", ["backend"], registry=r
        )
        self.cache_misses = Counter(
            "usagegraph_cache_misses", "Response cache misses.", ["backend"], registry=r
        )
        self.cache_errors = Counter(
            "usagegraph_cache_errors",
            "Cache entries that could not be read (a miss) or stored, by reason.",
            ["backend", "reason"],
            registry=r,
        )
        self.fleet_fallbacks = Counter(
            "usagegraph_fleet_fallback",
            "Times a replica acted on its own state because the fleet's Redis failed.",
            ["feature"],
            registry=r,
        )
        self.operations = Counter(
            "usagegraph_graphql_operations",
            "GraphQL operations executed.",
            ["operation"],
            registry=r,
        )
        self.operation_duration = Histogram(
            "usagegraph_graphql_operation_duration_seconds",
            "Duration of one GraphQL operation, parsing to result.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "usagegraph_graphql_errors",
            "Errors in GraphQL responses, by extensions.code.",
            ["operation", "code"],
            registry=r,
        )
        self.in_flight = Gauge(
            "usagegraph_http_requests_in_flight", "HTTP requests being served.", registry=r
        )
        self.http_requests = Counter(
            "usagegraph_http_requests",
            "HTTP requests served, by path and status.",
            ["path", "status"],
            registry=r,
        )
        self.answers = Counter(
            "usagegraph_answer_cache_requests",
            "GraphQL requests by how the answer layer served them: hit (a kept answer), miss "
            "(executed and kept), coalesced (an identical request's execution), uncacheable "
            "(executed, not kept), bypass (not eligible).",
            ["outcome"],
            registry=r,
        )
        self._operation_names: set[str] = set()
        r.register(_ProcessCollector())

    # -- recording -----------------------------------------------------------------------------
    def observe_upstream(self, record: CallRecord) -> None:
        """Count and time one upstream HTTP attempt."""
        self.upstream_requests.labels(record.source, record.endpoint, _status_label(record)).inc()
        self.upstream_latency.labels(record.source, record.endpoint).observe(record.duration_s)

    def record_cache(self, backend: str, hit: bool) -> None:
        """Count one cache lookup of `backend`."""
        (self.cache_hits if hit else self.cache_misses).labels(backend).inc()

    def record_cache_error(self, backend: str, reason: str) -> None:
        """Count one entry of `backend` that could not be read or stored."""
        self.cache_errors.labels(backend, reason).inc()

    def record_fleet_fallback(self, feature: str) -> None:
        """Count one time `feature` fell back to this replica's own state."""
        self.fleet_fallbacks.labels(feature).inc()

    def watch_fleet(self, replicas: Callable[[], int]) -> None:
        """Report the fleet's replica count (usagegraph/fleet_link.py), read at scrape time."""
        gauge = Gauge(
            "usagegraph_fleet_replicas",
            "Replicas sharing this one's Redis, as its last heartbeat counted them.",
            registry=self.registry,
        )
        gauge.set_function(replicas)

    def observe_operation(
        self,
        name: str | None,
        duration_s: float,
        error_codes: Iterable[str],
        *,
        origin: str | None = None,
    ) -> str:
        """Count and time one GraphQL operation; returns the label it was counted under
        (`origin`: "manifest" or "apq" when its query was persisted, see `operation_label`)."""
        label = operation_label(name, self._operation_names, origin)
        self.operations.labels(label).inc()
        self.operation_duration.labels(label).observe(duration_s)
        for code in error_codes:
            self.errors.labels(label, code).inc()
        return label

    def observe_http(self, path: str, status: int) -> None:
        self.http_requests.labels(path if path in KNOWN_PATHS else "other", str(status)).inc()

    def watch_sources(self, service: Callable[[], GraphService | None]) -> None:
        """Report circuit-breaker state and last success per source, read at scrape time."""
        self.registry.register(_SourceCollector(service))

    def record_answer(self, outcome: str) -> None:
        """Count one GraphQL request the answer layer served (usagegraph/answers)."""
        self.answers.labels(outcome).inc()

    def watch_answers(self, usage: Callable[[], tuple[int, int] | None]) -> None:
        """Report the kept answers' bytes and count, read at scrape time (memory store only)."""
        self.registry.register(_AnswerCollector(usage))

    def render(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)


def circuit_state_value(state: object) -> int | None:
    """0 closed, 1 half-open, 2 open; None for a state we do not know."""
    if isinstance(state, Enum):
        state = state.value
    if not isinstance(state, str):
        return None
    return CIRCUIT_STATES.get(state.lower().replace("-", "_"))


class _SourceCollector(Collector):
    def __init__(self, service: Callable[[], GraphService | None]) -> None:
        self._service = service

    def describe(self) -> list[Metric]:
        return []  # dynamic: do not call collect() at registration time

    def collect(self) -> Iterable[Metric]:
        service = self._service()
        if service is None:
            return []
        circuit = GaugeMetricFamily(
            "usagegraph_upstream_circuit_state",
            "Circuit breaker per source: 0 closed, 1 half-open, 2 open.",
            labels=["source"],
        )
        success = GaugeMetricFamily(
            "usagegraph_source_last_success_timestamp_seconds",
            "Unix time of the last successful upstream call per source.",
            labels=["source"],
        )
        connections: Mapping[str, object] = service.connections
        for name, conn in connections.items():
            # The breaker is optional: a transport without one simply has no series.
            breaker = getattr(getattr(conn, "transport", None), "breaker", None)
            value = circuit_state_value(getattr(breaker, "state", None))
            if value is not None:
                circuit.add_metric([name], value)
            status = service.statuses.get(name)
            if status is not None and status.last_success is not None:
                success.add_metric([name], status.last_success.timestamp())
        return [circuit, success]


class _AnswerCollector(Collector):
    def __init__(self, usage: Callable[[], tuple[int, int] | None]) -> None:
        self._usage = usage

    def describe(self) -> list[Metric]:
        return []  # dynamic: do not call collect() at registration time

    def collect(self) -> Iterable[Metric]:
        usage = self._usage()
        if usage is None:
            return []
        held, entries = usage
        return [
            GaugeMetricFamily(
                "usagegraph_answer_cache_bytes",
                "Bytes of answers kept in this process (bounded by [cache] answer_max_bytes).",
                value=held,
            ),
            GaugeMetricFamily(
                "usagegraph_answer_cache_entries", "Answers kept in this process.", value=entries
            ),
        ]


class _ProcessCollector(Collector):
    """`usagegraph_process_info{pid}`: the pid is read at scrape time, so it is the answering
    worker's even when the app was built in another process."""

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        info = GaugeMetricFamily(
            "usagegraph_process_info",
            "The server process that answered this scrape (one of `serve --workers N`).",
            labels=["pid"],
        )
        info.add_metric([str(os.getpid())], 1)
        return [info]

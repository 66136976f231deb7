"""Operability over real HTTP to the sandbox: /readyz, /metrics, JSON logs with request ids,
debug mode and tracing, each checked against what the sandbox itself counted."""

from __future__ import annotations

import io
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.graph import tuned_sandbox_settings
from usagegraph import observability
from usagegraph.app import create_app
from usagegraph.auth import generate_key, hash_key
from usagegraph.observability.logs import configure_logging
from usagegraph.persisted import sha256_hex
from usagegraph.resolvers.service import GraphService
from usagegraph.sandbox.control import Fault, RecordedRequest
from usagegraph.sandbox.dataset import Dataset
from usagegraph.sandbox.server import SandboxServer
from usagegraph.settings import ConfigError, Settings, settings_from_sources
from usagegraph.telemetry import bind_request, record_cache, record_upstream_event

ORG_USAGE = """
query OrgUsage($id: ID!, $first: Date!, $last: Date!) {
  organization(id: $id) {
    id
    usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } }
  }
}
"""
SOURCES = "query Sources { sources { name lastErrorCode lastError } }"
MINUTES = "/v1/reports/minutes-by-organization"
# Fault tests fail fast, and a breaker that never opens keeps every call going out.
FAST = {"max_attempts": 1, "breaker_failures": 1000}


def last_full_month(ds: Dataset) -> tuple[str, str]:
    last = ds.end.replace(day=1) - timedelta(days=1)
    return str(last.replace(day=1)), str(last)


def apq(query: str) -> dict[str, Any]:
    """The extensions of an APQ registration (what Apollo Client sends after a miss)."""
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(query)}}


def org_usage(ds: Dataset, customer: str = "cust0000") -> dict[str, Any]:
    """OrgUsage for `customer`, registered as a persisted query (so its name labels metrics)."""
    first, last = last_full_month(ds)
    return {
        "query": ORG_USAGE,
        "variables": {"id": customer, "first": first, "last": last},
        "extensions": apq(ORG_USAGE),
    }


@asynccontextmanager
async def serving(settings: Settings, **kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, **kwargs)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://usagegraph") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


def settings_for(sandbox: SandboxServer, directory: Path, **overrides: Any) -> Settings:
    return tuned_sandbox_settings(sandbox, directory, FAST, **overrides)


async def metric_samples(client: httpx.AsyncClient) -> dict[tuple[str, frozenset], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def sample(samples: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


# -- /metrics ------------------------------------------------------------------------------------


async def test_upstream_request_counter_matches_the_sandboxs_own_count(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    async with serving(settings_for(sandbox, directory_file)) as client:
        for customer in ("cust0000", "cust0010"):
            body = (await client.post("/graphql", json=org_usage(dataset, customer))).json()
            assert body["data"]["organization"]["id"] == customer
        samples = await metric_samples(client)

    minutes = sandbox.control.count("telzino", mount="telzino-api", path=MINUTES)
    assert minutes >= 2  # discovery, then one per query
    labels = {"source": "telzino", "endpoint": f"GET {MINUTES}"}
    assert sample(samples, "usagegraph_upstream_requests_total", **labels, status="200") == minutes
    assert (
        sample(samples, "usagegraph_upstream_request_duration_seconds_count", **labels) == minutes
    )
    every_request = sum(
        value
        for (name, _), value in samples.items()
        if name == "usagegraph_upstream_requests_total"
    )
    assert every_request == sandbox.control.count()  # token calls included, nothing else
    assert sample(samples, "usagegraph_graphql_operations_total", operation="OrgUsage") == 2
    assert (
        sample(samples, "usagegraph_graphql_operation_duration_seconds_count", operation="OrgUsage")
        == 2
    )


async def test_failed_upstream_calls_are_counted_by_status(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    async with serving(settings_for(sandbox, directory_file)) as client:
        await client.get("/readyz")  # discovery, before the fault
        sandbox.control.inject(Fault(mount="telzino-api", path=MINUTES, status=503))
        await client.post("/graphql", json=org_usage(dataset))
        samples = await metric_samples(client)

    labels = {"source": "telzino", "endpoint": f"GET {MINUTES}"}
    assert sample(samples, "usagegraph_upstream_requests_total", **labels, status="503") == 1
    assert sample(samples, "usagegraph_upstream_requests_total", **labels, status="200") == 1
    assert (
        sample(
            samples,
            "usagegraph_graphql_errors_total",
            operation="OrgUsage",
            code="UPSTREAM_UNAVAILABLE",
        )
        == 1
    )


async def test_graphql_errors_are_counted_by_operation_and_code(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    broken = "query Broken { nope }"
    async with serving(settings_for(sandbox, directory_file)) as client:
        await client.post("/graphql", json={"query": broken, "extensions": apq(broken)})
        await client.post("/graphql", json={"query": "{ sources { name } }"})
        await client.post("/graphql", json={"query": "query Chosen { sources { name } }"})
        samples = await metric_samples(client)

    assert (
        sample(
            samples,
            "usagegraph_graphql_errors_total",
            operation="Broken",
            code="GRAPHQL_VALIDATION_FAILED",
        )
        == 1
    )
    assert sample(samples, "usagegraph_graphql_operations_total", operation="Broken") == 1
    assert sample(samples, "usagegraph_graphql_operations_total", operation="anonymous") == 1
    # a name sent as plain text is the client's free choice: it labels nothing
    assert sample(samples, "usagegraph_graphql_operations_total", operation="Chosen") == 0
    assert sample(samples, "usagegraph_graphql_operations_total", operation="other") == 1


async def test_in_flight_gauge_counts_the_scrape_itself_and_requests_are_counted(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    async with serving(settings_for(sandbox, directory_file)) as client:
        await client.get("/healthz")
        await client.get("/nowhere")
        samples = await metric_samples(client)

    assert sample(samples, "usagegraph_http_requests_in_flight") == 1
    assert sample(samples, "usagegraph_http_requests_total", path="/healthz", status="200") == 1
    assert sample(samples, "usagegraph_http_requests_total", path="other", status="404") == 1


async def test_cache_counters_follow_record_cache_within_a_request(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    async with serving(settings_for(sandbox, directory_file)) as client:
        app: FastAPI = client.app  # type: ignore[attr-defined]
        record_cache("memory", hit=True)  # outside any request: nobody to tell
        with bind_request("r1", app.state.observability):
            record_cache("memory", hit=True)
            record_cache("memory", hit=True)
            record_cache("redis", hit=False)
        samples = await metric_samples(client)

    assert sample(samples, "usagegraph_cache_hits_total", backend="memory") == 2
    assert sample(samples, "usagegraph_cache_misses_total", backend="redis") == 1
    assert sample(samples, "usagegraph_cache_misses_total", backend="memory") == 0


async def test_circuit_state_per_source_is_a_gauge(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    settings = tuned_sandbox_settings(
        sandbox, directory_file, {"max_attempts": 1, "breaker_failures": 1}
    )
    async with serving(settings) as client:
        await client.get("/readyz")
        closed = await metric_samples(client)
        sandbox.control.inject(Fault(mount="telzino-api", path=MINUTES, status=503))
        await client.post("/graphql", json=org_usage(dataset))
        opened = await metric_samples(client)

    assert sample(closed, "usagegraph_upstream_circuit_state", source="telzino") == 0
    assert sample(opened, "usagegraph_upstream_circuit_state", source="telzino") == 2
    assert sample(opened, "usagegraph_upstream_circuit_state", source="teli-northwind") == 0


def test_two_apps_keep_separate_registries(sandbox: SandboxServer, directory_file: Path) -> None:
    settings = settings_for(sandbox, directory_file)
    first, second = create_app(settings), create_app(settings)

    first.state.observability.record_cache("memory", True)

    assert b'usagegraph_cache_hits_total{backend="memory"} 1.0' in (
        first.state.observability.metrics.render()
    )
    assert b"usagegraph_cache_hits_total{" not in second.state.observability.metrics.render()


# -- /readyz and source statuses -----------------------------------------------------------------


async def test_readyz_runs_discovery_once_when_sources_were_never_called(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    names = [entry["name"] for entry in sandbox.sources()]
    async with serving(settings_for(sandbox, directory_file)) as client:
        first = await client.get("/readyz")
        calls = sandbox.control.count()
        second = await client.get("/readyz")

    assert first.status_code == 200
    body = first.json()
    assert body["status"] == "ready"
    assert [s["name"] for s in body["sources"]] == names
    assert all(
        s["ready"] and s["last_success"] and s["last_error"] is None for s in body["sources"]
    )
    assert calls > 0  # the probe discovered every source
    assert sandbox.control.count() == calls  # and the second probe needed no call
    assert second.status_code == 200


async def test_readyz_turns_503_naming_the_source_that_went_down_and_recovers(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    secrets = {v for entry in sandbox.sources() for k, v in entry.items() if "secret" in k}
    secrets |= {entry["api_key"] for entry in sandbox.sources() if "api_key" in entry}
    async with serving(settings_for(sandbox, directory_file)) as client:
        assert (await client.get("/readyz")).status_code == 200
        sandbox.control.inject(Fault(mount="telzino-api", path=MINUTES, status=503))
        await client.post("/graphql", json=org_usage(dataset))
        down = await client.get("/readyz")
        statuses = (await client.post("/graphql", json={"query": SOURCES})).json()
        sandbox.control.clear_faults()
        await client.post("/graphql", json=org_usage(dataset))
        back = await client.get("/readyz")

    assert down.status_code == 503
    body = down.json()
    assert body["status"] == "not ready"
    not_ready = [s for s in body["sources"] if not s["ready"]]
    assert [s["name"] for s in not_ready] == ["telzino"]
    (telzino,) = not_ready
    assert telzino["last_error_code"] == "UPSTREAM_UNAVAILABLE"
    assert telzino["last_error"] == f"telzino: GET {MINUTES} answered 503"
    assert telzino["reason"] == "its last call failed (UPSTREAM_UNAVAILABLE)"
    assert not any(secret in down.text for secret in secrets)
    # the `sources` query sees the same status, though discovery never failed
    by_name = {s["name"]: s for s in statuses["data"]["sources"]}
    assert by_name["telzino"]["lastErrorCode"] == "UPSTREAM_UNAVAILABLE"
    assert by_name["teli-northwind"]["lastErrorCode"] is None
    assert back.status_code == 200


async def test_readyz_is_503_when_a_source_refuses_our_credentials(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    entries = [
        {**entry, **FAST, "api_key": "wrong-key"} if entry["name"] == "teli-southpoint" else entry
        for entry in sandbox.sources()
    ]
    settings = settings_from_sources(entries, directory={"path": directory_file})
    async with serving(settings) as client:
        response = await client.get("/readyz")

    assert response.status_code == 503
    by_name = {s["name"]: s for s in response.json()["sources"]}
    assert by_name["teli-southpoint"]["ready"] is False
    assert by_name["teli-southpoint"]["last_error_code"] == "UPSTREAM_UNAUTHORIZED"
    assert by_name["teli-southpoint"]["reason"] == (
        "has not answered successfully yet; its last call failed (UPSTREAM_UNAUTHORIZED)"
    )
    assert by_name["teli-northwind"]["ready"] is True


# -- logs and request ids ------------------------------------------------------------------------


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The usagegraph loggers as `serve` sets them up (JSON, debug level), into a buffer."""
    logger = logging.getLogger("usagegraph")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    stream = io.StringIO()
    configure_logging("debug", "json", stream)
    yield stream
    logger.handlers[:], logger.level, logger.propagate = saved


async def test_json_log_lines_carry_the_callers_request_id(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset, json_log: io.StringIO
) -> None:
    async with serving(settings_for(sandbox, directory_file)) as client:
        await client.get("/readyz")
        sandbox.control.reset()
        json_log.seek(0)
        json_log.truncate()
        response = await client.post(
            "/graphql", json=org_usage(dataset), headers={"X-Request-Id": "dash-42.a"}
        )

    assert response.headers["x-request-id"] == "dash-42.a"
    lines = [json.loads(line) for line in json_log.getvalue().splitlines() if line]
    assert lines and all(line["request_id"] == "dash-42.a" for line in lines)
    upstream = [line for line in lines if line["logger"] == "usagegraph.upstream"]
    assert len(upstream) == sandbox.control.count()
    (operation,) = [line for line in lines if line["logger"] == "usagegraph.operations"]
    assert operation["level"] == "info"
    assert operation["operation"] == "OrgUsage"
    assert operation["duration_ms"] > 0
    assert operation["error_codes"] == []
    telzino_calls = sandbox.control.count("telzino")
    assert operation["upstream_calls"]["telzino"] == telzino_calls
    assert sum(operation["upstream_calls"].values()) == sandbox.control.count()
    assert {"ts", "level", "logger", "message"} <= set(operation)


@pytest.mark.parametrize("given", ["has spaces", "x" * 129, 'quote"d', ""])
async def test_an_unusable_request_id_is_replaced(
    sandbox: SandboxServer, directory_file: Path, given: str
) -> None:
    async with serving(settings_for(sandbox, directory_file)) as client:
        response = await client.get("/healthz", headers={"X-Request-Id": given})
        fresh = await client.get("/healthz")

    assert len(response.headers["x-request-id"]) == 32
    assert response.headers["x-request-id"] != given
    assert fresh.headers["x-request-id"] != response.headers["x-request-id"]


async def test_masked_errors_carry_the_request_id_of_the_request(
    sandbox: SandboxServer,
    directory_file: Path,
    json_log: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(self: GraphService) -> None:
        raise RuntimeError("secret internals")

    async with serving(settings_for(sandbox, directory_file)) as client:
        monkeypatch.setattr(GraphService, "catalog", broken)
        response = await client.post(
            "/graphql", json={"query": "{ resellers { id } }"}, headers={"X-Request-Id": "req-7"}
        )

    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-7"}
    assert "secret internals" not in response.text
    lines = [json.loads(line) for line in json_log.getvalue().splitlines() if line]
    (logged,) = [line for line in lines if line["logger"] == "usagegraph.errors"]
    assert logged["request_id"] == "req-7"
    assert "secret internals" in logged["exc_info"]


# -- debug mode ----------------------------------------------------------------------------------


def sandbox_endpoint(call: RecordedRequest) -> str:
    """The endpoint label our clients give a call the sandbox recorded (token endpoints are
    labelled with their whole URL path, which includes the sandbox mount)."""
    path = f"/{call.mount}{call.path}" if call.path.endswith("/oauth/token") else call.path
    return f"{call.method} {path}"


async def test_debug_lists_exactly_the_calls_the_sandbox_counted(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    # without the result cache every event is a plain call (the cache's hits and misses are in
    # tests/resolvers/test_cache.py)
    settings = settings_for(
        sandbox, directory_file, server={"debug": True}, cache={"enabled": False}
    )
    async with serving(settings) as client:
        # The first query also discovers every source (tokens included): list those too.
        first = (await client.post("/graphql", json=org_usage(dataset))).json()
        first_calls = sandbox.control.calls()
        sandbox.control.reset()
        second = (await client.post("/graphql", json=org_usage(dataset, "cust0010"))).json()
        second_calls = sandbox.control.calls()

    for body, calls in ((first, first_calls), (second, second_calls)):
        events = body["extensions"]["upstream"]
        assert len(events) == len(calls) > 0
        assert Counter((e["source"].split("-")[0], e["endpoint"]) for e in events) == Counter(
            (c.vendor, sandbox_endpoint(c)) for c in calls
        )
        assert all(e["status"] == 200 and e["attempt"] == 1 for e in events)
        assert all(e["cache"] is None and e["error"] is None for e in events)
        assert all(e["duration_ms"] > 0 for e in events)
    assert {e["source"] for e in second["extensions"]["upstream"]} <= {
        "telzino",
        "teli-southpoint",
        "talkdesk-southpoint",
    }


async def test_debug_lists_each_retry_attempt(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    settings = tuned_sandbox_settings(
        sandbox, directory_file, {"max_attempts": 2}, server={"debug": True}
    )
    async with serving(settings) as client:
        await client.get("/readyz")
        sandbox.control.inject(Fault(mount="telzino-api", path=MINUTES, status=503, times=1))
        body = (await client.post("/graphql", json=org_usage(dataset))).json()

    telzino = [e for e in body["extensions"]["upstream"] if e["source"] == "telzino"]
    assert [(e["status"], e["attempt"], e["error"]) for e in telzino] == [
        (503, 1, "HTTP 503"),
        (200, 2, None),
    ]


def test_recorded_upstream_events_include_cache_hits() -> None:
    from usagegraph.clients.transport import CallRecord
    from usagegraph.telemetry import cache_miss, operation_trace, record_call

    record = CallRecord("telzino", "GET /v1/x", "GET", "http://t/v1/x", 200, 0.01234, 1, None)
    with operation_trace() as trace:
        record_upstream_event(source="telzino", endpoint="GET /v1/y", cache="hit")
        with cache_miss():
            record_call(record)
        record_call(record)
    record_call(record)  # after the operation: not its call

    assert [(e.endpoint, e.cache, e.duration_ms) for e in trace.events] == [
        ("GET /v1/y", "hit", 0.0),
        ("GET /v1/x", "miss", 12.3),
        ("GET /v1/x", None, 12.3),
    ]
    assert trace.calls() == {"telzino": 2}
    assert trace.cache_hits() == 1


async def test_debug_is_off_by_default(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    async with serving(settings_for(sandbox, directory_file)) as client:
        body = (await client.post("/graphql", json=org_usage(dataset))).json()

    assert "extensions" not in body
    assert body["data"]["organization"]["id"] == "cust0000"


async def test_debug_is_never_on_for_a_scoped_key(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    scoped, admin = generate_key(), generate_key()
    settings = settings_for(
        sandbox,
        directory_file,
        server={"debug": True},
        auth={
            "keys": [
                {"name": "northwind", "sha256": hash_key(scoped), "resellers": ["northwind"]},
                {"name": "admin", "sha256": hash_key(admin)},
            ]
        },
    )
    async with serving(settings) as client:
        as_scoped = await client.post(
            "/graphql", json=org_usage(dataset), headers={"Authorization": f"Bearer {scoped}"}
        )
        as_admin = await client.post(
            "/graphql", json=org_usage(dataset), headers={"Authorization": f"Bearer {admin}"}
        )

    assert as_scoped.json()["data"]["organization"]["id"] == "cust0000"
    assert "extensions" not in as_scoped.json()
    assert len(as_admin.json()["extensions"]["upstream"]) > 0


# -- tracing -------------------------------------------------------------------------------------


async def test_tracing_spans_the_operation_and_each_upstream_call(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    settings = settings_for(sandbox, directory_file, observability={"tracing": True})
    async with serving(settings, tracer_provider=provider) as client:
        await client.get("/readyz")
        sandbox.control.reset()
        exporter.clear()
        await client.post("/graphql", json=org_usage(dataset))

    spans = exporter.get_finished_spans()
    (operation,) = [s for s in spans if s.kind == SpanKind.SERVER]
    assert operation.name == "GraphQL Query: OrgUsage"
    upstream = [s for s in spans if s.kind == SpanKind.CLIENT]
    assert len(upstream) == sandbox.control.count() > 0
    assert all(s.parent is not None for s in upstream)
    assert {s.parent.span_id for s in upstream if s.parent} == {operation.context.span_id}
    assert {s.context.trace_id for s in upstream} == {operation.context.trace_id}
    minutes = [s for s in upstream if s.attributes["usagegraph.endpoint"] == f"GET {MINUTES}"]
    assert [s.attributes["http.response.status_code"] for s in minutes] == [200]


def test_tracing_without_the_sdk_is_a_config_error(
    sandbox: SandboxServer, directory_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(observability.core, "sdk_available", lambda: False)
    settings = settings_for(sandbox, directory_file, observability={"tracing": True})

    with pytest.raises(ConfigError) as raised:
        create_app(settings)

    assert str(raised.value) == (
        "config error: observability.tracing: tracing needs the OpenTelemetry SDK: "
        "pip install 'usagegraph[otel]'"
    )


# -- configuration and the serve command ---------------------------------------------------------

TELI = [{"name": "teli", "kind": "teli", "base_url": "http://teli.test", "api_key": "k"}]


def test_operability_defaults() -> None:
    settings = settings_from_sources(TELI)

    assert (settings.server.log_format, settings.server.debug) == ("json", False)
    assert settings.server.shutdown_timeout_seconds == 10.0
    assert settings.observability.ready_window_seconds == 300.0
    assert (settings.observability.metrics, settings.observability.tracing) == (True, False)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"server": {"log_format": "xml"}}, "server.log_format: input should be 'json' or 'text'"),
        (
            {"observability": {"ready_window_seconds": 0}},
            "observability.ready_window_seconds: input should be greater than 0",
        ),
        (
            {"observability": {"tracin": True}},
            "observability: unknown key 'tracin' (did you mean 'tracing'?)",
        ),
    ],
)
def test_operability_settings_errors_name_the_key(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        settings_from_sources(TELI, **overrides)

    assert str(raised.value) == f"config error: {message}"


def test_metrics_can_be_switched_off() -> None:
    app = create_app(settings_from_sources(TELI, observability={"metrics": False}))

    paths = {getattr(route, "path", None) for route in app.routes}
    assert "/readyz" in paths
    assert "/metrics" not in paths


def test_serve_passes_log_format_and_shutdown_timeout_to_uvicorn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from usagegraph import cli

    config = tmp_path / "usagegraph.toml"
    config.write_text(
        '[[sources]]\nname = "teli"\nkind = "teli"\nbase_url = "http://teli.test"\n'
        'api_key = "k"\n\n[server]\nshutdown_timeout_seconds = 2.5\nlog_level = "warning"\n',
        encoding="utf-8",
    )
    served: list[dict[str, Any]] = []
    monkeypatch.setattr(cli, "_run", lambda app, **kw: served.append(kw))
    logger = logging.getLogger("usagegraph")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    try:
        assert cli.main(["serve", "--config", str(config)]) == 0
        (handler,) = logger.handlers
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved

    (call,) = served
    assert call["log_format"] == "json"
    assert call["log_level"] == "warning"
    assert call["shutdown_timeout"] == 2.5
    assert type(handler.formatter).__name__ == "JsonFormatter"

"""bench/cannon.py and bench/peers/cannon.mjs: the spec handed to autocannon, its JSON answer,
and (with autocannon installed) real loads against an echo server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bench.cannon import CannonError, CannonSpec, cannon_installed, parse_result, run_cannon

URL = "http://127.0.0.1:1/graphql"


def test_an_identical_load_sends_one_body_and_no_list() -> None:
    spec = json.loads(CannonSpec(URL, 16, 4.0, body='{"query":"{ a }"}').to_json())

    assert spec["body"] == '{"query":"{ a }"}'
    assert "bodies" not in spec
    assert (spec["connections"], spec["duration"], spec["capture"]) == (16, 4.0, "hashes")


def test_a_distinct_load_sends_its_bodies_in_order() -> None:
    bodies = [json.dumps({"n": i}) for i in range(3)]
    spec = json.loads(CannonSpec(URL, 2, 1.0, bodies=bodies, capture="bodies").to_json())

    assert spec["bodies"] == ['{"n": 0}', '{"n": 1}', '{"n": 2}']
    assert "body" not in spec
    assert spec["capture"] == "bodies"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"body": "{}", "bodies": ["{}"]},
        {},
        {"bodies": []},
        {"body": "{}", "connections": 0},
        {"body": "{}", "duration": 0.0},
    ],
)
def test_a_spec_that_cannot_run_is_refused(kwargs: dict[str, Any]) -> None:
    args = {"url": URL, "connections": 4, "duration": 1.0, **kwargs}
    with pytest.raises(ValueError):
        CannonSpec(**args)


def test_the_result_converts_milliseconds_to_seconds_and_keeps_answers() -> None:
    text = json.dumps(
        {
            "generator": "autocannon 8.0.0",
            "requests": 120,
            "seconds": 2.0,
            "requests_per_second": 60.0,
            "latency_ms": {"p50": 12.5, "p95": 40.0, "p99": 80.0, "max": 99.0},
            "non2xx": 1,
            "errors": 2,
            "reused": 3,
            "handed_out": 123,
            "answers": [
                {"index": None, "status": 200, "count": 119, "body": '{"data":{"a":1}}'},
                {"index": None, "status": 503, "count": 1, "body": '{"detail":"busy"}'},
            ],
            "unsampled": 0,
            "cpu_seconds": 0.25,
        }
    )
    result = parse_result(text)

    assert (result.p50, result.p95, result.p99) == (0.0125, 0.04, 0.08)
    assert (result.requests, result.throughput, result.transport_errors) == (120, 60.0, 2)
    assert (result.reused, result.bodies_sent, result.cpu_seconds) == (3, 123, 0.25)
    assert result.answers[0].payload() == {"data": {"a": 1}}
    assert result.answers[0].count == 119
    # a non-200 answer without GraphQL errors still counts as an error
    assert result.answers[1].payload()["errors"] == [{"message": "HTTP 503"}]


def test_an_answer_that_is_not_json_is_an_error() -> None:
    text = json.dumps(
        {
            "requests": 1,
            "seconds": 1.0,
            "requests_per_second": 1.0,
            "answers": [{"index": 0, "status": 200, "body": "<html>oops</html>"}],
        }
    )
    answer = parse_result(text).answers[0]

    assert answer.index == 0
    assert answer.payload()["errors"][0]["message"] == "HTTP 200: not a JSON object"


def test_output_that_is_not_a_result_is_refused() -> None:
    with pytest.raises(CannonError):
        parse_result("Error: Cannot find module 'autocannon'")
    with pytest.raises(CannonError):
        parse_result('{"generator": "autocannon"}')


# -- real loads (autocannon from bench/peers/node_modules) ---------------------------------------


class _Echo(BaseHTTPRequestHandler):
    """Answers {"data": {"echo": <the request's JSON>}}; 503 when the request has "busy"."""

    protocol_version = "HTTP/1.1"  # keep-alive, as autocannon expects
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed ACK

    def do_POST(self) -> None:
        sent = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        payload = json.dumps({"data": {"echo": sent}}).encode()
        self.send_response(503 if sent.get("busy") else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    if not cannon_installed():
        pytest.skip("autocannon is not installed in bench/peers (make bench-concurrency)")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/graphql"
    finally:
        server.shutdown()
        server.server_close()


def test_every_body_is_sent_once_and_its_answer_carries_its_index(echo_url: str) -> None:
    bodies = [json.dumps({"n": i}) for i in range(20_000)]
    result = run_cannon(CannonSpec(echo_url, 4, 0.5, bodies=bodies, capture="bodies"))

    indexes = [a.index for a in result.answers]
    assert result.requests > 20
    # the stop lets every request in flight finish: each body handed out was answered
    assert len(indexes) == result.requests == result.bodies_sent
    assert sorted(indexes) == list(range(result.requests))  # in order, none twice
    assert all(a.payload()["data"]["echo"] == {"n": a.index} for a in result.answers)
    assert result.reused == 0
    assert result.transport_errors == 0


def test_bodies_that_run_out_start_over_and_are_counted(echo_url: str) -> None:
    bodies = [json.dumps({"n": i}) for i in range(3)]
    result = run_cannon(CannonSpec(echo_url, 2, 0.3, bodies=bodies, capture="bodies"))

    assert result.requests > 3
    assert result.reused == result.requests - 3
    assert {a.index for a in result.answers} == {0, 1, 2}


def test_an_identical_load_keeps_each_distinct_answer_once_with_its_count(echo_url: str) -> None:
    result = run_cannon(CannonSpec(echo_url, 4, 0.5, body=json.dumps({"same": True})))

    assert len(result.answers) == 1
    assert result.answers[0].count == result.requests > 20
    assert result.answers[0].payload() == {"data": {"echo": {"same": True}}}
    assert 0 < result.p50 <= result.p95 <= result.p99
    assert result.throughput == pytest.approx(result.requests / result.seconds)


def test_non_2xx_answers_are_counted_and_kept(echo_url: str) -> None:
    bodies = [json.dumps({"n": i, "busy": i % 2 == 1}) for i in range(20_000)]
    result = run_cannon(CannonSpec(echo_url, 2, 0.3, bodies=bodies, capture="bodies"))

    busy = [a for a in result.answers if a.status == 503]
    assert result.non2xx == len(busy) == result.requests // 2
    assert all(a.index % 2 == 1 and a.payload()["errors"] for a in busy)


def test_distinct_answers_past_max_samples_are_counted_not_kept(echo_url: str) -> None:
    bodies = [json.dumps({"n": i}) for i in range(20_000)]
    result = run_cannon(CannonSpec(echo_url, 2, 0.3, bodies=bodies, max_samples=5))

    assert [a.count for a in result.answers] == [1] * 5
    assert result.unsampled == result.requests - 5 > 0

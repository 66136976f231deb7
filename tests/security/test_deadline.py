"""Finding 8: no overall deadline.

With `timeout_total = 8` a request took 16 s: discovery timed out, then the report did, each on
its own clock. Now one deadline per request (`[graph] request_deadline_seconds`) bounds
discovery and every fetch together; past it the fields still missing are null with
UPSTREAM_TIMEOUT, and work shared with other requests keeps running for them.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.auth import client_for, started
from tests.fixtures.truth import last_full_month
from usagegraph.clients.deadline import deadline_scope
from usagegraph.clients.errors import UpstreamTimeoutError
from usagegraph.clients.transport import SourceTransport
from usagegraph.sandbox.server import SandboxServer
from usagegraph.settings import ConfigError, Settings, settings_from_sources

ACCOUNTS = "/express/accounts"  # Talkdesk discovery
TALKDESK_USAGE = "/express/usage/month"  # Talkdesk's report
MINUTES = "/v1/reports/minutes-by-organization"  # Telzino's report (and discovery)
MARGIN = 0.75  # seconds past the deadline an answer may take (assembling it, a loaded machine)

USAGE = """
query ($first: Date!, $last: Date!) {
  resellers {
    id
    usage(range: {firstDay: $first, lastDay: $last}) {
      voice { seconds }
      bySource { source voice { seconds } }
      coverage { complete sources { source status reason } }
    }
  }
}
"""


def settings_for(
    sandbox: SandboxServer, directory: Path, *, source: dict[str, Any], **sections: Any
) -> Settings:
    entries = [{**entry, "max_attempts": 1, **source} for entry in sandbox.sources()]
    return settings_from_sources(entries, directory={"path": directory}, **sections)


async def post(client: httpx.AsyncClient, query: str, variables: dict[str, str]) -> Any:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()


def month(sandbox: SandboxServer) -> dict[str, str]:
    first, last = last_full_month(sandbox.dataset)
    return {"first": str(first), "last": str(last)}


def by_source(body: dict[str, Any]) -> dict[str, Any]:
    """(reseller, source) -> that source's voice seconds."""
    return {
        (r["id"], s["source"]): (s["voice"] or {}).get("seconds")
        for r in body["data"]["resellers"]
        for s in r["usage"]["bySource"]
    }


async def test_slow_discovery_then_a_slow_report_answer_within_the_deadline(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    """The finding's scenario: Talkdesk's discovery is slow, then its report never comes.
    Each call alone is within `timeout_total`; on their own clocks they took 1.5 + 4 s. No
    deadline is configured: by default a request waits no longer than one call may."""
    settings = settings_for(
        sandbox,
        directory_file,
        source={"timeout_total": 4.0},
        graph={"discovery_ttl_seconds": 0},
        cache={"enabled": False},  # every request discovers and fetches anew
    )
    assert settings.request_deadline() == 4.0
    control = sandbox.control
    async with started(settings) as app, client_for(app) as client:
        clean = await post(client, USAGE, month(sandbox))
        control.inject(vendor="talkdesk", path=ACCOUNTS, latency_ms=1500)
        control.inject(vendor="talkdesk", path=TALKDESK_USAGE, latency_ms=6000)
        began = time.perf_counter()
        body = await post(client, USAGE, month(sandbox))
        took = time.perf_counter() - began

    assert "errors" not in clean
    assert 4.0 <= took < 4.0 + MARGIN
    talkdesk = {s for (_, s) in by_source(clean) if s.startswith("talkdesk")}
    assert len(talkdesk) == 3
    # exactly the fields whose data is missing: Talkdesk's, and the totals that include it
    missing = {
        (tuple(e["path"]), e["extensions"]["source"], e["extensions"]["code"])
        for e in body["errors"]
    }
    expected = set()
    for i, reseller in enumerate(body["data"]["resellers"]):
        for j, part in enumerate(reseller["usage"]["bySource"]):
            if part["source"] in talkdesk:
                usage = ("resellers", i, "usage")
                for path in ((*usage, "voice"), (*usage, "bySource", j, "voice")):
                    expected.add((path, part["source"], "UPSTREAM_TIMEOUT"))
    assert missing == expected
    assert all(set(e["extensions"]) == {"code", "source"} for e in body["errors"])
    assert "request's deadline of 4 s" in body["errors"][0]["message"]
    # everything already fetched is answered, and right
    answered = by_source(body)
    for key, seconds in by_source(clean).items():
        assert answered[key] == (None if key[1] in talkdesk else seconds)
    for reseller in body["data"]["resellers"]:
        coverage = reseller["usage"]["coverage"]
        assert coverage["complete"] is False
        for source in coverage["sources"]:
            if source["source"] in talkdesk:
                assert (source["status"], source["reason"]) == ("MISSING", "UPSTREAM_FAILED")
            else:
                assert (source["status"], source["reason"]) == ("EXACT", None)


async def test_discovery_slower_than_its_share_leaves_its_source_out_and_runs_on(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    """Half the deadline may go to discovery: a request then answers with the sources it
    has, and the discovery it stopped waiting for finishes for the next request."""
    settings = settings_for(
        sandbox,
        directory_file,
        source={"timeout_total": 10.0},
        graph={"request_deadline_seconds": 4.0},
    )
    control = sandbox.control
    control.inject(vendor="talkdesk", path=ACCOUNTS, latency_ms=5000)
    async with started(settings) as app, client_for(app) as client:
        began = time.perf_counter()
        first = await post(client, USAGE, month(sandbox))
        took = time.perf_counter() - began
        await asyncio.sleep(5.5 - took)  # the discovery left running finishes meanwhile
        control.clear_faults()
        second = await post(client, USAGE, month(sandbox))

    assert 2.0 <= took < 4.0
    lists = [e for e in first["errors"] if e["path"] == ["resellers"]]
    assert len(lists) == 1
    assert lists[0]["extensions"]["code"] == "UPSTREAM_TIMEOUT"
    assert set(lists[0]["extensions"]["sources"]) == {
        "talkdesk-northwind",
        "talkdesk-southpoint",
        "talkdesk-eastgate",
    }
    assert "time for discovery of 2 s" in lists[0]["message"]
    answered = by_source(first)
    assert answered and all(
        seconds is not None for (_, s), seconds in answered.items() if s == "telzino"
    )
    assert "errors" not in second
    assert {s for (_, s) in by_source(second)} >= {"talkdesk-northwind", "talkdesk-eastgate"}
    # one discovery per Talkdesk source in all: the second request found the first's result
    assert control.count("talkdesk", path=ACCOUNTS) == 3


async def test_a_slow_rediscovery_lets_the_last_discovery_stand_in_and_says_so(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    """The usual case: discovery is due again (its TTL) and one vendor is slow to list. The
    request does not wait for it past its share: the last discovery stands in, named in
    `extensions.staleDiscovery`, and the figures are all there."""
    settings = settings_for(
        sandbox,
        directory_file,
        source={"timeout_total": 10.0},
        graph={"request_deadline_seconds": 4.0, "discovery_ttl_seconds": 0},
    )
    control = sandbox.control
    async with started(settings) as app, client_for(app) as client:
        before = await post(client, USAGE, month(sandbox))
        control.inject(vendor="talkdesk", path=ACCOUNTS, latency_ms=6000)
        began = time.perf_counter()
        after = await post(client, USAGE, month(sandbox))
        took = time.perf_counter() - began

    assert "errors" not in before and "errors" not in after
    assert 2.0 <= took < 4.0
    assert by_source(after) == by_source(before)
    stale = after["extensions"]["staleDiscovery"]
    assert [s["source"] for s in stale] == [
        "talkdesk-eastgate",
        "talkdesk-northwind",
        "talkdesk-southpoint",
    ]
    assert {s["code"] for s in stale} == {"UPSTREAM_TIMEOUT"}


async def test_a_shared_fetch_outlives_the_request_that_gave_up_on_it(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    settings = settings_for(
        sandbox,
        directory_file,
        source={"timeout_total": 10.0},
        graph={"request_deadline_seconds": 3.0},
    )
    control = sandbox.control
    query = """query ($first: Date!, $last: Date!) {
      resellers { id usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } } }
    }"""
    async with started(settings) as app, client_for(app) as client:
        assert "errors" not in await post(client, "{ resellers { id } }", {})  # discovery
        control.reset()
        control.inject(vendor="telzino", path=MINUTES, latency_ms=3500)

        async def later() -> tuple[Any, float]:
            await asyncio.sleep(1.5)
            began = time.perf_counter()
            return await post(client, query, month(sandbox)), time.perf_counter() - began

        began = time.perf_counter()
        gave_up, (joined, waited) = await asyncio.gather(
            post(client, query, month(sandbox)), later()
        )
        took = time.perf_counter() - began

    codes = {(e["extensions"]["code"], e["extensions"]["source"]) for e in gave_up["errors"]}
    assert codes == {("UPSTREAM_TIMEOUT", "telzino")}
    assert took < 3.5 + MARGIN  # the first gives up at 3 s; the call answers the second at 3.5
    # the second request waited on the same call, which went on after the first gave up
    assert "errors" not in joined
    assert waited < 3.0  # its own deadline: it joined the call, half a second from its answer
    assert control.count("telzino", path=MINUTES) == 1


async def test_a_call_cut_by_the_deadline_leaves_the_breaker_closed(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    """Without the cache each call gets what its request has left; a request that stops
    waiting says nothing about the vendor, so the next request still calls it."""
    settings = settings_for(
        sandbox,
        directory_file,
        source={"timeout_total": 10.0, "breaker_failures": 1},
        graph={"request_deadline_seconds": 1.0},
        cache={"enabled": False},
    )
    control = sandbox.control
    query = """query ($first: Date!, $last: Date!) {
      organization(id: "cust0000") {
        usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } }
      }
    }"""
    async with started(settings) as app, client_for(app) as client:
        assert "errors" not in await post(client, "{ resellers { id } }", {})
        control.inject(vendor="telzino", path=MINUTES, latency_ms=3000)
        began = time.perf_counter()
        cut = await post(client, query, month(sandbox))
        took = time.perf_counter() - began
        control.clear_faults()
        after = await post(client, query, month(sandbox))

    assert took < 1.0 + MARGIN
    error = next(e for e in cut["errors"] if e["extensions"]["source"] == "telzino")
    assert error["extensions"]["code"] == "UPSTREAM_TIMEOUT"
    assert "did not answer within the request's deadline of 1 s" in error["message"]
    assert "errors" not in after  # not UPSTREAM_UNAVAILABLE from an open circuit


async def test_a_call_started_after_the_deadline_is_never_sent() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        transport = SourceTransport(source="teli-x", http=http)
        with deadline_scope(0.01):
            await asyncio.sleep(0.02)
            with pytest.raises(UpstreamTimeoutError) as raised:
                await transport.get_json("http://vendor.test/a", endpoint="GET /a")

    assert sent == []
    assert raised.value.code == "UPSTREAM_TIMEOUT"
    assert "was not called: the request's deadline of 0.01 s had passed" in str(raised.value)


async def test_a_request_gets_twenty_seconds_by_default(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    settings = settings_from_sources(sandbox.sources(), directory={"path": directory_file})
    assert settings.graph.request_deadline_seconds is None
    assert settings.request_deadline() == 20.0  # the sources' timeout_total is 30 s
    async with started(settings) as app:
        assert app.state.graph.request_deadline == 20.0


@pytest.mark.parametrize(
    ("timeouts", "configured", "deadline"),
    [
        ((8.0, 8.0), None, 8.0),  # the finding's config: no longer than one call may take
        ((8.0, 12.0), None, 12.0),  # the slowest source's
        ((8.0, 8.0), 45.0, 45.0),  # a configured deadline is the operator's call
    ],
)
def test_the_default_deadline_is_never_longer_than_the_sources_timeouts(
    sandbox: SandboxServer,
    timeouts: tuple[float, ...],
    configured: float | None,
    deadline: float,
) -> None:
    entries = [
        {**entry, "timeout_total": timeouts[i % len(timeouts)]}
        for i, entry in enumerate(sandbox.sources())
    ]
    graph = {} if configured is None else {"request_deadline_seconds": configured}
    assert settings_from_sources(entries, graph=graph).request_deadline() == deadline


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (0, "graph.request_deadline_seconds: input should be greater than 0"),
        (-5, "graph.request_deadline_seconds: input should be greater than 0"),
        ("soon", "graph.request_deadline_seconds: input should be a valid number"),
    ],
)
def test_a_bad_deadline_is_one_line_naming_the_key(
    sandbox: SandboxServer, value: object, problem: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        settings_from_sources(sandbox.sources(), graph={"request_deadline_seconds": value})
    assert str(raised.value).startswith(f"config error: {problem}")
    assert "\n" not in str(raised.value)

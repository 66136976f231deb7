"""Telzino minutes figures: the fast path's integer seconds against `minutes_to_seconds` over many
decimal texts, and figures too large to be voice time read as unusable on both paths."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from usagegraph.clients import bodies
from usagegraph.clients.bodies import Body
from usagegraph.clients.decoding import JsonReader
from usagegraph.clients.errors import UpstreamContractError
from usagegraph.clients.policy import TransportPolicy
from usagegraph.clients.retries import RetryPolicy
from usagegraph.clients.telzino import (
    BODIES,
    EP_MINUTES_BY_ORG,
    MAX_MINUTES,
    TelzinoClient,
    TelzinoOrgMinutes,
    minutes_to_seconds,
)
from usagegraph.clients.transport import SourceTransport

REPORT_PATH = "/v1/reports/minutes-by-organization"
READER = JsonReader("telzino", EP_MINUTES_BY_ORG)
REPORT = BODIES[EP_MINUTES_BY_ORG]


def one_agent_report(minutes: str) -> bytes:
    """A minutes report of one organization whose one agent and total are `minutes` (JSON)."""
    return (
        b'{"data":[{"organization_id":"o1","total_voice_minutes":%s,"agent_count":1,'
        b'"agents":[{"agent_id":"a1","agent_name":"Support","voice_minutes":%s}]}]}'
        % (minutes.encode(), minutes.encode())
    )


# Decimal texts as JSON writes numbers: up to 30 decimals, exponents, signs, and exact half
# seconds ((2i + 1) x 0.025 min is i + 0.5 s), where only the rounding rule decides.
_TEXTS = st.one_of(
    st.from_regex(r"-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,2})?", fullmatch=True),
    st.integers(min_value=-(10**9), max_value=10**9).map(
        lambda i: str(Decimal(2 * i + 1) * Decimal("0.025"))
    ),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
)


@settings(max_examples=2000, deadline=None)
@given(text=_TEXTS)
def test_the_fast_seconds_are_minutes_to_seconds(text: str) -> None:
    minutes = Decimal(text)
    content = one_agent_report(text)
    left_to_reader: list[Any] = []
    as_mapping = bodies.as_mapping

    def noting(row: Any) -> dict[str, Any]:
        left_to_reader.append(row)
        return as_mapping(row)

    with pytest.MonkeyPatch.context() as patch:  # a row the fast function leaves is noted
        patch.setattr(bodies, "as_mapping", noting)
        (row,), _ = REPORT.decode_fast(READER, content)
    if not -MAX_MINUTES < minutes < MAX_MINUTES:
        # past the bound: the row is its tolerant reader's, which finds no usable figure
        assert left_to_reader != []
        assert (row.minutes, row.seconds, row.agents[0].minutes) == (None, None, None)
        return
    assert left_to_reader == []
    (agent,) = row.agents
    assert (agent.minutes, agent.seconds) == (minutes, minutes_to_seconds(minutes))
    assert row.seconds == minutes_to_seconds(minutes)
    (reference,), _ = REPORT.decode_tolerantly(READER, content, 200)
    assert (reference, reference.agents) == (row, row.agents)
    # the same digits too (an integer text such as -0 is an int to both parsers)
    assert str(reference.agents[0].minutes) == str(agent.minutes)


# -- a figure too large to be minutes, through a real client ---------------------------------------

# 1e999999 overflowed the Decimal context in minutes_to_seconds (a 500); 1e999990 made a
# 3-million-bit int for ~25 s of CPU; 1e15 is the first figure past the bound.
HUGE = ["1e999999", "1e999990", "1e15", "-1e15"]


def minutes_report() -> dict[str, Any]:
    return {
        "data": [
            {
                "organization_id": "o1",
                "organization_name": "Acme",
                "total_voice_minutes": "@TOTAL",
                "agent_count": 2,
                "agents": [
                    {"agent_id": "a1", "agent_name": "Support", "voice_minutes": "@FIRST"},
                    {"agent_id": "a2", "agent_name": "Sales", "voice_minutes": "@SECOND"},
                ],
            }
        ],
        "period": {"start_date": "2026-04-01", "end_date": "2026-04-30"},
    }


def serve(bodies: dict[str, bytes]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return httpx.Response(200, content=bodies[request.url.path])

    return httpx.MockTransport(handler)


def with_numbers(template: dict[str, Any], **numbers: str) -> bytes:
    """The JSON of `template` with each "@NAME" string replaced by the number text NAME gives."""
    text = json.dumps(template)
    for name, number in numbers.items():
        text = text.replace(f'"@{name}"', number)
    return text.encode()


@pytest.fixture(params=["fast", "reference"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each test through the clients' decoding as it is, then by the reference path alone."""
    if request.param == "reference":
        monkeypatch.setattr(Body, "decode", Body.decode_tolerantly)
    yield request.param


async def fetch(path: str, bodies: dict[str, bytes], call: str) -> Any:
    async with httpx.AsyncClient(transport=serve(bodies)) as http:
        transport = SourceTransport(
            source="telzino", http=http, policy=TransportPolicy(retry=RetryPolicy(max_attempts=1))
        )
        client = TelzinoClient(
            transport, reports_url="https://api.test", billing_url="https://dash.test"
        )
        first, last = date(2026, 4, 1), date(2026, 4, 30)
        if call == "minutes_by_agent":
            return await client.minutes_by_agent(first, last, ["a1"])
        return await getattr(client, call)(first, last)


@pytest.mark.parametrize("huge", HUGE)
async def test_an_agent_figure_too_large_nulls_that_agent_only(path: str, huge: str) -> None:
    body = with_numbers(minutes_report(), TOTAL="12.50", FIRST="10.25", SECOND=huge)
    started = time.process_time()
    report = await fetch(path, {REPORT_PATH: body}, "minutes_by_organization")
    assert time.process_time() - started < 1.0  # no million-digit arithmetic
    (org,) = report.organizations
    first, second = org.agents
    assert (first.minutes, first.seconds, first.problems) == (Decimal("10.25"), 615, ())
    assert (second.minutes, second.seconds) == (None, None)
    ((key, error),) = second.problems
    assert (key, error.code) == ("minutes", "UPSTREAM_CONTRACT")
    assert error.field == "data[0].agents[1].voice_minutes"
    assert "too large to be voice minutes" in str(error)
    # an agent without minutes: the org's seconds are its total's, as for any unusable agent
    assert (org.minutes, org.seconds, org.problems) == (Decimal("12.50"), 750, ())


@pytest.mark.parametrize("huge", HUGE)
async def test_an_organization_total_too_large_nulls_the_total_only(path: str, huge: str) -> None:
    body = with_numbers(minutes_report(), TOTAL=huge, FIRST="10.25", SECOND="2.25")
    report = await fetch(path, {REPORT_PATH: body}, "minutes_by_organization")
    (org,) = report.organizations
    assert isinstance(org, TelzinoOrgMinutes)
    assert (org.minutes, org.seconds, org.agent_count) == (None, None, 2)
    assert [(a.agent_id, a.seconds) for a in org.agents or ()] == [("a1", 615), ("a2", 135)]
    ((key, error),) = org.problems
    assert (key, error.field) == ("minutes", "data[0].total_voice_minutes")


async def test_a_billing_figure_too_large_nulls_that_row_s_minutes(path: str) -> None:
    rows = {
        "data": [
            {"organization_id": "o1", "voice_minutes": "@FIRST", "agent_count": 3},
            {"organization_id": "o2", "voice_minutes": "@SECOND", "agent_count": 1},
        ]
    }
    body = with_numbers(rows, FIRST="1e999999", SECOND="0.05")
    report = await fetch(path, {"/v1/billing-report": body}, "billing_report")
    first, second = report.organizations
    assert (first.minutes, first.seconds, first.active_agent_count) == (None, None, 3)
    ((key, error),) = first.problems
    assert (key, error.field) == ("minutes", "data[0].voice_minutes")
    assert (second.minutes, second.seconds, second.problems) == (Decimal("0.05"), 3, ())


async def test_a_required_figure_too_large_is_a_contract_error(path: str) -> None:
    rows = {
        "data": [
            {
                "agent_id": "a1",
                "agent_name": "Support",
                "reseller_name": "-",
                "total_minutes": "@FIRST",
                "call_count": 4,
            }
        ]
    }
    body = with_numbers(rows, FIRST="1e999999")
    with pytest.raises(UpstreamContractError) as caught:
        await fetch(path, {"/v1/reports/minutes-by-agent": body}, "minutes_by_agent")
    assert caught.value.field == "data[0].total_minutes"
    assert caught.value.code == "UPSTREAM_CONTRACT"

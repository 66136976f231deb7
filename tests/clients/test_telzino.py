"""Telzino client: exact normalized values against the sandbox over HTTP, and contract failures."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest

from usagegraph.clients.errors import UpstreamContractError, UpstreamNotFoundError
from usagegraph.clients.http_client import Timeouts, build_http_client
from usagegraph.clients.policy import TransportPolicy
from usagegraph.clients.retries import RetryPolicy
from usagegraph.clients.telzino import (
    TelzinoAgentMinutes,
    TelzinoClient,
    TelzinoPeriod,
    minutes_to_seconds,
    parse_vendor_date,
    telzino_auth,
)
from usagegraph.clients.transport import SourceTransport
from usagegraph.sandbox.control import SandboxControl
from usagegraph.sandbox.dataset import Dataset
from usagegraph.sandbox.server import SandboxServer

REPORT = "/v1/reports/minutes-by-organization"
BILLING = "/v1/billing-report"
BY_AGENT = "/v1/reports/minutes-by-agent"


def to_minutes(seconds: int) -> Decimal:
    return (Decimal(seconds) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with build_http_client(Timeouts()) as client:
        yield client


@pytest.fixture
def make_client(sandbox: SandboxServer, http: httpx.AsyncClient) -> Callable[..., TelzinoClient]:
    entry = sandbox.sources()[0]
    assert entry["kind"] == "telzino"

    def make(**kwargs: Any) -> TelzinoClient:
        auth = telzino_auth(
            token_url=entry["token_url"],
            client_id=entry["client_id"],
            client_secret=entry["client_secret"],
        )
        transport = SourceTransport(source=entry["name"], http=http, auth=auth)
        return TelzinoClient(
            transport,
            reports_url=entry["reports_url"],
            billing_url=entry["billing_url"],
            **kwargs,
        )

    return make


@pytest.fixture
def client(make_client: Callable[..., TelzinoClient]) -> TelzinoClient:
    return make_client()


@pytest.fixture
def window(dataset: Dataset) -> tuple[date, date]:
    return dataset.start + timedelta(days=20), dataset.start + timedelta(days=130)


# ---------------------------------------------------------------------------------------------
# minutes-by-organization


async def test_minutes_by_organization_matches_truth(
    client: TelzinoClient, dataset: Dataset, window: tuple[date, date]
) -> None:
    first, last = window
    report = await client.minutes_by_organization(first, last)
    assert report.period == TelzinoPeriod(first, last)
    orgs = report.by_id()
    assert set(orgs) == {o.id for o in dataset.telzino_orgs}
    for org in dataset.telzino_orgs:
        row = orgs[org.id]
        reseller = dataset.telzino_reseller_by_id[org.reseller_id]
        assert row.organization_name == org.display_name
        assert (row.reseller_id, row.reseller_name) == (reseller.id, reseller.display_name)
        assert row.seconds == dataset.telzino_org_seconds(org.id, first, last)  # exact
        assert row.agent_count == len(org.agents)
        expected = {
            a.id: (a.display_name, dataset.telzino_agent_seconds(a.id, first, last))
            for a in org.agents
        }
        assert {a.agent_id: (a.agent_name, a.seconds) for a in row.agents} == expected
        for agent in row.agents:
            assert agent.minutes == to_minutes(agent.seconds)
        assert row.minutes == sum((to_minutes(s) for _, s in expected.values()), Decimal(0))


async def test_minutes_are_decimals_exactly_as_sent(
    client: TelzinoClient, dataset: Dataset, window: tuple[date, date]
) -> None:
    report = await client.minutes_by_organization(*window)
    minutes = [a.minutes for o in report.organizations for a in o.agents]
    assert all(isinstance(m, Decimal) for m in minutes)
    assert any(m.as_tuple().exponent == -2 for m in minutes)


async def test_one_day_range_is_that_days_seconds(client: TelzinoClient, dataset: Dataset) -> None:
    org = next(o for o in dataset.telzino_orgs if len(o.agents) > 2)
    index = next(i for i in range(60, dataset.days) if org.agents[0].seconds.values[i] > 0)
    day = dataset.day(index)
    report = await client.minutes_by_organization(day, day, organization_ids=[org.id])
    (row,) = report.organizations
    assert row.seconds == sum(a.seconds.values[index] for a in org.agents)
    assert report.period == TelzinoPeriod(day, day)


async def test_reseller_filter_and_the_intersection(
    client: TelzinoClient, dataset: Dataset, window: tuple[date, date]
) -> None:
    reseller = dataset.telzino_resellers[1]
    own = [o.id for o in dataset.telzino_orgs if o.reseller_id == reseller.id]
    other = next(o.id for o in dataset.telzino_orgs if o.reseller_id != reseller.id)
    by_reseller = await client.minutes_by_organization(*window, reseller_ids=[reseller.id])
    assert set(by_reseller.by_id()) == set(own)
    both = await client.minutes_by_organization(
        *window, organization_ids=[own[0], other], reseller_ids=[reseller.id]
    )
    assert [o.organization_id for o in both.organizations] == [own[0]]


async def test_no_match_is_an_empty_report(
    client: TelzinoClient, window: tuple[date, date]
) -> None:
    report = await client.minutes_by_organization(*window, organization_ids=["no-such-org"])
    assert report.organizations == ()
    assert report.period == TelzinoPeriod(*window)
    billing = await client.billing_report(*window, reseller_ids=["no-such-reseller"])
    assert billing.organizations == ()
    assert billing.period == TelzinoPeriod(*window)


async def test_an_empty_id_list_answers_empty_without_a_call(
    client: TelzinoClient, control: SandboxControl, window: tuple[date, date]
) -> None:
    report = await client.minutes_by_organization(*window, organization_ids=[])
    billing = await client.billing_report(*window, reseller_ids=[])
    agents = await client.minutes_by_agent(*window, [])
    assert (report.organizations, billing.organizations, agents) == ((), (), ())
    assert report.period == TelzinoPeriod(*window)
    assert control.count("telzino") == 0


# ---------------------------------------------------------------------------------------------
# chunking and the comma form


async def test_long_org_filters_are_chunked_and_merged(
    make_client: Callable[..., TelzinoClient],
    control: SandboxControl,
    dataset: Dataset,
    window: tuple[date, date],
) -> None:
    client = make_client(max_ids_per_call=2)
    ids = [o.id for o in dataset.telzino_orgs[:5]]
    report = await client.minutes_by_organization(*window, organization_ids=[*ids, ids[0]])
    assert control.count("telzino", path=REPORT) == 3
    assert sorted(report.by_id()) == sorted(ids)
    for org_id, row in report.by_id().items():
        assert row.seconds == dataset.telzino_org_seconds(org_id, *window)
    # the comma form, never the bracketed or repeated one
    sent = [r.params for r in control.calls("telzino", path=REPORT)]
    chunks = sorted(dict(params)["organization_ids"] for params in sent)
    assert chunks == sorted([f"{ids[0]},{ids[1]}", f"{ids[2]},{ids[3]}", ids[4]])
    assert all([k for k, _ in params].count("organization_ids") == 1 for params in sent)
    assert all("[]" not in r.query for r in control.calls("telzino"))


async def test_billing_chunks_both_filters(
    make_client: Callable[..., TelzinoClient],
    control: SandboxControl,
    dataset: Dataset,
    window: tuple[date, date],
) -> None:
    client = make_client(max_ids_per_call=2)
    ids = [o.id for o in dataset.telzino_orgs[:5]]
    resellers = [r.id for r in dataset.telzino_resellers]  # 3 resellers: 2 chunks
    billing = await client.billing_report(*window, organization_ids=ids, reseller_ids=resellers)
    assert control.count("telzino", mount="telzino-dashboard", path=BILLING) == 3 * 2
    assert sorted(billing.by_id()) == sorted(ids)
    for org_id, row in billing.by_id().items():
        assert row.seconds == dataset.telzino_org_seconds(org_id, *window)


async def test_chunks_are_fetched_concurrently(window: tuple[date, date]) -> None:
    in_flight = 0
    all_in = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight
        in_flight += 1
        if in_flight == 3:
            all_in.set()
        # each request waits until all three are open: a sequential client would time out here
        await asyncio.wait_for(all_in.wait(), timeout=2)
        return httpx.Response(200, json={"data": [], "period": PERIOD_ISO})

    async with mock_client(handler, max_ids_per_call=1) as client:
        report = await client.minutes_by_organization(*window, organization_ids=["a", "b", "c"])
    assert report.organizations == ()


async def test_ids_the_comma_form_cannot_carry_are_refused(
    client: TelzinoClient, window: tuple[date, date]
) -> None:
    with pytest.raises(ValueError, match="comma"):
        await client.minutes_by_organization(*window, organization_ids=["a,b"])
    with pytest.raises(TypeError, match="not one string"):
        await client.minutes_by_agent(*window, "agent-1")
    with pytest.raises(ValueError, match="after"):
        await client.billing_report(window[1], window[0])


# ---------------------------------------------------------------------------------------------
# billing-report


async def test_billing_report_matches_truth_and_parses_us_dates(
    client: TelzinoClient, dataset: Dataset, window: tuple[date, date]
) -> None:
    first, last = window
    billing = await client.billing_report(first, last)
    assert billing.period == TelzinoPeriod(first, last)  # sent back as MM/DD/YYYY
    rows = billing.by_id()
    assert set(rows) == {o.id for o in dataset.telzino_orgs}
    for org in dataset.telzino_orgs:
        row = rows[org.id]
        seconds = dataset.telzino_org_seconds(org.id, first, last)
        assert row.seconds == seconds
        assert row.minutes == to_minutes(seconds)
        assert row.active_agent_count == dataset.telzino_active_agents(org.id, first, last)
        assert row.organization_name == org.display_name
        assert row.reseller_name == dataset.telzino_reseller_by_id[org.reseller_id].display_name


async def test_one_token_serves_both_hosts(
    client: TelzinoClient, control: SandboxControl, window: tuple[date, date]
) -> None:
    await client.minutes_by_organization(*window)
    await client.billing_report(*window)
    await client.agents()
    assert control.count("telzino", path="/oauth/token") == 1
    assert control.count("telzino", mount="telzino-dashboard") == 1


async def test_malformed_billing_body_is_a_contract_error(
    client: TelzinoClient, control: SandboxControl, window: tuple[date, date]
) -> None:
    control.inject(mount="telzino-dashboard", malformed=True)
    with pytest.raises(UpstreamContractError) as caught:
        await client.billing_report(*window)
    assert caught.value.source == "telzino"
    assert caught.value.endpoint == "GET /v1/billing-report"


# ---------------------------------------------------------------------------------------------
# minutes-by-agent


async def test_minutes_by_agent_matches_truth(
    make_client: Callable[..., TelzinoClient],
    control: SandboxControl,
    dataset: Dataset,
    window: tuple[date, date],
) -> None:
    first, last = window
    client = make_client(max_ids_per_call=2)
    unnamed = next(r for r in dataset.telzino_resellers if r.name is None)
    unnamed_org = next(o for o in dataset.telzino_orgs if o.reseller_id == unnamed.id and o.agents)
    agents = [*dataset.telzino_orgs[0].agents[:3], unnamed_org.agents[0]]
    rows = await client.minutes_by_agent(first, last, [a.id for a in agents] + ["no-such-agent"])
    assert control.count("telzino", path=BY_AGENT) == 3
    by_id = {r.agent_id: r for r in rows}
    assert set(by_id) == {a.id for a in agents}
    for agent in agents:
        row = by_id[agent.id]
        reseller = dataset.telzino_reseller_by_id[
            dataset.telzino_org_by_id[agent.organization_id].reseller_id
        ]
        assert row.seconds == dataset.telzino_agent_seconds(agent.id, first, last)
        assert row.minutes == to_minutes(row.seconds)
        assert row.call_count == dataset.telzino_agent_calls(agent.id, first, last)
        assert row.agent_name == agent.display_name
        assert row.reseller_name == (reseller.name or "-")
    assert by_id[unnamed_org.agents[0].id].reseller_name == "-"


# ---------------------------------------------------------------------------------------------
# agents


async def test_agents_follow_pagination_to_the_end(
    make_client: Callable[..., TelzinoClient], control: SandboxControl, dataset: Dataset
) -> None:
    client = make_client(agents_page_size=7)
    agents = await client.agents()
    total = len(dataset.telzino_agents)
    assert control.count("telzino", path="/v1/agents") == -(-total // 7)
    assert len(agents) == total
    for info in agents:
        truth = dataset.telzino_agents[info.id]
        assert info.organization_id == truth.organization_id
        assert (info.name, info.external_id) == (truth.name, truth.external_id)
        assert info.display_name == truth.display_name
        assert info.created_at == truth.created_at
        assert info.is_active is True


async def test_agents_of_one_organization(client: TelzinoClient, dataset: Dataset) -> None:
    org = dataset.telzino_orgs[3]
    agents = await client.agents(organization_id=org.id)
    assert [a.id for a in agents] == [a.id for a in org.agents]
    assert await client.agents(organization_id="no-such-org") == ()


async def test_agents_keep_walking_when_the_list_grew() -> None:
    # page 1 says one page, but page 1 and 2 both say there is more: the client follows hasNext
    pages = {
        "1": ([agent_body("a1")], 1, True),
        "2": ([agent_body("a2")], 2, True),
        "3": ([agent_body("a3"), agent_body("a2")], 3, False),
    }
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        page = request.url.params["page"]
        seen.append(page)
        data, total_pages, has_next = pages[page]
        pagination = {"page": int(page), "totalPages": total_pages, "hasNext": has_next}
        return httpx.Response(200, json={"data": data, "pagination": pagination})

    async with mock_client(handler) as client:
        agents = await client.agents()
    assert [a.id for a in agents] == ["a1", "a2", "a3"]
    assert seen == ["1", "2", "3"]


async def test_an_endless_empty_pagination_is_a_contract_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        pagination = {"totalPages": 0, "hasNext": True}
        return httpx.Response(200, json={"data": [], "pagination": pagination})

    async with mock_client(handler) as client:
        with pytest.raises(UpstreamContractError) as caught:
            await client.agents()
    assert caught.value.field == "pagination.hasNext"


async def test_one_agent_and_an_unknown_one(client: TelzinoClient, dataset: Dataset) -> None:
    truth = dataset.telzino_orgs[2].agents[1]
    info = await client.agent(truth.id)
    assert (info.id, info.organization_id, info.name) == (
        truth.id,
        truth.organization_id,
        truth.name,
    )
    with pytest.raises(UpstreamNotFoundError):
        await client.agent("no-such-agent")


# ---------------------------------------------------------------------------------------------
# decoding, on a mock transport

PERIOD_ISO = {"start_date": "2026-04-01", "end_date": "2026-04-30"}
REPORT_BODY: dict[str, Any] = {
    "data": [
        {
            "organization_id": "org-1",
            "organization_name": "Acme Solar",
            "reseller_id": "res-1",
            "reseller_name": "Acme Partners",
            "total_voice_minutes": 512.7,
            "agent_count": 2,
            "agents": [
                {"agent_id": "a1", "agent_name": "Support", "voice_minutes": 370.4},
                {"agent_id": "a2", "agent_name": "Booking", "voice_minutes": 142.3},
            ],
        }
    ],
    "period": PERIOD_ISO,
}
BILLING_BODY: dict[str, Any] = {
    "data": [
        {
            "organization_id": "org-1",
            "organization_name": "Acme Solar",
            "reseller_id": "res-1",
            "reseller_name": "Partner Corp",
            "voice_minutes": 1250.5,
            "agent_count": 5,
        }
    ],
    "period": {"start_date": "01/01/2025", "end_date": "01/31/2025"},
}
BY_AGENT_BODY: dict[str, Any] = {
    "data": [
        {
            "agent_id": "a1",
            "agent_name": "Support",
            "reseller_name": "-",
            "total_minutes": 10.25,
            "call_count": 4,
        }
    ],
    "period": PERIOD_ISO,
}


def agent_body(agent_id: str) -> dict[str, Any]:
    return {"id": agent_id, "organization_id": "org-1", "name": None, "external_id": "ext-1"}


class mock_client:
    """A TelzinoClient on httpx.MockTransport (no auth, one attempt)."""

    def __init__(self, handler: Callable[..., Any], **kwargs: Any) -> None:
        self._http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        transport = SourceTransport(
            source="telzino",
            http=self._http,
            policy=TransportPolicy(retry=RetryPolicy(max_attempts=1)),
        )
        self._client = TelzinoClient(
            transport,
            reports_url="https://api.telzino.test",
            billing_url="https://dashboard.telzino.test",
            **kwargs,
        )

    async def __aenter__(self) -> TelzinoClient:
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()


def answering(body: Any) -> Callable[[httpx.Request], httpx.Response]:
    text = json.dumps(body)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=text, headers={"content-type": "application/json"})

    return handler


async def test_documented_examples_decode_exactly() -> None:
    async with mock_client(answering(REPORT_BODY)) as client:
        report = await client.minutes_by_organization(date(2026, 4, 1), date(2026, 4, 30))
    (org,) = report.organizations
    assert org.minutes == Decimal("512.7")
    assert org.agents == (
        TelzinoAgentMinutes("a1", "Support", Decimal("370.4"), 22224),
        TelzinoAgentMinutes("a2", "Booking", Decimal("142.3"), 8538),
    )
    assert org.seconds == 22224 + 8538
    assert report.period == TelzinoPeriod(date(2026, 4, 1), date(2026, 4, 30))

    async with mock_client(answering(BILLING_BODY)) as client:
        billing = await client.billing_report(date(2025, 1, 1), date(2025, 1, 31))
    (row,) = billing.organizations
    assert (row.minutes, row.seconds, row.active_agent_count) == (Decimal("1250.5"), 75030, 5)
    assert billing.period == TelzinoPeriod(date(2025, 1, 1), date(2025, 1, 31))


async def test_org_seconds_add_up_the_agents_not_the_rounded_total() -> None:
    # three agents with 1 s each: 0.02 min apiece, 0.06 in total, and 0.06 min is 3.6 s
    body = copy.deepcopy(REPORT_BODY)
    agents = [{"agent_id": f"a{i}", "agent_name": "x", "voice_minutes": 0.02} for i in range(3)]
    body["data"][0] |= {"total_voice_minutes": 0.06, "agent_count": 3, "agents": agents}
    async with mock_client(answering(body)) as client:
        report = await client.minutes_by_organization(date(2026, 4, 1), date(2026, 4, 30))
    (org,) = report.organizations
    assert [a.seconds for a in org.agents] == [1, 1, 1]
    assert (org.minutes, org.seconds) == (Decimal("0.06"), 3)


async def test_extra_fields_integral_minutes_and_any_order_are_tolerated() -> None:
    body = copy.deepcopy(REPORT_BODY)
    body["data"][0]["agents"].reverse()  # ascending: the client must not care
    body["data"][0]["agents"][0]["voice_minutes"] = 142  # an int, not a float
    body["data"][0]["new_field"] = {"nested": True}
    body["meta"] = "extra"
    async with mock_client(answering(body)) as client:
        report = await client.minutes_by_organization(date(2026, 4, 1), date(2026, 4, 30))
    (org,) = report.organizations
    assert [(a.agent_id, a.seconds) for a in org.agents] == [("a2", 8520), ("a1", 22224)]


def _set(path: list[Any], value: Any) -> Callable[[Any], None]:
    def mutate(body: Any) -> None:
        target = body
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return mutate


_DELETE = object()

REPORT_BREAKS = [
    (_set(["data"], {"not": "an array"}), "data"),
    (_set(["data", 0, "organization_id"], _DELETE), "data[0].organization_id"),
    (_set(["data", 0, "agents", 1], "a2"), "data[0].agents[1]"),
    (_set(["data", 0, "agents", 0, "agent_id"], 7), "data[0].agents[0].agent_id"),
]


@pytest.mark.parametrize(("mutate", "field"), REPORT_BREAKS)
async def test_rows_that_cannot_be_attributed_fail_the_report(
    mutate: Callable[[Any], None], field: str
) -> None:
    body = copy.deepcopy(REPORT_BODY)
    mutate(body)
    async with mock_client(answering(body)) as client:
        with pytest.raises(UpstreamContractError) as caught:
            await client.minutes_by_organization(date(2026, 4, 1), date(2026, 4, 30))
    assert caught.value.field == field
    assert caught.value.source == "telzino"
    assert caught.value.endpoint == "GET /v1/reports/minutes-by-organization"
    assert field in str(caught.value)


REPORT_FIGURE_BREAKS = [
    # (mutation, where the problem sits: org or agent index, its key, the JSON path)
    (
        _set(["data", 0, "total_voice_minutes"], "512.7"),
        None,
        "minutes",
        "data[0].total_voice_minutes",
    ),
    (_set(["data", 0, "agent_count"], True), None, "agent_count", "data[0].agent_count"),
    (_set(["data", 0, "agent_count"], -1), None, "agent_count", "data[0].agent_count"),
    (_set(["data", 0, "agents"], _DELETE), None, "agents", "data[0].agents"),
    (
        _set(["data", 0, "agents", 1, "voice_minutes"], None),
        1,
        "minutes",
        "data[0].agents[1].voice_minutes",
    ),
]


@pytest.mark.parametrize(("mutate", "agent", "key", "field"), REPORT_FIGURE_BREAKS)
async def test_a_bad_figure_is_a_problem_of_its_row_not_of_the_report(
    mutate: Callable[[Any], None], agent: int | None, key: str, field: str
) -> None:
    body = copy.deepcopy(REPORT_BODY)
    mutate(body)
    async with mock_client(answering(body)) as client:
        report = await client.minutes_by_organization(date(2026, 4, 1), date(2026, 4, 30))
    (org,) = report.organizations
    row = org if agent is None else org.agents[agent]
    ((name, error),) = row.problems
    assert (name, error.field, error.code) == (key, field, "UPSTREAM_CONTRACT")


async def test_texts_and_the_echoed_period_feed_no_figure_and_fail_nothing() -> None:
    body = copy.deepcopy(REPORT_BODY)
    del body["period"]
    body["data"][0]["organization_name"] = None
    body["data"][0]["reseller_name"] = 7
    body["data"][0]["agents"][0]["agent_name"] = None
    async with mock_client(answering(body)) as client:
        report = await client.minutes_by_organization(date(2026, 4, 1), date(2026, 4, 30))
    (org,) = report.organizations
    assert report.period is None
    assert (org.organization_name, org.reseller_name) == ("org-1", "res-1")
    assert org.agents[0].agent_name == "a1"
    assert org.seconds == 30762 and org.problems == ()


async def test_an_agent_without_minutes_leaves_the_total_to_the_org_figure() -> None:
    body = copy.deepcopy(REPORT_BODY)
    body["data"][0]["agents"][1]["voice_minutes"] = None
    async with mock_client(answering(body)) as client:
        report = await client.minutes_by_organization(date(2026, 4, 1), date(2026, 4, 30))
    (org,) = report.organizations
    assert org.seconds == 30762  # round(512.7 x 60): the total is all there is to go on
    assert org.agents[1].seconds is None


@pytest.mark.parametrize(
    ("total", "seconds"),
    [
        # 370.4 + 142.3 = 512.7: the agents' exact seconds (22224 + 8538)
        ("512.7", 30762),
        # within rounding (0.005 min x 3 agents-and-total): still the agents' exact seconds
        ("512.71", 30762),
        ("512.685", 30762),
        # beyond it: the total wins, and the difference will show as unattributed
        ("512.72", 30763),
        ("520.0", 31200),
        ("500.0", 30000),
    ],
)
async def test_an_org_total_that_disagrees_with_its_agents_beyond_rounding_wins(
    total: str, seconds: int
) -> None:
    text = json.dumps(REPORT_BODY).replace(
        '"total_voice_minutes": 512.7', f'"total_voice_minutes": {total}'
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=text.encode(), headers={"content-type": "application/json"}
        )

    async with mock_client(handler) as client:
        report = await client.minutes_by_organization(date(2026, 4, 1), date(2026, 4, 30))
    assert report.organizations[0].seconds == seconds


async def test_billing_figures_that_break_the_contract_are_row_problems() -> None:
    body = copy.deepcopy(BILLING_BODY)
    del body["data"][0]["voice_minutes"]
    body["data"][0]["agent_count"] = "5"
    body["period"]["start_date"] = "2025/01/01"  # unreadable, but nothing depends on it
    async with mock_client(answering(body)) as client:
        report = await client.billing_report(date(2025, 1, 1), date(2025, 1, 31))
    (row,) = report.organizations
    assert (row.minutes, row.seconds, row.active_agent_count, report.period) == (None,) * 4
    assert {name: e.field for name, e in row.problems} == {
        "minutes": "data[0].voice_minutes",
        "active_agent_count": "data[0].agent_count",
    }


async def test_a_billing_period_without_zero_padding_is_read() -> None:
    body = copy.deepcopy(BILLING_BODY)
    body["period"] = {"start_date": "1/1/2025", "end_date": "1/31/2025"}
    async with mock_client(answering(body)) as client:
        report = await client.billing_report(date(2025, 1, 1), date(2025, 1, 31))
    assert report.period == TelzinoPeriod(date(2025, 1, 1), date(2025, 1, 31))


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (_set(["data", 0, "call_count"], 4.5), "data[0].call_count"),
        (_set(["data", 0, "reseller_name"], _DELETE), "data[0].reseller_name"),
        (_set(["data", 0, "total_minutes"], []), "data[0].total_minutes"),
    ],
)
async def test_minutes_by_agent_contract_breaks_name_the_field(
    mutate: Callable[[Any], None], field: str
) -> None:
    body = copy.deepcopy(BY_AGENT_BODY)
    mutate(body)
    async with mock_client(answering(body)) as client:
        with pytest.raises(UpstreamContractError) as caught:
            await client.minutes_by_agent(date(2026, 4, 1), date(2026, 4, 30), ["a1"])
    assert caught.value.field == field
    assert caught.value.endpoint == "GET /v1/reports/minutes-by-agent"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"data": [agent_body("a1")]}, "pagination"),
        ({"data": [agent_body("a1")], "pagination": {"totalPages": 1}}, "pagination.hasNext"),
        (
            {"data": [{"id": "a1"}], "pagination": {"totalPages": 1, "hasNext": False}},
            "data[0].organization_id",
        ),
    ],
)
async def test_agents_contract_breaks_name_the_field(body: Any, field: str) -> None:
    async with mock_client(answering(body)) as client:
        with pytest.raises(UpstreamContractError) as caught:
            await client.agents()
    assert (caught.value.field, caught.value.endpoint) == (field, "GET /v1/agents")


async def test_agent_fields_that_feed_no_figure_may_be_odd() -> None:
    odd = agent_body("a1") | {"is_active": "yes", "created_at": "yesterday", "name": 3}
    body = {"data": [odd], "pagination": {"totalPages": 1, "hasNext": False}}
    async with mock_client(answering(body)) as client:
        (agent,) = await client.agents()
    assert (agent.is_active, agent.created_at, agent.display_name) == (None, None, "ext-1")


async def test_agents_optional_fields_may_be_missing() -> None:
    body = {"data": [agent_body("a1")], "pagination": {"totalPages": 1, "hasNext": False}}
    async with mock_client(answering(body)) as client:
        (agent,) = await client.agents()
    assert agent.display_name == "ext-1"
    assert (agent.description, agent.status, agent.is_active, agent.created_at) == (
        None,
        None,
        None,
        None,
    )


async def test_a_body_that_is_not_json_is_a_contract_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>maintenance</html>")

    async with mock_client(handler) as client:
        with pytest.raises(UpstreamContractError):
            await client.minutes_by_organization(date(2026, 4, 1), date(2026, 4, 30))


# ---------------------------------------------------------------------------------------------
# helpers


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2026-04-01", date(2026, 4, 1)),
        ("04/01/2026", date(2026, 4, 1)),
        ("12/31/2025", date(2025, 12, 31)),
        ("4/1/2026", date(2026, 4, 1)),  # zero padding is optional
    ],
)
def test_one_parser_reads_both_date_formats(text: str, day: date) -> None:
    assert parse_vendor_date(text) == day


@pytest.mark.parametrize(
    "text", ["2026-4-1", "01.04.2026", "2026-02-30", "13/01/2026", "1/1/26", ""]
)
def test_date_parser_refuses_other_forms(text: str) -> None:
    with pytest.raises(ValueError):
        parse_vendor_date(text)


def test_two_decimal_minutes_give_back_exact_seconds() -> None:
    for seconds in range(0, 20_000):
        assert minutes_to_seconds(to_minutes(seconds)) == seconds

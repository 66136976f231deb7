"""Talkdesk client vs the sandbox over HTTP; MockTransport for shapes the sandbox never sends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from usagegraph.clients.errors import UpstreamContractError, UpstreamForbiddenError
from usagegraph.clients.http_client import Timeouts, build_http_client
from usagegraph.clients.policy import TransportPolicy
from usagegraph.clients.retries import RetryPolicy
from usagegraph.clients.talkdesk import (
    TalkdeskAccountInfo,
    TalkdeskClient,
    TalkdeskUsageRow,
    talkdesk_auth,
    usage_filters,
)
from usagegraph.clients.transport import SourceTransport
from usagegraph.sandbox.control import SandboxControl
from usagegraph.sandbox.dataset import Dataset, TalkdeskOrg, TalkdeskRow, months_between
from usagegraph.sandbox.server import SandboxServer

TIMEOUTS = Timeouts(connect=2.0, read=5.0, total=10.0)
USAGE_PATH = "/express/usage/month"


def expected_row(row: TalkdeskRow) -> TalkdeskUsageRow:
    return TalkdeskUsageRow(
        id=row.id,
        account_id=row.account_id,
        product_id=row.product_id,
        aggr_product_id=row.aggr_product_id,
        month=row.month,
        type=row.type,
        description=row.description,
        currency=row.currency,
        direction=row.direction,
        resolution=row.resolution,
        unit=row.unit,
        price=row.price,
        wallet_name=row.wallet_name,
        number_of_units=Decimal(row.number_of_units),
        total_amount=row.total_amount,
    )


def by_id(rows: Any) -> list[Any]:
    return sorted(rows, key=lambda r: r.id)


def usage_filters_sent(control: SandboxControl) -> list[str | None]:
    """The `filter` of every first-page usage request (follow-up pages carry it too)."""
    calls = control.calls("talkdesk", path=USAGE_PATH)
    return [dict(c.params).get("filter") for c in calls if "page" not in dict(c.params)]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with build_http_client(TIMEOUTS) as client:
        yield client


@pytest.fixture
def northwind(dataset: Dataset) -> TalkdeskOrg:
    return dataset.talkdesk_orgs[0]


@pytest.fixture
def southpoint(dataset: Dataset) -> TalkdeskOrg:
    return dataset.talkdesk_orgs[1]


@pytest.fixture
def months(dataset: Dataset) -> list[str]:
    return months_between(dataset.start, dataset.end)


@pytest.fixture
def make(sandbox: SandboxServer, http: httpx.AsyncClient) -> Callable[..., TalkdeskClient]:
    """A client for one Talkdesk org of the sandbox, built from its advertised source entry."""

    def build(org: TalkdeskOrg, **options: Any) -> TalkdeskClient:
        entry = next(
            s
            for s in sandbox.sources()
            if s["kind"] == "talkdesk" and s["client_id"] == org.client_id
        )
        transport = SourceTransport(
            source=entry["name"],
            http=http,
            auth=talkdesk_auth(
                token_url=entry["token_url"],
                client_id=entry["client_id"],
                client_secret=entry["client_secret"],
            ),
            policy=TransportPolicy(timeouts=TIMEOUTS, retry=RetryPolicy(max_attempts=1)),
        )
        return TalkdeskClient(transport, base_url=entry["base_url"], **options)

    return build


def mock_client(
    handler: Callable[[httpx.Request], httpx.Response], *, base_url: str, **options: Any
) -> TalkdeskClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    transport = SourceTransport(
        source="talkdesk-mock", http=http, policy=TransportPolicy(retry=RetryPolicy(max_attempts=1))
    )
    return TalkdeskClient(transport, base_url=base_url, **options)


def hal(rows: list[dict[str, Any]], links: dict[str, str], **counters: int) -> httpx.Response:
    body = {
        **counters,
        "_embedded": {"usage": rows},
        "_links": {k: {"href": v} for k, v in links.items()},
    }
    return httpx.Response(200, json=body)


def raw_row(index: int, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": f"row{index}",
        "account_id": "5ea75fe7aa224700012eae40",
        "product_id": "TD-USG-TEL-IN-100101",
        "aggr_product_id": "TD-USG-TEL-UG-102213",
        "month": "2026-01",
        "type": "CALL",
        "description": "Inbound calls",
        "currency": "USD",
        "direction": "INBOUND",
        "resolution": None,
        "unit": "MINUTES",
        "price": 0.012,
        "wallet_name": "contact center",
        "number_of_units": 10,
        "total_amount": 0.12,
    }
    row.update(overrides)
    return row


# -- against the sandbox -------------------------------------------------------------------------


@pytest.mark.parametrize("org_index", [0, 1, 2])
async def test_monthly_usage_is_exactly_the_orgs_rows(make, dataset, org_index) -> None:
    org = dataset.talkdesk_orgs[org_index]
    rows = await make(org).monthly_usage()
    truth = dataset.talkdesk_rows([a.id for a in org.accounts])
    assert by_id(rows) == by_id(expected_row(r) for r in truth)


async def test_eur_amounts_stay_exact_decimals(make, dataset, southpoint) -> None:
    rows = await make(southpoint).monthly_usage()
    eur = [r for r in rows if r.currency == "EUR"]
    truth = {r.id: r for r in dataset.talkdesk_rows([a.id for a in southpoint.accounts])}
    assert len(eur) == sum(1 for r in truth.values() if r.currency == "EUR") > 0
    for row in eur:
        assert type(row.total_amount) is Decimal
        assert row.total_amount == truth[row.id].total_amount
        assert row.price == truth[row.id].price
    # amounts are taken as sent: a discounted line is not price x units
    assert any(r.total_amount != r.price * r.number_of_units for r in rows)


async def test_accounts_lists_the_org(make, northwind) -> None:
    accounts = await make(northwind, per_page=2).accounts()
    assert accounts == tuple(
        TalkdeskAccountInfo(id=a.id, name=a.name, company_name=a.company_name, status=a.status)
        for a in northwind.accounts
    )


async def test_small_pages_fetch_exactly_the_page_count(make, dataset, control, northwind) -> None:
    rows = await make(northwind, per_page=7).monthly_usage()
    truth = dataset.talkdesk_rows([a.id for a in northwind.accounts])
    pages = -(-len(truth) // 7)
    assert pages > 2
    assert by_id(rows) == by_id(expected_row(r) for r in truth)
    assert control.count("talkdesk", path=USAGE_PATH) == pages
    calls = control.calls("talkdesk", path=USAGE_PATH)
    page_params = sorted(int(dict(c.params).get("page", "1")) for c in calls)
    assert page_params == list(range(1, pages + 1))
    assert all(dict(c.params)["per_page"] == "7" for c in calls)
    # one token for the whole fan-out
    assert control.count(mount="talkdesk-id") == 1


async def test_filters_are_chunked_under_the_limit(
    make, dataset, control, northwind, months
) -> None:
    accounts = [a.id for a in northwind.accounts]
    wanted = months[:2]
    one = usage_filters(accounts[:1], wanted, max_chars=10_000)[0]
    assert one is not None
    limit = len(one) + 10  # one account fits, two do not
    client = make(northwind, max_filter_chars=limit)
    rows = await client.monthly_usage(account_ids=accounts, months=wanted)
    assert by_id(rows) == by_id(expected_row(r) for r in dataset.talkdesk_rows(accounts, wanted))
    sent = usage_filters_sent(control)
    assert len(sent) == 3
    assert all(f is not None and len(f) <= limit for f in sent)
    assert sorted(sent) == sorted(
        f"(account_id eq '{a}') and (month eq '{wanted[0]}' or month eq '{wanted[1]}')"
        for a in accounts
    )


async def test_month_filter_without_accounts(make, dataset, control, northwind, months) -> None:
    wanted = [months[0], months[3]]
    rows = await make(northwind).monthly_usage(months=wanted)
    accounts = [a.id for a in northwind.accounts]
    assert by_id(rows) == by_id(expected_row(r) for r in dataset.talkdesk_rows(accounts, wanted))
    assert {r.month for r in rows} == set(wanted)
    assert usage_filters_sent(control) == [f"month eq '{wanted[0]}' or month eq '{wanted[1]}'"]


async def test_one_account_one_month(make, dataset, northwind, months) -> None:
    account = northwind.accounts[2].id
    rows = await make(northwind).monthly_usage(account_ids=[account, account], months=[months[4]])
    truth = dataset.talkdesk_rows([account], [months[4]])
    assert truth
    assert by_id(rows) == by_id(expected_row(r) for r in truth)


async def test_empty_results(make, control, northwind) -> None:
    client = make(northwind)
    assert await client.monthly_usage(months=["2019-01"]) == ()
    assert control.count("talkdesk", path=USAGE_PATH) == 1
    # an empty selection asks nothing (an absent filter would mean every account)
    assert await client.monthly_usage(account_ids=[]) == ()
    assert await client.monthly_usage(months=[]) == ()
    assert control.count("talkdesk", path=USAGE_PATH) == 1


async def test_foreign_account_is_forbidden(make, northwind, southpoint) -> None:
    own, foreign = northwind.accounts[0].id, southpoint.accounts[0].id
    with pytest.raises(UpstreamForbiddenError) as caught:
        await make(northwind).monthly_usage(account_ids=[own, foreign])
    assert caught.value.status == 403
    assert caught.value.source == "talkdesk-northwind"
    assert caught.value.endpoint == "GET /express/usage/month"


async def test_malformed_body_is_a_contract_error(make, control, northwind) -> None:
    control.inject(vendor="talkdesk", path=USAGE_PATH, malformed=True)
    with pytest.raises(UpstreamContractError) as caught:
        await make(northwind).monthly_usage()
    assert caught.value.source == "talkdesk-northwind"


# -- filter building -----------------------------------------------------------------------------


def test_filter_shape() -> None:
    assert usage_filters(["A", "B"], ["2026-01", "2026-02"]) == [
        "(account_id eq 'A' or account_id eq 'B') and (month eq '2026-01' or month eq '2026-02')"
    ]
    assert usage_filters(["A"], None) == ["account_id eq 'A'"]
    assert usage_filters(None, None) == [None]
    assert usage_filters(["O'Brien"], None) == ["account_id eq 'O''Brien'"]


def test_many_accounts_split_into_filters_under_1600() -> None:
    accounts = [f"{i:024x}" for i in range(100)]
    months = [f"2026-{m:02d}" for m in range(1, 13)]
    filters = usage_filters(accounts, months)
    assert len(filters) > 1
    assert all(f is not None and len(f) <= 1600 for f in filters)
    named = [a for f in filters for a in accounts if f"'{a}'" in (f or "")]
    assert sorted(named) == accounts  # each account in exactly one chunk
    assert all(all(f"'{m}'" in (f or "") for m in months) for f in filters)


def test_months_split_when_one_account_cannot_carry_them() -> None:
    months = [f"{y}-{m:02d}" for y in (2024, 2025) for m in range(1, 13)]
    limit = 200
    accounts = ["a" * 24, "b" * 24]
    filters = [f for f in usage_filters(accounts, months, max_chars=limit) if f is not None]
    assert len(filters) > 2
    assert all(len(f) <= limit for f in filters)
    covered = [(a, m) for f in filters for a in accounts for m in months if a in f and m in f]
    assert sorted(covered) == sorted((a, m) for a in accounts for m in months)  # each pair once
    with pytest.raises(ValueError):
        usage_filters(["a" * 24], ["2026-01"], max_chars=40)
    with pytest.raises(ValueError):
        usage_filters(None, ["2026-13"])


# -- paging shapes (MockTransport) ---------------------------------------------------------------


async def test_next_links_are_followed_verbatim_under_a_path_prefix() -> None:
    base = "https://proxy.example/td/api"
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        cursor = request.url.params.get("cursor")
        if cursor is None:
            return hal([raw_row(1)], {"next": f"{base}/express/usage/month?cursor=c2"})
        if cursor == "c2":
            return hal([raw_row(2)], {"next": f"{base}/express/usage/month?cursor=c3"})
        return hal([raw_row(3)], {"self": str(request.url)})

    rows = await mock_client(handler, base_url=base, per_page=1).monthly_usage()
    assert [r.id for r in rows] == ["row1", "row2", "row3"]
    assert seen == [
        f"{base}/express/usage/month?per_page=1",
        f"{base}/express/usage/month?cursor=c2",
        f"{base}/express/usage/month?cursor=c3",
    ]


async def test_known_total_pages_are_fetched_concurrently_from_the_next_link_shape() -> None:
    base = "https://proxy.example/td"
    flt = "month eq '2026-01'"
    seen: list[httpx.URL] = []
    in_flight = peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        seen.append(request.url)
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        page = int(request.url.params.get("page", "1"))
        # page 1's link points at another path than the one we started from: it wins. Later
        # pages link to a cursor the client must not need, since total_pages said it all.
        nxt = f"{base}/v2/usage?page=2&size=2&q={flt}" if page == 1 else f"{base}/v2/usage?cursor=x"
        links = {"next": nxt} if page < 4 else {}
        rows = [raw_row(2 * page - 1), raw_row(2 * page)][: 1 if page == 4 else 2]
        return hal(rows, links, total=7, total_pages=4, page=page)

    rows = await mock_client(handler, base_url=base, per_page=2).monthly_usage(months=["2026-01"])
    assert [r.id for r in rows] == [f"row{i}" for i in range(1, 8)]
    assert seen[0].path == "/td/express/usage/month"
    later = sorted(seen[1:], key=lambda u: u.params["page"])
    assert [u.path for u in later] == ["/td/v2/usage"] * 3
    assert [parse_qs(urlsplit(str(u)).query) for u in later] == [
        {"page": [str(p)], "size": ["2"], "q": [flt]} for p in (2, 3, 4)
    ]
    assert peak == 3  # pages 2..4 in flight together


async def test_a_total_that_moves_while_paging_is_read_once_more() -> None:
    reads = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal reads
        reads += 1
        # the first read says 2 rows (one was removed meanwhile); the second is consistent
        return hal([raw_row(1)], {}, total=2 if reads == 1 else 1, total_pages=1)

    rows = await mock_client(handler, base_url="https://td.example").monthly_usage()
    assert [r.id for r in rows] == ["row1"]
    assert reads == 2


async def test_a_total_the_pages_never_match_is_refused_after_two_reads() -> None:
    reads = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal reads
        reads += 1
        return hal([raw_row(1)], {}, total=2, total_pages=1)

    with pytest.raises(UpstreamContractError) as caught:
        await mock_client(handler, base_url="https://td.example").monthly_usage()
    assert caught.value.field == "total"
    assert "read twice" in str(caught.value)
    assert reads == 2


async def test_next_links_at_the_top_level_are_followed() -> None:
    """Seed 004's schema lists first/last/next/prev/self/show at the top level too."""
    base = "https://td.example"

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        body: dict[str, Any] = {"_embedded": {"usage": [raw_row(page)]}}
        body["self"] = body["show"] = {"href": str(request.url)}
        if page < 3:
            body["next"] = {"href": f"{base}/express/usage/month?page={page + 1}&per_page=250"}
        return httpx.Response(200, json=body)

    rows = await mock_client(handler, base_url=base).monthly_usage()
    assert [r.id for r in rows] == ["row1", "row2", "row3"]


async def test_a_server_that_pages_below_per_page_is_read_to_the_end() -> None:
    """Asked for 250 a page, the server serves 2 and numbers its pages by that size."""
    base = "https://td.example"
    rows_total = [raw_row(i) for i in range(1, 8)]

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["per_page"] == "250"
        page = int(request.url.params.get("page", "1"))
        links = {"self": str(request.url)}
        if page < 4:
            links["next"] = f"{base}/express/usage/month?page={page + 1}&per_page=250"
        return hal(rows_total[2 * page - 2 : 2 * page], links, total=7, total_pages=4, per_page=2)

    rows = await mock_client(handler, base_url=base).monthly_usage()
    assert [r.id for r in rows] == [f"row{i}" for i in range(1, 8)]


async def test_pages_beyond_the_stated_page_count_are_still_followed() -> None:
    """total_pages said 2 but page 2 still links to a page 3: the link wins."""
    base = "https://td.example"

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        links = {}
        if page < 3:
            links["next"] = f"{base}/express/usage/month?page={page + 1}"
        return hal([raw_row(page)], links, total=3, total_pages=2)

    rows = await mock_client(handler, base_url=base).monthly_usage()
    assert [r.id for r in rows] == ["row1", "row2", "row3"]


async def test_a_next_link_back_to_a_fetched_page_is_refused() -> None:
    base = "https://td.example"

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        return hal([raw_row(page)], {"next": f"{base}/express/usage/month?page=2"})

    with pytest.raises(UpstreamContractError) as caught:
        await mock_client(handler, base_url=base).monthly_usage()
    assert caught.value.field == "next.href"


async def test_figures_that_are_missing_or_mistyped_become_row_problems() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return hal(
            [
                raw_row(0, total_amount=None),
                raw_row(1, total_amount="0.12"),
                raw_row(2, currency="usd"),
                raw_row(3, number_of_units=True),
                raw_row(4, unit=None),
            ],
            {},
        )

    rows = await mock_client(handler, base_url="https://td.example").monthly_usage()
    problems = [{k: e.field for k, e in row.problems} for row in rows]
    assert problems == [
        {"total_amount": "_embedded.usage[0].total_amount"},
        {"total_amount": "_embedded.usage[1].total_amount"},
        {"currency": "_embedded.usage[2].currency"},
        {"number_of_units": "_embedded.usage[3].number_of_units"},
        {"unit": "_embedded.usage[4].unit"},
    ]
    assert [r.total_amount for r in rows] == [None, None, *[Decimal("0.12")] * 3]
    assert rows[2].currency is None and rows[3].number_of_units is None and rows[4].unit is None
    assert all(
        e.code == "UPSTREAM_CONTRACT" and e.source == "talkdesk-mock"
        for e in (error for row in rows for _, error in row.problems)
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"description": None},
        {"wallet_name": None, "product_id": None, "aggr_product_id": None},
        {"month": "2026-1"},
        {"id": 7},
        {"direction": 1, "resolution": 2},
        {"price": "0.012"},
    ],
)
async def test_fields_that_feed_no_figure_fail_nothing(overrides) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return hal([raw_row(0), raw_row(1, **overrides)], {})

    rows = await mock_client(handler, base_url="https://td.example").monthly_usage()
    assert [r.problems for r in rows] == [(), ()]
    assert rows[1].number_of_units == Decimal(10) and rows[1].total_amount == Decimal("0.12")
    for key in overrides:
        assert getattr(rows[1], key) is None


async def test_a_row_without_its_account_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        row = raw_row(0)
        del row["account_id"]
        return hal([row], {})

    with pytest.raises(UpstreamContractError) as caught:
        await mock_client(handler, base_url="https://td.example").monthly_usage()
    assert caught.value.field == "_embedded.usage[0].account_id"


@pytest.mark.parametrize("body", [{"count": 0, "_links": {}}, {"total": 0}, {"_embedded": {}}])
async def test_an_empty_page_without_embedded_is_empty(body) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body)

    assert await mock_client(handler, base_url="https://td.example").monthly_usage() == ()


async def test_a_page_that_counts_items_but_embeds_none_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"count": 3, "_links": {}})

    with pytest.raises(UpstreamContractError) as caught:
        await mock_client(handler, base_url="https://td.example").monthly_usage()
    assert caught.value.field == "_embedded.usage"


async def test_unknown_fields_are_tolerated_and_decimals_exact() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {
            "_embedded": {"usage": [raw_row(0, extra={"x": 1})]},
            "_links": {"self": {"href": "x"}},
            "show": {"href": "x"},
        }
        # written by hand so the amounts keep digits a float would lose
        text = json.dumps(body).replace(
            '"total_amount": 0.12', '"total_amount": 0.1200000000000000011'
        )
        return httpx.Response(
            200, content=text.encode(), headers={"content-type": "application/json"}
        )

    (row,) = await mock_client(handler, base_url="https://td.example").monthly_usage()
    assert row.total_amount == Decimal("0.1200000000000000011")
    assert row.number_of_units == Decimal(10)


async def test_a_relative_next_link_is_read_against_the_page() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        links = {"next": f"/td/express/usage/month?page={page + 1}"} if page < 2 else {}
        return hal([raw_row(page)], links)

    rows = await mock_client(handler, base_url="https://td.example/td").monthly_usage()
    assert [r.id for r in rows] == ["row1", "row2"]


@pytest.mark.parametrize(
    "href",
    [
        "https://attacker.example/express/usage/month?page=2",
        "http://td.example/express/usage/month?page=2",  # https to http
        "https://td.example:8443/express/usage/month?page=2",
    ],
)
async def test_a_next_link_to_another_origin_is_refused_before_our_token_goes_there(
    href: str,
) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return hal([raw_row(1)], {"next": href})

    with pytest.raises(UpstreamContractError) as caught:
        await mock_client(handler, base_url="https://td.example").monthly_usage()
    assert caught.value.field == "next.href"
    assert seen == ["https://td.example/express/usage/month?per_page=250"]

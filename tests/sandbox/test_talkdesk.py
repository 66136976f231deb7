"""Talkdesk emulator contract over real HTTP: token host, filter grammar, HAL paging, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.fixtures.seeds import seed_body
from usagegraph.sandbox.dataset import Dataset, TalkdeskOrg, TalkdeskRow, months_between
from usagegraph.sandbox.server import SandboxServer
from usagegraph.sandbox.talkdesk import _json

USAGE = "express-accounts-usage:read"
ACCOUNTS = "express-accounts:read"
BOTH = f"{USAGE} {ACCOUNTS}"


def token_url(sandbox: SandboxServer) -> str:
    return f"{sandbox.base_url}/talkdesk-id/oauth/token"


def usage_url(sandbox: SandboxServer) -> str:
    return f"{sandbox.base_url}/talkdesk/express/usage/month"


def get_token(sandbox: SandboxServer, org: TalkdeskOrg, scope: str = BOTH) -> str:
    response = httpx.post(
        token_url(sandbox),
        auth=(org.client_id, org.client_secret),
        data={"grant_type": "client_credentials", "scope": scope},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def get(url: str, token: str | None, params: dict[str, Any] | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(url, headers=headers, params=params)


def decode(response: httpx.Response) -> dict[str, Any]:
    """The body with exact decimals, as a careful client reads it."""
    return json.loads(response.content, parse_float=Decimal)


# Seed 004's example row, as the vendor prints it: the contract every served row follows.
SEED_ROW: dict[str, Any] = json.loads(
    seed_body("004-talkdesk-usage-month.json"), parse_float=Decimal
)["_embedded"]["usage"][0]


def row_dict(row: TalkdeskRow) -> dict[str, Any]:
    """The row the emulator must serve for `row`: the seed's fields, in the seed's order, with
    the dataset's values (a field the seed names and the dataset lacks fails here)."""
    return {name: getattr(row, name) for name in SEED_ROW}


def fetch_all(url: str, token: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Follow `_links.next.href` to the end; returns the rows and the number of pages read."""
    response = get(url, token, params)
    pages = 0
    rows: list[dict[str, Any]] = []
    while True:
        assert response.status_code == 200, response.text
        body = decode(response)
        pages += 1
        rows.extend(body["_embedded"]["usage"])
        nxt = body["_links"].get("next")
        if nxt is None:
            return rows, pages
        response = get(nxt["href"], token)


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(r["id"] for r in rows)


@pytest.fixture
def northwind(dataset: Dataset) -> TalkdeskOrg:
    return dataset.talkdesk_orgs[0]


@pytest.fixture
def southpoint(dataset: Dataset) -> TalkdeskOrg:
    return dataset.talkdesk_orgs[1]


# -- token host ----------------------------------------------------------------------------------


def test_token_uses_basic_auth_and_echoes_requested_scopes(sandbox, northwind) -> None:
    response = httpx.post(
        token_url(sandbox),
        auth=(northwind.client_id, northwind.client_secret),
        data={"grant_type": "client_credentials", "scope": USAGE},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == USAGE
    assert body["expires_in"] == int(sandbox.control.token_ttl)
    assert sandbox.control.tokens.subject("talkdesk", body["access_token"]) == northwind.slug


@pytest.mark.parametrize(
    ("auth", "data"),
    [
        (("talkdesk-northwind", "wrong-secret"), {"grant_type": "client_credentials"}),
        (("no-such-client", "x"), {"grant_type": "client_credentials"}),
        # credentials in the form body are not client authentication here: Basic only
        (
            None,
            {
                "grant_type": "client_credentials",
                "client_id": "talkdesk-northwind",
                "client_secret": "talkdesk-sandbox-secret-northwind",
            },
        ),
    ],
)
def test_token_rejects_bad_client_with_oauth_401(sandbox, auth, data) -> None:
    response = httpx.post(token_url(sandbox), auth=auth, data=data)
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "Client authentication failed.",
    }


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({}, "invalid_request"),
        ({"grant_type": "client_credentials", "scope": "calls:read"}, "invalid_scope"),
    ],
)
def test_token_rejects_bad_requests_with_oauth_400(sandbox, northwind, data, error) -> None:
    response = httpx.post(
        token_url(sandbox), auth=(northwind.client_id, northwind.client_secret), data=data
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == error
    assert set(body) == {"error", "error_description"}


# -- auth and scopes on the API ------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "talkdesk-not-a-token"])
def test_missing_or_unknown_bearer_is_401(sandbox, token) -> None:
    response = get(usage_url(sandbox), token)
    assert response.status_code == 401
    assert response.json() == {"code": "4010001", "message": "Unauthorized"}


def test_usage_needs_the_usage_scope(sandbox, northwind) -> None:
    token = get_token(sandbox, northwind, scope=ACCOUNTS)
    response = get(usage_url(sandbox), token)
    assert response.status_code == 403
    assert response.json()["code"] == "4030002"
    assert USAGE in response.json()["description"]
    # the same token does list accounts
    assert get(f"{sandbox.base_url}/talkdesk/express/accounts", token).status_code == 200


def test_accounts_need_the_accounts_scope(sandbox, northwind) -> None:
    token = get_token(sandbox, northwind, scope=USAGE)
    response = get(f"{sandbox.base_url}/talkdesk/express/accounts", token)
    assert response.status_code == 403
    assert ACCOUNTS in response.json()["description"]


# -- paging --------------------------------------------------------------------------------------


def test_default_per_page_is_50_and_pages_by_absolute_links(sandbox, dataset, northwind) -> None:
    token = get_token(sandbox, northwind)
    response = get(usage_url(sandbox), token)
    body = decode(response)
    total = len(dataset.talkdesk_rows([a.id for a in northwind.accounts]))
    assert total > 50
    assert (body["count"], body["page"], body["per_page"]) == (50, 1, 50)
    assert body["total"] == total
    assert body["total_pages"] == -(-total // 50)
    links = body["_links"]
    assert set(links) == {"self", "first", "last", "next"}
    assert links["next"]["href"] == f"{usage_url(sandbox)}?page=2&per_page=50"
    assert links["last"]["href"] == f"{usage_url(sandbox)}?page={body['total_pages']}&per_page=50"


def test_following_next_reproduces_the_orgs_rows_exactly(sandbox, dataset, northwind) -> None:
    token = get_token(sandbox, northwind)
    rows, pages = fetch_all(usage_url(sandbox), token, {})
    truth = dataset.talkdesk_rows([a.id for a in northwind.accounts])
    assert pages == -(-len(truth) // 50)
    assert {tuple(row) for row in rows} == {tuple(SEED_ROW)}  # the seed's fields, in its order
    assert sorted(rows, key=lambda r: r["id"]) == sorted(
        (row_dict(r) for r in truth), key=lambda r: r["id"]
    )


def test_eur_amounts_and_null_resolution_serialize_exactly(sandbox, dataset, southpoint) -> None:
    token = get_token(sandbox, southpoint)
    rows, _ = fetch_all(usage_url(sandbox), token, {"per_page": 250})
    by_id = {r["id"]: r for r in rows}
    eur = [
        r for r in dataset.talkdesk_rows([a.id for a in southpoint.accounts]) if r.currency == "EUR"
    ]
    assert eur
    for truth in eur:
        assert by_id[truth.id]["price"] == truth.price
        assert by_id[truth.id]["total_amount"] == truth.total_amount
    assert any(r["resolution"] is None for r in rows)
    assert any(r["direction"] is None for r in rows)


def test_links_keep_filter_order_by_and_per_page(sandbox, northwind) -> None:
    token = get_token(sandbox, northwind)
    account = northwind.accounts[0].id
    flt = f"account_id eq '{account}'"
    response = get(
        usage_url(sandbox), token, {"filter": flt, "per_page": 7, "order_by": "id:asc", "page": 2}
    )
    links = decode(response)["_links"]
    assert set(links) == {"self", "first", "last", "next", "prev"}
    for name, page in (("self", "2"), ("first", "1"), ("next", "3"), ("prev", "1")):
        href = links[name]["href"]
        assert href.startswith(f"{usage_url(sandbox)}?")
        query = parse_qs(urlsplit(href).query)
        assert query == {"page": [page], "per_page": ["7"], "filter": [flt], "order_by": ["id:asc"]}


def test_last_page_has_no_next(sandbox, dataset, northwind) -> None:
    token = get_token(sandbox, northwind)
    total = len(dataset.talkdesk_rows([a.id for a in northwind.accounts]))
    last = -(-total // 50)
    body = decode(get(usage_url(sandbox), token, {"page": last}))
    assert body["count"] == total - 50 * (last - 1)
    assert "next" not in body["_links"]
    assert body["_links"]["prev"]["href"] == f"{usage_url(sandbox)}?page={last - 1}&per_page=50"


@pytest.mark.parametrize(
    ("value", "ok"), [("1", True), ("250", True), ("0", False), ("251", False), ("x", False)]
)
def test_per_page_bounds(sandbox, northwind, value, ok) -> None:
    token = get_token(sandbox, northwind)
    response = get(usage_url(sandbox), token, {"per_page": value})
    if ok:
        assert response.status_code == 200
        body = decode(response)
        assert body["per_page"] == int(value)
        assert body["count"] == min(int(value), body["total"])
        return
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "4000001"
    assert body["message"] == "Bad Request"
    assert [f["name"] for f in body["fields"]] == ["per_page"]
    assert "between 1 and 250" in body["fields"][0]["description"]


def test_page_zero_is_400(sandbox, northwind) -> None:
    response = get(usage_url(sandbox), get_token(sandbox, northwind), {"page": "0"})
    assert response.status_code == 400
    assert response.json()["fields"][0]["name"] == "page"


def test_order_by_default_desc_and_asc(sandbox, northwind) -> None:
    token = get_token(sandbox, northwind)
    default, _ = fetch_all(usage_url(sandbox), token, {"per_page": 250})
    ascending, _ = fetch_all(usage_url(sandbox), token, {"per_page": 250, "order_by": "id:asc"})
    assert [r["id"] for r in default] == sorted((r["id"] for r in default), reverse=True)
    assert [r["id"] for r in ascending] == sorted(r["id"] for r in default)


@pytest.mark.parametrize("order_by", ["month:asc", "id", "ID:DESC"])
def test_unsupported_order_by_is_400(sandbox, northwind, order_by) -> None:
    response = get(usage_url(sandbox), get_token(sandbox, northwind), {"order_by": order_by})
    assert response.status_code == 400
    assert response.json()["fields"][0]["name"] == "order_by"


# -- filter grammar ------------------------------------------------------------------------------


def _expected(dataset: Dataset, org: TalkdeskOrg, keep: Any) -> list[str]:
    rows = dataset.talkdesk_rows([a.id for a in org.accounts])
    return sorted(r.id for r in rows if keep(r))


@dataclass(frozen=True)
class Terms:
    """The values a filter case talks about: two accounts, two months and a month prefix."""

    a: str
    b: str
    m: str
    m2: str
    prefix: str


# (filter template, which rows it selects); months come from the dataset window, never literals
FILTER_CASES: dict[str, tuple[str, Callable[[TalkdeskRow, Terms], bool]]] = {
    "eq": ("account_id eq '{a}'", lambda r, t: r.account_id == t.a),
    "or": ("account_id eq '{a}' or account_id eq '{b}'", lambda r, t: r.account_id in (t.a, t.b)),
    "and": (
        "account_id eq '{a}' and month eq '{m}'",
        lambda r, t: r.account_id == t.a and r.month == t.m,
    ),
    "not": ("not account_id eq '{a}'", lambda r, t: r.account_id != t.a),
    "parentheses": (
        "(account_id eq '{a}' or account_id eq '{b}') and (month eq '{m}')",
        lambda r, t: r.account_id in (t.a, t.b) and r.month == t.m,
    ),
    "and binds tighter than or": (
        "account_id eq '{a}' or account_id eq '{b}' and month eq '{m}'",
        lambda r, t: r.account_id == t.a or (r.account_id == t.b and r.month == t.m),
    ),
    "not with parentheses": (
        "not (month eq '{m}' or account_id eq '{b}')",
        lambda r, t: r.month != t.m and r.account_id != t.b,
    ),
    "contains": ("contains(month,'{prefix}')", lambda r, t: t.prefix in r.month),
    "contains and eq": (
        "contains(account_id,'{a6}') and month eq '{m}'",
        lambda r, t: t.a[:6] in r.account_id and r.month == t.m,
    ),
    "month terms only": (
        "month eq '{m}' or month eq '{m2}'",
        lambda r, t: r.month in (t.m, t.m2),
    ),
    "extra whitespace": ("  ( account_id  eq   '{a}' )  ", lambda r, t: r.account_id == t.a),
}


@pytest.mark.parametrize("case", list(FILTER_CASES))
def test_filter_grammar(sandbox, dataset, northwind, case) -> None:
    months = months_between(dataset.start, dataset.end)
    terms = Terms(
        a=northwind.accounts[0].id,
        b=northwind.accounts[1].id,
        m=months[1],
        m2=months[2],
        prefix=months[0][:6],  # e.g. "2025-1": a few months of the window
    )
    template, keep = FILTER_CASES[case]
    flt = template.format(a6=terms.a[:6], **asdict(terms))
    rows, _ = fetch_all(
        usage_url(sandbox), get_token(sandbox, northwind), {"filter": flt, "per_page": 250}
    )
    expected = _expected(dataset, northwind, lambda r: keep(r, terms))
    assert expected  # every case selects something, so an empty answer cannot pass
    assert ids(rows) == expected


@pytest.mark.parametrize(
    "flt",
    [
        "name eq 'x'",  # unknown field
        'account_id eq "abc"',  # double quotes
        "account_id eq 'abc",  # unterminated string
        "account_id eq 'a' or",  # dangling operator
        "(month eq '2026-01'",  # unbalanced parenthesis
        "month eq '2026-01')",
        "account_id ne 'a'",  # unsupported operator
        "month eq '2026-1'",  # not YYYY-MM
        "account_id EQ 'a'",  # operators are lowercase
        "contains(account_id 'a')",
        "month eq '2026-01' month eq '2026-02'",
    ],
)
def test_filter_syntax_errors_are_400(sandbox, northwind, flt) -> None:
    response = get(usage_url(sandbox), get_token(sandbox, northwind), {"filter": flt})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "4000001"
    assert [f["name"] for f in body["fields"]] == ["filter"]


def test_filter_length_limit_is_1600(sandbox, dataset, northwind) -> None:
    token = get_token(sandbox, northwind)
    a = northwind.accounts[0].id
    core = f"account_id eq '{a}'"
    at_limit = core + " " * (1600 - len(core))
    response = get(usage_url(sandbox), token, {"filter": at_limit, "per_page": 250})
    assert response.status_code == 200
    assert decode(response)["total"] == len(dataset.talkdesk_rows([a]))
    response = get(usage_url(sandbox), token, {"filter": at_limit + " "})
    assert response.status_code == 400
    assert response.json()["fields"] == [
        {"name": "filter", "description": "must be at most 1600 characters"}
    ]


@pytest.mark.parametrize("mixed", [False, True])
def test_foreign_account_is_403(sandbox, northwind, southpoint, mixed) -> None:
    foreign = southpoint.accounts[0].id
    flt = f"account_id eq '{foreign}'"
    if mixed:
        flt = f"(account_id eq '{northwind.accounts[0].id}' or {flt}) and month eq '2019-01'"
    response = get(usage_url(sandbox), get_token(sandbox, northwind), {"filter": flt})
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "4030001"
    assert body["message"] == "This caller is not authorized to query the given accounts."
    assert foreign in body["description"]


def test_empty_result_shape(sandbox, northwind) -> None:
    token = get_token(sandbox, northwind)
    flt = "month eq '2019-01'"
    body = decode(get(usage_url(sandbox), token, {"filter": flt}))
    assert body["_embedded"] == {"usage": []}
    assert (body["count"], body["page"], body["total"], body["total_pages"]) == (0, 1, 0, 1)
    assert set(body["_links"]) == {"self", "first", "last"}
    for link in body["_links"].values():
        query = parse_qs(urlsplit(link["href"]).query)
        assert query == {"page": ["1"], "per_page": ["50"], "filter": [flt]}


# -- accounts ------------------------------------------------------------------------------------


def test_accounts_lists_the_orgs_accounts_with_paging(sandbox, northwind) -> None:
    token = get_token(sandbox, northwind)
    url = f"{sandbox.base_url}/talkdesk/express/accounts"
    first = decode(get(url, token, {"per_page": 2}))
    assert (first["count"], first["total"], first["total_pages"]) == (2, 3, 2)
    second = decode(get(first["_links"]["next"]["href"], token))
    assert "next" not in second["_links"]
    listed = first["_embedded"]["accounts"] + second["_embedded"]["accounts"]
    assert listed == [
        {"id": a.id, "name": a.name, "company_name": a.company_name, "status": a.status}
        for a in northwind.accounts
    ]


def test_json_writes_decimals_as_their_exact_digits() -> None:
    body = {
        "amounts": [Decimal("1.50"), Decimal("-0.00"), Decimal("1E+2"), Decimal("0.1000")],
        "text": 'say "decimal:1.5" \u00e9',
        "other": [None, 3, True, 2.5],
    }
    text = _json(body)
    assert text == (
        '{"amounts":[1.50,-0.00,1E+2,0.1000],"text":"say \\"decimal:1.5\\" \\u00e9",'
        '"other":[null,3,true,2.5]}'
    )
    assert json.loads(text, parse_float=Decimal)["amounts"][0] == Decimal("1.50")


# -- variants ------------------------------------------------------------------------------------

ACCOUNTS_URL = "/talkdesk/express/accounts"


def links_of(body: dict[str, Any]) -> dict[str, Any]:
    """The paging links wherever the body keeps them (under `_links` or at the top level)."""
    if "_links" in body:
        return body["_links"]
    return {k: body[k] for k in ("first", "last", "next", "prev", "self", "show") if k in body}


def walk(url: str, token: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Like `fetch_all`, but reading links from either place and a missing `_embedded` as [];
    one connection for every page (capped pages make many)."""
    rows: list[dict[str, Any]] = []
    pages = 0
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as client:
        response = client.get(url, params=params)
        while True:
            assert response.status_code == 200, response.text
            body = decode(response)
            pages += 1
            rows.extend(body.get("_embedded", {}).get("usage", []))
            nxt = links_of(body).get("next")
            if nxt is None:
                return rows, pages
            response = client.get(nxt["href"])


def org_rows(dataset: Dataset, org: TalkdeskOrg) -> list[TalkdeskRow]:
    return dataset.talkdesk_rows([a.id for a in org.accounts])


def test_capped_pages_serve_seven_rows_and_say_so(sandbox, control, dataset, northwind) -> None:
    control.enable("talkdesk-capped-pages")
    token = get_token(sandbox, northwind)
    total = len(org_rows(dataset, northwind))
    body = decode(get(usage_url(sandbox), token, {"per_page": 50}))
    assert len(body["_embedded"]["usage"]) == body["count"] == 7
    assert (body["page"], body["per_page"], body["total"]) == (1, 7, total)
    assert body["total_pages"] == -(-total // 7)
    links = body["_links"]
    # the hrefs keep the per_page the client asked for; the page numbers follow the cap
    assert links["next"]["href"] == f"{usage_url(sandbox)}?page=2&per_page=50"
    last = f"{usage_url(sandbox)}?page={body['total_pages']}&per_page=50"
    assert links["last"]["href"] == last


def test_capped_pages_followed_by_next_yield_exactly_the_rows(
    sandbox, control, dataset, northwind
) -> None:
    control.enable("talkdesk-capped-pages")
    token = get_token(sandbox, northwind)
    rows, pages = walk(usage_url(sandbox), token, {"per_page": 250})
    truth = org_rows(dataset, northwind)
    assert pages == -(-len(truth) // 7)
    assert sorted(rows, key=lambda r: r["id"]) == sorted(
        (row_dict(r) for r in truth), key=lambda r: r["id"]
    )


def test_capped_pages_serve_a_smaller_ask_as_asked(sandbox, control, northwind) -> None:
    control.enable("talkdesk-capped-pages")
    token = get_token(sandbox, northwind)
    body = decode(get(usage_url(sandbox), token, {"per_page": 5}))
    assert (body["count"], body["per_page"]) == (5, 5)
    accounts = decode(get(sandbox.base_url + ACCOUNTS_URL, token, {"per_page": 2}))
    assert (accounts["count"], accounts["per_page"], accounts["total_pages"]) == (2, 2, 2)


def test_top_level_links_replace_links(sandbox, control, dataset, northwind) -> None:
    control.enable("talkdesk-top-level-links")
    token = get_token(sandbox, northwind)
    body = decode(get(usage_url(sandbox), token, {"page": 2}))
    assert "_links" not in body
    assert {"first", "last", "next", "prev", "self", "show"} <= set(body)
    assert body["show"] == body["self"]
    assert body["self"]["href"] == f"{usage_url(sandbox)}?page=2&per_page=50"
    assert body["next"]["href"] == f"{usage_url(sandbox)}?page=3&per_page=50"
    assert body["prev"]["href"] == f"{usage_url(sandbox)}?page=1&per_page=50"
    rows, _ = walk(usage_url(sandbox), token, {})
    assert ids(rows) == sorted(r.id for r in org_rows(dataset, northwind))


def test_top_level_links_on_accounts(sandbox, control, northwind) -> None:
    control.enable("talkdesk-top-level-links")
    token = get_token(sandbox, northwind)
    first = decode(get(sandbox.base_url + ACCOUNTS_URL, token, {"per_page": 2}))
    assert "_links" not in first
    second = decode(get(first["next"]["href"], token))
    assert "next" not in second
    assert second["show"] == second["self"]
    listed = first["_embedded"]["accounts"] + second["_embedded"]["accounts"]
    assert [a["id"] for a in listed] == [a.id for a in northwind.accounts]


def test_an_empty_page_has_no_embedded(sandbox, control, northwind) -> None:
    control.enable("talkdesk-empty-without-embedded")
    token = get_token(sandbox, northwind)
    body = decode(get(usage_url(sandbox), token, {"filter": "month eq '2019-01'"}))
    assert "_embedded" not in body
    assert (body["count"], body["total"], body["total_pages"]) == (0, 0, 1)
    assert set(body["_links"]) == {"self", "first", "last"}
    # a page past the end holds no items either; a page with items keeps _embedded
    past = decode(get(sandbox.base_url + ACCOUNTS_URL, token, {"page": 9}))
    assert "_embedded" not in past
    assert decode(get(usage_url(sandbox), token))["_embedded"]["usage"]


def test_null_texts_on_usage_rows_leave_numbers_ids_and_codes(
    sandbox, control, dataset, northwind
) -> None:
    control.enable("talkdesk-null-texts")
    token = get_token(sandbox, northwind)
    rows, _ = walk(usage_url(sandbox), token, {"per_page": 250})
    nulled = ("description", "wallet_name", "product_id", "aggr_product_id", "resolution")
    expected = {
        r.id: {**row_dict(r), **dict.fromkeys(nulled)} for r in org_rows(dataset, northwind)
    }
    assert {r["id"]: r for r in rows} == expected
    assert {tuple(row) for row in rows} == {tuple(SEED_ROW)}  # nulled, never dropped
    assert all(r["unit"] and r["type"] and r["month"] and r["currency"] for r in rows)
    assert any(r["direction"] for r in rows)


def test_null_texts_on_accounts(sandbox, control, northwind) -> None:
    control.enable("talkdesk-null-texts")
    token = get_token(sandbox, northwind)
    body = decode(get(sandbox.base_url + ACCOUNTS_URL, token))
    assert body["_embedded"]["accounts"] == [
        {"id": a.id, "name": a.name, "company_name": None, "status": None}
        for a in northwind.accounts
    ]


def test_total_drift_overstates_the_first_page_one_answer_only(
    sandbox, control, dataset, northwind
) -> None:
    control.enable("talkdesk-total-drift")
    token = get_token(sandbox, northwind)
    account = northwind.accounts[0].id
    truth = len(dataset.talkdesk_rows([account]))
    # per_page = the true total: one page really, two by the drifted count
    params = {"filter": f"account_id eq '{account}'", "per_page": truth}
    first = decode(get(usage_url(sandbox), token, params))
    assert (first["count"], first["total"], first["total_pages"]) == (truth, truth + 1, 2)
    assert parse_qs(urlsplit(first["_links"]["last"]["href"]).query)["page"] == ["2"]
    # the page the drift points at is empty and already right
    second = decode(get(first["_links"]["next"]["href"], token))
    assert (second["count"], second["total"], second["total_pages"]) == (0, truth, 1)
    again = decode(get(usage_url(sandbox), token, params))
    assert (again["total"], again["total_pages"]) == (truth, 1)
    assert "next" not in again["_links"]


def test_total_drift_is_per_distinct_query(sandbox, control, dataset, northwind) -> None:
    control.enable("talkdesk-total-drift")
    token = get_token(sandbox, northwind)
    truth = len(org_rows(dataset, northwind))

    def total(params: dict[str, Any]) -> int:
        return int(decode(get(usage_url(sandbox), token, params))["total"])

    assert total({"page": 2}) == truth  # not a page-1 answer: never drifts
    assert total({}) == truth + 1
    assert total({"page": 1, "per_page": 50}) == truth  # the same query as {}
    assert total({"per_page": 49}) == truth + 1  # another per_page
    assert total({"order_by": "id:asc"}) == truth + 1  # another order
    accounts = decode(get(sandbox.base_url + ACCOUNTS_URL, token))
    assert accounts["total"] == len(northwind.accounts) + 1
    assert decode(get(sandbox.base_url + ACCOUNTS_URL, token))["total"] == len(northwind.accounts)


def test_total_drift_memory_is_cleared_on_reset(sandbox, control, dataset, northwind) -> None:
    control.enable("talkdesk-total-drift")
    token = get_token(sandbox, northwind)
    truth = len(org_rows(dataset, northwind))
    assert decode(get(usage_url(sandbox), token))["total"] == truth + 1
    control.reset()
    assert decode(get(usage_url(sandbox), token))["total"] == truth
    control.enable("talkdesk-total-drift")
    assert decode(get(usage_url(sandbox), token))["total"] == truth + 1


def test_unmapped_units_on_message_rows(sandbox, control, dataset, northwind) -> None:
    control.enable("talkdesk-unmapped-units")
    token = get_token(sandbox, northwind)
    rows, _ = walk(usage_url(sandbox), token, {"per_page": 250})
    truth = {r.id: r for r in org_rows(dataset, northwind)}
    messages = [r for r in rows if r["type"] == "MESSAGE"]
    assert messages and {r["unit"] for r in messages} == {"CONVERSATIONS"}
    assert {truth[r["id"]].unit for r in messages} == {"SEGMENTS"}
    for row in rows:
        expected = row_dict(truth[row["id"]])
        if row["type"] == "MESSAGE":
            expected["unit"] = "CONVERSATIONS"
        assert row == expected


def test_variants_combine(sandbox, control, dataset, northwind) -> None:
    control.enable(
        "talkdesk-capped-pages", "talkdesk-top-level-links", "talkdesk-empty-without-embedded"
    )
    token = get_token(sandbox, northwind)
    rows, pages = walk(usage_url(sandbox), token, {"per_page": 100})
    truth = org_rows(dataset, northwind)
    assert pages == -(-len(truth) // 7)
    assert ids(rows) == sorted(r.id for r in truth)


def test_without_variants_the_body_is_the_default_shape(sandbox, control, northwind) -> None:
    control.enable("talkdesk-top-level-links")
    control.disable("talkdesk-top-level-links")
    body = decode(get(usage_url(sandbox), get_token(sandbox, northwind), {"per_page": 50}))
    assert set(body) == {"count", "page", "per_page", "total", "total_pages", "_embedded", "_links"}
    assert body["per_page"] == 50

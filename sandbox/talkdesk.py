"""Talkdesk emulator: the talkdeskid.com token host and the Billing Insights API.

Two mounts (upstreams.md section 3, quirks 18-24):
- `talkdesk-id`: `POST /oauth/token`, client credentials with HTTP Basic client authentication
  and a form body; errors in the OAuth shape `{error, error_description}`.
- `talkdesk`: `GET /express/usage/month` and `GET /express/accounts`, HAL paged
  (`_embedded`, `_links` with absolute hrefs built from this server's own base URL), filtered only
  through the `filter` expression; errors in the `{code, message, description?, fields?}` shape.

One OAuth client per Talkdesk organization; a token sees every account under its organization and
naming any other account in a filter is a 403, never an empty page.

Variants (opt-in, `SandboxControl.variants`; both list endpoints unless said):
- `talkdesk-capped-pages`: at most 7 items a page whatever `per_page` asks; the body's `per_page`
  is the size served and `total_pages`/`last`/`next` follow it, while the hrefs keep the asked
  `per_page`, as a server that caps without saying so in its links would.
- `talkdesk-top-level-links`: `first/last/next/prev/self` and `show` (= `self`) at the top level
  of the body (the seed's schema lists them there) and no `_links`.
- `talkdesk-empty-without-embedded`: a page holding no items has no `_embedded` at all.
- `talkdesk-null-texts`: usage rows' `description`, `wallet_name`, `product_id`,
  `aggr_product_id`, `resolution` and accounts' `company_name`, `status` are null.
- `talkdesk-total-drift`: the first page-1 answer of each distinct query (caller, path, filter,
  order_by, per_page) states `total` one too high, `total_pages` and `last` following it; every
  later answer is right.
- `talkdesk-unmapped-units` (usage only): `MESSAGE` rows come with unit `CONVERSATIONS`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from usagegraph.sandbox.control import SandboxControl
from usagegraph.sandbox.dataset import Dataset, TalkdeskAccount, TalkdeskOrg, TalkdeskRow

__all__ = [
    "ACCOUNTS_SCOPE",
    "DEFAULT_PER_PAGE",
    "MAX_FILTER_CHARS",
    "MAX_PER_PAGE",
    "USAGE_SCOPE",
    "FilterError",
    "create_apps",
    "parse_filter",
]

USAGE_SCOPE = "express-accounts-usage:read"
ACCOUNTS_SCOPE = "express-accounts:read"
# The Billing Insights family; a client may ask for any of them (unknown scopes are refused).
KNOWN_SCOPES = frozenset(
    {
        USAGE_SCOPE,
        ACCOUNTS_SCOPE,
        "express-products:read",
        "express-subscriptions:read",
        "express-invoices:read",
    }
)
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 250
MAX_FILTER_CHARS = 1600
MAX_ORDER_BY_CHARS = 40
ORDERINGS = ("id:desc", "id:asc")
FILTER_FIELDS = ("account_id", "month")
FORBIDDEN_ACCOUNTS_MESSAGE = "This caller is not authorized to query the given accounts."
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_T = TypeVar("_T")

# variants (see the module docstring)
CAPPED_PAGES = "talkdesk-capped-pages"
TOP_LEVEL_LINKS = "talkdesk-top-level-links"
EMPTY_WITHOUT_EMBEDDED = "talkdesk-empty-without-embedded"
NULL_TEXTS = "talkdesk-null-texts"
TOTAL_DRIFT = "talkdesk-total-drift"
UNMAPPED_UNITS = "talkdesk-unmapped-units"
CAPPED_PAGE_SIZE = 7
UNMAPPED_UNIT = "CONVERSATIONS"
_NULL_ROW_TEXTS = dict.fromkeys(
    ("description", "wallet_name", "product_id", "aggr_product_id", "resolution")
)
_NULL_ACCOUNT_TEXTS = dict.fromkeys(("company_name", "status"))


# ---------------------------------------------------------------------------------------------
# filter grammar: or_expr := and_expr ('or' and_expr)* ; and_expr := unary ('and' unary)* ;
# unary := 'not' unary | '(' or_expr ')' | FIELD 'eq' STRING | 'contains' '(' FIELD ',' STRING ')'


class FilterError(ValueError):
    """The filter expression is not in the supported grammar (answered with a 400)."""


@dataclass(frozen=True)
class _Token:
    kind: str  # "(", ")", ",", "string", "word"
    text: str
    pos: int


_TOKEN = re.compile(r"(?P<punct>[(),])|'(?P<string>(?:[^']|'')*)'|(?P<word>[A-Za-z_]\w*)")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return tokens
        match = _TOKEN.match(text, pos)
        if match is None:
            what = "unterminated string" if text[pos] == "'" else f"unexpected {text[pos]!r}"
            raise FilterError(f"{what} at position {pos}")
        if match.group("punct"):
            tokens.append(_Token(match.group("punct"), match.group("punct"), pos))
        elif match.group("string") is not None:
            # OData-style escaping: a doubled quote inside a value is one quote
            tokens.append(_Token("string", match.group("string").replace("''", "'"), pos))
        else:
            tokens.append(_Token("word", match.group("word"), pos))
        pos = match.end()


Predicate = Callable[[TalkdeskRow], bool]


@dataclass(frozen=True)
class ParsedFilter:
    """A compiled filter: the row predicate plus every account id named in an `eq` term."""

    predicate: Predicate
    account_ids: frozenset[str]


class _Parser:
    """Recursive descent over the token list; each rule returns a row predicate."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.account_ids: set[str] = set()

    def parse(self) -> Predicate:
        if not self.tokens:
            raise FilterError("empty expression")
        predicate = self._or()
        if self.index < len(self.tokens):
            token = self.tokens[self.index]
            raise FilterError(f"unexpected {token.text!r} at position {token.pos}")
        return predicate

    # -- helpers ---------------------------------------------------------------------------
    def _peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _take(self, kind: str, text: str | None = None) -> _Token:
        token = self._peek()
        wanted = text or kind
        if token is None:
            raise FilterError(f"expected {wanted!r} but the expression ended")
        if token.kind != kind or (text is not None and token.text != text):
            raise FilterError(f"expected {wanted!r} at position {token.pos}, got {token.text!r}")
        self.index += 1
        return token

    def _at_word(self, text: str) -> bool:
        token = self._peek()
        return token is not None and token.kind == "word" and token.text == text

    def _field(self) -> str:
        token = self._take("word")
        if token.text not in FILTER_FIELDS:
            raise FilterError(f"unknown field {token.text!r} at position {token.pos}")
        return token.text

    # -- rules -----------------------------------------------------------------------------
    def _or(self) -> Predicate:
        terms = [self._and()]
        while self._at_word("or"):
            self.index += 1
            terms.append(self._and())
        if len(terms) == 1:
            return terms[0]
        return lambda row: any(term(row) for term in terms)

    def _and(self) -> Predicate:
        terms = [self._unary()]
        while self._at_word("and"):
            self.index += 1
            terms.append(self._unary())
        if len(terms) == 1:
            return terms[0]
        return lambda row: all(term(row) for term in terms)

    def _unary(self) -> Predicate:
        token = self._peek()
        if token is None:
            raise FilterError("expected a term but the expression ended")
        if token.kind == "(":
            self.index += 1
            inner = self._or()
            self._take(")")
            return inner
        if self._at_word("not"):
            self.index += 1
            operand = self._unary()
            return lambda row: not operand(row)
        if self._at_word("contains"):
            self.index += 1
            self._take("(")
            name = self._field()
            self._take(",")
            needle = self._take("string").text
            self._take(")")
            return lambda row: needle in getattr(row, name)
        name = self._field()
        self._take("word", "eq")
        value_token = self._take("string")
        value = value_token.text
        if name == "month" and not _MONTH.fullmatch(value):
            raise FilterError(f"month must be YYYY-MM, got {value!r} at position {value_token.pos}")
        if name == "account_id":
            self.account_ids.add(value)
        return lambda row: getattr(row, name) == value


def parse_filter(text: str) -> ParsedFilter:
    """Compile a Billing Insights filter expression (raises FilterError)."""
    parser = _Parser(_tokenize(text))
    predicate = parser.parse()
    return ParsedFilter(predicate, frozenset(parser.account_ids))


# ---------------------------------------------------------------------------------------------
# JSON with exact decimals


# A Decimal is written as a marked string, then unquoted: the json module's C encoder does the
# rest, where a recursive Python renderer cost the emulator milliseconds per usage page (and
# every system the benchmark measures waited behind it; docs/measurements.md#the-sandboxs-own-cost).
_DECIMAL_MARK = "\x00decimal:"
_MARKED = re.compile(r'"\\u0000decimal:([^"]*)"')


def _mark_decimal(value: Any) -> str:
    if isinstance(value, Decimal):
        return _DECIMAL_MARK + str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json(value: Any) -> str:
    """JSON text that writes Decimals as their exact digits (the json module would need floats)."""
    text = json.dumps(value, default=_mark_decimal, separators=(",", ":"))
    return _MARKED.sub(r"\1", text)


class _JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _json(content).encode()


# ---------------------------------------------------------------------------------------------
# errors


class _ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        description: str | None = None,
        fields: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"code": code, "message": message}
        if description is not None:
            self.body["description"] = description
        if fields:
            self.body["fields"] = [{"name": n, "description": d} for n, d in fields]


def _bad_request(field_name: str, description: str) -> _ApiError:
    return _ApiError(400, "4000001", "Bad Request", fields=[(field_name, description)])


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="talkdeskid"'
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


# ---------------------------------------------------------------------------------------------
# paging


@dataclass(frozen=True)
class _Paging:
    page: int
    per_page: int


def _int_param(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
    try:
        value = int(raw.strip())
    except ValueError:
        raise _bad_request(name, f"must be an integer {bounds}") from None
    if value < low or (high is not None and value > high):
        raise _bad_request(name, f"must be {bounds}")
    return value


def _paging(request: Request) -> _Paging:
    return _Paging(
        page=_int_param(request, "page", 1, 1, None),
        per_page=_int_param(request, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE),
    )


def _own_base_url(request: Request) -> str:
    """This mount's external base, e.g. http://127.0.0.1:8000/talkdesk.

    Starlette's `request.base_url` is the top-level app root, so the mount prefix comes from the
    ASGI `root_path`, which Mount extends with its own path.
    """
    root = request.scope.get("root_path", "")
    return f"{request.url.scheme}://{request.url.netloc}{root}".rstrip("/")


def _hal_page(
    request: Request,
    path: str,
    key: str,
    items: Sequence[_T],
    serialize: Callable[[_T], dict[str, Any]],
    paging: _Paging,
    kept: Sequence[tuple[str, str]],
    variants: frozenset[str] = frozenset(),
    extra_total: int = 0,
) -> dict[str, Any]:
    """One HAL page of `items` plus the auxiliary counters and absolute links.

    `extra_total` is added to the stated total (the drift variant); `variants` reshape it."""
    size = paging.per_page
    if CAPPED_PAGES in variants:
        size = min(size, CAPPED_PAGE_SIZE)
    total = len(items) + extra_total
    total_pages = max(1, math.ceil(total / size))
    start = (paging.page - 1) * size
    # serialize only this page: the org's full list can be large at the bigger dataset scales
    chunk = [serialize(item) for item in items[start : start + size]]
    base = _own_base_url(request) + path

    def href(page: int) -> dict[str, str]:
        params = [("page", str(page)), ("per_page", str(paging.per_page)), *kept]
        return {"href": f"{base}?{urlencode(params, quote_via=quote, safe=':')}"}

    links = {"self": href(paging.page), "first": href(1), "last": href(total_pages)}
    if paging.page < total_pages:
        links["next"] = href(paging.page + 1)
    if paging.page > 1:
        links["prev"] = href(min(paging.page - 1, total_pages))
    body = {
        "count": len(chunk),
        "page": paging.page,
        "per_page": size,
        "total": total,
        "total_pages": total_pages,
        "_embedded": {key: chunk},
        "_links": links,
    }
    if variants:
        _reshape(body, variants)
    return body


def _reshape(body: dict[str, Any], variants: frozenset[str]) -> None:
    """Apply the HAL shape variants to a page body, in place."""
    if EMPTY_WITHOUT_EMBEDDED in variants and not body["count"]:
        del body["_embedded"]
    if TOP_LEVEL_LINKS in variants:
        links = body.pop("_links")
        body.update(links)
        body["show"] = links["self"]


def _drift(
    control: SandboxControl, variants: frozenset[str], query: tuple[str, ...], paging: _Paging
) -> int:
    """1 for the first page-1 answer of `query` under the drift variant, else 0."""
    if TOTAL_DRIFT not in variants or paging.page != 1:
        return 0
    return int(control.first_sight(TOTAL_DRIFT, (*query, paging.per_page)))


# ---------------------------------------------------------------------------------------------
# serialization


def _row_json(row: TalkdeskRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "account_id": row.account_id,
        "product_id": row.product_id,
        "aggr_product_id": row.aggr_product_id,
        "month": row.month,
        "type": row.type,
        "description": row.description,
        "currency": row.currency,
        "direction": row.direction,
        "resolution": row.resolution,
        "unit": row.unit,
        "price": row.price,
        "wallet_name": row.wallet_name,
        "number_of_units": row.number_of_units,
        "total_amount": row.total_amount,
    }


def _account_json(account: TalkdeskAccount) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "company_name": account.company_name,
        "status": account.status,
    }


def _row_serializer(variants: frozenset[str]) -> Callable[[TalkdeskRow], dict[str, Any]]:
    """`_row_json`, or a wrapper applying the row variants (the default path pays nothing)."""
    null_texts = NULL_TEXTS in variants
    unmapped = UNMAPPED_UNITS in variants
    if not (null_texts or unmapped):
        return _row_json

    def serialize(row: TalkdeskRow) -> dict[str, Any]:
        body = _row_json(row)
        if null_texts:
            body.update(_NULL_ROW_TEXTS)
        if unmapped and row.type == "MESSAGE":
            body["unit"] = UNMAPPED_UNIT
        return body

    return serialize


def _account_serializer(variants: frozenset[str]) -> Callable[[TalkdeskAccount], dict[str, Any]]:
    if NULL_TEXTS not in variants:
        return _account_json
    return lambda account: {**_account_json(account), **_NULL_ACCOUNT_TEXTS}


# ---------------------------------------------------------------------------------------------
# apps


def create_apps(dataset: Dataset, control: SandboxControl) -> dict[str, FastAPI]:
    """The `talkdesk` API mount and the `talkdesk-id` token mount over `dataset`."""
    orgs_by_slug = {org.slug: org for org in dataset.talkdesk_orgs}
    # The shared TokenStore keeps (vendor, subject); the granted scopes live here, per token.
    granted: dict[str, frozenset[str]] = {}
    return {
        "talkdesk": _api_app(orgs_by_slug, control, granted),
        "talkdesk-id": _token_app(dataset, control, granted),
    }


def _token_app(
    dataset: Dataset, control: SandboxControl, granted: dict[str, frozenset[str]]
) -> FastAPI:
    app = FastAPI(title="talkdeskid.com (sandbox)", docs_url=None, redoc_url=None, openapi_url=None)
    clients = {org.client_id: org for org in dataset.talkdesk_orgs}

    @app.post("/oauth/token")
    async def token(request: Request) -> Response:
        org = _basic_client(request.headers.get("authorization"), clients)
        if org is None:
            return _oauth_error(401, "invalid_client", "Client authentication failed.")
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        grant_type = form.get("grant_type")
        if not grant_type:
            return _oauth_error(400, "invalid_request", "Missing grant_type parameter.")
        if grant_type != "client_credentials":
            return _oauth_error(
                400, "unsupported_grant_type", f"Grant type {grant_type!r} is not supported."
            )
        requested = form.get("scope", "").split()
        unknown = [s for s in requested if s not in KNOWN_SCOPES]
        if unknown:
            return _oauth_error(400, "invalid_scope", f"Unknown scope(s): {' '.join(unknown)}.")
        # No scope asked: the client gets what it is entitled to (both Billing Insights reads).
        scopes = requested or [USAGE_SCOPE, ACCOUNTS_SCOPE]
        # forget the scopes of tokens that expired or were revoked, so the map stays small
        for stale in [t for t in granted if control.tokens.subject("talkdesk", t) is None]:
            del granted[stale]
        access_token = control.tokens.issue("talkdesk", org.slug, ttl=control.token_ttl)
        granted[access_token] = frozenset(scopes)
        return JSONResponse(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": int(control.token_ttl),
                "scope": " ".join(scopes),
            },
            headers={"Cache-Control": "no-store"},
        )

    return app


def _basic_client(header: str | None, clients: dict[str, TalkdeskOrg]) -> TalkdeskOrg | None:
    """The organization whose client id/secret the Basic header carries, else None."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    org = clients.get(client_id)
    if not sep or org is None or secret != org.client_secret:
        return None
    return org


def _api_app(
    orgs_by_slug: dict[str, TalkdeskOrg],
    control: SandboxControl,
    granted: dict[str, frozenset[str]],
) -> FastAPI:
    app = FastAPI(
        title="api.talkdeskapp.com (sandbox)", docs_url=None, redoc_url=None, openapi_url=None
    )

    @app.exception_handler(_ApiError)
    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, _ApiError)
        return _JSON(exc.body, status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return _JSON(
            {"code": f"{exc.status_code}0001", "message": str(exc.detail)}, exc.status_code
        )

    def caller(request: Request, scope: str) -> TalkdeskOrg:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else None
        slug = control.tokens.subject("talkdesk", token)
        if token is None or slug is None or slug not in orgs_by_slug:
            raise _ApiError(401, "4010001", "Unauthorized")
        if scope not in granted.get(token, frozenset()):
            raise _ApiError(
                403,
                "4030002",
                "Forbidden",
                description=f"The access token lacks the {scope} scope.",
            )
        return orgs_by_slug[slug]

    @app.get("/express/usage/month")
    async def usage_month(request: Request) -> Response:
        org = caller(request, USAGE_SCOPE)
        paging = _paging(request)
        params = request.query_params
        order_by = params.get("order_by")
        if order_by is not None and (
            len(order_by) > MAX_ORDER_BY_CHARS or order_by not in ORDERINGS
        ):
            raise _bad_request("order_by", f"must be one of {', '.join(ORDERINGS)}")
        text = params.get("filter")
        parsed: ParsedFilter | None = None
        if text is not None and text.strip():
            if len(text) > MAX_FILTER_CHARS:
                raise _bad_request("filter", f"must be at most {MAX_FILTER_CHARS} characters")
            try:
                parsed = parse_filter(text)
            except FilterError as exc:
                raise _bad_request("filter", str(exc)) from None
            own = {a.id for a in org.accounts}
            foreign = sorted(parsed.account_ids - own)
            if foreign:
                raise _ApiError(
                    403,
                    "4030001",
                    FORBIDDEN_ACCOUNTS_MESSAGE,
                    description="The accounts specified are not under the organization owning "
                    f"the current authentication token: {', '.join(foreign)}.",
                )
        rows = [r for a in org.accounts for r in a.rows]
        if parsed is not None:
            rows = [r for r in rows if parsed.predicate(r)]
        rows.sort(key=lambda r: r.id, reverse=(order_by or "id:desc") == "id:desc")
        kept = [(k, v) for k in ("filter", "order_by") if (v := params.get(k)) is not None]
        path = "/express/usage/month"
        variants = control.variants
        drift = _drift(control, variants, (org.slug, path, text or "", order_by or ""), paging)
        serialize = _row_serializer(variants)
        body = _hal_page(request, path, "usage", rows, serialize, paging, kept, variants, drift)
        return _JSON(body)

    @app.get("/express/accounts")
    async def accounts(request: Request) -> Response:
        org = caller(request, ACCOUNTS_SCOPE)
        paging = _paging(request)
        path = "/express/accounts"
        variants = control.variants
        drift = _drift(control, variants, (org.slug, path), paging)
        serialize = _account_serializer(variants)
        return _JSON(
            _hal_page(
                request, path, "accounts", org.accounts, serialize, paging, (), variants, drift
            )
        )

    return app

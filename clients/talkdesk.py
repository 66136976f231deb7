"""Talkdesk Billing Insights client: accounts and monthly usage over the shared transport.

The API filters only through a `filter` expression capped at 1600 characters, so a request for
many accounts/months is split into chunks whose filters each stay under the cap; chunks run
concurrently (the transport caps the real concurrency).

Results are HAL paged, and the client trusts only what each page says of itself (seed 004,
docs/vendors.md): `next.href` under `_links` or at the top level (the seed's schema lists both),
never that the server honoured `per_page`. When page 1 states `total_pages` and its next link
numbers pages (`page=2`), pages 2..N are fetched concurrently from that link; then, and
otherwise, `next` links are followed to the end. A page without `_embedded` is empty. When
the pages do not add up to page 1's `total` (a row added or removed while paging), the listing
is read once more, then refused.

Rows are read tolerantly: only the account id is required; a text that feeds no figure may be
anything; a figure (units, amount) that is missing or mistyped is None with its problem kept on
the row. Money is decoded straight into Decimal and never recomputed.

The tolerant readers are the reference; pages also have fast functions over msgspec shapes
(clients/talkdesk_shapes.py, clients/bodies.py) that leave any row or page they cannot judge to
those readers.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache, partial
from typing import Any, Generic, TypeVar

import httpx
import msgspec

from usagegraph.clients import talkdesk_shapes as shapes
from usagegraph.clients.auth import OAuthClientCredentials
from usagegraph.clients.bodies import (
    Body,
    Unusual,
    as_mapping,
    frozen_maker,
    label,
    number,
    read_rows,
)
from usagegraph.clients.decoding import NO_PROBLEMS, JsonReader, Problems, RowProblems, join_path
from usagegraph.clients.errors import UpstreamContractError
from usagegraph.clients.transport import SourceTransport
from usagegraph.clients.urls import join_url

__all__ = [
    "ACCOUNTS_ENDPOINT",
    "BODIES",
    "DEFAULT_SCOPE",
    "MAX_FILTER_CHARS",
    "MAX_PER_PAGE",
    "USAGE_ENDPOINT",
    "TalkdeskAccountInfo",
    "TalkdeskClient",
    "TalkdeskUsageRow",
    "talkdesk_auth",
    "usage_filters",
]

USAGE_PATH = "/express/usage/month"
ACCOUNTS_PATH = "/express/accounts"
USAGE_ENDPOINT = f"GET {USAGE_PATH}"
ACCOUNTS_ENDPOINT = f"GET {ACCOUNTS_PATH}"
DEFAULT_SCOPE = "express-accounts-usage:read express-accounts:read"
MAX_PER_PAGE = 250
MAX_FILTER_CHARS = 1600
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_CURRENCY = re.compile(r"[A-Z]{3}")
_CODE = re.compile(r"[A-Z][A-Z0-9_]*")  # a type or unit: AMD, API_REQUEST, MINUTES, ...

T = TypeVar("T")


def talkdesk_auth(
    *, token_url: str, client_id: str, client_secret: str, scope: str = DEFAULT_SCOPE
) -> OAuthClientCredentials:
    """Client-credentials auth for one Talkdesk organization (HTTP Basic at the token host)."""
    return OAuthClientCredentials(
        token_url=token_url,
        client_id=client_id,
        client_secret=client_secret,
        style="basic",
        scope=scope,
    )


# ---------------------------------------------------------------------------------------------
# models


@dataclass(frozen=True)
class TalkdeskAccountInfo:
    """One account ("instance") under the organization."""

    id: str
    name: str
    company_name: str | None
    status: str | None


@dataclass(frozen=True)
class TalkdeskUsageRow:
    """One monthly usage aggregate for one account and product, as the vendor sent it.

    Only `account_id` is certain. A figure that was missing or mistyped is None and `problems`
    says why, under its JSON key (`type`, `unit`, `currency`, `number_of_units`,
    `total_amount`); texts that feed no figure are None when absent.
    """

    id: str | None
    account_id: str
    product_id: str | None
    aggr_product_id: str | None
    month: str | None  # YYYY-MM
    type: str | None
    description: str | None
    currency: str | None  # ISO-4217
    direction: str | None  # INBOUND, OUTBOUND, OTHER or null
    resolution: str | None
    unit: str | None
    price: Decimal | None
    wallet_name: str | None
    number_of_units: Decimal | None
    total_amount: Decimal | None  # never price x units: discounts break that
    problems: RowProblems = field(default=NO_PROBLEMS, compare=False)


# ---------------------------------------------------------------------------------------------
# filters


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _or_terms(field: str, values: Sequence[str]) -> str:
    return " or ".join(f"{field} eq {_quote(v)}" for v in values)


def _render(account_ids: Sequence[str] | None, months: Sequence[str] | None) -> str | None:
    groups = [
        _or_terms(field, values)
        for field, values in (("account_id", account_ids), ("month", months))
        if values is not None
    ]
    if not groups:
        return None
    if len(groups) == 1:
        return groups[0]
    return " and ".join(f"({g})" for g in groups)


def _pack(values: Sequence[str], fits: Callable[[list[str]], bool]) -> list[list[str]]:
    """Greedy chunks of `values`, each as long as `fits` allows (at least one value each)."""
    chunks: list[list[str]] = []
    current: list[str] = []
    for value in values:
        if current and not fits([*current, value]):
            chunks.append(current)
            current = []
        current.append(value)
    if current:
        chunks.append(current)
    return chunks


def usage_filters(
    account_ids: Sequence[str] | None,
    months: Sequence[str] | None,
    *,
    max_chars: int = MAX_FILTER_CHARS,
) -> list[str | None]:
    """Filter expressions that together select `account_ids` x `months`, each <= max_chars.

    Shape: `(account_id eq 'A' or account_id eq 'B') and (month eq '2026-01' or ...)`. `None`
    for either side means "all"; a single `None` filter means everything the caller may see.
    Months are split only when even one account cannot carry all of them.
    """
    for month in months or ():
        if not _MONTH.fullmatch(month):
            raise ValueError(f"month must be YYYY-MM, got {month!r}")

    def fits(accounts: Sequence[str] | None, month_chunk: Sequence[str] | None) -> bool:
        text = _render(accounts, month_chunk)
        return text is None or len(text) <= max_chars

    if months is None:
        month_chunks: list[list[str] | None] = [None]
    else:
        widest = [max(account_ids, key=lambda a: len(_quote(a)))] if account_ids else None
        month_chunks = list(_pack(months, lambda chunk: fits(widest, chunk)))
    filters: list[str | None] = []
    for month_chunk in month_chunks:
        if account_ids is None:
            account_chunks: list[list[str] | None] = [None]
        else:
            account_chunks = list(_pack(account_ids, partial(fits, month_chunk=month_chunk)))
        for account_chunk in account_chunks:
            if not fits(account_chunk, month_chunk):
                raise ValueError(f"max_chars={max_chars} cannot hold even one account and month")
            filters.append(_render(account_chunk, month_chunk))
    return filters


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


# ---------------------------------------------------------------------------------------------
# client


class TalkdeskClient:
    """Billing Insights for the one organization the transport's OAuth client belongs to."""

    def __init__(
        self,
        transport: SourceTransport,
        *,
        base_url: str,
        per_page: int = MAX_PER_PAGE,
        max_filter_chars: int = MAX_FILTER_CHARS,
    ) -> None:
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}")
        self.transport = transport
        self.base_url = base_url
        self.per_page = per_page
        self.max_filter_chars = max_filter_chars

    @property
    def source(self) -> str:
        return self.transport.source

    async def accounts(self) -> tuple[TalkdeskAccountInfo, ...]:
        """Every account under the organization (`GET /express/accounts`, all pages)."""
        return tuple(await self._collect(ACCOUNTS_PATH, ACCOUNTS_ENDPOINT, _ACCOUNTS, None))

    async def monthly_usage(
        self,
        *,
        account_ids: Sequence[str] | None = None,
        months: Sequence[str] | None = None,
    ) -> tuple[TalkdeskUsageRow, ...]:
        """Usage rows for these accounts and YYYY-MM months (None: all of them).

        An empty sequence selects nothing and makes no call. A foreign account raises
        UpstreamForbiddenError (the API answers 403 rather than an empty page).
        """
        if account_ids is not None:
            account_ids = _unique(account_ids)
        if months is not None:
            months = _unique(months)
        if account_ids == [] or months == []:
            return ()
        filters = usage_filters(account_ids, months, max_chars=self.max_filter_chars)
        chunks = await _gather(
            self._collect(USAGE_PATH, USAGE_ENDPOINT, _USAGE, flt) for flt in filters
        )
        return tuple(row for chunk in chunks for row in chunk)

    # -- paging ----------------------------------------------------------------------------
    async def _collect(
        self, path: str, endpoint: str, pages: Body[Any, _Page[T]], flt: str | None
    ) -> list[T]:
        """Every item of every page, decoded, in page order.

        A listing whose pages do not add up to page 1's `total` changed while it was read: it
        is read once more, and refused only if it still does not add up."""
        first, items = await self._walk(path, endpoint, pages, flt)
        if first.total is None or len(items) == first.total:
            return items
        first, items = await self._walk(path, endpoint, pages, flt)  # once more
        if first.total is None or len(items) == first.total:
            return items
        raise self._reader(endpoint).fail(
            "total", f"says {first.total} items but the pages held {len(items)} (read twice)"
        )

    async def _walk(
        self, path: str, endpoint: str, pages: Body[Any, _Page[T]], flt: str | None
    ) -> tuple[_Page[T], list[T]]:
        """Page 1, then every page after it: concurrently when page 1 tells how the upstream
        numbers its pages, then by `next` links until there is none."""
        params = [("per_page", str(self.per_page))]
        if flt is not None:
            params.append(("filter", flt))
        first = await self._page(join_url(self.base_url, path), endpoint, pages, 1, params)
        read = [first]
        urls = _page_urls(first.next_href, first.total_pages)
        if urls is not None:
            read += await _gather(
                self._page(url, endpoint, pages, number) for number, url in enumerate(urls, 2)
            )
        # Whatever the last page fetched links to comes next (normally nothing); a link to a
        # page already fetched means the upstream loops: stop rather than spin.
        seen = {first.next_href, *(urls or ())}
        next_href = read[-1].next_href
        while next_href is not None:
            if next_href in seen and len(read) > 1:
                raise self._reader(endpoint).fail("next.href", "repeats a page")
            seen.add(next_href)
            page = await self._page(next_href, endpoint, pages, len(read) + 1)
            read.append(page)
            next_href = page.next_href
        return first, [decoded for page in read for decoded in page.items]

    async def _page(
        self,
        url: str,
        endpoint: str,
        pages: Body[Any, _Page[T]],
        number: int,
        params: Sequence[tuple[str, str]] | None = None,
    ) -> _Page[T]:
        response = await self.transport.request("GET", url, endpoint=endpoint, params=params)
        reader = self._reader(endpoint, number)
        page = pages.decode(reader, response.content, response.status_code)
        if page.next_href is None:
            return page
        # a relative link is relative to the page; a link to another origin would carry our
        # token there: refused
        href = str(httpx.URL(url).join(page.next_href))
        if _origin(href) != _origin(self.base_url):
            raise self._reader(endpoint, number).fail(
                "next.href", "points at another host than the API's"
            )
        return replace(page, next_href=href)

    def _reader(self, endpoint: str, page: int | None = None) -> JsonReader:
        return _PageReader(self.source, endpoint, page)


# ---------------------------------------------------------------------------------------------
# decoding


class _PageReader(JsonReader):
    """A JsonReader whose errors say which page of a listing broke the contract."""

    def __init__(self, source: str, endpoint: str, page: int | None = None) -> None:
        super().__init__(source, endpoint)
        self.page = page

    def fail(self, path: str, problem: str) -> UpstreamContractError:
        return super().fail(
            path, problem if self.page is None else f"{problem} on page {self.page}"
        )


@dataclass(frozen=True)
class _Item(Generic[T]):
    """How to decode one kind of listed item: its `_embedded` key, its tolerant parser and its
    fast one (clients/bodies.py)."""

    key: str
    parse: Callable[[JsonReader, Mapping[str, Any], str], T]
    fast: Callable[[Any], T]


@dataclass(frozen=True)
class _Page(Generic[T]):
    items: list[T]
    next_href: str | None
    total: int | None
    total_pages: int | None


def _parse_page(r: JsonReader, body: Any, item: _Item[T]) -> _Page[T]:
    top = r.obj(body, "$")  # the body's field path has always been "$" for this client
    return _Page(
        items=[item.parse(r, row, path) for path, row in _embedded(r, top, item.key)],
        next_href=_next_href(r, top),
        total=r.count_or_none(top, "total", ""),
        total_pages=r.count_or_none(top, "total_pages", ""),
    )


def _embedded(
    r: JsonReader, top: Mapping[str, Any], key: str
) -> list[tuple[str, Mapping[str, Any]]]:
    """The page's items. HAL servers often leave `_embedded` (or its list) out of an empty page:
    that is an empty page, unless the page's own `count` says it holds items."""
    embedded = top.get("_embedded")
    if embedded is None or (isinstance(embedded, Mapping) and embedded.get(key) is None):
        count = r.count_or_none(top, "count", "")
        if count:
            raise r.fail(f"_embedded.{key}", f"is missing on a page whose count is {count}")
        return []
    return r.objects(r.obj(embedded, "_embedded"), key, "_embedded")


def _next_href(r: JsonReader, top: Mapping[str, Any]) -> str | None:
    """`next.href` under `_links` or at the top level (seed 004 lists both places), or None on
    the last page (HAL leaves the `next` link out)."""
    links = top.get("_links")
    for where, holder in (("_links.next", links), ("next", top)):
        link = holder.get("next") if isinstance(holder, Mapping) else None
        if link is None:
            continue
        href = link.get("href") if isinstance(link, Mapping) else None
        if not isinstance(href, str) or not href:
            raise r.fail(f"{where}.href", "is missing or not a string")
        return href
    return None


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.host, parsed.port


def _page_urls(next_href: str | None, total_pages: int | None) -> list[str] | None:
    """URLs of pages 2..total_pages from page 1's next link, or None to follow links instead.

    Only when the link carries `page=2` do we know how the upstream numbers its pages.
    """
    if next_href is None or total_pages is None or total_pages < 2:
        return None
    url = httpx.URL(next_href)
    if url.params.get_list("page") != ["2"]:
        return None
    return [str(url.copy_set_param("page", str(n))) for n in range(2, total_pages + 1)]


def _code(
    r: JsonReader,
    item: Mapping[str, Any],
    key: str,
    path: str,
    problems: Problems,
    form: re.Pattern[str],
    name: str,
) -> str | None:
    """A code a figure depends on (type, unit, currency): the string when it has the given
    form, else None with a problem under `key` (`name` says which form, for the error)."""
    value = item.get(key)
    if type(value) is str and form.fullmatch(value):
        return value
    where = join_path(path, key)
    if value is None:
        problem = "is missing" if key not in item else "is null"
    else:
        problem = f"is not {name}"
    problems[key] = r.fail(where, problem)
    return None


def _parse_usage_row(r: JsonReader, item: Mapping[str, Any], path: str) -> TalkdeskUsageRow:
    problems: Problems = {}
    month = r.label(item, "month")
    row = TalkdeskUsageRow(
        id=r.label(item, "id"),
        account_id=_account_id(r, item, path),  # the one field a row cannot do without
        product_id=r.label(item, "product_id"),
        aggr_product_id=r.label(item, "aggr_product_id"),
        month=month if month is not None and _MONTH.fullmatch(month) else None,
        type=_code(r, item, "type", path, problems, _CODE, "an upper-case code"),
        description=r.label(item, "description"),
        currency=_code(r, item, "currency", path, problems, _CURRENCY, "an ISO-4217 code"),
        direction=r.label(item, "direction"),
        resolution=r.label(item, "resolution"),
        unit=_code(r, item, "unit", path, problems, _CODE, "an upper-case code"),
        price=_price(item.get("price")),
        wallet_name=r.label(item, "wallet_name"),
        number_of_units=r.soft_number(item, "number_of_units", path, problems),
        total_amount=r.soft_number(item, "total_amount", path, problems),
    )
    return replace(row, problems=tuple(problems.items())) if problems else row


def _account_id(r: JsonReader, item: Mapping[str, Any], path: str) -> str:
    """`account_id`, the name the filter grammar uses; seed 004's schema spells the field
    "account ID", so a row that only has that key is read by it."""
    value = item.get("account_id")
    if type(value) is str:
        return value
    alias = item.get("account ID")
    if "account_id" not in item and type(alias) is str:
        return alias
    return r.text(item, "account_id", path)


def _price(value: Any) -> Decimal | None:
    """A unit price is shown, never summed or multiplied: anything but a finite number is
    simply unknown."""
    if (type(value) is int or type(value) is Decimal) and Decimal(value).is_finite():
        return Decimal(value)
    return None


def _parse_account(r: JsonReader, item: Mapping[str, Any], path: str) -> TalkdeskAccountInfo:
    account_id = r.text(item, "id", path)
    return TalkdeskAccountInfo(
        id=account_id,
        name=r.label(item, "name") or account_id,
        company_name=r.label(item, "company_name"),
        status=r.label(item, "status"),
    )


# -- the fast path (clients/bodies.py): the same models from msgspec shapes -----------------------

_make_usage_row = frozen_maker(TalkdeskUsageRow)
_make_account = frozen_maker(TalkdeskAccountInfo)


def _fast_page(
    r: JsonReader, page: shapes.UsagePage | shapes.AccountsPage, item: _Item[T]
) -> _Page[T]:
    """`_parse_page`: the items by `item.fast` (or, one by one, its tolerant parser), what the
    page says of itself by the tolerant reads, in the same order."""
    embedded = page.embedded
    rows = None if embedded is None or embedded is msgspec.UNSET else embedded.items
    if type(rows) is list:
        items = list(read_rows(r, rows, f"_embedded.{item.key}", item.fast, item.parse))
        top = as_mapping(page, omit=frozenset({"embedded"}))
    else:
        top = as_mapping(page)
        items = [item.parse(r, row, path) for path, row in _embedded(r, top, item.key)]
    return _Page(
        items=items,
        next_href=_next_href(r, top),
        total=r.count_or_none(top, "total", ""),
        total_pages=r.count_or_none(top, "total_pages", ""),
    )


# A listing repeats a handful of codes, currencies and months thousands of times: a cached
# answer costs ~70 ns, the regular expression ~270 ns (four per row).
@lru_cache(maxsize=1024)
def _is_code(value: str) -> bool:
    return _CODE.fullmatch(value) is not None


@lru_cache(maxsize=1024)
def _is_currency(value: str) -> bool:
    return _CURRENCY.fullmatch(value) is not None


@lru_cache(maxsize=1024)
def _is_month(value: str) -> bool:
    return _MONTH.fullmatch(value) is not None


def _fast_usage_row(item: shapes.UsageRow) -> TalkdeskUsageRow:
    """`_parse_usage_row` of a row whose account id, codes and figures are well-formed."""
    account_id, kind, currency, unit = item.account_id, item.type, item.currency, item.unit
    if not (
        type(account_id) is str
        and type(kind) is str
        and _is_code(kind)
        and type(currency) is str
        and _is_currency(currency)
        and type(unit) is str
        and _is_code(unit)
    ):
        raise Unusual
    # labels inlined (`label`): a dashboard reads ~40,000 rows, six labels each
    row_id, product_id, aggr_product_id, description, direction, resolution, wallet_name = (
        item.id,
        item.product_id,
        item.aggr_product_id,
        item.description,
        item.direction,
        item.resolution,
        item.wallet_name,
    )
    month, price = item.month, item.price
    return _make_usage_row(
        {
            "id": row_id if type(row_id) is str else None,
            "account_id": account_id,
            "product_id": product_id if type(product_id) is str else None,
            "aggr_product_id": aggr_product_id if type(aggr_product_id) is str else None,
            "month": month if type(month) is str and _is_month(month) else None,
            "type": kind,
            "description": description if type(description) is str else None,
            "currency": currency,
            "direction": direction if type(direction) is str else None,
            "resolution": resolution if type(resolution) is str else None,
            "unit": unit,
            # msgspec's Decimals are all finite: `_price` only for anything else
            "price": price if type(price) is Decimal else _price(price),
            "wallet_name": wallet_name if type(wallet_name) is str else None,
            "number_of_units": number(item.number_of_units),
            "total_amount": number(item.total_amount),
            "problems": NO_PROBLEMS,
        }
    )


def _fast_account(item: shapes.Account) -> TalkdeskAccountInfo:
    """`_parse_account`: nothing in it can fail once the shape holds a string id."""
    account_id = item.id
    return _make_account(
        {
            "id": account_id,
            "name": label(item.name) or account_id,
            "company_name": label(item.company_name),
            "status": label(item.status),
        }
    )


def _pages(item: _Item[T], shape: type[msgspec.Struct]) -> Body[Any, _Page[T]]:
    """The pages of a listing of `item`s."""
    return Body(
        shape,
        lambda r, page: _fast_page(r, page, item),
        lambda r, body: _parse_page(r, body, item),
    )


_USAGE = _pages(_Item("usage", _parse_usage_row, _fast_usage_row), shapes.UsagePage)
_ACCOUNTS = _pages(_Item("accounts", _parse_account, _fast_account), shapes.AccountsPage)

# Each endpoint's answers, both paths (tests and bench/decoding.py compare them).
BODIES: Mapping[str, Body[Any, Any]] = {USAGE_ENDPOINT: _USAGE, ACCOUNTS_ENDPOINT: _ACCOUNTS}


async def _gather(coros: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Run concurrently; on the first failure cancel the rest and raise that failure itself
    (not an ExceptionGroup), so callers see the same UpstreamError a single call would raise."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coros]
    except BaseExceptionGroup as failed:
        first: BaseException = failed
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return [task.result() for task in tasks]

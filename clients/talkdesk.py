"""Talkdesk Billing Insights client: accounts and monthly usage over the shared transport.

The API filters only through a `filter` expression capped at 1600 characters, so a request for
many accounts/months is split into chunks whose filters each stay under the cap; chunks run
concurrently (the transport caps the real concurrency). Results are HAL paged: page 1's
`_links.next.href` is the only URL shape we trust. When page 1 states `total_pages`, pages
2..N are fetched concurrently from that link with its `page` parameter replaced; otherwise the
next links are followed one by one. Money is decoded straight into Decimal and never recomputed.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Generic, TypeVar

import httpx

from clients.decoding import JsonReader, join_path
from clients.errors import UpstreamContractError
from clients.transport import OAuthClientCredentials, SourceTransport, join_url

__all__ = [
    "ACCOUNTS_ENDPOINT",
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
    """One monthly usage aggregate for one account and product, amounts as the vendor sent them."""

    id: str
    account_id: str
    product_id: str
    aggr_product_id: str
    month: str  # YYYY-MM
    type: str
    description: str
    currency: str  # ISO-4217
    direction: str | None
    resolution: str | None
    unit: str
    price: Decimal
    wallet_name: str
    number_of_units: Decimal
    total_amount: Decimal  # never price x units: discounts break that

    @property
    def voice_seconds(self) -> int | None:
        """Call time in seconds for CALL rows measured in MINUTES or SECONDS, else None."""
        if self.type != "CALL":
            return None
        if self.unit == "MINUTES":
            seconds = self.number_of_units * 60
        elif self.unit == "SECONDS":
            seconds = self.number_of_units
        else:
            return None
        return int(seconds.quantize(Decimal(1), rounding=ROUND_HALF_UP))


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
            account_chunks = list(_pack(account_ids, lambda chunk, m=month_chunk: fits(chunk, m)))
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
    async def _collect(self, path: str, endpoint: str, item: _Item[T], flt: str | None) -> list[T]:
        """Every item of every page, decoded, in page order."""
        params = [("per_page", str(self.per_page))]
        if flt is not None:
            params.append(("filter", flt))
        first = await self._page(join_url(self.base_url, path), endpoint, item, 1, params)
        pages = [first]
        next_href = first.next_href
        urls = _page_urls(next_href, first.total_pages) if next_href is not None else None
        if urls is not None:
            pages += await _gather(
                self._page(url, endpoint, item, number) for number, url in enumerate(urls, 2)
            )
        else:
            # A link we already followed means the upstream loops: stop rather than spin.
            seen: set[str | None] = {next_href}
            while next_href is not None:
                page = await self._page(next_href, endpoint, item, len(pages) + 1)
                pages.append(page)
                next_href = page.next_href
                if next_href in seen:
                    raise self._reader(endpoint).fail("_links.next.href", "repeats a page")
                seen.add(next_href)
        items = [decoded for page in pages for decoded in page.items]
        if first.total is not None and len(items) != first.total:
            raise self._reader(endpoint).fail(
                "total", f"says {first.total} items but the pages held {len(items)}"
            )
        return items

    async def _page(
        self,
        url: str,
        endpoint: str,
        item: _Item[T],
        number: int,
        params: Sequence[tuple[str, str]] | None = None,
    ) -> _Page[T]:
        body = await self.transport.get_json(
            url, endpoint=endpoint, params=params, parse_float=Decimal
        )
        return _parse_page(self._reader(endpoint, number), body, item)

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
    """How to decode one kind of listed item: its `_embedded` key and its parser."""

    key: str
    parse: Callable[[JsonReader, Mapping[str, Any], str], T]


@dataclass(frozen=True)
class _Page(Generic[T]):
    items: list[T]
    next_href: str | None
    total: int | None
    total_pages: int | None


def _parse_page(r: JsonReader, body: Any, item: _Item[T]) -> _Page[T]:
    top = r.obj(body, "$")  # the body's field path has always been "$" for this client
    rows = r.objects(r.child(top, "_embedded", ""), item.key, "_embedded")
    next_href = _next_href(r, top)
    return _Page(
        items=[item.parse(r, row, path) for path, row in rows],
        next_href=next_href,
        total=r.count_or_none(top, "total", ""),
        total_pages=r.count_or_none(top, "total_pages", ""),
    )


def _next_href(r: JsonReader, top: Mapping[str, Any]) -> str | None:
    """`_links.next.href`, or None on the last page (HAL leaves the `next` link out)."""
    links = top.get("_links")
    link = links.get("next") if isinstance(links, Mapping) else None
    if link is None:
        return None
    href = link.get("href") if isinstance(link, Mapping) else None
    if not isinstance(href, str) or not href:
        raise r.fail("_links.next.href", "is missing or not a string")
    return href


def _page_urls(next_href: str, total_pages: int | None) -> list[str] | None:
    """URLs of pages 2..total_pages from page 1's next link, or None to follow links instead.

    Only when the link carries `page=2` do we know how the upstream numbers its pages.
    """
    if total_pages is None or total_pages < 2:
        return None
    url = httpx.URL(next_href)
    if url.params.get_list("page") != ["2"]:
        return None
    return [str(url.copy_set_param("page", str(n))) for n in range(2, total_pages + 1)]


def _matching(
    r: JsonReader, item: Mapping[str, Any], key: str, path: str, form: re.Pattern[str], name: str
) -> str:
    """A required string field in the given form (`name` says which, for the error)."""
    value = r.text(item, key, path)
    if not form.fullmatch(value):
        raise r.fail(join_path(path, key), f"is not {name}")
    return value


def _parse_usage_row(r: JsonReader, item: Mapping[str, Any], path: str) -> TalkdeskUsageRow:
    month = _matching(r, item, "month", path, _MONTH, "YYYY-MM")
    currency = _matching(r, item, "currency", path, _CURRENCY, "an ISO-4217 code")
    return TalkdeskUsageRow(
        id=r.text(item, "id", path),
        account_id=r.text(item, "account_id", path),
        product_id=r.text(item, "product_id", path),
        aggr_product_id=r.text(item, "aggr_product_id", path),
        month=month,
        type=r.text(item, "type", path),
        description=r.text(item, "description", path),
        currency=currency,
        direction=r.text_or_none(item, "direction", path),
        resolution=r.text_or_none(item, "resolution", path),
        unit=r.text(item, "unit", path),
        price=r.number(item, "price", path),
        wallet_name=r.text(item, "wallet_name", path),
        number_of_units=r.number(item, "number_of_units", path),
        total_amount=r.number(item, "total_amount", path),
    )


def _parse_account(r: JsonReader, item: Mapping[str, Any], path: str) -> TalkdeskAccountInfo:
    return TalkdeskAccountInfo(
        id=r.text(item, "id", path),
        name=r.text(item, "name", path),
        company_name=r.text_or_none(item, "company_name", path),
        status=r.text_or_none(item, "status", path),
    )


_USAGE = _Item("usage", _parse_usage_row)
_ACCOUNTS = _Item("accounts", _parse_account)


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

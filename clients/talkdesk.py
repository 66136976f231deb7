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
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Generic, TypeVar

import httpx

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
                    raise self._contract(endpoint)("_links.next.href", "repeats a page")
                seen.add(next_href)
        items = [decoded for page in pages for decoded in page.items]
        if first.total is not None and len(items) != first.total:
            raise self._contract(endpoint)(
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
        return _parse_page(body, item, self._contract(endpoint, number))

    def _contract(self, endpoint: str, page: int | None = None) -> _Contract:
        return _Contract(self.source, endpoint, page)


# ---------------------------------------------------------------------------------------------
# decoding


@dataclass(frozen=True)
class _Contract:
    """Builds UpstreamContractErrors for one endpoint."""

    source: str
    endpoint: str
    page: int | None = None

    def __call__(self, path: str, problem: str) -> UpstreamContractError:
        where = f" on page {self.page}" if self.page is not None else ""
        return UpstreamContractError(
            f"answered a body whose {path} {problem}{where}",
            source=self.source,
            endpoint=self.endpoint,
            field=path,
        )


@dataclass(frozen=True)
class _Item(Generic[T]):
    """How to decode one kind of listed item: its `_embedded` key and its parser."""

    key: str
    parse: Callable[[Any, str, _Contract], T]


@dataclass(frozen=True)
class _Page(Generic[T]):
    items: list[T]
    next_href: str | None
    total: int | None
    total_pages: int | None


def _parse_page(body: Any, item: _Item[T], contract: _Contract) -> _Page[T]:
    key = item.key
    if not isinstance(body, dict):
        raise contract("$", "is not an object")
    embedded = body.get("_embedded")
    if not isinstance(embedded, dict):
        raise contract("_embedded", "is missing or not an object")
    items = embedded.get(key)
    if not isinstance(items, list):
        raise contract(f"_embedded.{key}", "is missing or not a list")
    links = body.get("_links")
    next_href: str | None = None
    if isinstance(links, dict) and links.get("next") is not None:
        nxt = links["next"]
        href = nxt.get("href") if isinstance(nxt, dict) else None
        if not isinstance(href, str) or not href:
            raise contract("_links.next.href", "is missing or not a string")
        next_href = href
    return _Page(
        items=[item.parse(raw, f"_embedded.{key}[{i}]", contract) for i, raw in enumerate(items)],
        next_href=next_href,
        total=_optional_count(body, "total", contract),
        total_pages=_optional_count(body, "total_pages", contract),
    )


def _optional_count(body: dict[str, Any], name: str, contract: _Contract) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise contract(name, "is not a non-negative integer")
    return value


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


def _field(item: dict[str, Any], name: str, path: str, contract: _Contract) -> Any:
    if name not in item:
        raise contract(f"{path}.{name}", "is missing")
    return item[name]


def _str(item: dict[str, Any], name: str, path: str, contract: _Contract) -> str:
    value = _field(item, name, path, contract)
    if not isinstance(value, str):
        raise contract(f"{path}.{name}", "is not a string")
    return value


def _optional_str(item: dict[str, Any], name: str, path: str, contract: _Contract) -> str | None:
    value = item.get(name)
    if value is not None and not isinstance(value, str):
        raise contract(f"{path}.{name}", "is not a string or null")
    return value


def _decimal(item: dict[str, Any], name: str, path: str, contract: _Contract) -> Decimal:
    value = _field(item, name, path, contract)
    # bool is an int subclass; floats only appear for NaN/Infinity once parse_float=Decimal
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise contract(f"{path}.{name}", "is not a number")
    number = Decimal(value)
    if not number.is_finite():
        raise contract(f"{path}.{name}", "is not a finite number")
    return number


def _parse_usage_row(item: Any, path: str, contract: _Contract) -> TalkdeskUsageRow:
    if not isinstance(item, dict):
        raise contract(path, "is not an object")
    month = _str(item, "month", path, contract)
    if not _MONTH.fullmatch(month):
        raise contract(f"{path}.month", "is not YYYY-MM")
    currency = _str(item, "currency", path, contract)
    if not _CURRENCY.fullmatch(currency):
        raise contract(f"{path}.currency", "is not an ISO-4217 code")
    return TalkdeskUsageRow(
        id=_str(item, "id", path, contract),
        account_id=_str(item, "account_id", path, contract),
        product_id=_str(item, "product_id", path, contract),
        aggr_product_id=_str(item, "aggr_product_id", path, contract),
        month=month,
        type=_str(item, "type", path, contract),
        description=_str(item, "description", path, contract),
        currency=currency,
        direction=_optional_str(item, "direction", path, contract),
        resolution=_optional_str(item, "resolution", path, contract),
        unit=_str(item, "unit", path, contract),
        price=_decimal(item, "price", path, contract),
        wallet_name=_str(item, "wallet_name", path, contract),
        number_of_units=_decimal(item, "number_of_units", path, contract),
        total_amount=_decimal(item, "total_amount", path, contract),
    )


def _parse_account(item: Any, path: str, contract: _Contract) -> TalkdeskAccountInfo:
    if not isinstance(item, dict):
        raise contract(path, "is not an object")
    return TalkdeskAccountInfo(
        id=_str(item, "id", path, contract),
        name=_str(item, "name", path, contract),
        company_name=_optional_str(item, "company_name", path, contract),
        status=_optional_str(item, "status", path, contract),
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

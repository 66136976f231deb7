"""Talkdesk's HAL pages as msgspec shapes, for the fast path of clients/bodies.py.

Field names are the vendor's (`_embedded`, `_links` and the seed's "account ID" through
`field(name=...)`). Only the arrays of items and an account's id are typed; every other field is
`Any`, left UNSET when absent, and judged by clients/talkdesk.py's fast functions exactly as
`JsonReader` would. Shapes hold decoded JSON only, which cannot form a reference cycle: the
garbage collector need not track them (`gc=False`).
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET, Struct, UnsetType, field

__all__ = ["AccountsPage", "UsagePage"]


class UsageRow(Struct, gc=False):
    """One `_embedded.usage[]` item of `/express/usage/month`."""

    account_id: Any = UNSET
    account_id_alias: Any = field(name="account ID", default=UNSET)  # seed 004's schema
    id: Any = UNSET
    product_id: Any = UNSET
    aggr_product_id: Any = UNSET
    month: Any = UNSET
    type: Any = UNSET
    description: Any = UNSET
    currency: Any = UNSET
    direction: Any = UNSET
    resolution: Any = UNSET
    unit: Any = UNSET
    price: Any = UNSET
    wallet_name: Any = UNSET
    number_of_units: Any = UNSET
    total_amount: Any = UNSET


class Account(Struct, gc=False):
    """One `_embedded.accounts[]` item of `/express/accounts`."""

    id: str
    name: Any = UNSET
    company_name: Any = UNSET
    status: Any = UNSET


class _Page(Struct, gc=False):
    """What every page says of itself besides its items."""

    links: Any = field(name="_links", default=UNSET)
    next: Any = UNSET  # the links may sit at the top level instead
    count: Any = UNSET
    total: Any = UNSET
    total_pages: Any = UNSET


class UsageItems(Struct, gc=False):
    items: list[UsageRow] | UnsetType | None = field(name="usage", default=UNSET)


class UsagePage(_Page, gc=False):
    """`GET /express/usage/month`: one page."""

    embedded: UsageItems | UnsetType | None = field(name="_embedded", default=UNSET)


class AccountItems(Struct, gc=False):
    items: list[Account] | UnsetType | None = field(name="accounts", default=UNSET)


class AccountsPage(_Page, gc=False):
    """`GET /express/accounts`: one page."""

    embedded: AccountItems | UnsetType | None = field(name="_embedded", default=UNSET)

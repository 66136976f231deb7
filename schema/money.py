"""Money: an exact Decimal amount with its ISO-4217 currency."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from usagegraph.resolvers.metrics import Charge

__all__ = ["Money", "money_list"]


@strawberry.type(
    description="An exact amount in one currency. Amounts are never summed across currencies."
)
class Money:
    amount: Decimal = strawberry.field(
        description='Exact decimal amount, serialized as a string (e.g. "445.67").'
    )
    currency: str = strawberry.field(description="ISO-4217 currency code, e.g. USD or EUR.")

    @classmethod
    def of(cls, amount: Decimal, currency: str) -> Money:
        return cls(amount=amount, currency=currency)


def money_list(values: tuple[Charge, ...] | None) -> list[Money] | None:
    if values is None:
        return None
    return [Money(amount=m.amount, currency=m.currency) for m in values]

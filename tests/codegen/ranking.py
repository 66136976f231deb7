"""The truth both typed clients' TopOrganizationsByCost pages are checked against."""

from __future__ import annotations

from decimal import Decimal

from tests.fixtures.truth import (
    Expected,
    customer_parts,
    expected_customer,
    last_full_month,
    organization_id_of,
)
from usagegraph.sandbox.dataset import Dataset

__all__ = ["by_cost"]


def by_cost(ds: Dataset) -> list[tuple[str, Expected]]:
    """Every organization with its figures over the last full month, by USD charges largest
    first, ties by id ascending (the example's order)."""
    first, last = last_full_month(ds)
    figures = {
        organization_id_of(ds, c): expected_customer(ds, c, first, last)
        for c in ds.customer_names
        if customer_parts(ds, c)
    }
    by_id = sorted(figures.items())
    return sorted(by_id, key=lambda item: item[1].costs.get("USD", Decimal(0)), reverse=True)

"""Installs the operation's upstream-call budget (see `clients.protection.CallBudget`).

A context variable set here is inherited by every task the operation starts (loader batches
included), so the transport can count calls without any resolver passing the budget along.
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from clients.protection import current_budget

__all__ = ["UpstreamBudget"]


class UpstreamBudget(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        budget = getattr(self.execution_context.context, "budget", None)
        token = current_budget.set(budget)
        try:
            yield
        finally:
            current_budget.reset(token)

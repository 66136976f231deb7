"""Installs the operation's upstream limits: its call budget (`clients.protection.CallBudget`),
who pays for its calls (`clients.fairness.current_caller`: each source's fair share and the
quota per minute) and its deadline (`clients.deadline`).

Context variables set here are inherited by every task the operation starts (loader batches
included), so the transport can count calls without any resolver passing them along.
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from usagegraph.clients.deadline import deadline_scope
from usagegraph.clients.fairness import current_caller
from usagegraph.clients.protection import current_budget

__all__ = ["UpstreamBudget"]


class UpstreamBudget(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        budget_token = current_budget.set(getattr(context, "budget", None))
        caller_token = current_caller.set(getattr(context, "caller", None))
        try:
            with deadline_scope(getattr(context, "deadline_seconds", None)):
                yield
        finally:
            current_caller.reset(caller_token)
            current_budget.reset(budget_token)

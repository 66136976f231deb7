"""What stands between a logical call and the vendor: budget, quota, breaker, rate and slots.

Before a call: the operation's call budget (`clients.protection.CallBudget`), the caller's
quota (`clients.fairness.CallerQuota`) and the source's circuit breaker may refuse it, with an
error saying it was not called. Before each HTTP attempt: a rate token and a concurrency slot,
handed round-robin across the waiting callers (`clients.fairness.FairGate`). After the call:
the breaker learns whether the vendor failed.
"""

from __future__ import annotations

import asyncio
import math

from usagegraph.clients.errors import (
    UpstreamBudgetExceededError,
    UpstreamCircuitOpenError,
    UpstreamQuotaExceededError,
    UpstreamRateLimitedError,
    UpstreamUnavailableError,
)
from usagegraph.clients.fairness import FairGate, caller_lanes, current_caller
from usagegraph.clients.policy import TransportPolicy
from usagegraph.clients.protection import current_budget

__all__ = ["SourceGuard"]


class SourceGuard:
    """One source's limits, shared by every call its transport makes."""

    def __init__(self, source: str, policy: TransportPolicy) -> None:
        self.source = source
        self._policy = policy
        # slots and rate tokens, handed round-robin across the callers waiting for them
        self._gate = FairGate(limiter=policy.rate_limiter, max_concurrency=policy.max_concurrency)

    async def admit(self, endpoint: str) -> None:
        """Count one logical call against the budget and the caller's quota, and ask the
        breaker; raise the refusing limit's error (nothing counted) if one says no."""
        budget = current_budget.get()
        if budget is not None and not budget.spend(self.source):
            raise UpstreamBudgetExceededError(
                f"was not called: this operation already made {budget.limit} calls to it",
                source=self.source,
                endpoint=endpoint,
            )
        quota = self._policy.quota
        caller = current_caller.get()
        if quota is not None and caller is not None:
            wait = await quota.reserve(caller)
            if wait > 0:
                if budget is not None:
                    budget.refund(self.source)
                raise UpstreamQuotaExceededError(
                    f"was not called: this caller already made its {quota.per_minute} "
                    f"calls a minute to it (the next in {math.ceil(wait)} s)",
                    source=self.source,
                    endpoint=endpoint,
                    retry_after=math.ceil(wait),
                )
        breaker = self._policy.breaker
        if breaker is not None and not await breaker.admit():
            if quota is not None and caller is not None:
                await quota.release(caller)  # not called: not counted
            raise UpstreamCircuitOpenError(
                f"was not called: it failed {breaker.failures} times in a row, calls resume "
                f"in {breaker.retry_in():.0f} s",
                source=self.source,
                endpoint=endpoint,
            )

    def settle(self, error: BaseException | None, *, sent: bool, gave_up: bool) -> None:
        """Tell the breaker how an admitted call ended (`error` None: it succeeded)."""
        breaker = self._policy.breaker
        if breaker is None:
            return
        if error is None:
            breaker.record_success()
        elif isinstance(error, UpstreamUnavailableError) and sent and not gave_up:
            breaker.record_failure()
        else:
            # a call that timed out queued behind our own rate limit or concurrency cap, that
            # its request stopped waiting for, or that got any other answer says nothing
            # about the vendor's health
            breaker.release_probe()

    async def enter(self, endpoint: str, deadline_at: float) -> None:
        """A rate token and a concurrency slot, held on return until `leave`."""
        limiter = self._policy.rate_limiter
        interest, lanes = caller_lanes()
        if limiter is not None:
            # the calls queued ahead in this caller's own lane each need a token first: when
            # even the bucket's burst and the rate until the deadline cannot cover them, fail now
            left = deadline_at - asyncio.get_running_loop().time()
            if self._gate.backlog(lanes) + 1 - limiter.burst > left * limiter.rate:
                raise UpstreamRateLimitedError(
                    f"was not called: our own limit of {limiter.rate:g} requests/s to it is "
                    "booked beyond this call's deadline",
                    source=self.source,
                    endpoint=endpoint,
                    status=None,
                )
        await self._gate.enter(lanes, interest)

    def leave(self) -> None:
        """Give back the slot `enter` took."""
        self._gate.leave()

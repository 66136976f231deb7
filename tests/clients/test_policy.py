"""A source's transport settings (`TransportPolicy`) and one call's deadline (`CallDeadline`)."""

from __future__ import annotations

import asyncio

import pytest

from usagegraph.clients.deadline import CallDeadline, deadline_scope
from usagegraph.clients.http_client import Timeouts
from usagegraph.clients.policy import TransportPolicy
from usagegraph.clients.retries import RetryPolicy


def test_a_policy_without_a_concurrency_slot_is_refused() -> None:
    with pytest.raises(ValueError, match="max_concurrency must be at least 1"):
        TransportPolicy(max_concurrency=0)


def test_a_retry_policy_without_an_attempt_is_refused() -> None:
    with pytest.raises(ValueError, match="max_attempts must be at least 1"):
        RetryPolicy(max_attempts=0)


def test_the_default_policy_sends_eight_at_once_and_tries_four_times_in_30_s() -> None:
    policy = TransportPolicy()
    assert (policy.max_concurrency, policy.retry.max_attempts) == (8, 4)
    assert policy.timeouts == Timeouts(connect=3.0, read=15.0, total=30.0)
    assert (policy.rate_limiter, policy.breaker, policy.quota) == (None, None, None)


def test_the_backoff_cap_doubles_up_to_its_maximum() -> None:
    retry = RetryPolicy(backoff_base=0.2, backoff_max=1.0)
    assert [retry.backoff_cap(n) for n in (1, 2, 3, 4)] == [0.2, 0.4, 0.8, 1.0]
    assert retry.backoff(2, lambda: 0.5) == 0.2


async def test_a_call_gets_its_sources_total_without_a_request_deadline() -> None:
    now = asyncio.get_running_loop().time()
    deadline = CallDeadline.start(30.0)
    assert deadline.cut_by is None
    assert deadline.at == pytest.approx(now + 30.0, abs=0.05)
    assert deadline.describe() == "30 s"


async def test_a_shorter_request_deadline_cuts_the_call_short() -> None:
    with deadline_scope(1.5) as request:
        deadline = CallDeadline.start(30.0)
    assert request is not None
    assert deadline.cut_by == request
    assert deadline.at == request.at
    assert deadline.describe() == "the request's deadline of 1.5 s"


async def test_a_longer_request_deadline_leaves_the_sources_total() -> None:
    with deadline_scope(60.0):
        deadline = CallDeadline.start(2.0)
    assert deadline.cut_by is None
    assert deadline.describe() == "2 s"

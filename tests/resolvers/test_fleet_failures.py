"""The failure a fleet holder leaves for its waiters (resolvers/cache/failures.py): raised again
as the same error, never for the holder's own budget, and hostile bytes are no failure at all."""

from __future__ import annotations

import pytest

from usagegraph.clients.errors import (
    UpstreamBudgetExceededError,
    UpstreamContractError,
    UpstreamError,
    UpstreamQuotaExceededError,
    UpstreamRateLimitedError,
    UpstreamTimeoutError,
    UpstreamUnauthorizedError,
)
from usagegraph.resolvers.cache.failures import decode_failure, encode_failure

WHERE = {"source": "teli-northwind", "endpoint": "GET /v1/analytics/usage"}


@pytest.mark.parametrize(
    "error",
    [
        UpstreamTimeoutError("did not answer within 5 s", attempts=3, **WHERE),
        UpstreamRateLimitedError("answered 429", retry_after=2.5, attempts=2, **WHERE),
        UpstreamUnauthorizedError("answered 401", status=401, **WHERE),
        UpstreamContractError("field is not a number", status=200, field="usage.sms", **WHERE),
    ],
)
def test_a_shared_failure_is_raised_again_as_the_same_error(error: UpstreamError) -> None:
    marker = encode_failure("token-1", error)
    assert marker is not None
    decoded = decode_failure(marker)

    assert decoded is not None
    token, again = decoded
    assert token == "token-1"
    assert type(again) is type(error)
    assert (str(again), again.status, again.attempts) == (str(error), error.status, error.attempts)
    assert again.extensions() == error.extensions()


def test_the_holders_own_budget_or_quota_is_not_shared() -> None:
    assert encode_failure("t", UpstreamBudgetExceededError("3 calls used", **WHERE)) is None
    quota = UpstreamQuotaExceededError("60 calls a minute used", retry_after=9, **WHERE)
    assert encode_failure("t", quota) is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xff\xfe",
        b"[]",
        b'{"token": "t"}',
        b'{"token":"t","kind":"UpstreamBudgetExceededError","message":"m","source":"s",'
        b'"endpoint":"e","status":null,"attempts":1}',
        b'{"token":"t","kind":"Exception","message":"m","source":"s","endpoint":"e",'
        b'"status":null,"attempts":1}',
        b'{"token":"t","kind":"UpstreamTimeoutError","message":{"x":1},"source":"s",'
        b'"endpoint":"e","status":null,"attempts":1}',
        b'{"token":"t","kind":"UpstreamTimeoutError","message":"m","source":"s",'
        b'"endpoint":"e","status":"503","attempts":1}',
        b'{"token":"t","kind":"UpstreamRateLimitedError","message":"m","source":"s",'
        b'"endpoint":"e","status":429,"attempts":1,"retry_after":"soon"}',
        b"{" * 5000,
        b"[" * 100_000,
    ],
)
def test_bytes_that_are_no_marker_of_ours_share_no_failure(raw: bytes) -> None:
    assert decode_failure(raw) is None

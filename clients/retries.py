"""What a failed attempt means: whether to send it again, after how long, and as which error.

Connect errors, timeouts, 429 and 502/503/504 are retried with exponential backoff and full
jitter (or exactly the Retry-After the source asked for), up to `RetryPolicy.max_attempts`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from usagegraph.clients.errors import UpstreamError, UpstreamTimeoutError, UpstreamUnavailableError

__all__ = [
    "MAX_RETRIES",
    "RETRYABLE_EXCEPTIONS",
    "RETRYABLE_STATUS_CODES",
    "RetryPolicy",
    "failure_error",
]

MAX_RETRIES = 3  # retries after the first attempt
RETRYABLE_STATUS_CODES = frozenset({429, 502, 503, 504})
# Failures where the request never produced an answer, so sending it again is safe and useful.
RETRYABLE_EXCEPTIONS: tuple[type[httpx.TransportError], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a logical call is retried."""

    max_attempts: int = MAX_RETRIES + 1
    backoff_base: float = 0.2  # the first retry waits up to this long
    backoff_max: float = 5.0  # no single backoff wait is longer

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def backoff_cap(self, attempt: int) -> float:
        """The longest wait after failed attempt number `attempt` (1-based)."""
        return min(self.backoff_max, self.backoff_base * 2.0 ** (attempt - 1))

    def backoff(self, attempt: int, random: Callable[[], float]) -> float:
        """Full jitter: uniform in [0, cap), so synchronized clients spread out."""
        return self.backoff_cap(attempt) * random()


def failure_error(
    exc: httpx.TransportError, *, source: str, endpoint: str, attempts: int
) -> UpstreamError:
    """The error a request that got no answer raises: timed out, or could not be reached."""
    # The exception type says enough; its text may quote URLs or socket details.
    after = f" after {attempts} attempts" if attempts > 1 else ""
    kind = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeoutError(
            f"timed out ({kind}){after}", source=source, endpoint=endpoint, attempts=attempts
        )
    return UpstreamUnavailableError(
        f"could not be reached ({kind}){after}", source=source, endpoint=endpoint, attempts=attempts
    )

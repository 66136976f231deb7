"""How one source is called: its deadlines, retries and the limits that protect it."""

from __future__ import annotations

from dataclasses import dataclass, field

from usagegraph.clients.fairness import CallerQuota
from usagegraph.clients.http_client import Timeouts
from usagegraph.clients.protection import CircuitBreaker, TokenBucket
from usagegraph.clients.retries import RetryPolicy

__all__ = ["TransportPolicy"]


@dataclass(frozen=True)
class TransportPolicy:
    """Everything a `SourceTransport` is configured with, built once per source.

    The rate limiter, breaker and quota keep the source's running state (tokens, failures,
    each caller's calls): one policy serves one source, never two.
    """

    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_concurrency: int = 8  # requests in flight at once (token calls included)
    rate_limiter: TokenBucket | None = None
    breaker: CircuitBreaker | None = None
    quota: CallerQuota | None = None  # each caller's calls a minute

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")

"""How one source is called: its deadlines, retries and the limits that protect it."""

from __future__ import annotations

from dataclasses import dataclass, field

from usagegraph.clients.fairness import Quota
from usagegraph.clients.http_client import Timeouts
from usagegraph.clients.protection import Circuit, RateLimit
from usagegraph.clients.retries import RetryPolicy

__all__ = ["TransportPolicy"]


@dataclass(frozen=True)
class TransportPolicy:
    """Everything a `SourceTransport` is configured with, built once per source.

    The rate limiter, breaker and quota keep the source's running state (tokens, failures,
    each caller's calls): one policy serves one source, never two. They are this process's own
    (`TokenBucket`, `CircuitBreaker`, `CallerQuota`) or the fleet's, shared through Redis (built
    by the server layer, usagegraph/source_clients.py): the transport cannot tell them apart.
    """

    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_concurrency: int = 8  # requests in flight at once (token calls included)
    rate_limiter: RateLimit | None = None
    breaker: Circuit | None = None
    quota: Quota | None = None  # each caller's calls a minute

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")

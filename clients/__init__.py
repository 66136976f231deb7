"""httpx clients for the upstream vendors, plus the shared transport and error types they use."""

from __future__ import annotations

from usagegraph.clients.errors import (
    UpstreamBadRequestError,
    UpstreamContractError,
    UpstreamError,
    UpstreamForbiddenError,
    UpstreamNotFoundError,
    UpstreamRateLimitedError,
    UpstreamTimeoutError,
    UpstreamUnauthorizedError,
    UpstreamUnavailableError,
    error_from_response,
)
from usagegraph.clients.transport import (
    ApiKeyAuth,
    Auth,
    CallRecord,
    OAuthClientCredentials,
    RetryPolicy,
    SourceTransport,
    Timeouts,
    build_http_client,
    join_url,
)

__all__ = [
    "ApiKeyAuth",
    "Auth",
    "CallRecord",
    "OAuthClientCredentials",
    "RetryPolicy",
    "SourceTransport",
    "Timeouts",
    "UpstreamBadRequestError",
    "UpstreamContractError",
    "UpstreamError",
    "UpstreamForbiddenError",
    "UpstreamNotFoundError",
    "UpstreamRateLimitedError",
    "UpstreamTimeoutError",
    "UpstreamUnauthorizedError",
    "UpstreamUnavailableError",
    "build_http_client",
    "error_from_response",
    "join_url",
]

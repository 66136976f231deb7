"""httpx clients for the upstream vendors, plus the shared transport and error types they use."""

from __future__ import annotations

from usagegraph.clients.auth import ApiKeyAuth, Auth, OAuthClientCredentials
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
from usagegraph.clients.http_client import Timeouts, build_http_client
from usagegraph.clients.policy import TransportPolicy
from usagegraph.clients.retries import RetryPolicy
from usagegraph.clients.transport import CallRecord, SourceTransport
from usagegraph.clients.urls import join_url

__all__ = [
    "ApiKeyAuth",
    "Auth",
    "CallRecord",
    "OAuthClientCredentials",
    "RetryPolicy",
    "SourceTransport",
    "Timeouts",
    "TransportPolicy",
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

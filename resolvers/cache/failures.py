"""An upstream failure as bytes another replica can raise again (the fleet's failure marker).

When the replica fetching a key for the fleet fails, the replicas that waited on it raise the same
error (same class, code, message, status, attempts, Retry-After, field) instead of each calling the
vendor again, and then serve stale or fail exactly as the holder did.

Only failures of the source or of the connection's credentials are shared: a spent call budget or
quota is the holder's own caller's limit (`UpstreamBudgetExceededError`), never anyone else's,
so it is not encoded (the waiters then make their own call, as the in-process flight does).
The bytes come from a store other processes write: anything that is not a well-formed marker
decodes as None (no shared failure), never as an exception.
"""

from __future__ import annotations

import json
from typing import Any

from usagegraph.clients.errors import (
    UpstreamBadRequestError,
    UpstreamCircuitOpenError,
    UpstreamContractError,
    UpstreamError,
    UpstreamForbiddenError,
    UpstreamNotFoundError,
    UpstreamRateLimitedError,
    UpstreamTimeoutError,
    UpstreamUnauthorizedError,
    UpstreamUnavailableError,
)

__all__ = ["decode_failure", "encode_failure"]

_SHARED: dict[str, type[UpstreamError]] = {
    cls.__name__: cls
    for cls in (
        UpstreamUnavailableError,
        UpstreamTimeoutError,
        UpstreamCircuitOpenError,
        UpstreamRateLimitedError,
        UpstreamUnauthorizedError,
        UpstreamForbiddenError,
        UpstreamBadRequestError,
        UpstreamNotFoundError,
        UpstreamContractError,
    )
}


def encode_failure(token: str, error: UpstreamError) -> bytes | None:
    """The marker of `error`, left by the lease `token`; None when it is not shared."""
    kind = type(error).__name__
    if _SHARED.get(kind) is not type(error):
        return None
    fields: dict[str, Any] = {
        "token": token,
        "kind": kind,
        "message": error.message,
        "source": error.source,
        "endpoint": error.endpoint,
        "status": error.status,
        "attempts": error.attempts,
    }
    if isinstance(error, UpstreamRateLimitedError):
        fields["retry_after"] = error.retry_after
    if isinstance(error, UpstreamContractError):
        fields["field"] = error.field
    return json.dumps(fields, separators=(",", ":")).encode()


def decode_failure(raw: bytes) -> tuple[str, UpstreamError] | None:
    """The lease token and the error of a marker, or None for anything else."""
    try:
        fields = json.loads(raw)
        cls = _SHARED[fields["kind"]]
        token, message = fields["token"], fields["message"]
        source, endpoint = fields["source"], fields["endpoint"]
        status, attempts = fields["status"], fields["attempts"]
    except (ValueError, TypeError, KeyError, RecursionError):  # RecursionError: deep nesting
        return None
    if not all(isinstance(v, str) for v in (token, message, source, endpoint)):
        return None
    if not (status is None or type(status) is int) or type(attempts) is not int:
        return None
    common: dict[str, Any] = {"source": source, "endpoint": endpoint, "attempts": attempts}
    if issubclass(cls, UpstreamRateLimitedError):
        retry_after = fields.get("retry_after")
        if not (retry_after is None or type(retry_after) in (int, float)):
            return None
        return token, cls(message, status=status, retry_after=retry_after, **common)
    if issubclass(cls, UpstreamContractError):
        field = fields.get("field")
        if not (field is None or isinstance(field, str)):
            return None
        return token, cls(message, status=status, field=field, **common)
    return token, cls(message, status=status, **common)

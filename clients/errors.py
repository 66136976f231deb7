"""Errors raised when an upstream vendor API fails, one class per thing a caller can do about it.

    UpstreamError                     base: source, endpoint, status, attempts, code, retryable
    ├── UpstreamUnavailableError      connect errors, 5xx          UPSTREAM_UNAVAILABLE (retryable)
    │   ├── UpstreamTimeoutError      no answer within deadline    UPSTREAM_TIMEOUT (retryable)
    │   └── UpstreamCircuitOpenError  failing: calls paused        UPSTREAM_UNAVAILABLE (fail fast)
    ├── UpstreamRateLimitedError      429, with retry_after        UPSTREAM_RATE_LIMITED (retryable)
    ├── UpstreamUnauthorizedError     401 after one token refresh  UPSTREAM_UNAUTHORIZED
    ├── UpstreamForbiddenError        403                          UPSTREAM_FORBIDDEN
    ├── UpstreamBadRequestError       400 and other 4xx            UPSTREAM_BAD_REQUEST
    │   └── UpstreamNotFoundError     404                          UPSTREAM_NOT_FOUND
    ├── UpstreamContractError         bad JSON, bad/missing field  UPSTREAM_CONTRACT (+ field)
    └── UpstreamBudgetExceededError   operation's call budget used UPSTREAM_BUDGET_EXCEEDED
        └── UpstreamQuotaExceededError caller's calls/minute used UPSTREAM_QUOTA_EXCEEDED

`str(error)` is one line: "<source>: <endpoint> <message>", e.g.
"teli: GET /v1/analytics/organizations answered 503 (Service Unavailable)". The message completes
that sentence. Messages never carry credentials, URLs with query strings or raw response bodies:
at most a short, cleaned vendor message (`vendor_message`) with every known secret redacted.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Iterable
from typing import Any, ClassVar

import httpx

__all__ = [
    "UpstreamBadRequestError",
    "UpstreamBudgetExceededError",
    "UpstreamCircuitOpenError",
    "UpstreamContractError",
    "UpstreamError",
    "UpstreamForbiddenError",
    "UpstreamNotFoundError",
    "UpstreamQuotaExceededError",
    "UpstreamRateLimitedError",
    "UpstreamTimeoutError",
    "UpstreamUnauthorizedError",
    "UpstreamUnavailableError",
    "error_from_response",
    "parse_retry_after",
    "redact",
    "vendor_message",
]

# Vendor messages are a hint for humans, not a payload: keep them short.
VENDOR_MESSAGE_MAX_CHARS = 200
_REDACTED = "[redacted]"
# Credentials a vendor might echo back even when we never told it which secret we hold.
_CREDENTIAL_PATTERNS = (
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){0,2}"),  # JWTs
)
_WHITESPACE = re.compile(r"\s+")


class UpstreamError(Exception):
    """Base of every upstream failure; carries the source, endpoint label and HTTP status."""

    code: ClassVar[str] = "UPSTREAM_ERROR"
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        source: str,
        endpoint: str,
        status: int | None = None,
        attempts: int = 1,
    ) -> None:
        self.message = _one_line(message) or "failed"
        self.source = source
        self.endpoint = endpoint  # a label like "GET /v1/billing-report", never a full URL
        self.status = status
        self.attempts = attempts
        super().__init__(f"{source}: {endpoint} {self.message}")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(source={self.source!r}, endpoint={self.endpoint!r}, "
            f"status={self.status!r}, attempts={self.attempts!r}, message={self.message!r})"
        )

    def extensions(self) -> dict[str, Any]:
        """What a GraphQL error's `extensions` can show about this failure."""
        extensions: dict[str, Any] = {
            "code": self.code,
            "source": self.source,
            "endpoint": self.endpoint,
            "retryable": self.retryable,
        }
        extensions.update((k, v) for k, v in self._details().items() if v is not None)
        return extensions

    def _details(self) -> dict[str, Any]:
        """What `extensions()` adds under these keys when it is known (not None)."""
        return {"status": self.status}


class UpstreamUnavailableError(UpstreamError):
    """The source could not be reached or answered a 5xx."""

    code = "UPSTREAM_UNAVAILABLE"
    retryable = True


class UpstreamTimeoutError(UpstreamUnavailableError):
    """The source did not answer within the configured timeouts."""

    code = "UPSTREAM_TIMEOUT"


class UpstreamCircuitOpenError(UpstreamUnavailableError):
    """The source failed repeatedly; calls fail fast until its cool-down ends."""

    retryable = False


class UpstreamBudgetExceededError(UpstreamError):
    """This GraphQL operation already made as many calls to the source as it may."""

    code = "UPSTREAM_BUDGET_EXCEEDED"


class UpstreamQuotaExceededError(UpstreamBudgetExceededError):
    """The caller (API key or client address) already made its calls per minute to the source;
    `retry_after` says when the next one is allowed. Like a spent operation budget, it is the
    caller's own limit: never served stale, and a request sharing the call makes its own."""

    code = "UPSTREAM_QUOTA_EXCEEDED"

    def __init__(
        self, message: str, *, source: str, endpoint: str, retry_after: float | None = None
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, source=source, endpoint=endpoint)

    def _details(self) -> dict[str, Any]:
        return {**super()._details(), "retryAfter": self.retry_after}


class UpstreamRateLimitedError(UpstreamError):
    """The source answered 429; `retry_after` is its Retry-After in seconds, if it sent one."""

    code = "UPSTREAM_RATE_LIMITED"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        source: str,
        endpoint: str,
        status: int | None = 429,
        attempts: int = 1,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(
            message, source=source, endpoint=endpoint, status=status, attempts=attempts
        )

    def _details(self) -> dict[str, Any]:
        return {**super()._details(), "retryAfter": self.retry_after}


class UpstreamUnauthorizedError(UpstreamError):
    """The source rejected our credentials (401 even after one token refresh)."""

    code = "UPSTREAM_UNAUTHORIZED"


class UpstreamForbiddenError(UpstreamError):
    """The source refused access to what we asked for (403)."""

    code = "UPSTREAM_FORBIDDEN"


class UpstreamBadRequestError(UpstreamError):
    """The source rejected the request itself (400 and any other 4xx)."""

    code = "UPSTREAM_BAD_REQUEST"


class UpstreamNotFoundError(UpstreamBadRequestError):
    """The source has no such resource (404)."""

    code = "UPSTREAM_NOT_FOUND"


class UpstreamContractError(UpstreamError):
    """The source answered something that breaks its contract (not JSON, missing/mistyped field)."""

    code = "UPSTREAM_CONTRACT"

    def __init__(
        self,
        message: str,
        *,
        source: str,
        endpoint: str,
        status: int | None = None,
        attempts: int = 1,
        field: str | None = None,
    ) -> None:
        self.field = field  # a JSON path like "data[3].agents[0].voice_minutes"
        super().__init__(
            message, source=source, endpoint=endpoint, status=status, attempts=attempts
        )

    def _details(self) -> dict[str, Any]:
        return {**super()._details(), "field": self.field}


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), else None.

    A date in the past means "now" (0.0); anything unparseable is ignored (None).
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # "nan"/"inf" parse as floats but are no instruction we can follow.
        return max(0.0, seconds) if seconds == seconds and seconds != float("inf") else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive parse means the zone was "-0000"
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every known secret and anything that looks like a credential blanked out."""
    # Longest first, so a secret that contains another one is blanked whole.
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, _REDACTED)
    for pattern in _CREDENTIAL_PATTERNS:
        text = pattern.sub(_REDACTED, text)
    return text


def vendor_message(response: httpx.Response, *, secrets: Iterable[str] = ()) -> str | None:
    """A short, cleaned human message from a vendor's JSON error body, or None.

    Understands the shapes our vendors use: Telzino `{error, message}`, Teli `{success, error}`,
    Talkdesk `{code, message, description, fields[]}` and OAuth `{error, error_description}`.
    Only those strings are used, never the raw body; the result is redacted and truncated.
    """
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError, httpx.ResponseNotRead):
        return None
    if not isinstance(body, dict):
        return None
    error, description = body.get("error"), body.get("error_description")
    message = body.get("message")
    parts: list[str] = []
    if isinstance(description, str):  # OAuth: "invalid_client: Client authentication failed"
        parts.append(f"{error}: {description}" if isinstance(error, str) else description)
    elif isinstance(message, str):
        parts.append(message)
        if isinstance(body.get("description"), str):
            parts.append(body["description"])
    elif isinstance(error, str):
        parts.append(error)
    fields = body.get("fields")
    if isinstance(fields, list):
        for item in fields[:3]:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                detail = item.get("description")
                parts.append(
                    f"{item['name']}: {detail}" if isinstance(detail, str) else item["name"]
                )
    reason = response.reason_phrase.lower()
    # "Bad Request" after "answered 400 (Bad Request)" only repeats the status line.
    parts = [p for p in (_one_line(p) for p in parts) if p and p.lower() != reason]
    if not parts:
        return None
    text = redact("; ".join(parts), secrets)
    if len(text) > VENDOR_MESSAGE_MAX_CHARS:
        text = text[: VENDOR_MESSAGE_MAX_CHARS - 1].rstrip() + "…"
    return text


def error_from_response(
    response: httpx.Response,
    *,
    source: str,
    endpoint: str,
    attempts: int = 1,
    secrets: Iterable[str] = (),
    now: float | None = None,
) -> UpstreamError:
    """The UpstreamError a non-2xx response stands for.

    429 -> RateLimited (with Retry-After parsed), 401 -> Unauthorized, 403 -> Forbidden,
    404 -> NotFound, other 4xx -> BadRequest, 5xx -> Unavailable; anything else (a redirect we do
    not follow, an unexpected status) breaks the contract. `secrets` are redacted from the
    vendor message appended to the text.
    """
    status = response.status_code
    reason = response.reason_phrase or httpx.codes.get_reason_phrase(status)
    text = f"answered {status} ({reason})" if reason else f"answered {status}"
    if attempts > 1:
        text += f" after {attempts} attempts"
    retry_after = (
        parse_retry_after(response.headers.get("retry-after"), now=now) if status == 429 else None
    )
    if retry_after is not None:
        text += f", retry after {retry_after:g} s"
    hint = vendor_message(response, secrets=secrets)
    if hint:
        text += f": {hint}"
    where: dict[str, Any] = {
        "source": source,
        "endpoint": endpoint,
        "status": status,
        "attempts": attempts,
    }
    if status == 429:
        return UpstreamRateLimitedError(text, retry_after=retry_after, **where)
    if status == 401:
        return UpstreamUnauthorizedError(text, **where)
    if status == 403:
        return UpstreamForbiddenError(text, **where)
    if status == 404:
        return UpstreamNotFoundError(text, **where)
    if 400 <= status < 500:
        return UpstreamBadRequestError(text, **where)
    if status >= 500:
        return UpstreamUnavailableError(text, **where)
    return UpstreamContractError(text, **where)


def _one_line(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()

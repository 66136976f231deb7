"""Credentials a transport attaches to each request: a static API key or OAuth 2.0 tokens.

An `Auth` may fetch what it attaches through the `Send` it is handed: the same transport
(retries, concurrency cap, call deadline, hooks), without credentials of its own.
"""

from __future__ import annotations

import asyncio
import base64
import json as jsonlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx

from usagegraph.clients.errors import (
    UpstreamBadRequestError,
    UpstreamContractError,
    UpstreamUnauthorizedError,
)
from usagegraph.clients.urls import strip_query

__all__ = ["ApiKeyAuth", "Auth", "OAuthClientCredentials", "Send"]

# Token lifetime assumed when a token response has no `expires_in` (OAuth makes it optional).
DEFAULT_TOKEN_TTL = 300.0


class Send(Protocol):
    """An unauthenticated request through the transport (retries, cap, hooks, same deadline)."""

    def __call__(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Awaitable[httpx.Response]: ...


class Auth(Protocol):
    """Credentials a transport attaches to each request."""

    source: str  # set by the transport that uses it; names the source in token errors

    async def headers(self, send: Send) -> dict[str, str]:
        """Headers to send; may fetch a token with `send`."""
        ...

    def invalidate(self, headers: Mapping[str, str]) -> bool:
        """Forget the credential these headers carried; True if fresh ones may fix a 401."""
        ...

    def secrets(self) -> tuple[str, ...]:
        """Every value that must never appear in logs or error text."""
        ...


class ApiKeyAuth:
    """A static key in a header (Teli: `ApiKeyAuth("X-API-Key", key)`)."""

    def __init__(self, header: str, key: str) -> None:
        self.header = header
        self._key = key
        self.source = ""

    def __repr__(self) -> str:
        return f"ApiKeyAuth(header={self.header!r}, key=[redacted])"

    async def headers(self, send: Send) -> dict[str, str]:
        return {self.header: self._key}

    def invalidate(self, headers: Mapping[str, str]) -> bool:
        return False  # a static key cannot be refreshed: a 401 is final

    def secrets(self) -> tuple[str, ...]:
        return (self._key,)


@dataclass
class _Token:
    value: str
    refresh_at: float  # clock() time after which we fetch a new one


class OAuthClientCredentials:
    """OAuth 2.0 client-credentials tokens, cached until shortly before they expire.

    style "json" (Telzino): POST a JSON body with client_id, client_secret, audience, grant_type.
    style "basic" (Talkdesk): HTTP Basic base64(id:secret), form body grant_type (+ scope).
    Concurrent callers share one fetch; the token call goes through the same transport (retries,
    cap, deadline, hook). Token endpoint 400/401 -> UpstreamUnauthorizedError.
    """

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        style: Literal["json", "basic"],
        audience: str | None = None,
        scope: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if style not in ("json", "basic"):
            raise ValueError(f"unknown OAuth client authentication style {style!r}")
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.style = style
        self.audience = audience
        self.scope = scope
        self.source = ""
        self.endpoint = f"POST {httpx.URL(token_url).path}"
        self._clock = clock
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
        # Every token we were handed, so one echoed back in an error is still redacted.
        self._issued: list[str] = []

    def __repr__(self) -> str:
        return (
            f"OAuthClientCredentials(token_url={strip_query(self.token_url)!r}, "
            f"client_id={self.client_id!r}, style={self.style!r})"
        )

    async def headers(self, send: Send) -> dict[str, str]:
        token = self._current()
        if token is None:
            # Single flight: whoever gets the lock fetches, the others find the fresh token.
            async with self._lock:
                token = self._current()
                if token is None:
                    token = await self._fetch(send)
        return {"Authorization": f"Bearer {token}"}

    def invalidate(self, headers: Mapping[str, str]) -> bool:
        # Only drop the token if it is the one that failed: when many calls hit 401 at once,
        # the first drops it, the rest reuse the token fetched after it.
        if self._token is not None and headers.get("Authorization") == (
            f"Bearer {self._token.value}"
        ):
            self._token = None
        return True

    def secrets(self) -> tuple[str, ...]:
        return (self._client_secret, self._basic, *self._issued)

    def _current(self) -> str | None:
        if self._token is not None and self._clock() < self._token.refresh_at:
            return self._token.value
        return None

    async def _fetch(self, send: Send) -> str:
        body: dict[str, str] = {"grant_type": "client_credentials"}
        if self.audience is not None:
            body["audience"] = self.audience
        if self.scope is not None:
            body["scope"] = self.scope
        try:
            if self.style == "json":
                body.update(client_id=self.client_id, client_secret=self._client_secret)
                response = await send("POST", self.token_url, endpoint=self.endpoint, json=body)
            else:
                response = await send(
                    "POST",
                    self.token_url,
                    endpoint=self.endpoint,
                    data=body,
                    headers={"Authorization": f"Basic {self._basic}"},
                )
        except UpstreamBadRequestError as exc:
            if exc.status != 400:
                raise
            # OAuth answers bad client credentials with 400 invalid_client as often as with 401.
            raise UpstreamUnauthorizedError(
                exc.message, source=exc.source, endpoint=exc.endpoint, status=exc.status
            ) from None
        fetched_at = self._clock()
        value, ttl = self._parse(response)
        self._issued = [*self._issued[-7:], value]
        margin = min(60.0, ttl / 10)
        self._token = _Token(value, fetched_at + ttl - margin)
        return value

    def _parse(self, response: httpx.Response) -> tuple[str, float]:
        def broken(problem: str, field: str | None) -> UpstreamContractError:
            return UpstreamContractError(
                problem, source=self.source, endpoint=self.endpoint, status=200, field=field
            )

        try:
            body = jsonlib.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            raise broken("returned a token response that is not JSON", None) from None
        if not isinstance(body, dict):
            raise broken("returned a token response that is not a JSON object", None)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise broken("returned no access_token", "access_token")
        expires_in = body.get("expires_in", DEFAULT_TOKEN_TTL)
        try:
            ttl = float(expires_in)
        except (TypeError, ValueError):
            raise broken("returned an expires_in that is not a number", "expires_in") from None
        if isinstance(expires_in, bool) or not 0 < ttl < float("inf"):
            raise broken("returned an expires_in that is not a positive number", "expires_in")
        return token, ttl

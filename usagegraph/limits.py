"""The gate in front of /graphql: who is calling, how often, and how much they send.

`RequestGate` is ASGI middleware that answers, before any GraphQL parsing or execution:
401 for a missing or wrong API key (when `[auth]` is configured), 429 with `Retry-After` when the
caller's token bucket is empty, 413 for a body over `[limits] max_body_bytes` (414 for a GET query
string over it). Every refusal is GraphQL-shaped JSON (usagegraph/protocol.py) whose
`extensions.code` is UNAUTHORIZED, RATE_LIMITED, PAYLOAD_TOO_LARGE or URI_TOO_LONG. Requests
that execute nothing (the GraphiQL page, its static files, CORS preflights: a GET, HEAD or
OPTIONS without a `query` or `extensions` parameter) pass without a key. WebSockets on /graphql
are refused: there are no subscriptions, and GraphQL over a WebSocket would bypass these checks.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from usagegraph.auth import KeyRing, check_scopes
from usagegraph.clients.protection import TokenBucket
from usagegraph.protocol import error_response
from usagegraph.request_body import request_body
from usagegraph.resolvers.directory import Directory
from usagegraph.resolvers.scope import EVERYONE, NOBODY, Identity
from usagegraph.schema.limits import SchemaLimits
from usagegraph.settings import Settings

__all__ = [
    "CALLER_STATE_KEY",
    "IDENTITY_STATE_KEY",
    "RateLimiter",
    "RequestGate",
    "caller_in",
    "caller_of",
    "identity_of",
    "install_gate",
    "schema_limits",
]

log = logging.getLogger("usagegraph.auth")

# where the gate leaves the caller's identity for the GraphQL context (request.state.<this>)
IDENTITY_STATE_KEY = "identity"
# and who is calling ("key:<name>", or "ip:<address>" without [auth]): the request rate, each
# source's fair share, the upstream quota and the persisted-query quota all count per caller
CALLER_STATE_KEY = "caller"
_PASSIVE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# GET parameters that make a request execute an operation (usagegraph/persisted/ reads
# `extensions.persistedQuery`)
_EXECUTING_PARAMS = frozenset({"query", "extensions"})


class RateLimiter:
    """A token bucket per caller: `burst` requests at once, refilled at `rate` per second.

    Buckets live in an LRU of at most `max_buckets` callers (per-IP keys must not grow without
    bound); a bucket dropped from it was the least recently used, so it is (nearly) full anyway.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = 10_000,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def acquire(self, caller: str) -> float:
        """Take one token for `caller`: 0.0 when allowed, else the seconds until one is free."""
        bucket = self._buckets.pop(caller, None)
        if bucket is None:
            bucket = TokenBucket(self.rate, self.burst, clock=self.clock)
        self._buckets[caller] = bucket  # the most recently used, last
        while len(self._buckets) > self.max_buckets:
            self._buckets.popitem(last=False)
        return bucket.take()


class RequestGate:
    """ASGI middleware: authentication, rate limit and body size for the GraphQL paths."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        keys: KeyRing | None,
        limiter: RateLimiter | None,
        max_body_bytes: int,
        paths: Sequence[str] = ("/graphql",),
    ) -> None:
        self.app = app
        self.keys = keys
        self.limiter = limiter
        self.max_body_bytes = max_body_bytes
        self.paths = tuple(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self._guarded(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            # the schema has no subscriptions, and GraphQL over a WebSocket could otherwise run
            # queries past the checks below: refuse the handshake (policy violation)
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = Headers(scope=scope)

        query = QueryParams(scope.get("query_string", b""))
        # nothing is executed without a query, or a persisted query's hash (in `extensions`)
        if scope["method"] in _PASSIVE_METHODS and not _EXECUTING_PARAMS & query.keys():
            await self.app(scope, receive, send)
            return
        identity = self._identify(headers)
        if identity is None:
            await self._unauthorized(scope, receive, send, headers)
            return
        caller = f"key:{identity.name}" if self.keys is not None else f"ip:{_client(scope)}"
        _set_identity(scope, identity, caller)

        if self.limiter is not None:
            wait = self.limiter.acquire(caller)
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                await _refuse(
                    scope,
                    receive,
                    send,
                    429,
                    "RATE_LIMITED",
                    f"too many requests: retry after {seconds} s",
                    {"Retry-After": str(seconds)},
                )
                return

        if len(scope.get("query_string", b"")) > self.max_body_bytes:
            message = f"query string exceeds {self.max_body_bytes} bytes: POST the query instead"
            await _refuse(scope, receive, send, 414, "URI_TOO_LONG", message)
            return
        body = request_body(scope, receive)
        if not self._declared_within(headers) or await body.read(self.max_body_bytes) is None:
            message = f"request body exceeds {self.max_body_bytes} bytes"
            await _refuse(scope, receive, send, 413, "PAYLOAD_TOO_LARGE", message)
            return
        # the layers inside take the body from the scope; the router receives it from here
        await self.app(scope, body.receive, send)

    def _guarded(self, scope: Scope) -> bool:
        path: str = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        return any(path == p or path.startswith(p + "/") for p in self.paths)

    def _identify(self, headers: Headers) -> Identity | None:
        if self.keys is None:
            return EVERYONE  # no [auth]: the server listens on loopback only
        return self.keys.identify(headers.get("authorization"))

    async def _unauthorized(
        self, scope: Scope, receive: Receive, send: Send, headers: Headers
    ) -> None:
        sent = headers.get("authorization")
        if sent:
            message = "invalid API key"
            challenge = 'Bearer error="invalid_token"'
        else:
            message = "missing API key: send the header 'Authorization: Bearer <key>'"
            challenge = "Bearer"
        # the key itself is never logged, only that one was refused and from where
        log.info(
            "refused %s %s from %s: %s", scope["method"], scope["path"], _client(scope), message
        )
        await _refuse(
            scope, receive, send, 401, "UNAUTHORIZED", message, {"WWW-Authenticate": challenge}
        )

    def _declared_within(self, headers: Headers) -> bool:
        """False when Content-Length already says the body is over the limit (refused before
        reading any of it)."""
        declared = headers.get("content-length")
        return declared is None or not declared.isdigit() or int(declared) <= self.max_body_bytes


def identity_of(state: Any, *, default: Identity = EVERYONE) -> Identity:
    """The identity the gate left on a request's state; `default` when no gate ran (the app
    passes NOBODY there when [auth] is configured, so a path the gate missed fails closed)."""
    identity = getattr(state, IDENTITY_STATE_KEY, None)
    return identity if isinstance(identity, Identity) else default


def caller_of(state: Any, identity: Identity) -> str:
    """Who the gate counted the request against (from `request.state`); without a gate, the
    identity's key name."""
    caller = getattr(state, CALLER_STATE_KEY, None)
    return caller if isinstance(caller, str) else f"key:{identity.name}"


def caller_in(scope: Scope) -> str:
    """The same, for ASGI middleware: from the scope's state, else the client's address."""
    caller = scope.get("state", {}).get(CALLER_STATE_KEY)
    return caller if isinstance(caller, str) else f"ip:{_client(scope)}"


def _set_identity(scope: Scope, identity: Identity, caller: str) -> None:
    state = scope.setdefault("state", {})
    state[IDENTITY_STATE_KEY] = identity
    state[CALLER_STATE_KEY] = caller


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def _refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> None:
    await error_response(status, message, code, headers)(scope, receive, send)


def schema_limits(settings: Settings) -> SchemaLimits:
    """The GraphQL document limits of `settings` (`[limits]` and `[server] introspection`)."""
    limits = settings.limits
    return SchemaLimits(
        max_depth=limits.max_depth,
        max_aliases=limits.max_aliases,
        max_cost=limits.max_cost,
        max_tokens=limits.max_tokens,
        introspection=settings.server.introspection,
    )


def install_gate(app: FastAPI, settings: Settings, directory: Directory) -> None:
    """Put the `RequestGate` in front of /graphql; scoped keys naming resellers that cannot
    exist are a ConfigError here, at start-up."""
    keys = None
    if settings.auth is not None:
        kinds = {source.name: source.kind for source in settings.sources}
        check_scopes(settings.auth, directory, kinds)
        keys = KeyRing(settings.auth)
    limits = settings.limits
    limiter = (
        RateLimiter(limits.requests_per_second, limits.burst)
        if limits.requests_per_second > 0
        else None
    )
    app.add_middleware(
        RequestGate, keys=keys, limiter=limiter, max_body_bytes=limits.max_body_bytes
    )
    # a GraphQL request that somehow skipped the gate sees nothing (fail closed)
    app.state.default_identity = NOBODY if keys is not None else EVERYONE

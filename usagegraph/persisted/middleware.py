"""The persisted-query middleware: `extensions.persistedQuery` resolved before the router.

`PersistedQueries` is ASGI middleware on /graphql, inside the `RequestGate` (so API keys, rate
limits and body limits apply first) and before the router. It reads the request's
`extensions.persistedQuery {version: 1, sha256Hash}` (POST JSON body, or GET
`?extensions=...&variables=...&operationName=...`) and, by `[persisted_queries] mode`:

- `apq` (default): automatic persisted queries as Apollo Client's persisted-query link speaks
  them. A hash alone runs the stored query, or answers `PersistedQueryNotFound`
  (`PERSISTED_QUERY_NOT_FOUND`, HTTP 200) so the client resends it with the query; a hash with
  a query is checked (`provided sha does not match query`, BAD_USER_INPUT, HTTP 400), stored when
  the query is a valid operation, and run. Entries live in a store of their own
  (usagegraph/persisted/store.py, `app.state.persisted_store`).
- `safelist`: only the operations of a manifest (usagegraph/persisted/manifest.py) run: by hash
  alone, or as full text whose normalized form is listed. Anything else answers
  PERSISTED_QUERY_NOT_ALLOWED (HTTP 400).
- `off`: a request carrying a hash answers `PersistedQueryNotSupported`
  (PERSISTED_QUERY_NOT_SUPPORTED, HTTP 200), which makes Apollo's link fall back to full queries.

The POST body is the one the gate already read (usagegraph/request_body.py); a hash replaced
by its query replaces that shared body, so the layers inside see the query.

`persisted_origin()` tells code running for the request (the operation metrics) whether its
operation came from the manifest or the APQ store, or was sent as text: only the first two name
a metric's `operation` label.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Literal
from urllib.parse import urlencode

from fastapi import FastAPI
from graphql import GraphQLError, GraphQLSchema, parse, validate
from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from usagegraph.jsonbounds import JsonRefused, loads_bounded
from usagegraph.limits import caller_in
from usagegraph.persisted.manifest import Manifest, ManifestError, sha256_hex
from usagegraph.persisted.store import QueryStore
from usagegraph.protocol import error_response
from usagegraph.request_body import request_body
from usagegraph.schema.limits import SchemaLimits
from usagegraph.schema.offload import off_loop
from usagegraph.schema.validation import validation_rules
from usagegraph.settings import ConfigError, Settings

__all__ = [
    "Mode",
    "Origin",
    "PersistedQueries",
    "install_persisted_queries",
    "persisted_origin",
]

log = logging.getLogger("usagegraph.persisted")

Mode = Literal["apq", "safelist", "off"]
# where the request's operation came from: the manifest, or the APQ store (by hash, or
# registered with this very request)
Origin = Literal["manifest", "apq"]
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_origin: ContextVar[Origin | None] = ContextVar("usagegraph_persisted_origin", default=None)


def persisted_origin() -> Origin | None:
    """Whether the current request runs a manifest operation, a query of the APQ store, or
    (None) a text sent as is: only operators and registered queries choose metric labels."""
    return _origin.get()


class _Refusal(Exception):
    """A request answered here with a GraphQL-shaped error, not executed."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def _not_found() -> _Refusal:
    return _Refusal(200, "PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")


def _not_allowed(why: str) -> _Refusal:
    return _Refusal(400, why, "PERSISTED_QUERY_NOT_ALLOWED")


class PersistedQueries:
    """ASGI middleware resolving `extensions.persistedQuery` on the GraphQL paths (see the
    module docstring); requests it does not concern pass through untouched."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        mode: Mode,
        schema: GraphQLSchema,
        store: Callable[[], QueryStore],
        manifest: Manifest | None = None,
        max_tokens: int | None = None,
        paths: Iterable[str] = ("/graphql",),
    ) -> None:
        if mode == "safelist" and manifest is None:
            raise ValueError("safelist mode needs a manifest")
        self.app = app
        self.mode = mode
        self.schema = schema  # the served graphql-core schema, to validate before storing
        self.store = store  # resolved per request: the lifespan opens the store
        self.manifest = manifest
        self.max_tokens = max_tokens  # [limits] max_tokens: what we parse here is bounded too
        self.paths = tuple(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._guarded(scope):
            await self.app(scope, receive, send)
            return
        origin: Origin | None = None
        try:
            if scope["method"] == "GET":
                scope, origin = await self._get(scope)
            elif scope["method"] == "POST":
                scope, receive, origin = await self._post(scope, receive)
        except _Refusal as refusal:
            # a miss is the protocol working (the client resends the query), not news
            level = logging.DEBUG if refusal.code == "PERSISTED_QUERY_NOT_FOUND" else logging.INFO
            log.log(level, "refused %s %s: %s", scope["method"], scope["path"], refusal.code)
            # never let a CDN keep a miss (error_response says no-store): the next request
            # registers the query
            await error_response(refusal.status, refusal.message, refusal.code)(
                scope, receive, send
            )
            return
        token = _origin.set(origin)
        try:
            await self.app(scope, receive, send)
        finally:
            _origin.reset(token)

    def _guarded(self, scope: Scope) -> bool:
        path: str = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        return path in self.paths

    async def _get(self, scope: Scope) -> tuple[Scope, Origin | None]:
        params = QueryParams(scope.get("query_string", b""))
        raw = params.get("extensions")
        if raw is None and (self.mode != "safelist" or "query" not in params):
            return scope, None  # nothing to resolve: the GraphiQL page, or ?query= outside safelist
        try:
            extensions = loads_bounded(raw) if raw else None
        except JsonRefused:
            return scope, None  # usagegraph/protocol.py answers the malformed parameter
        query, origin = await self._resolve(scope, params.get("query"), extensions)
        if query is None or params.get("query") == query:
            return scope, origin
        items = [(k, v) for k, v in params.multi_items() if k != "query"]
        items.append(("query", query))
        return {**scope, "query_string": urlencode(items).encode("ascii")}, origin

    async def _post(self, scope: Scope, receive: Receive) -> tuple[Scope, Receive, Origin | None]:
        headers = Headers(scope=scope)
        if "application/json" not in headers.get("content-type", ""):
            return scope, receive, None  # usagegraph/protocol.py refuses other content types
        shared = request_body(scope, receive)  # the bytes the gate read, if it ran
        body = await shared.read() or b""
        if self.mode != "safelist" and b"persistedQuery" not in body and self.manifest is None:
            return scope, shared.receive, None  # the common case: no JSON parsed here
        try:
            data = loads_bounded(body)
        except JsonRefused:
            return scope, shared.receive, None  # usagegraph/protocol.py answers the malformed body
        if isinstance(data, list):
            if self.mode == "safelist":
                raise _not_allowed("batched requests are not accepted in safelist mode")
            return scope, shared.receive, None
        if not isinstance(data, dict):
            return scope, shared.receive, None
        sent = data.get("query")
        query, origin = await self._resolve(
            scope, sent if isinstance(sent, str) else None, data.get("extensions")
        )
        if query is None or query == sent:
            return scope, shared.receive, origin
        data["query"] = query
        rewritten = json.dumps(data).encode("utf-8")
        shared.replace(rewritten)
        new_headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        new_headers.append((b"content-length", str(len(rewritten)).encode("ascii")))
        return {**scope, "headers": new_headers}, shared.receive, origin

    async def _resolve(
        self, scope: Scope, query: str | None, extensions: object
    ) -> tuple[str | None, Origin | None]:
        """The query to run (None: leave the request as it is) and where it came from, or a
        `_Refusal`."""
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        if persisted is None:
            if query is None:
                return None, None
            if self.mode == "safelist":
                self._check_listed(query)
                return None, "manifest"
            # the exact text of a manifest operation counts as one (normalizing it would cost
            # a parse on every request)
            in_manifest = (
                self.manifest is not None and sha256_hex(query) in self.manifest.operations
            )
            return None, "manifest" if in_manifest else None
        if self.mode == "off":
            raise _Refusal(200, "PersistedQueryNotSupported", "PERSISTED_QUERY_NOT_SUPPORTED")
        sha256 = _sha256_of(persisted)
        if query is not None and sha256_hex(query) != sha256:
            raise _Refusal(400, "provided sha does not match query", "BAD_USER_INPUT")
        if self.mode == "safelist":
            if query is not None:
                self._check_listed(query)
                return query, "manifest"
            assert self.manifest is not None
            listed = self.manifest.body(sha256)
            if listed is None:
                raise _not_allowed(f"operation {sha256} is not in the persisted operations list")
            return listed, "manifest"
        # apq
        if self.manifest is not None and (listed := self.manifest.body(sha256)) is not None:
            return query or listed, "manifest"
        if query is not None:
            if await off_loop(query, self._storable, query):
                await self.store().set(sha256, query, owner=caller_in(scope))
            return query, "apq"
        stored = await self.store().get(sha256)
        if stored is None:
            raise _not_found()
        return stored, "apq"

    def _check_listed(self, query: str) -> None:
        assert self.manifest is not None
        if not self.manifest.allows(query, max_tokens=self.max_tokens):
            raise _not_allowed("only persisted operations are accepted (safelist mode)")

    def _storable(self, query: str) -> bool:
        """Only valid operations are stored, so junk never fills the store (the router still
        runs an invalid one, to answer its errors). Called off the event loop for long texts:
        parsing and validating 2,000 tokens takes tens of milliseconds."""
        try:
            document = parse(query, no_location=True, max_tokens=self.max_tokens)
        except GraphQLError:
            return False
        # graphql-core's rules, but its quadratic field merging replaced by the linear one
        return not validate(self.schema, document, validation_rules(SchemaLimits()))


def _sha256_of(persisted: object) -> str:
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise _Refusal(400, "Unsupported persisted query version", "BAD_USER_INPUT")
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise _Refusal(400, "persistedQuery.sha256Hash must be 64 hex digits", "BAD_USER_INPUT")
    return sha256.lower()


def install_persisted_queries(app: FastAPI, settings: Settings, schema: GraphQLSchema) -> None:
    """Add `PersistedQueries` for `[persisted_queries]`. Call it before `install_gate`, so the
    gate wraps it (keys, rate limit and body size are checked first), and after
    `install_request_check`, so it resolves a hash before the request is checked. The store is
    `app.state.persisted_store`, which the lifespan opens (`build_query_store`) and closes. A
    manifest that cannot be read is a ConfigError here, at start-up."""
    config = settings.persisted_queries
    manifest = None
    if config.manifest is not None:
        try:
            manifest = Manifest.load(config.manifest)
        except ManifestError as exc:
            raise ConfigError("persisted_queries.manifest", str(exc)) from None

    def store() -> QueryStore:
        found = getattr(app.state, "persisted_store", None)
        if found is None:  # only before the lifespan started: nothing is kept then
            raise RuntimeError("the persisted-query store is opened by the app's lifespan")
        return found  # type: ignore[no-any-return]

    app.add_middleware(
        PersistedQueries,
        mode=config.mode,
        schema=schema,
        store=store,
        manifest=manifest,
        max_tokens=settings.limits.max_tokens,
    )

"""Persisted queries at the HTTP layer: Apollo's automatic persisted queries and a safelist.

`PersistedQueries` is ASGI middleware on /graphql, inside the `RequestGate` (so API keys, rate
limits and body limits apply first) and before the router. It reads the request's
`extensions.persistedQuery {version: 1, sha256Hash}` (POST JSON body, or GET
`?extensions=...&variables=...&operationName=...`) and, by `[persisted_queries] mode`:

- `apq` (default): automatic persisted queries as Apollo Client's persisted-query link speaks
  them. A hash alone runs the stored query, or answers `PersistedQueryNotFound`
  (`PERSISTED_QUERY_NOT_FOUND`, HTTP 200) so the client resends it with the query; a hash with
  a query is checked (`provided sha does not match query`, BAD_USER_INPUT, HTTP 400), stored when
  the query is a valid operation, and run. Entries live in a store of their own
  (usagegraph/persisted_store.py, `app.state.persisted_store`), bounded in bytes overall and per
  caller, never in the result cache: in memory, or in Redis (shared by replicas) when the cache
  backend is Redis.
- `safelist`: only the operations of a manifest (`usagegraph export-operations`) run: by hash
  alone, or as full text whose normalized form (parsed and printed like graphql-js's `print`,
  so whitespace and comments do not matter) is listed. Anything else answers
  PERSISTED_QUERY_NOT_ALLOWED (HTTP 400).
- `off`: a request carrying a hash answers `PersistedQueryNotSupported`
  (PERSISTED_QUERY_NOT_SUPPORTED, HTTP 200), which makes Apollo's link fall back to full queries.

`persisted_origin()` tells code running for the request (the operation metrics) whether its
operation came from the manifest or the APQ store, or was sent as text: only the first two name
a metric's `operation` label.

The manifest uses Apollo's persisted query manifest format: `{"format":
"apollo-persisted-query-manifest", "version": 1, "operations": [{"id", "name", "type", "body"}]}`
where `id` is the SHA-256 of `body`, so the ids are also the APQ hashes of those bodies (the
body printed like graphql-js's `print(document)`, which is what JavaScript clients hash).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import FastAPI
from graphql import GraphQLError, GraphQLSchema, OperationDefinitionNode, parse, validate
from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from usagegraph.jsonbounds import JsonRefused, loads_bounded
from usagegraph.limits import caller_in
from usagegraph.persisted_store import MemoryQueryStore, QueryStore, RedisQueryStore
from usagegraph.printing import print_document
from usagegraph.protocol import error_response, read_body, replay
from usagegraph.resolvers.cache import DEFAULT_NAMESPACE
from usagegraph.schema.limits import SchemaLimits
from usagegraph.schema.offload import off_loop
from usagegraph.schema.validation import validation_rules
from usagegraph.settings import ConfigError, Settings

__all__ = [
    "MANIFEST_FORMAT",
    "Manifest",
    "ManifestError",
    "Mode",
    "Origin",
    "PersistedQueries",
    "QueryStore",
    "build_manifest",
    "build_query_store",
    "install_persisted_queries",
    "normalize",
    "persisted_origin",
    "sha256_hex",
]

log = logging.getLogger("usagegraph.persisted")

Mode = Literal["apq", "safelist", "off"]
# where the request's operation came from: the manifest, or the APQ store (by hash, or
# registered with this very request)
Origin = Literal["manifest", "apq"]
MANIFEST_FORMAT = "apollo-persisted-query-manifest"
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_origin: ContextVar[Origin | None] = ContextVar("usagegraph_persisted_origin", default=None)


def persisted_origin() -> Origin | None:
    """Whether the current request runs a manifest operation, a query of the APQ store, or
    (None) a text sent as is: only operators and registered queries choose metric labels."""
    return _origin.get()


def sha256_hex(text: str) -> str:
    """The SHA-256 of `text` (UTF-8) in lowercase hex: Apollo's `sha256Hash`."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalize(document: str, *, max_tokens: int | None = None) -> str:
    """`document` parsed and printed as graphql-js 16's `print()` does (usagegraph/printing.py):
    no comments, canonical spacing. Raises GraphQLError when it does not parse (or has more
    than `max_tokens` tokens)."""
    return print_document(parse(document, no_location=True, max_tokens=max_tokens))


# -- the manifest ---------------------------------------------------------------------------------


class ManifestError(ValueError):
    """A manifest file or an operation file that cannot be used; `str()` says why."""


@dataclass(frozen=True)
class Manifest:
    """The allowed operations: id (SHA-256 of the body) -> normalized body."""

    operations: Mapping[str, str]

    def body(self, sha256: str) -> str | None:
        return self.operations.get(sha256.lower())

    def allows(self, query: str, *, max_tokens: int | None = None) -> bool:
        """Whether `query` is one of the operations, as sent or once normalized."""
        if sha256_hex(query) in self.operations:
            return True
        try:
            return sha256_hex(normalize(query, max_tokens=max_tokens)) in self.operations
        except GraphQLError:
            return False

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """Read an Apollo persisted query manifest; every id must be its body's SHA-256."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ManifestError(f"{path}: cannot read the manifest: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            raise ManifestError(f"{path}: not an {MANIFEST_FORMAT} (see export-operations)")
        operations: dict[str, str] = {}
        for index, entry in enumerate(data.get("operations") or ()):
            body = entry.get("body") if isinstance(entry, dict) else None
            ident = entry.get("id") if isinstance(entry, dict) else None
            if not isinstance(body, str) or not isinstance(ident, str):
                raise ManifestError(f"{path}: operations[{index}] needs a string id and body")
            if sha256_hex(body) != ident.lower():
                raise ManifestError(
                    f"{path}: operations[{index}].id is not the SHA-256 of its body"
                )
            operations[ident.lower()] = body
        return cls(operations)


def build_manifest(files: Iterable[Path], schema: GraphQLSchema | None = None) -> dict[str, Any]:
    """The manifest of `.graphql` files (one named operation each, with any fragments it uses),
    in name order; each validated against `schema` when given."""
    entries: list[dict[str, str]] = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        try:
            document = parse(text, no_location=True)
        except GraphQLError as exc:
            raise ManifestError(f"{path}: {exc.message}") from None
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) != 1 or operations[0].name is None:
            raise ManifestError(f"{path}: expected exactly one named operation")
        if schema is not None and (errors := validate(schema, document)):
            raise ManifestError(f"{path}: {errors[0].message}")
        body = print_document(document)
        entries.append(
            {
                "id": sha256_hex(body),
                "name": operations[0].name.value,
                "type": operations[0].operation.value,
                "body": body,
            }
        )
    entries.sort(key=lambda e: e["name"])
    names = [e["name"] for e in entries]
    if len(set(names)) != len(names):
        raise ManifestError(f"two operations share a name: {sorted(names)}")
    return {"format": MANIFEST_FORMAT, "version": 1, "operations": entries}


# -- the middleware -------------------------------------------------------------------------------


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
        body = await read_body(receive)
        replayed = replay(body, receive)
        if self.mode != "safelist" and b"persistedQuery" not in body and self.manifest is None:
            return scope, replayed, None  # the common case: no JSON parsed here
        try:
            data = loads_bounded(body)
        except JsonRefused:
            return scope, replayed, None  # usagegraph/protocol.py answers the malformed body
        if isinstance(data, list):
            if self.mode == "safelist":
                raise _not_allowed("batched requests are not accepted in safelist mode")
            return scope, replayed, None
        if not isinstance(data, dict):
            return scope, replayed, None
        sent = data.get("query")
        query, origin = await self._resolve(
            scope, sent if isinstance(sent, str) else None, data.get("extensions")
        )
        if query is None or query == sent:
            return scope, replayed, origin
        data["query"] = query
        rewritten = json.dumps(data).encode("utf-8")
        new_headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        new_headers.append((b"content-length", str(len(rewritten)).encode("ascii")))
        return {**scope, "headers": new_headers}, replay(rewritten, receive), origin

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
            listed = self.manifest is not None and sha256_hex(query) in self.manifest.operations
            return None, "manifest" if listed else None
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


def build_query_store(settings: Settings) -> QueryStore:
    """The persisted-query store for `settings`: in Redis when the cache backend is Redis (so
    replicas share it), else in this process; bounded per caller either way."""
    config = settings.persisted_queries
    if settings.cache.backend == "redis":
        assert settings.cache.url is not None  # the settings refuse redis without a url
        return RedisQueryStore(
            settings.cache.url.get_secret_value(),
            namespace=DEFAULT_NAMESPACE,
            max_bytes_per_owner=config.max_bytes_per_key,
            max_queries_per_owner=config.max_queries_per_key,
            ttl=config.ttl_seconds,
        )
    return MemoryQueryStore(
        max_bytes=config.memory_max_bytes,
        max_bytes_per_owner=config.max_bytes_per_key,
        max_queries_per_owner=config.max_queries_per_key,
        ttl=config.ttl_seconds,
    )


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

"""ASGI middleware in front of the GraphQL router: identical operations run once, and answers
are served again while everything they read is fresh.

For each GraphQL request (after the gate, the persisted-query lookup and the request check):

1. Its key (usagegraph/answers/key.py): document, operation name, variables, accepted media
   type, caller's scope.
2. A kept answer under that key is sent as it is, without executing (`X-Answer-Cache: hit`).
3. Else, if an identical request is executing right now, this one waits for its answer
   (`coalesced`): N identical concurrent requests execute once, with or without the cache. The
   execution runs as its own task, so a leader whose client goes away does not fail the others.
4. Else it executes (`miss`), with a freshness ledger (resolvers/freshness.py); a 200 answer
   without errors is kept for the shortest freshness of what it read, never past the next UTC
   midnight (a day then changes from "not yet reported" to "today"), never when it read live
   state or a stale value. Coverage and staleness are inside the answer, so they are served
   unchanged.

GET answers carry an `ETag` (and `Cache-Control: private, max-age` while kept); a GET with a
matching `If-None-Match` is answered 304 without a body. Requests whose answers must not be
shared pass through untouched (`bypass`): debug mode (their answer lists this request's own
upstream calls), documents that do not parse, variables that are not JSON.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msgspec
from starlette.datastructures import Headers, MutableHeaders, QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from usagegraph.answers.key import DocumentPrints, Operation, answer_key, scope_of
from usagegraph.answers.store import AnswerStore, StoredAnswer
from usagegraph.jsonbounds import JsonRefused, loads_bounded
from usagegraph.limits import IDENTITY_STATE_KEY
from usagegraph.protocol import GRAPHQL_PATH, checked_request
from usagegraph.resolvers.freshness import tracking_freshness
from usagegraph.resolvers.scope import Identity

__all__ = ["AnswerLayer", "Outcome"]

log = logging.getLogger("usagegraph.answers")

Outcome = Literal["hit", "miss", "coalesced", "uncacheable", "bypass"]
HEADER = "x-answer-cache"


class _Extensions(msgspec.Struct):
    code: Any = None


class _Error(msgspec.Struct):
    extensions: _Extensions | None = None


class _Top(msgspec.Struct):
    """A GraphQL response's top level, as far as keeping it goes (the rest is skipped)."""

    errors: list[_Error] | None = None


_top = msgspec.json.Decoder(_Top)


def _error_codes(body: bytes) -> frozenset[str] | None:
    """The codes of an answer's errors (empty: none); None when it is not a GraphQL answer."""
    try:
        errors = _top.decode(body).errors or []
    except msgspec.DecodeError:
        return None
    return frozenset(str(e.extensions.code) if e.extensions else "" for e in errors)


@dataclass
class _Executed:
    """What the router sent for one execution, its errors' codes (None: not a GraphQL
    answer), and how long it may be served again."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    codes: frozenset[str] | None
    keep_for: float
    kept: StoredAnswer | None = None  # as kept in the store, when it was

    @property
    def cut_short(self) -> bool:
        """Some figure is missing because time ran out: a later request may have the time."""
        return self.codes is not None and "UPSTREAM_TIMEOUT" in self.codes

    @property
    def content_type(self) -> str:
        for name, value in self.headers:
            if name.lower() == b"content-type":
                return value.decode("latin-1")
        return "application/json"


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def _until_midnight(now: float) -> float:
    moment = datetime.fromtimestamp(now, UTC)
    midnight = datetime.combine(moment.date() + timedelta(days=1), datetime.min.time(), UTC)
    return midnight.timestamp() - now


class AnswerLayer:
    """Coalescing and the whole-answer cache (module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: Callable[[], AnswerStore | None],
        prints: DocumentPrints,
        schema_print: str,
        default_identity: Callable[[], Identity],
        debug: bool,
        on_outcome: Callable[[Outcome], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.store = store
        self.prints = prints
        self.schema_print = schema_print
        self.default_identity = default_identity
        self.debug = debug
        self.on_outcome = on_outcome
        self.clock = clock
        self._flights: dict[str, asyncio.Future[_Executed]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._eligible(scope):
            await self.app(scope, receive, send)
            return
        key = self._key(scope)
        if key is None:
            if self._is_operation(scope):
                self.on_outcome("bypass")
            await self.app(scope, receive, send)
            return
        get = scope["method"] == "GET"
        store = self.store()
        if store is not None:
            kept = await store.get(key)
            if kept is not None:
                self.on_outcome("hit")
                await self._send_kept(scope, send, kept, get=get)
                return
        outcome, executed = await self._join_or_execute(key, scope, receive, store)
        if outcome == "coalesced" and executed.cut_short:
            # the execution we joined ran out of its time; ours ends later: run again (joining
            # whichever identical execution started since, never the one that was cut)
            outcome, executed = await self._join_or_execute(key, scope, receive, store)
        kept = executed.kept
        if outcome == "miss" and store is not None and kept is None:
            outcome = "uncacheable"
        self.on_outcome(outcome)
        if kept is not None:
            await self._send_kept(scope, send, kept, get=get, outcome=outcome)
        else:
            await self._send_executed(scope, send, executed, get=get, outcome=outcome)

    # -- which requests ------------------------------------------------------------------------
    @staticmethod
    def _eligible(scope: Scope) -> bool:
        return (
            scope["type"] == "http"
            and scope["method"] in ("GET", "POST")
            and scope["path"].removeprefix(scope.get("root_path", "")) == GRAPHQL_PATH
        )

    @staticmethod
    def _is_operation(scope: Scope) -> bool:
        if scope["method"] == "POST":
            return True
        return b"query=" in scope.get("query_string", b"")

    def _operation(self, scope: Scope) -> Operation | None:
        if scope["method"] == "POST":
            return Operation.of(checked_request())
        params = QueryParams(scope.get("query_string", b""))
        if "query" not in params:
            return None  # the GraphiQL page: nothing to key
        data: dict[str, Any] = {
            "query": params["query"],
            "operationName": params.get("operationName"),
        }
        if raw := params.get("variables"):
            try:
                data["variables"] = loads_bounded(raw)
            except JsonRefused:
                return None  # the request check refused it already; the router says why
        return Operation.of(data)

    def _key(self, scope: Scope) -> str | None:
        operation = self._operation(scope)
        if operation is None:
            return None
        identity = scope.get("state", {}).get(IDENTITY_STATE_KEY)
        if not isinstance(identity, Identity):
            identity = self.default_identity()
        if self.debug and not identity.scoped:
            return None  # debug answers list this request's own upstream calls
        document = self.prints.of(operation.query)
        if document is None:
            return None
        media = Headers(scope=scope).get("accept", "").strip().lower()
        return answer_key(
            operation, document, scope=scope_of(identity), media=media, schema=self.schema_print
        )

    # -- executing once --------------------------------------------------------------------------
    async def _join_or_execute(
        self, key: str, scope: Scope, receive: Receive, store: AnswerStore | None
    ) -> tuple[Outcome, _Executed]:
        flight = self._flights.get(key)
        outcome: Outcome = "coalesced"
        if flight is None or flight.done():
            outcome = "miss"
            flight = asyncio.ensure_future(self._execute(key, scope, receive, store))
            self._flights[key] = flight
            flight.add_done_callback(lambda done: self._forget(key, done))
        # shield: a caller that goes away must not cancel the execution the others wait on
        return outcome, await asyncio.shield(flight)

    async def _execute(
        self, key: str, scope: Scope, receive: Receive, store: AnswerStore | None
    ) -> _Executed:
        """Run the operation once and keep its answer when it may be (in the execution's own
        task: kept even when the request that started it has gone away)."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        with tracking_freshness() as freshness:
            await self.app(scope, receive, capture)
        assert start is not None, "the router answered without a status line"
        headers = [
            (name, value)
            for name, value in start.get("headers", [])
            if name.lower() not in (b"content-length", b"etag", b"cache-control")
        ]
        body = b"".join(chunks)
        keep_for = freshness.keep_for(_until_midnight(self.clock()))
        executed = _Executed(start["status"], headers, body, _error_codes(body), keep_for)
        if store is not None:
            executed.kept = await self._keep(store, key, executed)
        return executed

    def _forget(self, key: str, done: asyncio.Future[_Executed]) -> None:
        if self._flights.get(key) is done:
            del self._flights[key]
        if not done.cancelled():
            done.exception()  # retrieved: a flight whose callers all left must not warn

    async def _keep(self, store: AnswerStore, key: str, executed: _Executed) -> StoredAnswer | None:
        """The answer as kept, when it may be: a 200 without errors that stays fresh."""
        # an answer with errors is not kept: they may well be gone on the next request
        if executed.status != 200 or executed.keep_for <= 0 or executed.codes != frozenset():
            return None
        answer = StoredAnswer(
            executed.body,
            executed.content_type,
            _etag(executed.body),
            self.clock() + executed.keep_for,
        )
        await store.set(key, answer, executed.keep_for)
        return answer

    # -- answering -------------------------------------------------------------------------------
    async def _send_kept(
        self, scope: Scope, send: Send, kept: StoredAnswer, *, get: bool, outcome: str = "hit"
    ) -> None:
        headers = MutableHeaders()
        headers["content-type"] = kept.content_type
        headers[HEADER] = outcome
        if get:
            max_age = max(0, int(kept.fresh_for(self.clock())))
            headers["etag"] = kept.etag
            headers["cache-control"] = f"private, max-age={max_age}"
            headers["vary"] = "Authorization"  # and Accept: usagegraph/negotiation.py adds it
            if _matches(Headers(scope=scope).get("if-none-match"), kept.etag):
                await _send(send, 304, headers, b"")
                return
        await _send(send, 200, headers, kept.body)

    async def _send_executed(
        self, scope: Scope, send: Send, executed: _Executed, *, get: bool, outcome: str
    ) -> None:
        headers = MutableHeaders(raw=list(executed.headers))
        headers[HEADER] = outcome
        if get and executed.status == 200:
            etag = _etag(executed.body)
            headers["etag"] = etag
            headers["cache-control"] = "private, no-cache"
            headers["vary"] = "Authorization"  # and Accept: usagegraph/negotiation.py adds it
            if _matches(Headers(scope=scope).get("if-none-match"), etag):
                await _send(send, 304, headers, b"")
                return
        await _send(send, executed.status, headers, executed.body)


async def _send(send: Send, status: int, headers: MutableHeaders, body: bytes) -> None:
    if status != 304:
        headers["content-length"] = str(len(body))
    else:
        del headers["content-type"]
    await send({"type": "http.response.start", "status": status, "headers": headers.raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})

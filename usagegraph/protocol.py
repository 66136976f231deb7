"""GraphQL over HTTP at /graphql: what a request must be, and what every refusal looks like.

Every answer from /graphql other than a 200 is GraphQL-shaped JSON,
`{"errors": [{"message": ..., "extensions": {"code": ...}}]}`, and carries `X-Request-Id` (added
by the request-id middleware around everything). Three pieces:

- `RequestCheck` (inside the gate and the persisted-query middleware, just before the router): a
  POST is `application/json`, UTF-8, JSON within bounds (usagegraph/jsonbounds.py), an object
  whose `query` is a non-empty string, `operationName` a GraphQL name or null, `variables` and
  `extensions` objects or null; a GET's parameters likewise. Anything else is a 400
  `BAD_REQUEST` saying what is wrong, before any other code decodes the body.
- `ErrorShape` (outside the gate, inside the request-id middleware): a non-200 answer that is
  not GraphQL-shaped yet (a plain-text 400 Strawberry may still raise, FastAPI's 405) is
  rewritten into one, with a code by status; an exception that escaped
  anything below becomes a masked 500 `INTERNAL_SERVER_ERROR` with the request id, logged with
  its traceback (never a plain-text 500 without the id).
- `BoundedGraphQLRouter`: Strawberry's router, decoding JSON with the same bounds (defence in
  depth: `RequestCheck` runs first), and taking the body `RequestCheck` decoded as it is rather
  than decoding the same bytes again. It answers by the GraphQL-over-HTTP spec's status rules
  for the media type `Negotiation` chose (usagegraph/negotiation.py): a request error (parse,
  validation, an unknown `operationName`, variable coercion) is a 200 with `data: null` under
  `application/json`, a 400 without `data` under `application/graphql-response+json`; once
  execution began, `data` is there (null or not) and the status is 200. A mutation sent with
  GET is a 405 with `Allow: POST`.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from http import HTTPStatus
from typing import Any

import strawberry
from cross_web import HTTPException
from fastapi import FastAPI
from graphql import GraphQLError
from starlette.datastructures import Headers, MutableHeaders, QueryParams
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from usagegraph.jsonbounds import JsonRefused, loads_bounded
from usagegraph.negotiation import GRAPHQL_RESPONSE, Negotiation, response_media_type
from usagegraph.request_body import RequestBody, request_body
from usagegraph.schema.compat import (
    CannotGetOperationTypeError,
    InvalidOperationTypeError,
    PreExecutionError,
)
from usagegraph.schema.phase import watching_execution
from usagegraph.telemetry import current_request_id

__all__ = [
    "GRAPHQL_PATH",
    "BoundedGraphQLRouter",
    "ErrorShape",
    "RequestCheck",
    "RequestRefused",
    "check_request",
    "checked_request",
    "error_body",
    "error_response",
    "install_error_shape",
    "install_request_check",
]

log = logging.getLogger("usagegraph.http")

GRAPHQL_PATH = "/graphql"
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
# extensions.code of a refusal by HTTP status, when the refusing code gave none
_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    414: "URI_TOO_LONG",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}
# a plain-text reason longer than this is not a message (nor anything we wrote)
_MAX_REASON = 300
# the POST body `RequestCheck` decoded for the current request, and what it decoded to
_checked_body: ContextVar[tuple[bytes, Any] | None] = ContextVar(
    "usagegraph_checked_body", default=None
)


def checked_request() -> Any:
    """The decoded body of the current POST, as `RequestCheck` accepted it (None for a GET, or
    outside a checked request)."""
    checked = _checked_body.get()
    return None if checked is None else checked[1]


def error_body(message: str, code: str, **extensions: Any) -> dict[str, Any]:
    """A GraphQL response holding one error and no data."""
    return {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}


def error_response(
    status: int,
    message: str,
    code: str,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """A refusal as GraphQL-shaped JSON; never cached (the next request may well succeed)."""
    return JSONResponse(
        error_body(message, code, **extensions),
        status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


class RequestRefused(Exception):
    """A request that is not a GraphQL request we run; `str()` says why, for the caller."""


def check_request(data: object) -> None:
    """`data` (a decoded body, or a GET's parameters) is one GraphQL request, or RequestRefused."""
    if isinstance(data, list):
        raise RequestRefused("batched requests are not supported: send one operation per request")
    if not isinstance(data, dict):
        raise RequestRefused(
            "the body must be a JSON object with query, operationName, variables and extensions"
        )
    query = data.get("query")
    if query is not None and not isinstance(query, str):
        raise RequestRefused("the GraphQL operation's `query` must be a string")
    if not query:
        raise RequestRefused("No GraphQL query found in the request")
    name = data.get("operationName")
    if name is not None and not (isinstance(name, str) and _NAME.fullmatch(name)):
        raise RequestRefused(
            "the GraphQL operation's `operationName` must be the name of one of the document's "
            "operations, or null"
        )
    for key in ("variables", "extensions"):
        if not isinstance(data.get(key), dict | None):
            raise RequestRefused(f"the GraphQL operation's `{key}` must be an object or null")


def _path(scope: Scope) -> str:
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path


def _is_json(content_type: str) -> bool:
    media, _, params = content_type.partition(";")
    if media.strip().lower() != "application/json":
        return False
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            return False
    return True


class RequestCheck:
    """ASGI middleware: refuses, with a 400 BAD_REQUEST, what is not one bounded GraphQL
    request (module docstring). Requests that execute nothing (the GraphiQL page) pass."""

    def __init__(
        self, app: ASGIApp, *, paths: Iterable[str] = (GRAPHQL_PATH,), max_json_depth: int = 32
    ) -> None:
        self.app = app
        self.paths = tuple(paths)
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _path(scope) not in self.paths:
            await self.app(scope, receive, send)
            return
        checked: tuple[bytes, Any] | None = None
        try:
            if scope["method"] == "POST":
                body = request_body(scope, receive)  # the bytes the gate read, if it ran
                receive = body.receive
                checked = await self._post(scope, body)
            elif scope["method"] == "GET":
                self._get(scope)
        except RequestRefused as refusal:
            log.info("refused %s %s: %s", scope["method"], scope["path"], refusal)
            await error_response(400, str(refusal), "BAD_REQUEST")(scope, receive, send)
            return
        token = _checked_body.set(checked)
        try:
            await self.app(scope, receive, send)
        finally:
            _checked_body.reset(token)

    async def _post(self, scope: Scope, body: RequestBody) -> tuple[bytes, Any]:
        if not _is_json(Headers(scope=scope).get("content-type", "")):
            raise RequestRefused("send the request as JSON (Content-Type: application/json)")
        data = await body.read() or b""
        decoded = self._decode(data)
        check_request(decoded)
        return data, decoded

    def _get(self, scope: Scope) -> None:
        params = QueryParams(scope.get("query_string", b""))
        if "query" not in params and "extensions" not in params:
            return  # the GraphiQL page, a CORS preflight: nothing runs
        data: dict[str, Any] = {"query": params.get("query")}
        if "operationName" in params:
            data["operationName"] = params["operationName"]
        for key in ("variables", "extensions"):
            if raw := params.get(key):
                data[key] = self._decode(raw)
        check_request(data)

    def _decode(self, data: bytes | str) -> Any:
        try:
            return loads_bounded(data, max_depth=self.max_json_depth)
        except JsonRefused as exc:
            raise RequestRefused(str(exc)) from None


def _reason(content_type: str, body: bytes) -> str | None:
    """What a non-GraphQL error body says, when it is short plain text or FastAPI's detail."""
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None
    if content_type.startswith("text/plain") and 0 < len(text) <= _MAX_REASON:
        return text
    if content_type.startswith("application/json"):
        try:
            detail = json.loads(text).get("detail")
        except (ValueError, AttributeError, RecursionError):
            return None
        if isinstance(detail, str) and 0 < len(detail) <= _MAX_REASON:
            return detail
    return None


def _graphql_shaped(content_type: str, body: bytes) -> bool:
    if not content_type.startswith("application/json"):
        return False
    try:
        errors = json.loads(body).get("errors")
    except (ValueError, AttributeError, RecursionError):
        return False
    return (
        isinstance(errors, list)
        and bool(errors)
        and all(isinstance(e, dict) and "code" in (e.get("extensions") or {}) for e in errors)
    )


def _internal_error(request_id: str) -> tuple[str, dict[str, Any]]:
    return f"Internal server error (request id {request_id})", {"requestId": request_id}


class ErrorShape:
    """ASGI middleware: every error /graphql answers is GraphQL-shaped (module docstring)."""

    def __init__(self, app: ASGIApp, *, paths: Iterable[str] = (GRAPHQL_PATH,)) -> None:
        self.app = app
        self.paths = tuple(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _path(scope) not in self.paths:
            await self.app(scope, receive, send)
            return
        held: Message | None = None  # an error's start, until its whole body is known
        chunks: list[bytes] = []
        committed = False

        async def shaping_send(message: Message) -> None:
            nonlocal held, committed
            if message["type"] == "http.response.start" and message["status"] >= 400:
                held = message
                return
            if message["type"] == "http.response.body" and held is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                start, held = held, None
                committed = True
                await self._send_shaped(start, b"".join(chunks), send)
                return
            committed = True
            await send(message)

        try:
            await self.app(scope, receive, shaping_send)
        except Exception:
            if committed:
                raise  # the caller already has a status line: nothing better to send
            request_id = current_request_id() or uuid.uuid4().hex
            log.exception(
                "unexpected error answering %s %s (request id %s)",
                scope["method"],
                scope["path"],
                request_id,
            )
            message, extensions = _internal_error(request_id)
            response = error_response(500, message, "INTERNAL_SERVER_ERROR", **extensions)
            await response(scope, receive, send)

    async def _send_shaped(self, start: Message, body: bytes, send: Send) -> None:
        headers = MutableHeaders(raw=list(start.get("headers", [])))
        content_type = headers.get("content-type", "")
        if _graphql_shaped(content_type, body):
            await send(start)
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        status: int = start["status"]
        extensions: dict[str, Any] = {}
        if status >= 500:
            message, extensions = _internal_error(current_request_id() or uuid.uuid4().hex)
            code = "INTERNAL_SERVER_ERROR"
        else:
            message = _reason(content_type, body) or HTTPStatus(status).phrase
            code = _CODES.get(status, "BAD_REQUEST")
        shaped = json.dumps(error_body(message, code, **extensions)).encode("utf-8")
        del headers["content-length"]
        del headers["content-type"]
        headers["content-type"] = "application/json"
        headers["content-length"] = str(len(shaped))
        headers.setdefault("cache-control", "no-store")
        await send({"type": "http.response.start", "status": status, "headers": headers.raw})
        await send({"type": "http.response.body", "body": shaped, "more_body": False})


class BoundedGraphQLRouter(GraphQLRouter):
    """Strawberry's FastAPI router, decoding request JSON within the bounds of
    `loads_bounded` (a refusal is Strawberry's own 400, which `ErrorShape` shapes), with the
    GraphQL-over-HTTP spec's status codes (module docstring)."""

    def decode_json(self, data: str | bytes) -> object:
        checked = _checked_body.get()
        if checked is not None and checked[0] == data:
            return checked[1]  # the body RequestCheck decoded (a memcmp, not a second decode)
        try:
            return loads_bounded(data)
        except JsonRefused as exc:
            raise json.JSONDecodeError(str(exc), "", 0) from None

    async def run(
        self, request: Any, context: Any = strawberry.UNSET, root_value: Any = strawberry.UNSET
    ) -> Any:
        try:
            return await super().run(request, context=context, root_value=root_value)
        except HTTPException as exc:
            if isinstance(exc.__cause__, InvalidOperationTypeError):
                # the spec: a mutation over GET MUST be a 405 (GET is a safe method)
                return error_response(
                    405, exc.reason, "METHOD_NOT_ALLOWED", headers={"Allow": "POST"}
                )
            raise

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        with watching_execution() as executing:
            try:
                result: ExecutionResult = await super().execute_single(*args, **kwargs)
            except HTTPException as exc:
                if not isinstance(exc.__cause__, CannotGetOperationTypeError):
                    raise
                # GetOperation() failed: a request error like a validation failure
                error = GraphQLError(
                    exc.reason, extensions={"code": "OPERATION_RESOLUTION_FAILURE"}
                )
                return PreExecutionError(data=None, errors=[error])
            if result.data is None and result.errors and not executing():
                # variable coercion failed: graphql-core never began executing
                result = PreExecutionError(
                    data=None, errors=result.errors, extensions=result.extensions
                )
        return result

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        if isinstance(result, PreExecutionError) and response_media_type() == GRAPHQL_RESPONSE:
            # nothing ran: no `data` entry at all, and so a 400 (create_response)
            response.pop("data", None)
        return response

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Any
    ) -> Response:
        response: Response = super().create_response(response_data, sub_response)
        if isinstance(response_data, dict) and "data" not in response_data:
            response.status_code = 400  # only ever under application/graphql-response+json
        return response


def install_request_check(app: FastAPI) -> None:
    """Add `RequestCheck`: after `mount_graphiql` and before `install_persisted_queries`, so it
    runs inside the gate and the persisted-query middleware, just before the router."""
    app.add_middleware(RequestCheck)


def install_error_shape(app: FastAPI) -> None:
    """Add `ErrorShape`, then `Negotiation` around it: after `install_gate`, before the
    observability middleware, so they shape and label the gate's answers too and the request
    id is already bound."""
    app.add_middleware(ErrorShape)
    app.add_middleware(Negotiation, paths=(GRAPHQL_PATH,))

"""The media type /graphql answers in, from the request's `Accept` header.

The GraphQL-over-HTTP spec defines two: `application/graphql-response+json`, under which the
status code tells the caller what happened (a request that could not run is a 4xx without
`data`), and `application/json`, the legacy type, under which every well-formed request is a
200. `Negotiation` (ASGI middleware, outside `ErrorShape`) picks one per request and keeps it
in a context variable for the router (usagegraph/protocol.py), refuses with a 406
NOT_ACCEPTABLE a request to run an operation whose `Accept` admits neither, and labels every
JSON answer of /graphql with the chosen type. Answers vary by `Accept`, and say so (`Vary`).

Choosing: each type gets the quality of the most specific range that matches it (`*/*`, then
`application/*`, then the type itself, RFC 9110 §12.5.1); the higher quality wins, and on a tie
the type listed first. A range matched by a wildcard only, and an absent `Accept`, give
`application/json`: the spec's post-2025 default for an absent header would be the new type,
but graphql-http's audit (and its reference server) still expects `application/json` there,
and so do existing clients that send no `Accept` and read the body of any status.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from typing import Final

from starlette.datastructures import Headers, MutableHeaders, QueryParams
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "GRAPHQL_RESPONSE",
    "JSON",
    "Negotiation",
    "negotiate",
    "response_media_type",
]

GRAPHQL_RESPONSE: Final = "application/graphql-response+json"
JSON: Final = "application/json"
# what a JSON answer's Content-Type becomes under the new type
_LABEL: Final = {GRAPHQL_RESPONSE: f"{GRAPHQL_RESPONSE}; charset=utf-8"}
# an Accept header longer than this is not read past it (no client needs more)
_MAX_ACCEPT = 1024

_media: ContextVar[str] = ContextVar("usagegraph_response_media", default=JSON)


def response_media_type() -> str:
    """The media type chosen for the current request (`application/json` outside one)."""
    return _media.get()


def _ranges(accept: str) -> Iterable[tuple[int, str, float]]:
    """(position, media range, quality) of each range that could be UTF-8 JSON."""
    for position, item in enumerate(accept[:_MAX_ACCEPT].split(",")):
        media, *params = item.split(";")
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            key, value = key.strip().lower(), value.strip().strip('"').lower()
            if key == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
            elif key == "charset" and value not in ("utf-8", "utf8"):
                quality = 0.0  # we only write UTF-8
        yield position, media.strip().lower(), quality


def negotiate(accept: str | None) -> str | None:
    """The media type to answer in for an `Accept` header (None or empty: absent), or None
    when the header admits neither of ours (see the module docstring)."""
    if accept is None or not accept.strip():
        return JSON
    # per type: (specificity, quality, position) of the most specific range matching it
    best: dict[str, tuple[int, float, int]] = {}
    for position, media, quality in _ranges(accept):
        for ours in (GRAPHQL_RESPONSE, JSON):
            specificity = {ours: 3, "application/*": 2, "*/*": 1}.get(media)
            if specificity is None:
                continue
            kept = best.get(ours)
            if kept is None or specificity > kept[0]:
                best[ours] = (specificity, quality, position)
    choices = [
        # higher quality; then listed first; then a type named over one only matched by a
        # wildcard; then application/json (sorting on the negated position and the name)
        (quality, -position, specificity == 3, ours == JSON, ours)
        for ours, (specificity, quality, position) in best.items()
        if quality > 0
    ]
    return max(choices)[-1] if choices else None


def _runs_an_operation(scope: Scope) -> bool:
    """A POST, or a GET with an operation (the GraphiQL page and preflights run nothing)."""
    if scope["method"] == "POST":
        return True
    if scope["method"] != "GET":
        return False
    params = QueryParams(scope.get("query_string", b""))
    return "query" in params or "extensions" in params


class Negotiation:
    """ASGI middleware choosing /graphql's media type per request (module docstring)."""

    def __init__(self, app: ASGIApp, *, paths: Iterable[str]) -> None:
        self.app = app
        self.paths = tuple(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _route(scope) not in self.paths:
            await self.app(scope, receive, send)
            return
        media: str | None = JSON
        if _runs_an_operation(scope):
            media = negotiate(Headers(scope=scope).get("accept"))
        if media is None:
            await _not_acceptable()(scope, receive, send)
            return
        label = _LABEL.get(media)

        async def labelling_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.add_vary_header("Accept")
                if label is not None and headers.get("content-type", "").startswith(JSON):
                    headers["content-type"] = label
            await send(message)

        token = _media.set(media)
        try:
            await self.app(scope, receive, labelling_send)
        finally:
            _media.reset(token)


def _not_acceptable() -> JSONResponse:
    """The 406, GraphQL-shaped like every refusal of /graphql (usagegraph/protocol.py)."""
    message = f"the Accept header admits neither {GRAPHQL_RESPONSE} nor {JSON}"
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": "NOT_ACCEPTABLE"}}]},
        406,
        headers={"Cache-Control": "no-store", "Vary": "Accept"},
    )


def _route(scope: Scope) -> str:
    path: str = scope["path"]
    root = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path

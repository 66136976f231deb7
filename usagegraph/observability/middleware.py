"""The outermost ASGI middleware: request id, in-flight gauge, request counter.

Each HTTP request gets an id: the caller's `X-Request-Id` when it is sane (1-128 characters of
letters, digits and `._:-`), else a fresh one. It is bound to the request's context (log lines,
debug events and the masked-error message all carry it) and returned in `X-Request-Id`.
Pure ASGI rather than BaseHTTPMiddleware, so the context variables it sets are the ones the
endpoint sees and nothing buffers streamed responses.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.datastructures import Headers, MutableHeaders

from usagegraph.observability.metrics import PrometheusMetrics
from usagegraph.telemetry import Observer, bind_request

__all__ = ["REQUEST_ID_HEADER", "RequestObservability", "request_id_from"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID_HEADER = "X-Request-Id"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_from(headers: Headers) -> str:
    """The caller's request id if it is safe to log and echo, else a new one."""
    given = headers.get(REQUEST_ID_HEADER)
    if given is not None and _SANE_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


class RequestObservability:
    """Wraps the whole app (add it last, so it is the outermost middleware)."""

    def __init__(self, app: ASGIApp, *, metrics: PrometheusMetrics, observer: Observer) -> None:
        self.app = app
        self.metrics = metrics
        self.observer = observer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(Headers(scope=scope))
        status = 500  # what the caller gets if the app dies before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        self.metrics.in_flight.inc()
        try:
            with bind_request(request_id, self.observer):
                await self.app(scope, receive, send_with_id)
        finally:
            self.metrics.in_flight.dec()
            self.metrics.observe_http(scope.get("path", ""), status)

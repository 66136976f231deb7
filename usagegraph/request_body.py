"""The request body, read from the client once per request and shared by the ASGI layers.

The gate (usagegraph/limits.py) reads it first, bounded by `[limits] max_body_bytes`; the
persisted-query middleware and `RequestCheck` take the same bytes from the scope instead of
buffering their own copy, and the router receives them through `RequestBody.receive`. A layer
that rewrites the body (a persisted query's hash replaced by its text) calls `replace`, and
every layer inside sees the new one.

A layer that needs the body calls `request_body(scope, receive)` and passes `.receive` on to
the app it wraps; whichever layer asks first reads from the client, so each layer also works
alone (its own tests, an app without a gate).
"""

from __future__ import annotations

from starlette.types import Message, Receive, Scope

__all__ = ["RequestBody", "request_body"]

# where the body lives in the ASGI scope: shallow copies of the scope (a layer rewriting its
# headers) keep pointing at the same one
_SCOPE_KEY = "usagegraph.request_body"


class RequestBody:
    """One request's body: read from the client on the first `read`, kept for the others."""

    __slots__ = ("_client", "_handed_over", "_over_limit", "body")

    def __init__(self, client: Receive) -> None:
        self._client = client
        self.body: bytes | None = None  # None until read (or when it was over the limit)
        self._handed_over = False
        self._over_limit = False

    async def read(self, max_bytes: int | None = None) -> bytes | None:
        """The whole body, read from the client only the first time; None when it is over
        `max_bytes` (reading stops at the chunk that crossed it)."""
        if self.body is not None or self._over_limit:
            return self.body
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self._client()
            if message["type"] != "http.request":
                break  # the client went away; the app will see an empty body and a disconnect
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                self._over_limit = True
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        self.body = b"".join(chunks)
        return self.body

    def replace(self, body: bytes) -> None:
        """What the layers inside see from now on (the caller fixes Content-Length)."""
        self.body = body

    async def receive(self) -> Message:
        """ASGI `receive` for the layers inside: the body as one message, then the client's
        own messages (a disconnect)."""
        if self.body is not None and not self._handed_over:
            self._handed_over = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        return await self._client()


def request_body(scope: Scope, receive: Receive) -> RequestBody:
    """The request's shared body (not read yet when this layer is the first to ask)."""
    held = scope.get(_SCOPE_KEY)
    if not isinstance(held, RequestBody):
        held = RequestBody(receive)
        scope[_SCOPE_KEY] = held
    return held

"""Test controls shared by every emulator: a request recorder, injectable faults and tokens.

The control sits in front of the vendor mounts as ASGI middleware, so each emulator stays a plain
FastAPI app that knows nothing about counting or faults. Tests reach it in-process
(`SandboxServer.control`) and other processes over HTTP (`/_control/...`, see `server.py`).
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["Fault", "RecordedRequest", "SandboxControl", "TokenStore"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Each vendor's own error envelope, so an injected fault looks like the real vendor failing.
_ERROR_BODIES: dict[str, Callable[[int], dict[str, Any]]] = {
    "telzino": lambda status: {"error": _REASONS.get(status, "Error"), "message": "Injected fault"},
    "teli": lambda status: {"success": False, "error": "Injected fault", "powered_by": "Teli"},
    "talkdesk": lambda status: {"code": f"{status}0001", "message": _REASONS.get(status, "Error")},
}
_REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def vendor_of(mount: str) -> str:
    """`telzino-api` -> `telzino`: mounts are named `<vendor>` or `<vendor>-<host role>`."""
    return mount.split("-", 1)[0]


@dataclass(frozen=True)
class RecordedRequest:
    """One request a vendor mount received."""

    mount: str  # e.g. "telzino-api", "telzino-dashboard", "teli", "talkdesk", "talkdesk-id"
    method: str
    path: str  # inside the mount, e.g. "/v1/billing-report"
    query: str

    @property
    def vendor(self) -> str:
        return vendor_of(self.mount)

    @property
    def params(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query, keep_blank_values=True)


@dataclass
class Fault:
    """A fault applied to matching requests.

    `mount`/`vendor`/`path` select requests (None matches all; `path` matches as a prefix).
    `status` answers that status in the vendor's error shape (with `Retry-After` when
    `retry_after` is set); `malformed` answers 200 with a body that is not the contract;
    `latency_ms` delays the request (and then lets it through unless status/malformed is set).
    `times` limits how many requests it hits; `rate` hits each request with that probability.
    """

    vendor: str | None = None
    mount: str | None = None
    path: str | None = None
    status: int | None = None
    retry_after: float | None = None
    latency_ms: int = 0
    malformed: bool = False
    times: int | None = None
    rate: float = 1.0
    hits: int = 0

    def matches(self, mount: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.vendor is not None and vendor_of(mount) != self.vendor:
            return False
        if self.mount is not None and mount != self.mount:
            return False
        return self.path is None or path.startswith(self.path)


@dataclass
class TokenStore:
    """Bearer tokens issued by the emulators' token endpoints."""

    _tokens: dict[str, tuple[str, str, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, vendor: str, subject: str, ttl: float) -> str:
        token = f"{vendor}-{secrets.token_urlsafe(24)}"
        with self._lock:
            self._tokens[token] = (vendor, subject, time.monotonic() + ttl)
        return token

    def subject(self, vendor: str, token: str | None) -> str | None:
        """The subject a live token of this vendor was issued to, else None."""
        if not token:
            return None
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None or entry[0] != vendor or entry[2] < time.monotonic():
            return None
        return entry[1]

    def revoke_all(self) -> None:
        with self._lock:
            self._tokens.clear()


@dataclass
class SandboxControl:
    """Counters, faults and tokens for one sandbox instance (thread-safe: tests poke it from
    the test thread while the server runs in its own)."""

    base_latency_ms: int = 0
    token_ttl: float = 3600.0
    tokens: TokenStore = field(default_factory=TokenStore)
    requests: list[RecordedRequest] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _random: random.Random = field(default_factory=lambda: random.Random(0))

    # -- recorder ------------------------------------------------------------------------------
    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def calls(
        self, vendor: str | None = None, *, mount: str | None = None, path: str | None = None
    ) -> list[RecordedRequest]:
        """Recorded requests, optionally filtered (path as a prefix). Token calls included."""
        with self._lock:
            snapshot = list(self.requests)
        return [
            r
            for r in snapshot
            if (vendor is None or r.vendor == vendor)
            and (mount is None or r.mount == mount)
            and (path is None or r.path.startswith(path))
        ]

    def count(
        self, vendor: str | None = None, *, mount: str | None = None, path: str | None = None
    ) -> int:
        return len(self.calls(vendor, mount=mount, path=path))

    def reset(self) -> None:
        """Forget recorded requests and clear faults (tokens stay valid)."""
        with self._lock:
            self.requests.clear()
            self.faults.clear()

    # -- faults --------------------------------------------------------------------------------
    def inject(self, fault: Fault | None = None, **kwargs: Any) -> Fault:
        fault = fault or Fault(**kwargs)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def _pick(self, mount: str, path: str) -> tuple[int, Fault | None]:
        """Total extra latency and the first status/malformed fault that hits this request."""
        latency = self.base_latency_ms
        hit: Fault | None = None
        with self._lock:
            for fault in self.faults:
                if not fault.matches(mount, path):
                    continue
                if fault.rate < 1.0 and self._random.random() >= fault.rate:
                    continue
                fault.hits += 1
                latency += fault.latency_ms
                if hit is None and (fault.status is not None or fault.malformed):
                    hit = fault
        return latency, hit

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": [asdict(r) for r in self.requests],
                "faults": [asdict(f) for f in self.faults],
            }

    # -- middleware ----------------------------------------------------------------------------
    def middleware(self, mount: str, app: ASGIApp) -> ASGIApp:
        """Wrap one vendor mount: record, delay, and answer injected faults."""

        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            path = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :] or "/"
            query = scope.get("query_string", b"").decode("latin-1")
            self.record(RecordedRequest(mount, scope["method"], path, query))
            latency, fault = self._pick(mount, path)
            if latency:
                await asyncio.sleep(latency / 1000)
            if fault is None:
                await app(scope, receive, send)
                return
            await _send_fault(fault, vendor_of(mount), send)

        return wrapped


async def _send_fault(fault: Fault, vendor: str, send: Send) -> None:
    if fault.malformed:
        status, body, ctype = 200, b'{"data": [ {"truncated', b"application/json"
    else:
        status = fault.status or 500
        body = json.dumps(_ERROR_BODIES[vendor](status)).encode()
        ctype = b"application/json"
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]
    if fault.retry_after is not None:
        headers.append((b"retry-after", _format_retry_after(fault.retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _format_retry_after(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)

"""Test controls shared by every emulator: a request recorder, injectable faults, tokens and
variants.

The control sits in front of the vendor mounts as ASGI middleware, so each emulator stays a plain
FastAPI app that knows nothing about counting or faults. Tests reach it in-process
(`SandboxServer.control`) and other processes over HTTP (`/_control/...`, see `server.py`).

Variants are opt-in shapes the vendors' docs allow but the default sandbox never serves (links at
the top level, capped pages, missing fields, a vendor down...). `VARIANTS` names them; each
emulator reads `control.variants` once per request, and the `<vendor>-down` ones are answered
here, before the vendor app sees the request. The default (no variant) path costs one empty-set
check per request.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, MutableMapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl

__all__ = [
    "SEEN_LIMIT",
    "VARIANTS",
    "Fault",
    "RecordedRequest",
    "SandboxControl",
    "TokenStore",
    "down_variant",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Opt-in variants: name -> what changes while it is active. The docs allow each shape; the default
# sandbox never serves it (see the variant table in docs/sandbox.md).
VARIANTS: Mapping[str, str] = MappingProxyType(
    {
        "talkdesk-capped-pages": "Talkdesk serves at most 7 items per page whatever per_page asks "
        "(the body's per_page says so; hrefs keep the asked per_page)",
        "talkdesk-top-level-links": "Talkdesk paging links (first/last/next/prev/self/show) sit at "
        "the top level of the body, with no _links",
        "talkdesk-empty-without-embedded": "a Talkdesk page holding no items has no _embedded key",
        "talkdesk-null-texts": "Talkdesk usage rows' description, wallet_name, product_id, "
        "aggr_product_id and resolution, and accounts' company_name and status, are null",
        "talkdesk-total-drift": "the first page-1 answer of each distinct Talkdesk query states "
        "total one too high; later answers are right",
        "talkdesk-unmapped-units": "Talkdesk MESSAGE rows come with unit CONVERSATIONS",
        "teli-no-cost-breakdown": "Teli analytics/users rows come without cost_breakdown",
        "teli-no-total-cost": "Teli analytics/organizations and analytics/users rows come without "
        "total_cost (and organizations without api_storage_cost)",
        "teli-split-hosts": "/teli answers 404 for /v1/analytics/usage: only the partner proxy "
        "(/teli-proxy) serves it",
        "telzino-billing-unpadded-period": "the Telzino billing report's period dates are "
        "M/D/YYYY, without zero padding",
        "telzino-unlisted-agent-minutes": "some Telzino organizations' minutes also count agents "
        "the report does not list",
        "telzino-down": "every request to a Telzino mount answers 503",
        "teli-down": "every request to a Teli mount answers 503",
        "talkdesk-down": "every request to a Talkdesk mount (token host included) answers 503",
    }
)

# distinct keys each variant remembers (`SandboxControl.first_sight`); the oldest are forgotten
SEEN_LIMIT = 4096


def down_variant(vendor: str) -> str:
    """The variant that takes `vendor` down: `teli` -> `teli-down`."""
    return f"{vendor}-down"


# Each vendor's own error envelope, so an injected fault looks like the real vendor failing.
_ERROR_BODIES: dict[str, Callable[[int, str], dict[str, Any]]] = {
    "telzino": lambda status, why: {"error": _REASONS.get(status, "Error"), "message": why},
    "teli": lambda status, why: {"success": False, "error": why, "powered_by": "Teli"},
    "talkdesk": lambda status, why: {
        "code": f"{status}0001",
        "message": _REASONS.get(status, "Error"),
    },
}
_INJECTED = "Injected fault"
_DOWN = "Service temporarily unavailable"
_REASONS: dict[int, str] = {
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
    """Counters, faults, tokens and variants for one sandbox instance (thread-safe: tests poke it
    from the test thread while the server runs in its own)."""

    base_latency_ms: int = 0
    token_ttl: float = 3600.0
    tokens: TokenStore = field(default_factory=TokenStore)
    requests: list[RecordedRequest] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _random: random.Random = field(default_factory=lambda: random.Random(0))
    # Replaced, never mutated: request handlers read it without the lock.
    _variants: frozenset[str] = frozenset()
    # per variant, the keys it has seen (an ordered set, oldest first)
    _seen: dict[str, OrderedDict[Hashable, None]] = field(default_factory=dict)

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
        """Forget recorded requests, clear faults and variants (tokens stay valid)."""
        with self._lock:
            self.requests.clear()
            self.faults.clear()
            self._variants = frozenset()
            self._seen.clear()

    # -- variants ------------------------------------------------------------------------------
    @property
    def variants(self) -> frozenset[str]:
        """The active variants (read-only: change them with enable/disable)."""
        return self._variants

    def enable(self, *names: str) -> None:
        """Activate variants; ValueError (nothing changed) when a name is unknown."""
        self.update_variants(enable=names)

    def disable(self, *names: str) -> None:
        """Deactivate variants (inactive ones are fine); ValueError when a name is unknown."""
        self.update_variants(disable=names)

    def clear_variants(self) -> None:
        with self._lock:
            self._variants = frozenset()
            self._seen.clear()

    def update_variants(
        self, *, enable: Iterable[str] = (), disable: Iterable[str] = ()
    ) -> frozenset[str]:
        """Enable and disable in one step, all or nothing; returns the active set.

        ValueError for an unknown name, or one both enabled and disabled. A variant switched on
        starts with an empty memory (`first_sight`).
        """
        on, off = set(enable), set(disable)
        unknown = sorted((on | off) - VARIANTS.keys())
        if unknown:
            known = ", ".join(sorted(VARIANTS))
            raise ValueError(f"unknown variant(s): {', '.join(unknown)} (known: {known})")
        if on & off:
            raise ValueError(f"both enabled and disabled: {', '.join(sorted(on & off))}")
        with self._lock:
            for name in on - self._variants:
                self._seen.pop(name, None)
            self._variants = (self._variants | on) - off
            return self._variants

    def first_sight(self, variant: str, key: Hashable) -> bool:
        """True the first time `variant` sees `key` since it was switched on or reset.

        The memory keeps the last `SEEN_LIMIT` keys; a forgotten key counts as new again."""
        with self._lock:
            seen = self._seen.setdefault(variant, OrderedDict())
            if key in seen:
                return False
            seen[key] = None
            if len(seen) > SEEN_LIMIT:
                seen.popitem(last=False)
            return True

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
                "variants": sorted(self._variants),
            }

    # -- middleware ----------------------------------------------------------------------------
    def middleware(self, mount: str, app: ASGIApp) -> ASGIApp:
        """Wrap one vendor mount: record, answer 503 while its vendor is down (a variant),
        delay, and answer injected faults."""
        vendor = vendor_of(mount)
        down = down_variant(vendor)

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
            if down in self._variants:
                # down from the first request on, before latency and faults: nothing is served
                await _send_error(send, vendor, 503, _DOWN)
                return
            latency, fault = self._pick(mount, path)
            if latency:
                await asyncio.sleep(latency / 1000)
            if fault is None:
                await app(scope, receive, send)
                return
            await _send_fault(fault, vendor, send)

        return wrapped


async def _send_fault(fault: Fault, vendor: str, send: Send) -> None:
    retry_after = None if fault.retry_after is None else _format_retry_after(fault.retry_after)
    if fault.malformed:
        body = b'{"data": [ {"truncated'
        await _send(send, 200, body, retry_after)
        return
    await _send_error(send, vendor, fault.status or 500, _INJECTED, retry_after)


async def _send_error(
    send: Send, vendor: str, status: int, why: str, retry_after: str | None = None
) -> None:
    """`status` with the vendor's own error body."""
    body = json.dumps(_ERROR_BODIES[vendor](status, why)).encode()
    await _send(send, status, body, retry_after)


async def _send(send: Send, status: int, body: bytes, retry_after: str | None) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", retry_after.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _format_retry_after(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)

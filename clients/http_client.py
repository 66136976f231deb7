"""The pooled `httpx.AsyncClient` each source's transport sends through, and its timeouts."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from functools import cache

import httpx

from usagegraph.clients.network import pooled_transport

__all__ = ["Timeouts", "build_http_client"]


@dataclass(frozen=True)
class Timeouts:
    """Seconds: per connect, per read (also used for writes), and for a whole logical call."""

    connect: float = 3.0
    read: float = 15.0
    total: float = 30.0


@cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default verified context, built once: each build loads the CA bundle
    (docs/measurements.md#tls-context-built-once), which every source's client would otherwise
    pay again at start-up."""
    return httpx.create_ssl_context()


def build_http_client(timeouts: Timeouts, *, max_connections: int = 20) -> httpx.AsyncClient:
    """The app's one pooled client: explicit per-phase timeouts, bounded pool, no redirects."""
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    return httpx.AsyncClient(
        transport=pooled_transport(verify=_tls_context(), limits=limits),
        # Also what a proxy taken from the environment (HTTPS_PROXY, ...) is built with.
        verify=_tls_context(),
        timeout=httpx.Timeout(
            connect=timeouts.connect,
            read=timeouts.read,
            write=timeouts.read,
            # Waiting for a free pooled connection is bounded by the call's own deadline.
            pool=timeouts.total,
        ),
        limits=limits,
        follow_redirects=False,
        headers={"User-Agent": "usagegraph"},
    )

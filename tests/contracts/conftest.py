"""A plain HTTP server on loopback that answers fixed bodies: the seeds' examples, byte for byte.

Unlike the sandbox, it computes nothing: each route answers the exact bytes it was given, so a
test sees what the real client and the graph make of a vendor's own printed example.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

SEEDS = Path(__file__).parent / "seeds"
TOKEN = {"access_token": "seed-token", "token_type": "Bearer", "expires_in": 3600}


def seed_body(name: str) -> bytes:
    """A seed's example body exactly as printed (tests/contracts/seeds/README.md)."""
    return (SEEDS / name).read_bytes()


@dataclass
class SeedServer:
    """Routes `(method, path)` to `(status, body)`; every request is recorded."""

    routes: dict[tuple[str, str], tuple[int, bytes]] = field(default_factory=dict)
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    base_url: str = ""

    def answer(self, path: str, body: bytes | dict[str, Any], *, status: int = 200) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.routes[("GET", path)] = (status, raw)

    def paths(self) -> list[str]:
        return [path for _, path, _ in self.requests]


def _handler(server: SeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, method: str) -> None:
            url = urlsplit(self.path)
            server.requests.append((method, url.path, url.query))
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            if method == "POST" and url.path.endswith("/oauth/token"):
                status, body = 200, json.dumps(TOKEN).encode()
            else:
                status, body = server.routes.get((method, url.path), (404, b'{"error":"no"}'))
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._reply("GET")

        def do_POST(self) -> None:
            self._reply("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def seed_server() -> Iterator[SeedServer]:
    server = SeedServer()
    http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.base_url = f"http://127.0.0.1:{http.server_address[1]}"
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        http.shutdown()
        http.server_close()

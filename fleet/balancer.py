"""A round-robin reverse proxy in front of the replicas: Hive Gateway takes one URL per subgraph.

A replica that refuses a connection is marked down and the request goes to the next one (nothing
was sent, so nothing is repeated); a request cut while the replica had it (sent, no answer) is
lost: it is answered 502 with a GraphQL error (`extensions.code` REPLICA_LOST) and counted, so a
test can compare the errors its clients saw with the requests that really were in flight. A
replica marked down is probed on `/healthz` and takes requests again once it answers.
`GET /_balancer/stats` reports, per replica: up, served, lost, refused.

    python -m fleet.balancer --port 8100 --replica http://127.0.0.1:8001 --replica ...
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import httpx
import uvicorn

from fleet.processes import HOST

__all__ = ["STATS_PATH", "Balancer", "main"]

STATS_PATH = "/_balancer/stats"
PROBE_EVERY_SECONDS = 0.5
# hop-by-hop headers, and what httpx recomputes or has already undone (it decodes bodies)
DROPPED = frozenset(
    {
        b"host",
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"content-length",
        b"content-encoding",
        b"accept-encoding",
    }
)
Scope = dict[str, Any]


@dataclass
class Replica:
    url: str
    up: bool = True
    served: int = 0
    lost: int = 0  # cut while the replica had them
    refused: int = 0  # connections refused: sent to the next replica instead


class Balancer:
    """The ASGI app: forwards each request to the next replica that is up."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.replicas = [Replica(url.rstrip("/")) for url in urls]
        self._turns = itertools.cycle(range(len(self.replicas)))
        self._client: httpx.AsyncClient | None = None
        self._prober: asyncio.Task[None] | None = None

    def next_up(self) -> Replica | None:
        for _ in self.replicas:
            replica = self.replicas[next(self._turns)]
            if replica.up:
                return replica
        return None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                timeout = httpx.Timeout(120.0, connect=2.0)
                limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
                self._client = httpx.AsyncClient(timeout=timeout, limits=limits)
                self._prober = asyncio.create_task(self._probe_down_replicas())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._prober is not None:
                    self._prober.cancel()
                if self._client is not None:
                    await self._client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["path"] == STATS_PATH:
            stats = {"replicas": [asdict(replica) for replica in self.replicas]}
            await _answer(send, 200, json.dumps(stats).encode())
            return
        body = await _read_body(receive)
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in DROPPED]
        query = scope["query_string"].decode("latin-1")
        target = scope["path"] + (f"?{query}" if query else "")
        assert self._client is not None
        while (replica := self.next_up()) is not None:
            try:
                response = await self._client.request(
                    scope["method"], replica.url + target, headers=headers, content=body
                )
            except httpx.ConnectError:
                replica.up = False
                replica.refused += 1
                continue
            except httpx.TransportError as exc:
                replica.up = False
                replica.lost += 1
                await _answer(send, 502, _graphql_error(f"replica {replica.url} lost it: {exc!r}"))
                return
            replica.served += 1
            kept = [
                (k.encode("latin-1"), v.encode("latin-1"))
                for k, v in response.headers.multi_items()
                if k.lower().encode() not in DROPPED
            ]
            await _answer(send, response.status_code, response.content, kept)
            return
        await _answer(send, 503, _graphql_error("no replica is up"))

    async def _probe_down_replicas(self) -> None:
        assert self._client is not None
        while True:
            await asyncio.sleep(PROBE_EVERY_SECONDS)
            for replica in self.replicas:
                if replica.up:
                    continue
                try:
                    probe = await self._client.get(replica.url + "/healthz", timeout=1.0)
                    replica.up = probe.is_success
                except httpx.TransportError:
                    pass


def _graphql_error(message: str) -> bytes:
    error = {"message": message, "extensions": {"code": "REPLICA_LOST"}}
    return json.dumps({"errors": [error]}).encode()


async def _read_body(receive: Any) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(
    send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = headers or [(b"content-type", b"application/json")]
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fleet.balancer", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--replica", action="append", required=True, help="a replica's base URL")
    args = parser.parse_args(argv)
    uvicorn.run(
        Balancer(args.replica), host=HOST, port=args.port, log_level="warning", access_log=False
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The network layer under every upstream call (clients/network.py), over real sockets.

A tiny HTTP/1.1 server on loopback lets each test decide exactly what the wire does: keep a
connection alive, drop it while idle, stall, send megabytes, or speak TLS with a throwaway CA.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
import trustme

from usagegraph.clients.http_client import Timeouts, build_http_client
from usagegraph.clients.network import (
    _FAILURES,
    READ_HIGH_WATER,
    AsyncioBackend,
    PooledTransport,
    _as_httpx_failures,
    _Receiver,
    pooled_transport,
)
from usagegraph.clients.transport import SourceTransport

LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=4)


@dataclass
class Wire:
    """What the test server saw, and how it answers."""

    url: str = ""
    connections: int = 0
    requests: list[str] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    hang_ups: int = 0  # this many requests are read and their connection dropped unanswered


def _response(body: bytes, *, headers: str = "") -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{headers}\r\n"
    return head.encode() + body


async def _answer(path: str, writer: asyncio.StreamWriter) -> None:
    if path.startswith("/big/"):
        size = int(path.removeprefix("/big/"))
        writer.write(_response(bytes(range(256)) * (size // 256)))
    elif path == "/stall":
        await asyncio.sleep(30)
    elif path == "/chunked":
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        writer.write(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    else:
        writer.write(_response(path.encode()))
    await writer.drain()


@pytest.fixture(params=["http", "https"])
async def wire(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Wire, ssl.SSLContext]]:
    """A server on loopback (plain or TLS) and the client context that trusts it."""
    ca = trustme.CA()
    client_tls = ssl.create_default_context()
    ca.configure_trust(client_tls)
    server_tls = None
    if request.param == "https":
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    state = Wire()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        state.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                state.requests.append(path)
                if state.hang_ups:
                    state.hang_ups -= 1
                    break
                await _answer(path, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_tls)
    port = server.sockets[0].getsockname()[1]
    state.url = f"{request.param}://127.0.0.1:{port}"
    async with server:
        yield state, client_tls
        for writer in state.writers:
            writer.close()


def _client(tls: ssl.SSLContext, timeout: float = 5.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=pooled_transport(verify=tls, limits=LIMITS), timeout=timeout)


async def test_build_http_client_runs_its_pool_on_the_asyncio_backend() -> None:
    async with build_http_client(Timeouts()) as http:
        transport = http._transport  # httpx has no public accessor for a client's transport
        assert isinstance(transport, PooledTransport)
        assert isinstance(transport.backend, AsyncioBackend)
        assert (transport.limits.max_connections, transport.limits.max_keepalive_connections) == (
            20,
            20,
        )


async def test_sequential_requests_share_one_kept_alive_connection(
    wire: tuple[Wire, ssl.SSLContext],
) -> None:
    state, tls = wire
    async with _client(tls) as http:
        answers = [(await http.get(f"{state.url}/r{i}")).text for i in range(5)]
    assert answers == ["/r0", "/r1", "/r2", "/r3", "/r4"]
    assert state.connections == 1


async def test_concurrent_requests_open_at_most_the_pool_limit(
    wire: tuple[Wire, ssl.SSLContext],
) -> None:
    state, tls = wire
    async with _client(tls) as http:
        answers = await asyncio.gather(*(http.get(f"{state.url}/c{i}") for i in range(12)))
    assert sorted(a.text for a in answers) == sorted(f"/c{i}" for i in range(12))
    assert 1 <= state.connections <= LIMITS.max_connections


async def test_a_connection_the_server_closed_while_idle_is_not_reused(
    wire: tuple[Wire, ssl.SSLContext],
) -> None:
    state, tls = wire
    async with _client(tls) as http:
        assert (await http.get(f"{state.url}/first")).text == "/first"
        for writer in state.writers:  # the server times the idle connection out
            writer.close()
        await asyncio.sleep(0.05)  # its FIN reaches the client's event loop

        second = await http.get(f"{state.url}/second")

    assert second.text == "/second"
    # sent once, on a new connection: not on the dead one, not retried
    assert state.requests == ["/first", "/second"]
    assert state.connections == 2


async def test_large_bodies_arrive_whole(wire: tuple[Wire, ssl.SSLContext]) -> None:
    state, tls = wire
    size = 5 * 1024 * 1024  # several times the receive buffer's high-water mark
    async with _client(tls) as http:
        response = await http.get(f"{state.url}/big/{size}")
    assert len(response.content) == size
    assert response.content[:512] == bytes(range(256)) * 2
    assert response.content[-256:] == bytes(range(256))


async def test_chunked_bodies_are_decoded(wire: tuple[Wire, ssl.SSLContext]) -> None:
    state, tls = wire
    async with _client(tls) as http:
        assert (await http.get(f"{state.url}/chunked")).text == "hello world"


async def test_a_stalled_answer_is_a_read_timeout(wire: tuple[Wire, ssl.SSLContext]) -> None:
    state, tls = wire
    async with _client(tls, timeout=0.2) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"{state.url}/stall")
        # the pool is still usable afterwards
        assert (await http.get(f"{state.url}/after")).text == "/after"


async def test_a_hang_up_without_an_answer_is_a_remote_protocol_error(
    wire: tuple[Wire, ssl.SSLContext],
) -> None:
    # the transport retries exactly these (RETRYABLE_EXCEPTIONS), so the type matters
    state, tls = wire
    state.hang_ups = 1
    async with _client(tls) as http:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await http.get(f"{state.url}/report")


async def test_a_refused_connection_is_a_connect_error() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    async with _client(ssl.create_default_context()) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/")


@pytest.mark.parametrize("wire", ["https"], indirect=True)
async def test_an_untrusted_certificate_is_a_connect_error(
    wire: tuple[Wire, ssl.SSLContext],
) -> None:
    state, _ = wire
    async with _client(ssl.create_default_context()) as http:  # does not trust the test CA
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await http.get(f"{state.url}/secret")
    assert state.requests == []  # nothing was sent over the unverified connection


async def test_a_source_transport_over_it_retries_a_hang_up_once(
    wire: tuple[Wire, ssl.SSLContext],
) -> None:
    state, tls = wire
    state.hang_ups = 1
    sleeps: list[float] = []

    async def no_wait(seconds: float) -> None:
        sleeps.append(seconds)

    async with _client(tls) as http:
        transport = SourceTransport(source="wire", http=http, sleep=no_wait, random=lambda: 0.5)
        response = await transport.request("GET", f"{state.url}/report", endpoint="GET /r")

    assert response.text == "/report"
    assert state.requests == ["/report", "/report"]
    assert len(sleeps) == 1


class _FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.paused = False

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


def test_a_reader_falling_behind_pauses_the_socket_until_it_catches_up() -> None:
    transport = _FakeTransport()
    receiver = _Receiver()
    receiver.connection_made(transport)
    chunk = b"x" * 256 * 1024
    for _ in range(4):
        receiver.data_received(chunk)
    assert not transport.paused  # 1 MiB buffered: at the mark, not above it
    receiver.data_received(chunk)
    assert transport.paused

    taken = b""
    while transport.paused:
        taken += receiver.take(64 * 1024)
    # reading resumes once a quarter of the mark is left, and no byte was lost or reordered
    assert receiver.buffered == READ_HIGH_WATER // 4
    assert len(taken) + receiver.buffered == 5 * len(chunk)


@pytest.mark.parametrize(("core", "mapped"), _FAILURES, ids=lambda c: c.__name__)
def test_each_httpcore_failure_is_raised_as_the_most_specific_httpx_one(
    core: type[Exception], mapped: type[Exception]
) -> None:
    with pytest.raises(httpx.TransportError) as caught, _as_httpx_failures():
        raise core("what happened")
    assert type(caught.value) is mapped
    assert str(caught.value) == "what happened"
    assert isinstance(caught.value.__cause__, core)


def test_a_failure_that_is_not_httpcore_s_passes_unchanged() -> None:
    with pytest.raises(ValueError, match="ours"), _as_httpx_failures():
        raise ValueError("ours")

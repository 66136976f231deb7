"""httpcore's network layer on plain asyncio transports: what every upstream socket runs on.

httpcore's own backend on asyncio goes through anyio: each read and write sets up a cancel
scope, and each time the pool hands out a connection it asks the kernel (one `select` per idle
socket) whether the server hung up. With tens of concurrent upstream calls per GraphQL
request that was a third of the whole request's CPU (measured: see
docs/measurements.md#upstream-sockets-on-plain-asyncio). Here a protocol keeps
what the event loop received, reads return from it without suspending when data is there, and
"did the server hang up" is answered from that buffer, with no system call.

Failures keep httpcore's meaning (and so httpx's: `ConnectError`, `ReadTimeout`, ...), which
is what the retry policy in `clients.retries` acts on.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import httpcore
import httpx

__all__ = ["AsyncioBackend", "AsyncioStream", "PooledTransport", "pooled_transport"]

# Stop reading from the socket while this much is received and not yet taken by httpcore
# (it takes 64 KiB at a time), so a slow consumer cannot make the buffer grow without bound.
READ_HIGH_WATER = 1024 * 1024
READ_LOW_WATER = READ_HIGH_WATER // 4


class _Receiver(asyncio.Protocol):
    """Buffers what a connection receives and wakes the one reader or writer waiting on it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.eof = False
        self.error: Exception | None = None  # why the connection was lost, if it broke
        self.reading_paused = False
        self.writing_paused = False
        self.waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = _stream_transport(transport)

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered > READ_HIGH_WATER and not self.reading_paused and self.transport:
            self.reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> None:
        self.eof = True
        self._wake()
        # Returning None lets the transport close itself: HTTP has nothing to send after EOF.

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self.writing_paused = False
        self._wake()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake()

    def take(self, max_bytes: int) -> bytes:
        chunk = self.chunks.popleft()
        if len(chunk) > max_bytes:
            self.chunks.appendleft(chunk[max_bytes:])
            chunk = chunk[:max_bytes]
        self.buffered -= len(chunk)
        if self.reading_paused and self.buffered <= READ_LOW_WATER and self.transport:
            self.reading_paused = False
            self.transport.resume_reading()
        return chunk

    async def wait(self) -> None:
        """Until the next event on the connection."""
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One TCP (or TLS over TCP) connection, as httpcore reads and writes it."""

    def __init__(self, transport: asyncio.Transport, receiver: _Receiver) -> None:
        self._transport = transport
        self._receiver = receiver

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        receiver = self._receiver
        while not receiver.chunks:
            if receiver.eof:
                if receiver.error is not None:
                    raise httpcore.ReadError(str(receiver.error) or type(receiver.error).__name__)
                return b""  # the server closed the connection; httpcore decides what it means
            try:
                async with asyncio.timeout(timeout):
                    await receiver.wait()
            except TimeoutError:
                raise httpcore.ReadTimeout(f"no data for {timeout} s") from None
        return receiver.take(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        receiver = self._receiver
        if receiver.eof or self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self._transport.write(buffer)
        while receiver.writing_paused and not receiver.eof:
            try:
                async with asyncio.timeout(timeout):
                    await receiver.wait()
            except TimeoutError:
                raise httpcore.WriteTimeout(f"could not send for {timeout} s") from None
        if receiver.error is not None:
            raise httpcore.WriteError(str(receiver.error) or type(receiver.error).__name__)

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport,
                    self._receiver,
                    ssl_context,
                    server_hostname=server_hostname,
                )
        except TimeoutError:
            self._transport.abort()
            raise httpcore.ConnectTimeout(f"TLS handshake took over {timeout} s") from None
        except OSError as exc:  # ssl.SSLError included
            self._transport.abort()
            raise httpcore.ConnectError(str(exc)) from exc
        if transport is None:  # the connection closed during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        self._receiver.transport = _stream_transport(transport)
        return AsyncioStream(self._receiver.transport, self._receiver)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # An idle keep-alive connection with data or EOF waiting was closed by the server:
            # the pool must not send on it. The event loop has already read the socket.
            return bool(self._receiver.chunks) or self._receiver.eof
        key = {
            "ssl_object": "ssl_object",
            "client_addr": "sockname",
            "server_addr": "peername",
            "socket": "socket",
        }.get(info)
        return None if key is None else self._transport.get_extra_info(key)


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens `AsyncioStream`s; asyncio sets TCP_NODELAY on TCP sockets itself."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        try:
            async with asyncio.timeout(timeout):
                transport, receiver = await loop.create_connection(
                    _Receiver, host, port, local_addr=local
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"no connection within {timeout} s") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        return _opened(transport, receiver, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, receiver = await loop.create_unix_connection(_Receiver, path)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"no connection within {timeout} s") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        return _opened(transport, receiver, socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _opened(
    transport: asyncio.BaseTransport,
    receiver: _Receiver,
    socket_options: Iterable[httpcore.SOCKET_OPTION] | None,
) -> AsyncioStream:
    stream_transport = _stream_transport(transport)
    sock = stream_transport.get_extra_info("socket")
    for option in socket_options or ():
        sock.setsockopt(*option)
    return AsyncioStream(stream_transport, receiver)


def _stream_transport(transport: asyncio.BaseTransport) -> asyncio.Transport:
    # uvloop's transports have asyncio.Transport's methods without subclassing it, so the
    # type is asserted for the type checker only, not checked with isinstance
    return cast(asyncio.Transport, transport)


# httpcore's failures as httpx's (the retry policy and the callers know httpx's), the most
# specific first: a ReadTimeout is a TimeoutException and a ReadTimeout, and must stay the latter
_FAILURES: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _as_httpx_failures() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core, mapped in _FAILURES:
            if isinstance(exc, core):
                raise mapped(str(exc)) from exc
        raise


class _Body(httpx.AsyncByteStream):
    """A response body read from the pool, its failures as httpx's."""

    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_failures():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


class PooledTransport(httpx.AsyncBaseTransport):
    """An httpx transport over httpcore's connection pool on `AsyncioBackend`, through both
    libraries' public APIs only (httpx gives its own transport no way to choose the backend)."""

    def __init__(self, *, verify: ssl.SSLContext, limits: httpx.Limits) -> None:
        self.limits = limits
        self.backend = AsyncioBackend()
        self.pool = httpcore.AsyncConnectionPool(
            ssl_context=verify,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=self.backend,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        url = request.url
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_failures():
            response = await self.pool.handle_async_request(core)
        assert isinstance(response.stream, AsyncIterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.pool.aclose()


def pooled_transport(*, verify: ssl.SSLContext, limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    """An HTTP/1.1 connection pool for one upstream, on `AsyncioBackend`."""
    return PooledTransport(verify=verify, limits=limits)

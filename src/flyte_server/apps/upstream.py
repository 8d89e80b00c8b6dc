"""HTTP/1.1 to app replicas on loopback: kept-alive connections, responses parsed by ``httptools``.

The proxy's hot path. httpx cost about 0.9 ms per request on the benchmark machine (its URL and
header models, httpcore's h11 state machine) where this costs about 0.1 ms: the response is parsed
by httptools (llhttp, the parser uvicorn uses), the request head is formatted here, and bodies
stream both ways (a request body of unknown length goes out chunked). Idle connections are kept
per replica port for :data:`IDLE_SECONDS`, less than uvicorn's keep-alive timeout, and a request
whose body is in memory is retried once on a fresh connection when a kept one turns out closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httptools

__all__ = ["UpstreamError", "UpstreamPool", "UpstreamRefused", "UpstreamResponse", "UpstreamTimeout"]

IDLE_SECONDS = 4.0
"""Idle connections older than this are closed instead of reused (uvicorn closes them after 5 s)."""
MAX_IDLE_PER_PORT = 64
_READ = 256 * 1024
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


class UpstreamError(Exception):
    """The replica did not answer, or broke off its response."""


class UpstreamRefused(UpstreamError):
    """Nothing listens on the replica's port (it died)."""


class UpstreamTimeout(UpstreamError):
    """The replica did not start its response within the app's request timeout."""


class _Closed(UpstreamError):
    """The connection was closed before any byte of a response (safe to retry a buffered request)."""


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


@dataclass
class UpstreamResponse:
    """A response whose head has arrived; its body arrives through :meth:`body`."""

    status: int
    headers: list[tuple[bytes, bytes]]
    _exchange: _Exchange

    @property
    def complete(self) -> bool:
        """Whether the whole response has arrived already."""
        return self._exchange.complete

    def body(self) -> AsyncIterator[bytes]:
        return self._exchange.body()


@dataclass
class _Exchange:
    connection: _Connection
    head_only: bool
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    pieces: list[bytes] = field(default_factory=list)
    head_done: bool = False
    complete: bool = False
    received: bool = False
    keep_alive: bool = False
    parser: Any = None

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.head_done = True
        self.keep_alive = bool(self.parser.should_keep_alive())  # llhttp forgets it once the message ends
        if self.head_only:
            self.complete = True

    def on_body(self, body: bytes) -> None:
        self.pieces.append(body)

    def on_message_complete(self) -> None:
        self.complete = True

    async def _feed(self) -> bool:
        """Read once and parse; ``False`` at end of stream."""
        data = await self.connection.reader.read(_READ)
        if not data:
            return False
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass
        except httptools.HttpParserError as error:
            raise UpstreamError(f"the app sent an invalid response: {error}") from error
        return True

    async def head(self) -> None:
        while not self.head_done:
            if not await self._feed():
                raise (UpstreamError if self.received else _Closed)("the app closed the connection")

    async def body(self) -> AsyncIterator[bytes]:
        while True:
            if self.pieces:
                pieces, self.pieces = self.pieces, []
                for piece in pieces:
                    yield piece
            if self.complete:
                return
            if not await self._feed():
                if _close_delimited(self.headers):
                    self.complete = True
                    continue
                raise UpstreamError("the app broke off its response")


def _close_delimited(headers: list[tuple[bytes, bytes]]) -> bool:
    names = {name for name, _ in headers}
    return b"content-length" not in names and b"transfer-encoding" not in names


class UpstreamPool:
    """Kept-alive connections to replicas, by port."""

    def __init__(self) -> None:
        self._idle: dict[int, list[_Connection]] = {}

    async def close(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    def _take(self, port: int) -> _Connection | None:
        idle = self._idle.get(port)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if now - connection.idle_since < IDLE_SECONDS and not connection.reader.at_eof():
                return connection
            connection.close()
        return None

    def _give_back(self, port: int, connection: _Connection) -> None:
        idle = self._idle.setdefault(port, [])
        if len(idle) >= MAX_IDLE_PER_PORT:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        idle.append(connection)

    @contextlib.asynccontextmanager
    async def request(
        self,
        port: int,
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes | Callable[[], Awaitable[tuple[bytes, bool]]],
        *,
        timeout: float | None = None,
    ) -> AsyncIterator[UpstreamResponse]:
        """Send a request to the replica on ``port`` and yield its response once the head is in.

        ``body`` is the whole body, or a function returning ``(piece, more)`` for a streamed one.
        The connection goes back to the pool when the response was read to its end. ``timeout``
        bounds the wait for the response's head (the app's request timeout).

        Raises:
            UpstreamError: the replica refused the connection, closed it, or sent garbage.
        """
        streamed = not isinstance(body, bytes)
        for attempt in (0, 1):
            connection = self._take(port) if attempt == 0 and not streamed else None
            reused = connection is not None
            if connection is None:
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=_READ)
                except OSError as error:
                    raise UpstreamRefused(f"cannot connect: {error.strerror or error}") from error
                connection = _Connection(reader, writer)
            exchange = _Exchange(connection=connection, head_only=method == "HEAD")
            exchange.parser = httptools.HttpResponseParser(exchange)
            try:
                if timeout is None:
                    await _send_request(connection.writer, method, target, headers, body)
                    await exchange.head()
                else:
                    await asyncio.wait_for(_exchange_head(connection, exchange, method, target, headers, body), timeout)
            except asyncio.TimeoutError as error:
                connection.close()
                raise UpstreamTimeout(f"no response within the app's request timeout ({timeout:g}s)") from error
            except (_Closed, ConnectionError) as error:
                connection.close()
                if reused and not streamed:
                    continue  # a kept connection the app had closed: once more on a fresh one
                if not exchange.received and not streamed and method in _IDEMPOTENT:
                    # Accepted, then reset without an answer: the replica is dying (a connection made
                    # while its listening socket was still open). Safe to send again elsewhere.
                    raise UpstreamRefused(f"the app closed the connection: {error}") from error
                raise UpstreamError(f"the app closed the connection: {error}") from error
            except BaseException:
                connection.close()
                raise
            break
        assert connection is not None
        status = int(exchange.parser.get_status_code())
        reusable = False
        try:
            yield UpstreamResponse(status=status, headers=exchange.headers, _exchange=exchange)
            reusable = exchange.complete and exchange.keep_alive and not exchange.pieces
        except ConnectionError as error:
            raise UpstreamError(f"the app broke off its response: {error}") from error
        finally:
            if reusable:
                self._give_back(port, connection)
            else:
                connection.close()


async def _exchange_head(
    connection: _Connection,
    exchange: _Exchange,
    method: str,
    target: str,
    headers: list[tuple[bytes, bytes]],
    body: bytes | Callable[[], Awaitable[tuple[bytes, bool]]],
) -> None:
    await _send_request(connection.writer, method, target, headers, body)
    await exchange.head()


async def _send_request(
    writer: asyncio.StreamWriter,
    method: str,
    target: str,
    headers: list[tuple[bytes, bytes]],
    body: bytes | Callable[[], Awaitable[tuple[bytes, bool]]],
) -> None:
    head = [f"{method} {target} HTTP/1.1\r\n".encode("latin-1"), b"host: 127.0.0.1\r\n"]
    has_length = False
    for name, value in headers:
        if name == b"content-length":
            has_length = True
        head.append(name + b": " + value + b"\r\n")
    if isinstance(body, bytes):
        if not has_length and (body or method in ("POST", "PUT", "PATCH")):
            head.append(b"content-length: " + str(len(body)).encode() + b"\r\n")
        head.append(b"\r\n")
        writer.write(b"".join(head) + body)
        await writer.drain()
        return
    chunked = not has_length
    if chunked:
        head.append(b"transfer-encoding: chunked\r\n")
    head.append(b"\r\n")
    writer.write(b"".join(head))
    while True:
        piece, more = await body()
        if piece:
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            await writer.drain()
        if not more:
            break
    if chunked:
        writer.write(b"0\r\n\r\n")
    await writer.drain()

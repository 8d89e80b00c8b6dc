"""Resource limits of the HTTP server: request sizes, read timeouts and the connection cap.

:class:`ServerLimits` holds the numbers (docs/limits.md explains each). :func:`uvicorn_options`
turns them into uvicorn's own settings (``limit_concurrency``, ``timeout_keep_alive``, the h11
header limit) plus an HTTP protocol class that adds what uvicorn lacks on its httptools parser: a
deadline for the request line and headers, a cap on their size, and an idle timeout while a
request body is being received. Request *bodies* are bounded by :mod:`flyte_server.rpc_guard`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

__all__ = ["ServerLimits", "uvicorn_options"]

logger = logging.getLogger(__name__)

MiB = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class ServerLimits:
    """How much one client may make the server hold, and for how long.

    Example:
        >>> ServerLimits(max_request_bytes=1024 * 1024).max_request_bytes
        1048576
    """

    max_request_bytes: int = 64 * MiB
    """The largest Connect request message, on the wire and after decompression; past it the
    request is answered ``RESOURCE_EXHAUSTED`` and the connection closed, without reading the rest."""
    max_header_bytes: int = 64 * 1024
    """The largest request line plus headers; past it the connection is answered 431 and closed."""
    header_timeout: float = 30.0
    """Seconds a client has to send a request line and its headers once it has connected or started a request."""
    body_timeout: float = 30.0
    """Seconds a request body may go without a byte arriving while the server waits for it."""
    keep_alive_timeout: float = 5.0
    """Seconds an idle keep-alive connection stays open between requests."""
    max_connections: int = 1000
    """Open connections (or requests in flight) past which new requests are answered 503."""


def uvicorn_options(limits: ServerLimits, http: str) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config`` that apply ``limits`` (``http``: ``httptools`` or ``h11``)."""
    options: dict[str, Any] = {
        "limit_concurrency": limits.max_connections,
        "timeout_keep_alive": limits.keep_alive_timeout,
        "h11_max_incomplete_event_size": limits.max_header_bytes,
    }
    options["http"] = _timed_httptools_protocol(limits) if http == "httptools" else http
    return options


def _timed_httptools_protocol(limits: ServerLimits) -> type[asyncio.Protocol]:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class TimedHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[misc]  # uvicorn's protocol classes are untyped here
        """uvicorn's httptools protocol with a header deadline, a header size cap and a body idle timeout.

        The timers are per connection: a header timer runs from the moment a request may start
        (connection made, or first byte of the next request) until its headers are complete; a body
        timer then runs while the body arrives, and is pushed back by every chunk and while the
        application itself holds reading paused.
        """

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._limits = limits
            self._reading_headers = True
            self._header_bytes = 0
            self._read_timer: asyncio.TimerHandle | None = None
            self._body_seen_at = 0.0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm(self._limits.header_timeout, self._headers_late)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._reading_headers:
                if self._read_timer is None:
                    self._arm(self._limits.header_timeout, self._headers_late)
                self._header_bytes += len(data)
            super().data_received(data)
            if self._reading_headers and self._header_bytes > self._limits.max_header_bytes:
                self._refuse(431, "Request Header Fields Too Large", "request headers too large")

        def on_headers_complete(self) -> None:
            self._reading_headers = False
            self._header_bytes = 0
            self._body_seen_at = self.loop.time()
            self._arm(self._limits.body_timeout, self._body_stalled)
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            self._body_seen_at = self.loop.time()
            super().on_body(body)

        def on_message_complete(self) -> None:
            self._disarm()
            self._reading_headers = True
            super().on_message_complete()

        def _arm(self, delay: float, callback: Any) -> None:
            self._disarm()
            self._read_timer = self.loop.call_later(delay, callback)

        def _disarm(self) -> None:
            if self._read_timer is not None:
                self._read_timer.cancel()
                self._read_timer = None

        def _headers_late(self) -> None:
            self._read_timer = None
            if not self._reading_headers or self.transport.is_closing():
                return
            if self.cycle is not None and not self.cycle.response_complete:
                return  # a response is still going out; the next request's clock starts with its first byte
            self._refuse(408, "Request Timeout", "request headers not received in time")

        def _body_stalled(self) -> None:
            self._read_timer = None
            if self._reading_headers or self.transport.is_closing():
                return
            now = self.loop.time()
            if self.flow is not None and self.flow.read_paused:
                # The application has not taken what arrived yet: the client is not the slow one.
                self._body_seen_at = now
            idle = now - self._body_seen_at
            if idle < self._limits.body_timeout:
                self._arm(self._limits.body_timeout - idle, self._body_stalled)
                return
            logger.info(
                "closed a connection whose request body stalled",
                extra={"client": _peer(self.client), "seconds": self._limits.body_timeout},
            )
            self.transport.close()

        def _refuse(self, status: int, reason: str, message: str) -> None:
            self._disarm()
            if self.transport.is_closing():
                return
            logger.info("refused a request", extra={"client": _peer(self.client), "reason": message})
            body = f"{message}\n".encode()
            self.transport.write(
                f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
                + body
            )
            self.transport.close()

    return TimedHttpToolsProtocol


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "-"

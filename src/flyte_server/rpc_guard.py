"""The ASGI layer in front of every Connect service: bounded request bodies and clean internal errors.

connectrpc 0.10 reads a whole request body, decompresses it without a bound and only then compares
its size with ``read_max_bytes``; a stream envelope's declared length is trusted until the bytes
arrive; an exception in a service reaches the client as ``unknown`` with its raw text (SQL and
parameters included). :class:`RpcGuard` wraps one connectrpc application and

- reads the body with a byte cap (``Content-Length`` checked first), so a 500 MB body costs at most
  the cap; an oversized request is answered ``RESOURCE_EXHAUSTED`` and its connection closed;
- inflates gzip bodies itself, in bounded steps, off the event loop when more than a little, and
  hands the application the plain bytes (a gzip bomb stops at the cap; bad gzip is ``INVALID_ARGUMENT``);
- checks each stream envelope's declared length before buffering it, and unpacks compressed envelopes
  the same bounded way;
- turns any exception that escapes the application into ``INTERNAL`` with a request id and no
  internals; the traceback goes to the server log under that id. Values a database cannot hold
  (an integer past 64 bits, text it refuses) are ``INVALID_ARGUMENT`` instead.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import struct
import urllib.parse
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from connectrpc._protocol import ConnectWireError
from connectrpc._protocol_connect import ConnectEnvelopeWriter
from connectrpc._protocol_grpc import GRPCWebEnvelopeWriter
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import Headers
from sqlalchemy.exc import DataError

from flyte_server.limits import ServerLimits

__all__ = ["RpcGuard", "guard_connect_app", "inflate_gzip"]

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_INLINE_INFLATE_INPUT = 64 * 1024
"""Compressed bodies up to this size are first inflated on the event loop (up to ``_INLINE_INFLATE_OUTPUT``)."""
_INLINE_INFLATE_OUTPUT = 1024 * 1024
_INFLATE_STEP = 1024 * 1024
"""Output per zlib call: a bomb then grows the output in small pieces instead of one huge buffer."""
_ENVELOPE_HEADER = struct.Struct(">BI")
_COMPRESSED_FLAG = 0x01

UNARY, CONNECT_STREAM, GRPC_WEB, GRPC = "unary", "connect-stream", "grpc-web", "grpc"


class _Refusal(Exception):
    """A request refused before the application saw it."""

    def __init__(self, code: Code, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.close = close


class _TooLarge(_Refusal):
    def __init__(self, limit: int, what: str = "request message") -> None:
        super().__init__(Code.RESOURCE_EXHAUSTED, f"the {what} is larger than the limit of {limit} bytes", close=True)


class _ClientGone(Exception):
    """The client disconnected before its request body was complete."""


def inflate_gzip(data: bytes, limit: int) -> bytes:
    """The gzip ``data`` inflated, refusing more than ``limit`` bytes of output (and bad gzip).

    Output is produced in steps of at most what is left under the limit, so a small bomb costs at
    most ``limit`` bytes. Concatenated gzip members are accepted, as ``gzip.decompress`` does.

    Raises:
        _Refusal: ``RESOURCE_EXHAUSTED`` past the limit, ``INVALID_ARGUMENT`` for data that is not gzip.

    Example:
        >>> import gzip
        >>> inflate_gzip(gzip.compress(b"hello"), 10)
        b'hello'
    """
    pieces: list[bytes] = []
    size = 0
    rest = data
    try:
        while rest:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            pending = rest
            while not inflater.eof:
                piece = inflater.decompress(pending, min(limit + 1 - size, _INFLATE_STEP))
                if piece:
                    size += len(piece)
                    if size > limit:
                        raise _TooLarge(limit, "decompressed request message")
                    pieces.append(piece)
                pending = inflater.unconsumed_tail
                if not piece and not pending and not inflater.eof:
                    raise _Refusal(Code.INVALID_ARGUMENT, "the gzip-compressed body is truncated")
            rest = inflater.unused_data
    except zlib.error as e:
        raise _Refusal(Code.INVALID_ARGUMENT, f"the body is not valid gzip data ({e})") from e
    return b"".join(pieces)


async def _inflate(data: bytes, limit: int) -> bytes:
    if len(data) <= _INLINE_INFLATE_INPUT:
        try:
            return inflate_gzip(data, min(limit, _INLINE_INFLATE_OUTPUT))
        except _TooLarge:
            if limit <= _INLINE_INFLATE_OUTPUT:
                raise
    return await asyncio.to_thread(inflate_gzip, data, limit)


def _request_kind(content_type: str) -> str:
    if content_type.startswith("application/grpc-web"):
        return GRPC_WEB
    if content_type.startswith("application/grpc"):
        return GRPC
    if content_type.startswith("application/connect+"):
        return CONNECT_STREAM
    return UNARY


def _encoding_header(kind: str) -> str:
    if kind == CONNECT_STREAM:
        return "connect-content-encoding"
    if kind == GRPC_WEB:
        return "grpc-encoding"
    return "content-encoding"


def new_request_id() -> str:
    """A short random id that ties a client's error message to the server log."""
    return secrets.token_hex(8)


class RpcGuard:
    """Wraps one connectrpc ASGI application (see the module docstring); keeps its ``path``.

    Example:
        >>> app = RpcGuard(SecretServiceASGIApplication(service), ServerLimits())  # doctest: +SKIP
    """

    def __init__(self, app: Any, limits: ServerLimits) -> None:
        self.app = app
        self.path: str = app.path
        self._limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        kind = _request_kind(headers.get("content-type", ""))
        try:
            if kind == GRPC:
                raise _Refusal(
                    Code.UNIMPLEMENTED, "gRPC over HTTP/2 is not served here; use the Connect or gRPC-Web protocol"
                )
            if scope.get("method") == "POST":
                scope, receive = await self._bounded_body(scope, receive, headers, kind)
            elif scope.get("method") == "GET":
                _check_get(scope)
        except _ClientGone:
            return
        except _Refusal as refusal:
            await _send_error(send, kind, headers, refusal.code, refusal.message, close=refusal.close)
            return
        await self._run(scope, receive, send, kind, headers)

    async def _bounded_body(
        self, scope: Scope, receive: Receive, headers: dict[str, str], kind: str
    ) -> tuple[Scope, Receive]:
        limit = self._limits.max_request_bytes
        wire_limit = limit if kind == UNARY else limit + _ENVELOPE_HEADER.size
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > wire_limit:
            raise _TooLarge(limit)
        body = await _read_body(receive, wire_limit, check_envelope=kind != UNARY, limit=limit)
        encoding_header = _encoding_header(kind)
        encoding = headers.get(encoding_header, "identity").strip().lower()
        if kind == UNARY:
            if encoding != "gzip":
                return scope, _replay(body, receive)  # identity, or one connectrpc refuses by name
            if body:
                body = await _inflate(body, limit)
        else:
            if encoding not in ("gzip", "identity"):
                return scope, _replay(body, receive)
            body = await _unpack_envelopes(body, compressed=encoding == "gzip", limit=limit)
        plain = dict(scope)
        dropped = encoding_header.encode()
        plain["headers"] = [(name, value) for name, value in scope.get("headers", []) if name != dropped]
        return plain, _replay(body, receive)

    async def _run(self, scope: Scope, receive: Receive, send: Send, kind: str, headers: dict[str, str]) -> None:
        guarded = _HeldSend(send)
        gone = False
        if kind != UNARY:
            # connectrpc notices a client that left a server stream only when the stream yields its
            # next message: a watch with nothing new to say (a parked task's, say) would hold its
            # request task, and a connection slot, until the run ends. Stop it as soon as the
            # client's disconnect arrives (connectrpc reads it through this receive).
            request_task = asyncio.current_task()
            plain_receive = receive

            async def receive() -> Message:
                nonlocal gone
                message = await plain_receive()
                if message["type"] == "http.disconnect" and not gone and request_task is not None:
                    gone = True
                    request_task.cancel()
                return message

        try:
            await self.app(scope, receive, guarded)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not gone or current is None:
                raise
            current.uncancel()  # the cancellation was ours: the client is gone, there is nobody to answer
            return
        except ConnectError:
            await guarded.flush()  # connectrpc re-raises a cancelled stream after answering it
            return
        except Exception as error:
            request_id = new_request_id()
            code, message = _describe(error, request_id)
            log = logger.warning if code == Code.INVALID_ARGUMENT else logger.error
            log(
                "request failed",
                exc_info=error,
                extra={"request_id": request_id, "rpc": scope.get("path", ""), "code": code.value},
            )
            await guarded.replace(kind, headers, code, message, request_id)
            return
        await guarded.flush()


def guard_connect_app(app: Any, limits: ServerLimits) -> RpcGuard:
    """``app`` behind an :class:`RpcGuard` with ``limits``."""
    return RpcGuard(app, limits)


def _describe(error: Exception, request_id: str) -> tuple[Code, str]:
    if isinstance(error, OverflowError) or _is_bad_value(error):
        return Code.INVALID_ARGUMENT, (
            f"a value in the request is out of range or not storable text (request id {request_id})"
        )
    return Code.INTERNAL, f"internal error (request id {request_id}); the server log has the details"


def _is_bad_value(error: BaseException) -> bool:
    # PostgreSQL's class 22 ("data exception": NUL in text, numeric out of range, bad encoding).
    if isinstance(error, DataError):
        return True
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None) or getattr(error, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith("22")


def _headers(scope: Scope) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        result.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return result


def _check_get(scope: Scope) -> None:
    query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
    compression = query.get("compression", ["identity"])[0]
    if compression not in ("", "identity"):
        raise _Refusal(Code.INVALID_ARGUMENT, "compressed GET requests are not accepted; send it plain or POST it")


async def _read_body(receive: Receive, wire_limit: int, *, check_envelope: bool, limit: int) -> bytes:
    buffer = bytearray()
    checked = False
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = message.get("body", b"")
        if len(buffer) + len(chunk) > wire_limit:
            raise _TooLarge(limit)
        buffer += chunk
        if check_envelope and not checked and len(buffer) >= _ENVELOPE_HEADER.size:
            checked = True
            _, length = _ENVELOPE_HEADER.unpack_from(buffer)
            if length > limit:
                raise _TooLarge(limit)
        if not message.get("more_body", False):
            return bytes(buffer)


async def _unpack_envelopes(body: bytes, *, compressed: bool, limit: int) -> bytes:
    """The stream ``body`` with every message uncompressed (flag 0), each checked against ``limit``."""
    out = bytearray()
    position = 0
    while position < len(body):
        if len(body) - position < _ENVELOPE_HEADER.size:
            raise _Refusal(Code.INVALID_ARGUMENT, "the request stream ends inside a message header")
        flags, length = _ENVELOPE_HEADER.unpack_from(body, position)
        if length > limit:
            raise _TooLarge(limit)
        start = position + _ENVELOPE_HEADER.size
        if start + length > len(body):
            raise _Refusal(Code.INVALID_ARGUMENT, "the request stream ends inside a message")
        if flags & ~_COMPRESSED_FLAG:
            raise _Refusal(Code.INVALID_ARGUMENT, f"unexpected message flags {flags:#04x} in a request stream")
        payload = body[start : start + length]
        if flags & _COMPRESSED_FLAG:
            if not compressed:
                raise _Refusal(Code.INVALID_ARGUMENT, "a message is marked compressed but no compression was declared")
            payload = await _inflate(payload, limit)
        out += _ENVELOPE_HEADER.pack(0, len(payload))
        out += payload
        position = start + length
    return bytes(out)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands ``body`` over once, then the client's own (disconnect) events."""
    pending: list[bytes] = [body]

    async def replay() -> Message:
        if pending:
            return {"type": "http.request", "body": pending.pop(), "more_body": False}
        return await receive()

    return replay


class _HeldSend:
    """Forwards a response, holding its start (until a body part) and its last part (until the app returns).

    What is held can still be replaced by an error when the application raises after answering
    with the exception's raw text, as connectrpc does.
    """

    def __init__(self, send: Send) -> None:
        self._send = send
        self._start: Message | None = None
        self._started = False
        self._last: Message | None = None

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self._start = message
            return
        if kind == "http.response.body" and not message.get("more_body", False):
            self._last = message
            return
        await self._release_start()
        await self._send(message)

    async def _release_start(self) -> None:
        if self._start is not None:
            start, self._start = self._start, None
            self._started = True
            await self._send(start)

    async def flush(self) -> None:
        await self._release_start()
        if self._last is not None:
            last, self._last = self._last, None
            await self._send(last)

    async def replace(self, kind: str, headers: dict[str, str], code: Code, message: str, request_id: str) -> None:
        self._start = self._last = None
        if not self._started:
            await _send_error(self._send, kind, headers, code, message, request_id=request_id)
            return
        body = _stream_end(kind, code, message)
        if body is not None:
            await self._send({"type": "http.response.body", "body": body, "more_body": False})
        else:
            await self._send({"type": "http.response.body", "body": b"", "more_body": False})


def _stream_end(kind: str, code: Code, message: str) -> bytes | None:
    error = ConnectWireError(code, message, ())
    if kind == CONNECT_STREAM:
        return ConnectEnvelopeWriter(None, None).end(Headers(), error)  # type: ignore[arg-type]  # no codec needed to end
    if kind == GRPC_WEB:
        return GRPCWebEnvelopeWriter(None, None).end(Headers(), error)  # type: ignore[arg-type]  # no codec needed to end
    return None


async def _send_error(
    send: Send,
    kind: str,
    headers: dict[str, str],
    code: Code,
    message: str,
    *,
    close: bool = False,
    request_id: str | None = None,
) -> None:
    """Answer with a Connect error in the request's protocol (unary JSON, or a stream's end message)."""
    error = ConnectWireError(code, message, ())
    body = _stream_end(kind, code, message)
    if body is not None:
        status = 200
        content_type = headers.get("content-type", "application/connect+json").encode("latin-1")
    else:
        status = error.to_http_status().code
        body = error.to_json_bytes()
        content_type = b"application/json"
    response_headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if request_id is not None:
        response_headers.append((b"x-request-id", request_id.encode()))
    if close:
        response_headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": response_headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})

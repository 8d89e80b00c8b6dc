"""The ASGI application: every Connect service, the signed-URL endpoint and ``/healthz`` on one port."""

from __future__ import annotations

import asyncio
import base64
import os
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flyte_server.blobs.local import SIGNED_PREFIX, BlobPathError, LocalBlobStore

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_UPLOAD_BYTES = 5 * 1024**3
"""The largest object a signed URL accepts."""

__all__ = ["MAX_UPLOAD_BYTES", "Router", "redirect", "respond"]


@dataclass
class Router:
    """Dispatches requests: Connect services by path prefix, plus the HTTP endpoints.

    ``connect_apps`` are connectrpc ASGI applications (each knows its ``path``,
    ``/<package>.<Service>``); ``ready`` is flipped once the server can take requests;
    ``root_redirect``, when set, is where a request for ``/`` is sent (the web console).
    """

    connect_apps: Sequence[Any]
    blobs: Any = None
    extra_routes: dict[str, ASGIApp] = field(default_factory=dict)
    websocket_routes: dict[str, ASGIApp] = field(default_factory=dict)
    """WebSocket endpoints by path prefix (apps behind the proxy)."""
    root_redirect: str | None = None
    ready: bool = False

    def __post_init__(self) -> None:
        self._by_path = {app.path: app for app in self.connect_apps}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path == "/healthz":
            status = 200 if self.ready else 503
            await respond(send, status, b"ok\n" if self.ready else b"starting\n")
            return
        if path.startswith(SIGNED_PREFIX):
            await self._signed_blob(scope, receive, send)
            return
        if path == "/" and self.root_redirect is not None:
            await redirect(send, self.root_redirect)
            return
        service_path = path.rsplit("/", 1)[0]
        app = self._by_path.get(service_path)
        if app is not None:
            await app(scope, receive, send)
            return
        for prefix, route in self.extra_routes.items():
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                await route(scope, receive, send)
                return
        await respond(send, 404, b"not found\n")

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        for prefix, route in self.websocket_routes.items():
            if path.startswith(prefix):
                await route(scope, receive, send)
                return
        await send({"type": "websocket.close", "code": 1008, "reason": "not found"})

    async def _signed_blob(self, scope: Scope, receive: Receive, send: Send) -> None:
        store = self.blobs
        if not isinstance(store, LocalBlobStore):
            await respond(send, 404, b"signed URLs are served by the object store\n")
            return
        key = urllib.parse.unquote(scope["path"][len(SIGNED_PREFIX) :])
        method = scope["method"]
        query = scope.get("query_string", b"").decode()
        headers = {name.decode().lower(): value.decode() for name, value in scope.get("headers", [])}
        try:
            if method == "PUT":
                declared_md5 = headers.get("content-md5")
                if not store.verify("PUT", key, query, content_md5=declared_md5):
                    await respond(send, 403, b"invalid or expired signature\n")
                    return
                await _stream_upload(store, key, declared_md5, headers, receive, send)
            elif method == "GET":
                if not store.verify("GET", key, query, content_md5=None):
                    await respond(send, 403, b"invalid or expired signature\n")
                    return
                await _stream_download(store, key, send)
            else:
                await respond(send, 405, b"method not allowed\n")
        except BlobPathError as error:
            await respond(send, 400, f"{error}\n".encode())


_PIECE = 1024 * 1024
"""Uploads are written, and downloads read, this many bytes at a time: memory stays flat whatever the size."""


async def _stream_upload(
    store: LocalBlobStore, key: str, declared_md5: str | None, headers: dict[str, str], receive: Receive, send: Send
) -> None:
    declared_size = headers.get("content-length", "")
    if declared_size.isdigit() and int(declared_size) > MAX_UPLOAD_BYTES:
        await respond(send, 413, b"object too large\n", close=True)
        return
    upload = await asyncio.to_thread(store.begin_upload, key)
    try:
        pending = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            pending += message.get("body", b"")
            more = bool(message.get("more_body", False))
            if upload.size + len(pending) > MAX_UPLOAD_BYTES:
                await respond(send, 413, b"object too large\n", close=True)
                return
            if len(pending) >= _PIECE or not more:
                await asyncio.to_thread(upload.write, bytes(pending))
                pending.clear()
            if not more:
                break
        if declared_md5 and base64.b64encode(upload.md5).decode() != declared_md5:
            await respond(send, 400, b"Content-MD5 does not match the body\n")
            return
        if not await asyncio.to_thread(upload.commit):
            await respond(send, 409, b"the object exists with other content\n")
            return
    finally:
        await asyncio.to_thread(upload.discard)
    await respond(send, 200, b"")


async def _stream_download(store: LocalBlobStore, key: str, send: Send) -> None:
    handle = await asyncio.to_thread(store.open_object, key)
    if handle is None:
        await respond(send, 404, b"no such object\n")
        return
    try:
        size = os.fstat(handle.fileno()).st_size
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/octet-stream"), (b"content-length", str(size).encode())],
            }
        )
        left = size
        while left > 0:
            piece = await asyncio.to_thread(handle.read, min(_PIECE, left))
            if not piece:
                break  # the file shrank under us: the client sees a short body and fails
            left -= len(piece)
            await send({"type": "http.response.body", "body": piece, "more_body": left > 0})
        if left > 0 or size == 0:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        handle.close()


async def respond(
    send: Send, status: int, body: bytes, *, content_type: bytes = b"text/plain", close: bool = False
) -> None:
    """A whole response of ``body`` (``close``: ask the client not to reuse the connection)."""
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if close:  # the request body was not read to its end: do not read the rest as a next request
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def redirect(send: Send, location: str, status: int = 302) -> None:
    """An empty redirect response to ``location``."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"location", location.encode()), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return

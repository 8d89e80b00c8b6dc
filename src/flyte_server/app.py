"""The ASGI application: every Connect service, the signed-URL endpoint and ``/healthz`` on one port."""

from __future__ import annotations

import base64
import hashlib
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

__all__ = ["MAX_UPLOAD_BYTES", "Router"]


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
    root_redirect: str | None = None
    ready: bool = False

    def __post_init__(self) -> None:
        self._by_path = {app.path: app for app in self.connect_apps}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path == "/healthz":
            status = 200 if self.ready else 503
            await _respond(send, status, b"ok\n" if self.ready else b"starting\n")
            return
        if path.startswith(SIGNED_PREFIX):
            await self._signed_blob(scope, receive, send)
            return
        if path == "/" and self.root_redirect is not None:
            await _redirect(send, self.root_redirect)
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
        await _respond(send, 404, b"not found\n")

    async def _signed_blob(self, scope: Scope, receive: Receive, send: Send) -> None:
        store = self.blobs
        if not isinstance(store, LocalBlobStore):
            await _respond(send, 404, b"signed URLs are served by the object store\n")
            return
        key = urllib.parse.unquote(scope["path"][len(SIGNED_PREFIX) :])
        method = scope["method"]
        query = scope.get("query_string", b"").decode()
        headers = {name.decode().lower(): value.decode() for name, value in scope.get("headers", [])}
        try:
            if method == "PUT":
                declared_md5 = headers.get("content-md5")
                if not store.verify("PUT", key, query, content_md5=declared_md5):
                    await _respond(send, 403, b"invalid or expired signature\n")
                    return
                body = await _read_body(receive, MAX_UPLOAD_BYTES)
                if body is None:
                    await _respond(send, 413, b"object too large\n")
                    return
                if declared_md5 and base64.b64encode(hashlib.md5(body).digest()).decode() != declared_md5:
                    await _respond(send, 400, b"Content-MD5 does not match the body\n")
                    return
                if not await store.put_upload(key, body):
                    await _respond(send, 409, b"the object exists with other content\n")
                    return
                await _respond(send, 200, b"")
            elif method == "GET":
                if not store.verify("GET", key, query, content_md5=None):
                    await _respond(send, 403, b"invalid or expired signature\n")
                    return
                data = await store.get(key)
                if data is None:
                    await _respond(send, 404, b"no such object\n")
                    return
                await _respond(send, 200, data, content_type=b"application/octet-stream")
            else:
                await _respond(send, 405, b"method not allowed\n")
        except BlobPathError as error:
            await _respond(send, 400, f"{error}\n".encode())


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, *, content_type: bytes = b"text/plain") -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Send, location: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 302,
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

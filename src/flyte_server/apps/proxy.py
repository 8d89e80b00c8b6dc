"""The reverse proxy at ``/apps/<name>/``: HTTP through httpx (streamed both ways), WebSocket through ``websockets``.

The prefix ``/apps/<name>`` is stripped before the request reaches the app (it is passed on in
``X-Forwarded-Prefix``). Each request is counted in flight by the supervisor, which starts a
scaled-to-zero app and holds the request until a replica answers. With authentication on, an
app deployed with ``requires_auth=False`` (``allow_anonymous``) is public; any other needs a
valid bearer token, which is not passed on to the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from flyte_server.app import redirect, respond
from flyte_server.apps.supervisor import AppNotRunning, AppSupervisor
from flyte_server.apps.upstream import UpstreamError, UpstreamPool, UpstreamRefused, UpstreamTimeout

__all__ = ["APPS_PREFIX", "AppProxy"]

logger = logging.getLogger(__name__)

APPS_PREFIX = "/apps/"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"expect",
    }
)
_RESPONSE_SKIP = _HOP_BY_HOP | {b"date", b"server"}
"""The server adds its own ``date`` and ``server`` headers."""
_WS_SKIP = frozenset(
    {
        b"host",
        b"connection",
        b"upgrade",
        b"sec-websocket-key",
        b"sec-websocket-version",
        b"sec-websocket-extensions",
        b"sec-websocket-protocol",
        b"authorization",
    }
)


class AppProxy:
    """The ASGI app serving ``/apps/<name>/...`` from the app's replicas.

    ``authenticate`` (set when the server requires authentication) checks a bearer token and
    raises on an invalid one; ``is_public`` says whether an app may be called without one.
    """

    def __init__(self, supervisor: AppSupervisor) -> None:
        self.supervisor = supervisor
        self.authenticate: Callable[[str], Awaitable[Any]] | None = None
        self._upstream = UpstreamPool()

    async def close(self) -> None:
        await self._upstream.close()

    def _split(self, path: str) -> tuple[str, str]:
        rest = path[len(APPS_PREFIX) :]
        name, slash, tail = rest.partition("/")
        return name, slash + tail

    async def _allowed(self, scope: Scope, name: str) -> tuple[bool, str]:
        """Whether the request may reach app ``name``: (allowed, reason)."""
        if self.authenticate is None:
            return True, ""
        runtime = self.supervisor.by_name(name)
        if runtime is not None and runtime.spec.security_context.allow_anonymous:
            return True, ""
        token = None
        for key, value in scope.get("headers", []):
            if key == b"authorization" and value[:7].lower() == b"bearer ":
                token = value[7:].decode("latin-1").strip()
        if not token:
            return False, "this app requires authentication: send a bearer token (an API key)"
        try:
            await self.authenticate(token)
        except Exception as error:  # the authority's InvalidTokenError and kin
            return False, f"invalid token: {error}"
        return True, ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        name, tail = self._split(path)
        websocket = scope["type"] == "websocket"
        if not _NAME.match(name):
            if websocket:
                await send({"type": "websocket.close", "code": 1008, "reason": "invalid app name"})
            else:
                await _plain(send, 400, f"invalid app name {name[:70]!r}: use lowercase letters, digits and '-'\n")
            return
        if self.supervisor.by_name(name) is None:
            if websocket:
                await send({"type": "websocket.close", "code": 1008, "reason": f"no app named {name}"})
            else:
                await _plain(send, 404, f"no app named {name!r}\n")
            return
        allowed, reason = await self._allowed(scope, name)
        if not allowed:
            if websocket:
                await send({"type": "websocket.close", "code": 1008, "reason": reason[:120]})
            else:
                await _plain(send, 401, reason + "\n")
            return
        if not tail:
            if websocket:
                tail = "/"
            else:
                query = scope.get("query_string", b"").decode("latin-1")
                await redirect(send, f"{APPS_PREFIX}{name}/" + (f"?{query}" if query else ""), status=307)
                return
        if websocket:
            await self._websocket(scope, receive, send, name, tail)
        else:
            await self._http(scope, receive, send, name, tail)

    async def _http(self, scope: Scope, receive: Receive, send: Send, name: str, tail: str) -> None:
        strip_auth = self.authenticate is not None and not self._public(name)
        headers = _forward_headers(scope, name, strip_auth=strip_auth)
        first = await receive()
        body: bytes | Callable[[], Awaitable[tuple[bytes, bool]]]
        if not first.get("more_body", False):
            body = first.get("body", b"")
        else:
            body = _streamed_body(first, receive)
        query = scope.get("query_string", b"")
        target = _quote_path(scope, tail) + ("?" + query.decode("latin-1") if query else "")
        state = {"done": False, "disconnected": False, "started": False}
        watcher: asyncio.Task[None] | None = None
        try:
            for attempt in (1, 2):
                async with self.supervisor.acquire(name) as replica:
                    try:
                        timeout = _request_timeout(self.supervisor, name)
                        async with self._upstream.request(
                            replica.port, scope["method"], target, headers, body, timeout=timeout
                        ) as response:
                            if isinstance(body, bytes) and not response.complete:
                                # A response still coming (a stream): end it if the client goes away.
                                watcher = _watch_disconnect(receive, state)
                            out = [(key, value) for key, value in response.headers if key not in _RESPONSE_SKIP]
                            await send({"type": "http.response.start", "status": response.status, "headers": out})
                            state["started"] = True
                            async for piece in response.body():
                                if piece:
                                    await send({"type": "http.response.body", "body": piece, "more_body": True})
                            state["done"] = True
                            await send({"type": "http.response.body", "body": b"", "more_body": False})
                    except UpstreamRefused as error:
                        # The replica died since it was last seen healthy (refused, or reset before any
                        # answer to an idempotent request): once more, on a healthy one (held until the
                        # supervisor has started another when it was the only one).
                        self.supervisor.replica_failed(name, replica)
                        if attempt == 1 and isinstance(body, bytes):
                            continue
                        await _plain(send, 502, f"app {name!r} did not answer: {error}\n")
                    except UpstreamTimeout as error:
                        await _plain(send, 504, f"app {name!r}: {error}\n")
                    except UpstreamError as error:
                        if not state["started"]:
                            await _plain(send, 502, f"app {name!r} did not answer: {error}\n")
                        else:
                            logger.warning("an app's response broke off", extra={"app": name, "error": str(error)})
                    break
        except AppNotRunning as error:
            await _plain(send, 503, f"{error}\n")
        except asyncio.CancelledError:
            if not state["disconnected"]:
                raise
        finally:
            state["done"] = True
            if watcher is not None:
                watcher.cancel()

    def _public(self, name: str) -> bool:
        runtime = self.supervisor.by_name(name)
        return bool(runtime is not None and runtime.spec.security_context.allow_anonymous)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send, name: str, tail: str) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

        message = await receive()
        if message["type"] != "websocket.connect":
            return
        query = scope.get("query_string", b"").decode("latin-1")
        protocols = [p.strip() for p in _header(scope, b"sec-websocket-protocol").split(",") if p.strip()]
        headers = [
            (key.decode("latin-1"), value.decode("latin-1"))
            for key, value in scope.get("headers", [])
            if key.lower() not in _WS_SKIP
        ]
        headers.append(("X-Forwarded-Prefix", f"{APPS_PREFIX}{name}"))
        try:
            async with self.supervisor.acquire(name) as replica:
                uri = f"ws://127.0.0.1:{replica.port}{_quote_path(scope, tail)}" + (f"?{query}" if query else "")
                try:
                    upstream_cm = connect(
                        uri,
                        subprotocols=protocols or None,  # type: ignore[arg-type]
                        additional_headers=headers,
                        proxy=None,
                        compression=None,
                        max_size=None,
                        ping_interval=None,
                        user_agent_header=None,
                    )
                    upstream = await upstream_cm
                except (OSError, InvalidHandshake, InvalidStatus, asyncio.TimeoutError) as error:
                    await send({"type": "websocket.close", "code": 1011, "reason": f"app refused: {error}"[:120]})
                    return
                try:
                    await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
                    await _pump(receive, send, upstream, ConnectionClosed)
                finally:
                    await upstream.close()
        except AppNotRunning as error:
            await send({"type": "websocket.close", "code": 1013, "reason": str(error)[:120]})


async def _pump(receive: Receive, send: Send, upstream: Any, closed: type[Exception]) -> None:
    """Copy messages both ways until either side closes."""

    async def downstream_to_upstream() -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                await upstream.close(code=message.get("code", 1000))
                return
            if message.get("text") is not None:
                await upstream.send(message["text"])
            elif message.get("bytes") is not None:
                await upstream.send(message["bytes"])

    async def upstream_to_downstream() -> None:
        try:
            async for data in upstream:
                if isinstance(data, str):
                    await send({"type": "websocket.send", "text": data})
                else:
                    await send({"type": "websocket.send", "bytes": data})
        except closed:
            pass
        code = upstream.close_code or 1000
        with contextlib.suppress(Exception):
            await send({"type": "websocket.close", "code": code, "reason": upstream.close_reason or ""})

    tasks = [asyncio.create_task(downstream_to_upstream()), asyncio.create_task(upstream_to_downstream())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _request_timeout(supervisor: AppSupervisor, name: str) -> float | None:
    """The app's ``Timeouts(request=...)`` in seconds, or ``None``."""
    runtime = supervisor.by_name(name)
    if runtime is None or not runtime.spec.timeouts.HasField("request_timeout"):
        return None
    duration = runtime.spec.timeouts.request_timeout
    seconds = duration.seconds + duration.nanos / 1e9
    return seconds if seconds > 0 else None


def _quote_path(scope: Scope, tail: str) -> str:
    raw = scope.get("raw_path")
    if raw:
        raw_text = raw.decode("latin-1").split("?", 1)[0]
        # the raw path keeps percent-encoding; drop its /apps/<name> prefix
        parts = raw_text.split("/", 3)
        return "/" + (parts[3] if len(parts) > 3 else "")
    return tail


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


def _forward_headers(scope: Scope, name: str, *, strip_auth: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (key, value)
        for key, value in scope.get("headers", [])
        if key.lower() not in _HOP_BY_HOP and not (strip_auth and key.lower() == b"authorization")
    ]
    client = scope.get("client")
    if client:
        headers.append((b"x-forwarded-for", str(client[0]).encode()))
    headers.append((b"x-forwarded-proto", str(scope.get("scheme", "http")).encode()))
    host = _header(scope, b"host")
    if host:
        headers.append((b"x-forwarded-host", host.encode("latin-1")))
    headers.append((b"x-forwarded-prefix", f"{APPS_PREFIX}{name}".encode()))
    return headers


def _streamed_body(first: MutableMapping[str, Any], receive: Receive) -> Callable[[], Awaitable[tuple[bytes, bool]]]:
    """The request body piece by piece: ``(piece, more)``."""
    pending: list[MutableMapping[str, Any] | None] = [first]

    async def next_piece() -> tuple[bytes, bool]:
        message = pending.pop() if pending else await receive()
        if message is None or message["type"] == "http.disconnect":
            return b"", False
        return message.get("body", b""), bool(message.get("more_body", False))

    return next_piece


def _watch_disconnect(receive: Receive, state: dict[str, bool]) -> asyncio.Task[None]:
    """Cancel the current request's task when its client goes away before the response is done.

    Without it, an endless response (server-sent events) would keep its replica busy forever.
    """
    task = asyncio.current_task()

    async def watch() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if not state["done"] and task is not None:
                    state["disconnected"] = True
                    task.cancel()
                return

    return asyncio.create_task(watch())


async def _plain(send: Send, status: int, text: str) -> None:
    await respond(send, status, text.encode(), content_type=b"text/plain; charset=utf-8")

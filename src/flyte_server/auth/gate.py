"""The ASGI middleware in front of every service: the ``Host`` allow-list, bearer tokens, roles.

Requests whose ``Host`` is not allowed are refused first (a DNS-rebinding page in a browser
reaches a loopback server under its own name). With authentication on, every Connect RPC needs
``authorization: Bearer <token>``; the token's principal must hold the access the RPC needs
(:func:`flyte_server.auth.principal.access_of`). Refusals speak the caller's protocol: Connect
unary (HTTP 401/403 and a JSON error), Connect streaming (an end-of-stream error) or gRPC
(``grpc-status`` 16/7), so every client reports ``UNAUTHENTICATED`` / ``PERMISSION_DENIED``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from flyte_server.auth.principal import Principal, access_of, permits, reset_principal, set_principal
from flyte_server.auth.tokens import InvalidTokenError, OidcVerifier, TokenAuthority

__all__ = ["LOOPBACK_HOSTS", "AuthGate", "HostPolicy"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
KeyLookup = Callable[[str], Awaitable[bool]]
"""Whether the API key of that name still exists."""

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")
"""``Host`` names a loopback server answers to by default."""


class HostPolicy:
    """The ``Host`` header values the server answers to (the port is ignored); ``*`` allows any.

    Example:
        >>> HostPolicy(("flyte.example.com",)).allows("flyte.example.com:8090")
        True
        >>> HostPolicy(()).allows("evil.example:8090")
        False
    """

    def __init__(self, extra: Iterable[str] = ()) -> None:
        names = {name.lower().strip() for name in (*LOOPBACK_HOSTS, *extra) if name.strip()}
        self.any = "*" in names
        self.names = frozenset(name.strip("[]") for name in names)

    def allows(self, host: str | None) -> bool:
        if self.any:
            return True
        if not host:
            return False
        host = host.lower()
        if host.startswith("["):
            name = host[1:].split("]", 1)[0]
        else:
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        return name in self.names


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


_PUBLIC_PREFIXES = ("/flyteidl2.auth.AuthMetadataService/", "/oauth2/", "/.well-known/", "/healthz")


class AuthGate:
    """Host check, then (when ``authority`` is set) token check and role check, then ``app``.

    ``public_prefixes`` are paths served without a token (the console's page and static files,
    signed blob URLs, which carry their own signature).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        hosts: HostPolicy,
        authority: TokenAuthority | None,
        key_exists: KeyLookup | None = None,
        oidc: OidcVerifier | None = None,
        public_prefixes: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.hosts = hosts
        self.authority = authority
        self.key_exists = key_exists
        self.oidc = oidc
        self.public_prefixes = (*_PUBLIC_PREFIXES, *public_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.hosts.allows(_header(scope, b"host")):
            await _plain(send, 421, b"this server does not answer to that Host name; see --allowed-host\n")
            return
        if self.authority is None:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == "/" or path.startswith(self.public_prefixes):
            await self.app(scope, receive, send)
            return
        parts = path.split("/")
        access = access_of(parts[1], parts[2]) if len(parts) == 3 else "read"
        token = _bearer(scope)
        if token is None:
            await _refuse(
                scope,
                send,
                401,
                "unauthenticated",
                "this server requires authentication: use an API key (FLYTE_API_KEY) or client credentials",
            )
            return
        try:
            principal = await self.authenticate(token)
        except InvalidTokenError as error:
            await _refuse(scope, send, 401, "unauthenticated", str(error))
            return
        if not permits(principal, access):
            await _refuse(
                scope,
                send,
                403,
                "permission_denied",
                f"{principal.subject} (role {principal.role}) may not call {parts[-1] or path}",
            )
            return
        scope["flyte.principal"] = principal
        reset = set_principal(principal)
        try:
            await self.app(scope, receive, send)
        finally:
            reset_principal(reset)

    async def authenticate(self, token: str) -> Principal:
        """The principal of a bearer token (cached after the first verification).

        Raises:
            InvalidTokenError: the token is not valid, or its API key was revoked.
        """
        authority = self.authority
        assert authority is not None
        entry = authority.cached(token)
        if entry is not None:
            principal = entry.principal
            if principal.key_id is None or time.monotonic() - entry.checked_at < authority.recheck_s:
                return principal
        elif _is_ours(token) or self.oidc is None:
            principal = authority.verify(token)
        else:
            principal = await asyncio.to_thread(self.oidc.verify, token)
        if principal.key_id is not None and self.key_exists is not None and not await self.key_exists(principal.key_id):
            authority.forget_key(principal.key_id)
            raise InvalidTokenError(f"the API key {principal.key_id!r} has been deleted")
        authority.remember(token, principal)
        return principal


def _is_ours(token: str) -> bool:
    header = token.split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, TypeError):
        return True
    return not isinstance(decoded, dict) or decoded.get("alg") == "HS256"


def _bearer(scope: Scope) -> str | None:
    value = _header(scope, b"authorization")
    if value is None:
        return None
    kind, _, token = value.strip().partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def _plain(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


_GRPC_CODES = {"unauthenticated": b"16", "permission_denied": b"7"}


async def _refuse(scope: Scope, send: Send, status: int, code: str, message: str) -> None:
    """An error in the protocol the request speaks (Connect unary or streaming, gRPC, or plain HTTP)."""
    content_type = (_header(scope, b"content-type") or "").lower()
    if content_type.startswith("application/grpc"):
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", content_type.encode()),
                    (b"grpc-status", _GRPC_CODES[code]),
                    (b"grpc-message", urllib.parse.quote(message).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})
        return
    error = {"code": code, "message": message}
    if content_type.startswith("application/connect+"):
        payload = json.dumps({"error": error}).encode()
        body = bytes([0x02]) + len(payload).to_bytes(4, "big") + payload
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return
    body = json.dumps(error).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="flyte"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

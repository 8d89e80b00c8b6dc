"""What clients talk to before they have a token, and the API-key administration.

* ``/oauth2/token``: the OAuth2 token endpoint, client-credentials grant (RFC 6749 §4.4); the
  client authenticates with HTTP Basic or ``client_id``/``client_secret`` form fields.
* ``/.well-known/oauth-authorization-server``: its metadata (RFC 8414).
* ``flyteidl2.auth.AuthMetadataService``: the same, where Flyte's clients look for it.
* ``/flyte.auth.ApiKeyService/{CreateApiKey,ListApiKeys,DeleteApiKey}``: admin-only, Connect
  unary with JSON bodies (flyteidl2 has no API-key service); see ``docs/auth.md``.
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

from connectrpc.request import RequestContext
from flyteidl2.auth import auth_service_pb2
from flyteidl2.auth.auth_service_connect import AuthMetadataServiceASGIApplication

from flyte_server.auth.gate import Receive, Scope, Send
from flyte_server.auth.keys import ApiKey, ApiKeyError, ApiKeyStore, encode_api_key
from flyte_server.auth.principal import current_principal
from flyte_server.auth.tokens import TokenAuthority

__all__ = [
    "API_KEY_SERVICE",
    "TOKEN_PATH",
    "ApiKeyApp",
    "TokenEndpoint",
    "auth_metadata_app",
    "oauth_metadata",
]

TOKEN_PATH = "/oauth2/token"
API_KEY_SERVICE = "/flyte.auth.ApiKeyService"
_FORM_MAX_BYTES = 16 * 1024
_SCOPES = ["all"]


def _base_url(host: str | None, tls: bool) -> str:
    return f"{'https' if tls else 'http'}://{host or 'localhost'}"


def oauth_metadata(base_url: str) -> dict[str, Any]:
    """The RFC 8414 metadata of this authorization server."""
    return {
        "issuer": base_url,
        "token_endpoint": f"{base_url}{TOKEN_PATH}",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "response_types_supported": ["token"],
        "scopes_supported": _SCOPES,
    }


class _AuthMetadataService:
    """Where Flyte's clients find the token endpoint (``GetOAuth2Metadata``) and their settings."""

    def __init__(self, tls: bool) -> None:
        self.tls = tls

    async def get_o_auth2_metadata(
        self, request: auth_service_pb2.GetOAuth2MetadataRequest, ctx: RequestContext[Any, Any]
    ) -> auth_service_pb2.GetOAuth2MetadataResponse:
        metadata = oauth_metadata(_base_url(ctx.request_headers().get("host"), self.tls))
        return auth_service_pb2.GetOAuth2MetadataResponse(**metadata)

    async def get_public_client_config(
        self, request: auth_service_pb2.GetPublicClientConfigRequest, ctx: RequestContext[Any, Any]
    ) -> auth_service_pb2.GetPublicClientConfigResponse:
        base = _base_url(ctx.request_headers().get("host"), self.tls)
        return auth_service_pb2.GetPublicClientConfigResponse(
            client_id="flyte",
            scopes=_SCOPES,
            authorization_metadata_key="authorization",
            service_http_endpoint=base,
        )


def auth_metadata_app(*, tls: bool, interceptors: Any = (), read_max_bytes: int | None = None) -> Any:
    """The Connect application of ``AuthMetadataService``."""
    return AuthMetadataServiceASGIApplication(
        _AuthMetadataService(tls), interceptors=interceptors, read_max_bytes=read_max_bytes
    )


async def _read(receive: Receive, limit: int) -> bytes | None:
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


async def _json(send: Send, status: int, payload: dict[str, Any], extra: Sequence[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps(payload).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _headers(scope: Scope) -> dict[str, str]:
    return {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope.get("headers", ())}


class TokenEndpoint:
    """``POST /oauth2/token`` (client credentials) and ``GET /.well-known/oauth-authorization-server``."""

    def __init__(self, keys: ApiKeyStore, authority: TokenAuthority, *, tls: bool, ttl_s: int = 3600) -> None:
        self.keys = keys
        self.authority = authority
        self.tls = tls
        self.ttl_s = ttl_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        if scope["path"].startswith("/.well-known/"):
            if scope["path"] != "/.well-known/oauth-authorization-server":
                await _json(send, 404, {"error": "not_found"})
                return
            await _json(send, 200, oauth_metadata(_base_url(headers.get("host"), self.tls)))
            return
        if scope["method"] != "POST":
            await _json(send, 405, {"error": "invalid_request", "error_description": "use POST"})
            return
        body = await _read(receive, _FORM_MAX_BYTES)
        if body is None:
            await _json(send, 413, {"error": "invalid_request", "error_description": "request too large"})
            return
        try:
            form = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=20))
        except (UnicodeDecodeError, ValueError):
            await _json(send, 400, {"error": "invalid_request", "error_description": "the body is not a form"})
            return
        if form.get("grant_type") != "client_credentials":
            await _json(
                send,
                400,
                {"error": "unsupported_grant_type", "error_description": "only client_credentials is supported"},
            )
            return
        client_id, client_secret = _client_credentials(headers.get("authorization"), form)
        key = await self.keys.authenticate(client_id, client_secret) if client_id and client_secret else None
        if key is None:
            # RFC 6749 §5.2: a challenge only for clients that used Basic (a browser would prompt for it).
            used_basic = (headers.get("authorization") or "").lower().startswith("basic ")
            await _json(
                send,
                401,
                {"error": "invalid_client", "error_description": "unknown client id or wrong secret"},
                [(b"www-authenticate", b'Basic realm="flyte"')] if used_basic else [],
            )
            return
        token, _ = self.authority.issue(key.principal(), ttl_s=self.ttl_s)
        await _json(
            send,
            200,
            {"access_token": token, "token_type": "Bearer", "expires_in": self.ttl_s, "scope": " ".join(_SCOPES)},
        )


def _client_credentials(authorization: str | None, form: dict[str, str]) -> tuple[str, str]:
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        client_id, _, secret = decoded.partition(":")
        return urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(secret)
    return form.get("client_id", ""), form.get("client_secret", "")


def _key_json(key: ApiKey) -> dict[str, Any]:
    return {
        "name": key.name,
        "role": key.role,
        "projects": list(key.projects),
        "createdBy": key.created_by,
        "createdAt": key.created_at,
    }


_HTTP_OF = {"invalid_argument": 400, "not_found": 404, "already_exists": 409, "permission_denied": 403}


class ApiKeyApp:
    """``flyte.auth.ApiKeyService``: Connect unary RPCs with JSON bodies (admins only, by the gate)."""

    def __init__(self, keys: ApiKeyStore, *, tls: bool, on_delete: Callable[[str], None]) -> None:
        self.keys = keys
        self.tls = tls
        self.on_delete = on_delete

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["path"].rsplit("/", 1)[-1]
        if scope["method"] != "POST":
            await _json(send, 405, {"code": "unimplemented", "message": "use POST"})
            return
        body = await _read(receive, _FORM_MAX_BYTES)
        try:
            request = json.loads(body or b"{}") if body is not None else None
        except (UnicodeDecodeError, ValueError):
            request = None
        if not isinstance(request, dict):
            await _json(send, 400, {"code": "invalid_argument", "message": "the body must be a JSON object"})
            return
        try:
            if method == "CreateApiKey":
                response = await self._create(request, _headers(scope).get("host"))
            elif method == "ListApiKeys":
                response = {"keys": [_key_json(key) for key in await self.keys.list()]}
            elif method == "DeleteApiKey":
                name = request.get("name")
                if not isinstance(name, str):
                    raise ApiKeyError("name must be a string")
                await self.keys.delete(name)
                self.on_delete(name)
                response = {}
            else:
                await _json(send, 404, {"code": "unimplemented", "message": f"no method {method}"})
                return
        except ApiKeyError as error:
            await _json(send, _HTTP_OF.get(error.code, 400), {"code": error.code, "message": str(error)})
            return
        await _json(send, 200, response)

    async def _create(self, request: dict[str, Any], host: str | None) -> dict[str, Any]:
        name, role, projects = request.get("name"), request.get("role", "user"), request.get("projects", [])
        if not isinstance(name, str) or not isinstance(role, str):
            raise ApiKeyError("name and role must be strings")
        if not isinstance(projects, list) or not all(isinstance(p, str) for p in projects):
            raise ApiKeyError("projects must be a list of strings")
        caller = current_principal()
        key, secret = await self.keys.create(
            name, role, projects=tuple(projects), created_by=caller.subject if caller else ""
        )
        endpoint = api_key_endpoint(host or "localhost", tls=self.tls)
        return {
            "key": _key_json(key),
            "clientId": key.name,
            "clientSecret": secret,
            "apiKey": encode_api_key(endpoint, key.name, secret),
        }


def api_key_endpoint(host: str, *, tls: bool) -> str:
    """The endpoint written into API keys: bare ``host`` for ``https`` on port 443 (what PyPI flyte can read).

    PyPI flyte splits a decoded key at its first three colons, so it can only use keys whose
    endpoint has no port and no scheme (``https://host``); keys for other addresses carry a URL,
    which this SDK reads.

    Example:
        >>> api_key_endpoint("flyte.example.com:443", tls=True)
        'flyte.example.com'
        >>> api_key_endpoint("localhost:8090", tls=False)
        'http://localhost:8090'
    """
    if tls:
        return host.removesuffix(":443") if host.endswith(":443") else f"https://{host}" if ":" in host else host
    return f"http://{host}"

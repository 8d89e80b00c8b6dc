"""Credentials of a :class:`~flyte.remote._client.ClientSet`: the ``authorization`` header of every call.

* :class:`ClientCredentials` (an API key, or ``admin.authType: ClientSecret``): finds the token
  endpoint through the server's ``AuthMetadataService``, gets an access token with the OAuth2
  client-credentials grant, keeps it until shortly before it expires, and gets a new one when
  the server answers ``UNAUTHENTICATED``.
* :class:`StaticToken`: a bearer token given as is (a task's per-run credential).

:class:`AuthInterceptor` puts the header on unary and server-streaming calls.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

from connectrpc.code import Code
from connectrpc.errors import ConnectError

__all__ = ["TASK_TOKEN_ENV", "AuthInterceptor", "ClientCredentials", "StaticToken", "TokenSource", "token_source"]

TASK_TOKEN_ENV = "FLYTE_INTERNAL_AUTH_TOKEN"
"""Where the control plane puts a task's credential (a bearer token for its run's project and domain)."""
_EARLY_REFRESH_S = 60.0

REQ = TypeVar("REQ")
RES = TypeVar("RES")


class TokenSource(Protocol):
    """Supplies bearer tokens."""

    async def token(self) -> str:
        """A token to send now."""
        ...

    def invalidate(self, token: str) -> bool:
        """Forget ``token`` (the server refused it); ``True`` when a different one can be had."""
        ...


class StaticToken:
    """One token, as given.

    Example:
        >>> asyncio.run(StaticToken("abc").token())
        'abc'
    """

    def __init__(self, value: str) -> None:
        self._value = value

    async def token(self) -> str:
        return self._value

    def invalidate(self, token: str) -> bool:
        return False


class ClientCredentials:
    """OAuth2 client-credentials tokens for ``client_id``/``client_secret`` from the server at ``endpoint``.

    Example:
        >>> source = ClientCredentials("http://localhost:8090", "ci", "s3cret")
        >>> token = await source.token()  # doctest: +SKIP
    """

    def __init__(
        self,
        endpoint: str,
        client_id: str,
        client_secret: str,
        *,
        scopes: list[str] | None = None,
        verify: bool | str = True,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.scopes = scopes
        self.verify = verify
        self._token: str | None = None
        self._expires_at = 0.0
        self._token_endpoint: str | None = None
        self._lock: asyncio.Lock | None = None

    async def token(self) -> str:
        if self._token is not None and time.monotonic() < self._expires_at:
            return self._token
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                self._token, lifetime = await self._fetch()
                self._expires_at = time.monotonic() + max(lifetime - _EARLY_REFRESH_S, lifetime / 2)
        return self._token

    def invalidate(self, token: str) -> bool:
        if self._token == token:
            self._token = None
        return True

    async def _fetch(self) -> tuple[str, float]:
        import httpx

        from flyte.errors import InitializationError

        verify: bool | ssl.SSLContext = (
            self.verify if isinstance(self.verify, bool) else ssl.create_default_context(cafile=self.verify)
        )
        async with httpx.AsyncClient(verify=verify, timeout=30.0) as http:
            try:
                if self._token_endpoint is None:
                    self._token_endpoint = await self._discover(http)
                form = {"grant_type": "client_credentials"}
                if self.scopes:
                    form["scope"] = " ".join(self.scopes)
                response = await http.post(
                    self._token_endpoint,
                    data=form,
                    auth=(self.client_id, self.client_secret),
                    headers={"accept": "application/json"},
                )
            except httpx.HTTPError as error:
                raise ConnectError(
                    Code.UNAVAILABLE, f"cannot reach the token endpoint of {self.endpoint}: {error}"
                ) from error
        body = _json_object(response)
        if response.status_code != 200 or not isinstance(body.get("access_token"), str):
            reason = body.get("error_description") or body.get("error") or f"HTTP {response.status_code}"
            raise InitializationError(
                "AuthenticationError",
                "user",
                f"{self.endpoint} refused the API key / client credentials of {self.client_id!r}: {reason}",
            )
        lifetime = body.get("expires_in")
        return body["access_token"], float(lifetime) if isinstance(lifetime, (int, float)) else 300.0

    async def _discover(self, http: Any) -> str:
        response = await http.post(
            f"{self.endpoint}/flyteidl2.auth.AuthMetadataService/GetOAuth2Metadata",
            content=b"{}",
            headers={"content-type": "application/json"},
        )
        endpoint = _json_object(response).get("tokenEndpoint") if response.status_code == 200 else None
        return endpoint if isinstance(endpoint, str) and endpoint else f"{self.endpoint}/oauth2/token"


def _credentials_of_api_key(api_key: str) -> tuple[str, str]:
    """The client id and secret of an encoded API key (``endpoint:client_id:client_secret:org``)."""
    import base64
    import binascii

    try:
        parts = base64.b64decode(api_key.strip(), validate=True).decode().rsplit(":", 3)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return "", ""
    return (parts[1], parts[2]) if len(parts) == 4 else ("", "")


def _json_object(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def token_source(endpoint_url: str, settings: Mapping[str, Any], environ: Mapping[str, str]) -> TokenSource | None:
    """The credentials ``flyte.init`` settings (``extra``) or a task's environment name, if any."""
    task_token = environ.get(TASK_TOKEN_ENV)
    if task_token:
        return StaticToken(task_token)
    client_id, secret = settings.get("client_id"), settings.get("client_credentials_secret")
    if settings.get("api_key") and not (client_id and secret):
        client_id, secret = _credentials_of_api_key(str(settings["api_key"]))
    if client_id and secret:
        verify: bool | str = True
        if settings.get("insecure_skip_verify"):
            verify = False
        elif settings.get("ca_cert_file_path"):
            verify = str(settings["ca_cert_file_path"])
        return ClientCredentials(
            endpoint_url, str(client_id), str(secret), scopes=settings.get("scopes"), verify=verify
        )
    return None


class AuthInterceptor:
    """Sends ``authorization: Bearer <token>``; on ``UNAUTHENTICATED`` gets a new token and retries once."""

    def __init__(self, source: TokenSource) -> None:
        self.source = source

    async def intercept_unary(self, call_next: Callable[[REQ, Any], Awaitable[RES]], request: REQ, ctx: Any) -> RES:
        token = await self.source.token()
        ctx.request_headers()["authorization"] = f"Bearer {token}"
        try:
            return await call_next(request, ctx)
        except ConnectError as error:
            if error.code != Code.UNAUTHENTICATED or not self.source.invalidate(token):
                raise
        ctx.request_headers()["authorization"] = f"Bearer {await self.source.token()}"
        return await call_next(request, ctx)

    async def intercept_server_stream(
        self, call_next: Callable[[REQ, Any], AsyncIterator[RES]], request: REQ, ctx: Any
    ) -> AsyncIterator[RES]:
        token = await self.source.token()
        ctx.request_headers()["authorization"] = f"Bearer {token}"
        stream = call_next(request, ctx)
        try:
            async for message in stream:
                yield message
        finally:
            # Closed here, in this task: left to the garbage collector, the transport's stream
            # would be finalised elsewhere and fail ("generator didn't stop after athrow()").
            close = getattr(stream, "aclose", None)
            if close is not None:
                await close()

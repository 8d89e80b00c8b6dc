"""Authentication and authorization of the control plane (``flyte start server --auth``).

:class:`AuthSetup` composes the parts for :func:`flyte_server.server.build_app`:

* :class:`~flyte_server.auth.gate.AuthGate`, the ASGI middleware in front of every route (the
  ``Host`` allow-list always; bearer tokens and roles when auth is on);
* the OAuth2 token endpoint and ``AuthMetadataService`` (:mod:`flyte_server.auth.endpoints`);
* API keys (:mod:`flyte_server.auth.keys`) and the per-run credentials of task attempts.

See ``docs/auth.md`` for the design and the threat model.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flyte_server.auth.endpoints import API_KEY_SERVICE, ApiKeyApp, TokenEndpoint, auth_metadata_app
from flyte_server.auth.gate import ASGIApp, AuthGate, HostPolicy
from flyte_server.auth.keys import ApiKeyStore, encode_api_key
from flyte_server.auth.principal import Principal, current_principal
from flyte_server.auth.tokens import OidcVerifier, TokenAuthority

__all__ = ["ADMIN_KEY_FILE", "TASK_TOKEN_ENV", "WORKER_CONFIG_FILE", "AuthSetup", "Principal", "current_principal"]

logger = logging.getLogger(__name__)

ADMIN_KEY_FILE = "admin-api-key"
"""The file in the data directory that holds the first admin API key."""
TASK_TOKEN_ENV = "FLYTE_INTERNAL_AUTH_TOKEN"
"""The variable that carries a run's credential into its task processes."""
WORKER_CONFIG_FILE = "worker-auth.yaml"
"""The config file in the data directory that tells PyPI flyte's runtime how to send that credential."""
_TASK_TOKEN_TTL_S = 7 * 24 * 3600


@dataclass
class AuthSetup:
    """Everything auth adds to a server; ``enabled=False`` keeps only the ``Host`` allow-list."""

    enabled: bool
    signing_key: bytes
    database: Any
    data_dir: Path
    endpoint: str
    """What API keys name as the server (``host:port``)."""
    tls: bool = False
    allowed_hosts: tuple[str, ...] = ()
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    new_admin_key: str | None = field(default=None, init=False)
    """The admin API key created at this start (shown once), if one was."""
    worker_endpoint: str | None = field(default=None, init=False)
    """``host:port`` where task processes reach the server (set by ``build_app``)."""

    def __post_init__(self) -> None:
        self.authority = TokenAuthority(self.signing_key) if self.enabled else None
        self.keys = ApiKeyStore(self.database)
        self.oidc = OidcVerifier(self.oidc_issuer, audience=self.oidc_audience) if self.oidc_issuer else None

    def wrap(self, app: ASGIApp, *, public_prefixes: tuple[str, ...] = ()) -> AuthGate:
        """``app`` behind the gate."""
        return AuthGate(
            app,
            hosts=HostPolicy(self.allowed_hosts),
            authority=self.authority,
            key_exists=self._key_exists,
            oidc=self.oidc,
            public_prefixes=public_prefixes,
        )

    async def _key_exists(self, name: str) -> bool:
        return await self.keys.get(name) is not None

    def connect_apps(self, *, interceptors: Any = (), read_max_bytes: int | None = None) -> list[Any]:
        """The Connect services auth adds (none when it is off)."""
        if not self.enabled:
            return []
        return [auth_metadata_app(tls=self.tls, interceptors=interceptors, read_max_bytes=read_max_bytes)]

    def routes(self) -> dict[str, ASGIApp]:
        """The plain HTTP routes auth adds (none when it is off)."""
        if not self.enabled or self.authority is None:
            return {}
        token_endpoint = TokenEndpoint(self.keys, self.authority, tls=self.tls)
        return {
            "/oauth2/token": token_endpoint,
            "/.well-known": token_endpoint,
            API_KEY_SERVICE: ApiKeyApp(self.keys, tls=self.tls, on_delete=self.authority.forget_key),
        }

    async def start(self) -> None:
        """Create the key table and, on the first start with auth, the admin key (written 0600)."""
        await self.keys.ensure_table()
        if not self.enabled:
            return
        self._write_worker_config()
        if await self.keys.any_admin():
            return
        name = "admin"
        if await self.keys.get(name) is not None:
            name = f"admin-{os.urandom(3).hex()}"
        key, secret = await self.keys.create(name, "admin", created_by="flyte start server")
        from flyte_server.auth.endpoints import api_key_endpoint

        api_key = encode_api_key(api_key_endpoint(self.endpoint, tls=self.tls), key.name, secret)
        path = self.data_dir / ADMIN_KEY_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(api_key + "\n")
        os.chmod(path, 0o600)
        self.new_admin_key = api_key
        logger.info("created the first admin API key", extra={"key": key.name, "file": str(path)})

    @property
    def worker_config(self) -> Path:
        """The config file PyPI flyte's runtime reads inside a task (no secret in it)."""
        return self.data_dir / WORKER_CONFIG_FILE

    def _write_worker_config(self) -> None:
        # PyPI flyte's runtime sends credentials only on connections it does not call insecure,
        # and reads a mounted config file when $FLYTECTL_CONFIG names one: an http:// endpoint
        # with insecure: false, and a command that prints the task's token.
        if self.worker_endpoint is None:
            return
        text = (
            "admin:\n"
            f"  endpoint: http://{self.worker_endpoint}\n"
            "  insecure: false\n"
            "  authType: ExternalCommand\n"
            f'  command: ["printenv", "{TASK_TOKEN_ENV}"]\n'
        )
        self.worker_config.write_text(text)
        os.chmod(self.worker_config, 0o644)

    def task_environment(self, project: str, domain: str, run: str, started_us: int) -> dict[str, str]:
        """The credential of a run's task processes: a token for its project and domain.

        The same for every attempt of the run (reused workers are shared by a run's attempts).
        """
        if self.authority is None:
            return {}
        principal = Principal(
            subject=f"task:{project}/{domain}/{run}", role="task", projects=frozenset({project}), domain=domain
        )
        token, _ = self.authority.issue(principal, ttl_s=_TASK_TOKEN_TTL_S, now=started_us / 1e6)
        environment = {TASK_TOKEN_ENV: token}
        if self.worker_endpoint is not None:
            environment["FLYTECTL_CONFIG"] = str(self.worker_config)
            environment["_U_EP_OVERRIDE"] = f"http://{self.worker_endpoint}"
        return environment

"""``SecretService``: secrets are write-only over the API; values are stored encrypted and never returned.

A secret is scoped by (project, domain), each optional: a secret without a project is visible to
every project, one without a domain to every domain of its project. Tasks receive their secrets as
environment variables from the engine, through ``flyte_server.secrets.make_secret_resolver``.
"""

from __future__ import annotations

from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from flyteidl2.secret import definition_pb2, payload_pb2, secret_connect
from flyteidl2.secret.secret_connect import SecretServiceASGIApplication
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from flyte_server.admin._common import invalid_argument, not_found, page_size, parse_int_token, timestamp
from flyte_server.secrets import SecretCipher, secret_scope
from flyte_server.store import secrets as store
from flyte_server.store.db import Database
from flyte_server.store.models.secrets import SecretRow
from flyte_server.store.projects import DOMAINS, project_exists

__all__ = ["SecretService", "secret_app"]


def _describe(project: str, domain: str, name: str) -> str:
    scope = f"project {project!r}" if project else "the whole server"
    if domain:
        scope += f", domain {domain!r}"
    return f"secret {name!r} in {scope}"


def _secret(row: SecretRow) -> definition_pb2.Secret:
    return definition_pb2.Secret(
        id=definition_pb2.SecretIdentifier(name=row.name, project=row.project, domain=row.domain),
        secret_metadata=definition_pb2.SecretMetadata(
            created_time=timestamp(row.created_at),
            secret_status=definition_pb2.SecretStatus(overall_status=definition_pb2.FULLY_PRESENT),
            type=row.secret_type,
        ),
    )


class SecretService(secret_connect.SecretService):  # type: ignore[misc]  # the generated stubs are untyped
    """Create, update, get (metadata only), list and delete secrets."""

    def __init__(self, database: Database, cipher: SecretCipher) -> None:
        self._database = database
        self._cipher = cipher

    async def _check_scope(self, session: AsyncSession, project: str, domain: str) -> None:
        if domain and domain not in DOMAINS:
            raise invalid_argument(f"unknown domain {domain!r}; use one of {', '.join(DOMAINS)}")
        if project and not await project_exists(session, project):
            raise not_found(f"project {project!r} does not exist")

    async def _write(
        self, secret_id: definition_pb2.SecretIdentifier, spec: definition_pb2.SecretSpec, *, create: bool
    ) -> None:
        kind = spec.WhichOneof("value")
        if kind is None:
            raise invalid_argument("secret_spec needs a value: string_value or binary_value")
        value = spec.binary_value if kind == "binary_value" else spec.string_value.encode()
        project, domain, name = secret_id.project, secret_id.domain, secret_id.name
        ciphertext = self._cipher.encrypt(value, scope=secret_scope(project, domain, name))
        try:
            async with self._database.session() as session:
                await self._check_scope(session, project, domain)
                done = await store.put_secret(
                    session,
                    project=project,
                    domain=domain,
                    name=name,
                    ciphertext=ciphertext,
                    is_binary=kind == "binary_value",
                    secret_type=spec.type,
                    create=create,
                )
        except IntegrityError:  # a concurrent create of the same secret won
            done = False
        if not done and create:
            raise ConnectError(Code.ALREADY_EXISTS, f"{_describe(project, domain, name)} already exists")
        if not done:
            raise not_found(f"{_describe(project, domain, name)} does not exist")

    async def create_secret(
        self, request: payload_pb2.CreateSecretRequest, ctx: RequestContext[Any, Any]
    ) -> payload_pb2.CreateSecretResponse:
        await self._write(request.id, request.secret_spec, create=True)
        return payload_pb2.CreateSecretResponse()

    async def update_secret(
        self, request: payload_pb2.UpdateSecretRequest, ctx: RequestContext[Any, Any]
    ) -> payload_pb2.UpdateSecretResponse:
        await self._write(request.id, request.secret_spec, create=False)
        return payload_pb2.UpdateSecretResponse()

    async def get_secret(
        self, request: payload_pb2.GetSecretRequest, ctx: RequestContext[Any, Any]
    ) -> payload_pb2.GetSecretResponse:
        secret_id = request.id
        async with self._database.session() as session:
            row = await store.get_secret(session, secret_id.project, secret_id.domain, secret_id.name)
        if row is None:
            raise not_found(f"{_describe(secret_id.project, secret_id.domain, secret_id.name)} does not exist")
        return payload_pb2.GetSecretResponse(secret=_secret(row))

    async def list_secrets(
        self, request: payload_pb2.ListSecretsRequest, ctx: RequestContext[Any, Any]
    ) -> payload_pb2.ListSecretsResponse:
        limit = page_size(request.limit)
        after = parse_int_token(request.token)
        async with self._database.session() as session:
            rows = await store.list_secrets(
                session, project=request.project, domain=request.domain, limit=limit + 1, after_id=after
            )
        token = str(rows[limit - 1].id) if len(rows) > limit else ""
        return payload_pb2.ListSecretsResponse(secrets=[_secret(row) for row in rows[:limit]], token=token)

    async def delete_secret(
        self, request: payload_pb2.DeleteSecretRequest, ctx: RequestContext[Any, Any]
    ) -> payload_pb2.DeleteSecretResponse:
        secret_id = request.id
        async with self._database.session() as session:
            deleted = await store.delete_secret(session, secret_id.project, secret_id.domain, secret_id.name)
        if not deleted:
            raise not_found(f"{_describe(secret_id.project, secret_id.domain, secret_id.name)} does not exist")
        return payload_pb2.DeleteSecretResponse()


def secret_app(
    database: Database, cipher: SecretCipher, *, interceptors: Any = (), read_max_bytes: int | None = None
) -> SecretServiceASGIApplication:
    """The Connect application serving :class:`SecretService`."""
    return SecretServiceASGIApplication(
        SecretService(database, cipher), interceptors=interceptors, read_max_bytes=read_max_bytes
    )

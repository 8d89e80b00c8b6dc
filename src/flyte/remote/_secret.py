"""``flyte.remote.Secret``: secrets stored by the control plane, injected into tasks that request them.

Values are write-only: they can be created and deleted, never read back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from flyte._internal.syncify import syncify_classmethod
from flyte.remote._common import ToDict, control_plane_error, dataproxy_for, get_clients, org, scope, to_datetime
from flyte.remote._listing import syncify_listing

__all__ = ["Secret", "SecretType", "SecretTypes"]

SecretType = Literal["regular", "image_pull"]
SecretTypes = SecretType
"""Flyte 2's name for :data:`SecretType`: ``"regular"`` or ``"image_pull"``."""


async def _route(project: str, domain: str) -> None:
    # Secret calls are cluster-aware in Flyte 2 (OPERATION_USE_SECRETS); a local control plane
    # answers with its own endpoint, so only the routing check is made.
    await dataproxy_for("OPERATION_USE_SECRETS", project, domain, optional=True)


@dataclass(frozen=True)
class Secret(ToDict):
    """A secret (its value is never returned).

    Example:
        >>> flyte.remote.Secret.create("db-password", "s3cr3t")  # doctest: +SKIP
        >>> [s.name for s in flyte.remote.Secret.listall()]  # doctest: +SKIP
        ['db-password']
    """

    name: str
    """The secret's name (``flyte.Secret(key=...)`` in a task)."""
    project: str = ""
    """Its project (empty: every project)."""
    domain: str = ""
    """Its domain (empty: every domain)."""
    type: SecretType = "regular"
    """``"regular"`` or ``"image_pull"``."""
    created_at: datetime | None = None
    """When it was created."""

    @classmethod
    def _from_proto(cls, secret: object) -> Secret:
        from flyteidl2.secret import definition_pb2

        assert isinstance(secret, definition_pb2.Secret)
        metadata = secret.secret_metadata
        return cls(
            name=secret.id.name,
            project=secret.id.project,
            domain=secret.id.domain,
            type="image_pull" if metadata.type == definition_pb2.SECRET_TYPE_IMAGE_PULL_SECRET else "regular",
            created_at=to_datetime(metadata.created_time) if metadata.HasField("created_time") else None,
        )

    @staticmethod
    def _id(name: str, project: str | None, domain: str | None) -> object:
        from flyteidl2.secret import definition_pb2

        project, domain = scope(project, domain)
        return definition_pb2.SecretIdentifier(name=name, organization=org(), project=project, domain=domain)

    @syncify_classmethod
    @classmethod
    async def create(
        cls,
        name: str,
        value: str | bytes,
        type: SecretType = "regular",
        cluster_pool: str | None = None,
        *,
        project: str | None = None,
        domain: str | None = None,
    ) -> Secret:
        """Create a secret for a project and domain (default: ``flyte.init``'s).

        Raises:
            flyte.errors.ControlPlaneError: it exists already (code ``ALREADY_EXISTS``).
            ValueError: a ``cluster_pool`` (this control plane has none).
        """
        from connectrpc.errors import ConnectError
        from flyteidl2.secret import definition_pb2, payload_pb2

        _no_cluster_pool(cluster_pool)

        secret_id = cls._id(name, project, domain)
        assert isinstance(secret_id, definition_pb2.SecretIdentifier)
        kind = (
            definition_pb2.SECRET_TYPE_IMAGE_PULL_SECRET if type == "image_pull" else definition_pb2.SECRET_TYPE_GENERIC
        )
        spec = (
            definition_pb2.SecretSpec(binary_value=value, type=kind)
            if isinstance(value, bytes)
            else definition_pb2.SecretSpec(string_value=value, type=kind)
        )
        await _route(secret_id.project, secret_id.domain)
        try:
            await get_clients().secret_service.create_secret(
                payload_pb2.CreateSecretRequest(id=secret_id, secret_spec=spec)
            )
        except ConnectError as error:
            raise control_plane_error(error, f"creating secret {name!r}", explain=True) from error
        return await cls.get.aio(name, project=secret_id.project, domain=secret_id.domain)

    @syncify_classmethod
    @classmethod
    async def get(
        cls, name: str, cluster_pool: str | None = None, *, project: str | None = None, domain: str | None = None
    ) -> Secret:
        """The secret ``name`` (without its value).

        Raises:
            flyte.errors.NotFoundError: there is no such secret.
        """
        from connectrpc.errors import ConnectError
        from flyteidl2.secret import definition_pb2, payload_pb2

        _no_cluster_pool(cluster_pool)
        secret_id = cls._id(name, project, domain)
        assert isinstance(secret_id, definition_pb2.SecretIdentifier)
        await _route(secret_id.project, secret_id.domain)
        try:
            response = await get_clients().secret_service.get_secret(payload_pb2.GetSecretRequest(id=secret_id))
        except ConnectError as error:
            raise control_plane_error(error, f"secret {name!r} in {secret_id.project}/{secret_id.domain}") from error
        return cls._from_proto(response.secret)

    @syncify_listing
    @classmethod
    async def listall(
        cls, limit: int = 100, cluster_pool: str | None = None, *, project: str | None = None, domain: str | None = None
    ) -> list[Secret]:
        """Secrets of a project and domain (default: ``flyte.init``'s)."""
        _no_cluster_pool(cluster_pool)
        from connectrpc.errors import ConnectError
        from flyteidl2.secret import payload_pb2

        project, domain = scope(project, domain)
        await _route(project, domain)
        found: list[Secret] = []
        token = ""
        while len(found) < limit:
            request = payload_pb2.ListSecretsRequest(
                organization=org(), project=project, domain=domain, limit=min(100, limit - len(found)), token=token
            )
            try:
                response = await get_clients().secret_service.list_secrets(request)
            except ConnectError as error:
                raise control_plane_error(error, f"listing secrets of {project}/{domain}", explain=True) from error
            found.extend(cls._from_proto(secret) for secret in response.secrets)
            token = response.token
            if not token or not response.secrets:
                break
        return found[:limit]

    @syncify_classmethod
    @classmethod
    async def delete(
        cls, name: str, cluster_pool: str | None = None, *, project: str | None = None, domain: str | None = None
    ) -> None:
        """Delete the secret ``name``.

        Raises:
            flyte.errors.NotFoundError: there is no such secret.
        """
        from connectrpc.errors import ConnectError
        from flyteidl2.secret import definition_pb2, payload_pb2

        _no_cluster_pool(cluster_pool)
        secret_id = cls._id(name, project, domain)
        assert isinstance(secret_id, definition_pb2.SecretIdentifier)
        await _route(secret_id.project, secret_id.domain)
        try:
            await get_clients().secret_service.delete_secret(payload_pb2.DeleteSecretRequest(id=secret_id))
        except ConnectError as error:
            raise control_plane_error(error, f"secret {name!r} in {secret_id.project}/{secret_id.domain}") from error


def _no_cluster_pool(cluster_pool: str | None) -> None:
    if cluster_pool is not None:
        raise ValueError(
            f"cluster_pool={cluster_pool!r}: this control plane has no cluster pools; secrets belong to a project "
            "and domain (leave cluster_pool out)"
        )

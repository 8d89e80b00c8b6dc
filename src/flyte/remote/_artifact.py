"""``flyte.remote.Artifact`` / ``PartitionSchema``: versioned, partitioned values in an artifact service.

A client of ``flyteidl2.artifact.ArtifactService`` (create, get, list, names, schemas, partition
values, delete). Values travel as ``flyteidl2`` literals, converted with the type engine. Our
control plane has no artifact service: every call then fails with a one-line
``ControlPlaneError`` naming what was asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from flyte._internal.syncify import syncify_classmethod, syncify_method
from flyte.remote._common import ToDict, control_plane_error, get_clients, org, scope, to_datetime
from flyte.remote._listing import syncify_listing

if TYPE_CHECKING:
    from flyteidl2.artifact import artifact_pb2
    from flyteidl2.core import literals_pb2, types_pb2

__all__ = ["Artifact", "PartitionSchema"]

Granularity = Literal["MINUTE", "HOUR", "DAY", "WEEK", "MONTH"]


@dataclass(frozen=True)
class PartitionSchema(ToDict):
    """How the versions of an artifact are partitioned: by time and/or by named keys.

    Example:
        >>> PartitionSchema(time_key="ds", granularity="DAY", keys=("region",)).keys
        ('region',)
    """

    time_key: str | None
    """The time partition's key (``None``: not partitioned by time)."""
    granularity: Granularity | None
    """The time partition's granularity."""
    keys: tuple[str, ...]
    """The other partition keys."""
    declared: bool = False
    """Whether the schema was declared up front (rather than inferred from versions)."""

    @classmethod
    def _from_proto(cls, schema: artifact_pb2.ArtifactPartitionSchema, declared: bool = False) -> PartitionSchema:
        from flyteidl2.core import artifact_id_pb2

        time = schema.time_partition if schema.HasField("time_partition") else None
        granularity = artifact_id_pb2.Granularity.Name(time.granularity) if time is not None else None
        return cls(
            time_key=(time.key or None) if time is not None else None,
            granularity=granularity if granularity not in (None, "UNSET") else None,  # type: ignore[arg-type]  # checked names
            keys=tuple(schema.partition_keys),
            declared=declared,
        )


@dataclass(frozen=True)
class Artifact(ToDict):
    """One version of an artifact.

    Example:
        >>> model = flyte.remote.Artifact.get("churn-model")  # doctest: +SKIP
        >>> model.to_python()  # doctest: +SKIP
    """

    name: str
    """The artifact's name."""
    version: str
    """This version."""
    project: str
    """Its project."""
    domain: str
    """Its domain."""
    partitions: dict[str, str] = field(default_factory=dict)
    """Partition key → value."""
    time_partition: datetime | None = None
    """The time partition's value."""
    description: str = ""
    """What it is."""
    attrs: dict[str, str] = field(default_factory=dict)
    """User metadata."""
    created_at: datetime | None = None
    """When this version was created."""
    created_by: str = ""
    """Who created it."""
    source_run: str | None = None
    """The run whose action produced it."""
    source_action: str | None = None
    """The action that produced it."""
    external_ref: str | None = None
    """Where it came from, when not from a run."""
    _literal: literals_pb2.Literal | None = field(default=None, repr=False, compare=False)
    _literal_type: types_pb2.LiteralType | None = field(default=None, repr=False, compare=False)

    @property
    def artifact_version_id(self) -> str:
        """``project/domain/name@version``."""
        return f"{self.project}/{self.domain}/{self.name}@{self.version}"

    @classmethod
    def _from_proto(cls, artifact: artifact_pb2.Artifact) -> Artifact:
        spec = artifact.spec
        name = artifact.artifact_id.name
        source = spec.source if spec.HasField("source") else None
        task_action = source.task_action if source is not None and source.HasField("task_action") else None
        time_value = spec.time_partition.value.time_value if spec.HasField("time_partition") else None
        return cls(
            name=name.name,
            version=artifact.artifact_id.version,
            project=name.project,
            domain=name.domain,
            partitions={key: value.static_value for key, value in spec.partitions.value.items()},
            time_partition=to_datetime(time_value) if time_value is not None else None,
            description=spec.info.description,
            attrs=dict(spec.info.user_metadata),
            created_at=to_datetime(artifact.created_at) if artifact.HasField("created_at") else None,
            created_by=artifact.created_by.user.spec.email if artifact.HasField("created_by") else "",
            source_run=task_action.action.run.name if task_action is not None else None,
            source_action=task_action.action.name if task_action is not None else None,
            external_ref=(source.external_ref or None) if source is not None else None,
            _literal=spec.value if spec.HasField("value") else None,
            _literal_type=spec.type if spec.HasField("type") else None,
        )

    # --- values ---------------------------------------------------------------------------

    def coerce_to_literal(self, python_type: type | None = None) -> literals_pb2.Literal:
        """The stored value as a ``flyteidl2`` literal (what a run input bound to it receives).

        Raises:
            ValueError: this version holds no value.
        """
        if self._literal is None:
            raise ValueError(f"Artifact {self.artifact_version_id} holds no value")
        return self._literal

    @syncify_method
    async def to_python(self, python_type: type | None = None) -> Any:
        """The stored value as a Python value (as ``python_type``, else the type it was stored with)."""
        from flyte.types import TypeEngine

        literal = self.coerce_to_literal(python_type)
        if python_type is None:
            if self._literal_type is None:
                raise ValueError(f"Artifact {self.artifact_version_id} does not say its type; pass python_type")
            python_type = TypeEngine.guess_python_type(self._literal_type)
        return await TypeEngine.to_python_value(literal, python_type)

    # --- the service ----------------------------------------------------------------------

    @syncify_classmethod
    @classmethod
    async def get(
        cls,
        /,
        name: str,
        version: str | Literal["latest"] = "latest",
        *,
        project: str | None = None,
        domain: str | None = None,
        partitions: Mapping[str, Any] | None = None,
        **partition_kwargs: Any,
    ) -> Artifact:
        """A version of the artifact ``name`` (default: the latest).

        Raises:
            flyte.errors.NotFoundError: no such artifact or version.
        """
        from flyteidl2.artifact import artifact_service_pb2

        if partitions or partition_kwargs:
            wanted = {**dict(partitions or {}), **partition_kwargs}
            for found in await cls.listall.aio(name, project=project, domain=domain, partitions=wanted):
                return found
            from flyte.errors import NotFoundError

            raise NotFoundError(f"Artifact {name!r} has no version with partitions {wanted}")
        request = artifact_service_pb2.GetArtifactRequest(name=_name(name, project, domain), version=version)
        response = await _call("get_artifact", request, f"artifact {name!r} ({version})")
        return cls._from_proto(response.artifact)

    @syncify_listing
    @classmethod
    async def listall(
        cls,
        /,
        name: str | None = None,
        created_after: datetime | None = None,
        limit: int = -1,
        *,
        project: str | None = None,
        domain: str | None = None,
        source_run: str | None = None,
        source_action: str | None = None,
        source_external_ref: str | None = None,
        kind: str | None = None,
        attrs: Mapping[str, str | Sequence[str]] | None = None,
        latest_per_partition: bool = False,
        partitions: Mapping[str, Any] | None = None,
        **partition_kwargs: Any,
    ) -> list[Artifact]:
        """Versions of artifacts in a project (those of ``name`` when given), filtered client-side
        by the other arguments; ``limit=-1``: all."""
        from flyteidl2.artifact import artifact_service_pb2
        from flyteidl2.common import identifier_pb2, list_pb2

        project, domain = scope(project, domain)
        wanted = {key: str(value) for key, value in {**dict(partitions or {}), **partition_kwargs}.items()}
        found: list[Artifact] = []
        token = ""
        while limit < 0 or len(found) < limit:
            request = artifact_service_pb2.ListArtifactsRequest(
                request=list_pb2.ListRequest(limit=100, token=token),
                project_id=identifier_pb2.ProjectIdentifier(name=project, domain=domain, organization=org()),
                name=name or "",
                latest_per_partition=latest_per_partition,
            )
            response = await _call("list_artifacts", request, f"artifacts of {project}/{domain}")
            for item in response.artifacts:
                artifact = cls._from_proto(item)
                if _matches(artifact, created_after, source_run, source_action, source_external_ref, attrs, wanted):
                    found.append(artifact)
            token = response.token
            if not token or not response.artifacts:
                break
        return found if limit < 0 else found[:limit]

    @syncify_listing
    @classmethod
    async def list_names(
        cls, search: str | None = None, limit: int = -1, *, project: str | None = None, domain: str | None = None
    ) -> list[str]:
        """The names of the artifacts of a project (containing ``search`` when given)."""
        from flyteidl2.artifact import artifact_service_pb2
        from flyteidl2.common import identifier_pb2, list_pb2

        project, domain = scope(project, domain)
        names: list[str] = []
        token = ""
        while limit < 0 or len(names) < limit:
            request = artifact_service_pb2.ListArtifactNamesRequest(
                request=list_pb2.ListRequest(limit=100, token=token),
                project_id=identifier_pb2.ProjectIdentifier(name=project, domain=domain, organization=org()),
            )
            response = await _call("list_artifact_names", request, f"artifact names of {project}/{domain}")
            names.extend(
                group.latest.artifact_id.name.name
                for group in response.groups
                if search is None or search in group.latest.artifact_id.name.name
            )
            token = response.token
            if not token or not response.groups:
                break
        return names if limit < 0 else names[:limit]

    @syncify_classmethod
    @classmethod
    async def create(
        cls,
        /,
        value: Any,
        *,
        name: str | None = None,
        version: str | None = None,
        description: str | None = None,
        attrs: Mapping[str, str] | None = None,
        python_type: type | None = None,
        project: str | None = None,
        domain: str | None = None,
        external_ref: str | None = None,
        partitions: Mapping[str, Any] | None = None,
        **unsupported: Any,
    ) -> Artifact:
        """Store ``value`` as a new version of the artifact ``name``.

        Raises:
            ValueError: no name, or an option this client does not support (``kind``, ``card``,
                ``parents``).
        """
        from flyteidl2.artifact import artifact_pb2, artifact_service_pb2

        from flyte.types import TypeEngine

        given = sorted(key for key, item in unsupported.items() if item is not None)
        if given:
            raise ValueError(f"Artifact.create does not support {', '.join(given)} here")
        if not name:
            raise ValueError("Artifact.create needs a name")
        chosen = python_type or type(value)
        literal_type = TypeEngine.to_literal_type(chosen)
        literal = await TypeEngine.to_literal(value, chosen, literal_type)
        spec = artifact_pb2.ArtifactSpec(value=literal, type=literal_type)
        spec.info.description = description or ""
        spec.info.user_metadata.update(dict(attrs or {}))
        for key, item in dict(partitions or {}).items():
            spec.partitions.value[key].static_value = str(item)
        if external_ref:
            spec.source.external_ref = external_ref
        identifier = artifact_pb2.ArtifactIdentifier(name=_name(name, project, domain), version=version or "")
        request = artifact_service_pb2.CreateArtifactRequest(artifact_id=identifier, spec=spec)
        response = await _call("create_artifact", request, f"creating artifact {name!r}")
        return cls._from_proto(response.artifact)

    @syncify_method
    async def delete(self) -> None:
        """Delete this version."""
        from flyteidl2.artifact import artifact_pb2, artifact_service_pb2

        identifier = artifact_pb2.ArtifactIdentifier(
            name=_name(self.name, self.project, self.domain), version=self.version
        )
        await _call(
            "delete_artifact",
            artifact_service_pb2.DeleteArtifactRequest(artifact_id=identifier),
            f"deleting {self.artifact_version_id}",
        )

    @syncify_classmethod
    @classmethod
    async def declare(
        cls, name: str, partitions: Mapping[str, Any], *, project: str | None = None, domain: str | None = None
    ) -> PartitionSchema:
        """Declare how the artifact ``name`` is partitioned: ``{"region": str, "ds": "DAY"}`` (a
        granularity name makes that key the time partition)."""
        from flyteidl2.artifact import artifact_pb2, artifact_service_pb2
        from flyteidl2.core import artifact_id_pb2

        schema = artifact_pb2.ArtifactPartitionSchema()
        for key, kind in partitions.items():
            if isinstance(kind, str) and kind.upper() in artifact_id_pb2.Granularity.keys():
                schema.time_partition.key = key
                schema.time_partition.granularity = artifact_id_pb2.Granularity.Value(kind.upper())  # type: ignore[assignment]  # enum value
            else:
                schema.partition_keys.append(key)
        request = artifact_service_pb2.DeclareArtifactRequest(
            name=_name(name, project, domain), partition_schema=schema
        )
        response = await _call("declare_artifact", request, f"declaring artifact {name!r}")
        return PartitionSchema._from_proto(response.partition_schema, declared=True)

    @syncify_classmethod
    @classmethod
    async def get_schema(cls, name: str, *, project: str | None = None, domain: str | None = None) -> PartitionSchema:
        """How the artifact ``name`` is partitioned."""
        from flyteidl2.artifact import artifact_service_pb2

        request = artifact_service_pb2.GetArtifactSchemaRequest(name=_name(name, project, domain))
        response = await _call("get_artifact_schema", request, f"the schema of artifact {name!r}")
        return PartitionSchema._from_proto(response.partition_schema, declared=response.declared)

    @syncify_classmethod
    @classmethod
    async def partition_values(
        cls,
        /,
        name: str,
        key: str,
        *,
        project: str | None = None,
        domain: str | None = None,
        limit: int = 1000,
        partitions: Mapping[str, Any] | None = None,
        **fixed: Any,
    ) -> list[Any]:
        """The values partition ``key`` takes among the versions of the artifact ``name``."""
        from flyteidl2.artifact import artifact_service_pb2
        from flyteidl2.common import identifier_pb2, list_pb2

        if partitions or fixed:
            wanted = {**dict(partitions or {}), **fixed}
            versions = await cls.listall.aio(name, project=project, domain=domain, partitions=wanted)
            return sorted({artifact.partitions[key] for artifact in versions if key in artifact.partitions})[:limit]
        project, domain = scope(project, domain)
        request = artifact_service_pb2.ListPartitionValuesRequest(
            request=list_pb2.ListRequest(limit=limit),
            project_id=identifier_pb2.ProjectIdentifier(name=project, domain=domain, organization=org()),
            name=name,
            key=key,
        )
        response = await _call("list_partition_values", request, f"partition {key!r} of artifact {name!r}")
        return list(response.values)


def _name(name: str, project: str | None, domain: str | None) -> Any:
    from flyteidl2.artifact import artifact_pb2

    project, domain = scope(project, domain)
    return artifact_pb2.ArtifactName(org=org(), project=project, domain=domain, name=name)


async def _call(method: str, request: Any, what: str) -> Any:
    from connectrpc.errors import ConnectError
    from flyteidl2.artifact.artifact_service_connect import ArtifactServiceClient

    client = get_clients()._client(ArtifactServiceClient)
    try:
        return await getattr(client, method)(request)
    except ConnectError as error:
        raise control_plane_error(error, what, explain=True) from error


def _matches(
    artifact: Artifact,
    created_after: datetime | None,
    source_run: str | None,
    source_action: str | None,
    external_ref: str | None,
    attrs: Mapping[str, str | Sequence[str]] | None,
    partitions: Mapping[str, str],
) -> bool:
    if created_after is not None and (artifact.created_at is None or artifact.created_at < created_after):
        return False
    if source_run is not None and artifact.source_run != source_run:
        return False
    if source_action is not None and artifact.source_action != source_action:
        return False
    if external_ref is not None and artifact.external_ref != external_ref:
        return False
    for key, accepted in (attrs or {}).items():
        options = [accepted] if isinstance(accepted, str) else list(accepted)
        if artifact.attrs.get(key) not in options:
            return False
    return all(artifact.partitions.get(key) == value for key, value in partitions.items())

"""``TaskService``: deploy (upsert) task versions, read them, list tasks and versions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from flyteidl2.task import task_definition_pb2, task_service_connect
from flyteidl2.task import task_service_pb2 as pb
from flyteidl2.task.task_service_connect import TaskServiceASGIApplication

from flyte_server.engine.details import timestamp
from flyte_server.engine.model import now_us
from flyte_server.engine.submit import check_name
from flyte_server.store import tasks as store
from flyte_server.store.listing import ListQueryError
from flyte_server.store.models.tasks import TaskRow
from flyte_server.store.projects import project_exists

if TYPE_CHECKING:
    from flyte_server.engine import Engine

__all__ = ["TaskService", "task_app"]


def _task_key(task_id: task_definition_pb2.TaskIdentifier) -> store.TaskKey:
    for part in ("project", "domain", "name", "version"):
        if not getattr(task_id, part):
            raise ConnectError(Code.INVALID_ARGUMENT, f"task_id.{part} is required")
    check_name(task_id.project, "task_id.project")
    check_name(task_id.domain, "task_id.domain")
    return store.TaskKey(task_id.project, task_id.domain, task_id.name, task_id.version)


def _task_id(row: TaskRow) -> task_definition_pb2.TaskIdentifier:
    return task_definition_pb2.TaskIdentifier(
        project=row.project, domain=row.domain, name=row.name, version=row.version
    )


def _metadata(row: TaskRow) -> task_definition_pb2.TaskMetadata:
    metadata = task_definition_pb2.TaskMetadata(
        short_name=row.short_name, environment_name=row.environment_name, short_description=row.short_description
    )
    metadata.deployed_at.CopyFrom(timestamp(row.created_us))
    return metadata


class TaskService(task_service_connect.TaskService):  # type: ignore[misc]  # the generated stubs are untyped
    """``flyteidl2.task.TaskService`` over the task table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def deploy_task(self, request: pb.DeployTaskRequest, ctx: RequestContext[Any, Any]) -> pb.DeployTaskResponse:
        key = _task_key(request.task_id)
        spec = request.spec
        if not spec.HasField("task_template"):
            raise ConnectError(Code.INVALID_ARGUMENT, "spec.task_template is required")
        template = spec.task_template
        if not template.HasField("container"):
            raise ConnectError(
                Code.INVALID_ARGUMENT, f"task {key.name!r} has no container; only container tasks run here"
            )
        # The stored template names the version it was deployed as.
        template.id.project, template.id.domain = key.project, key.domain
        template.id.name, template.id.version = key.name, key.version
        for trigger in request.triggers:
            if not trigger.name:
                raise ConnectError(Code.INVALID_ARGUMENT, "every trigger needs a name")
        async with self.engine.database.session() as session:
            if not await project_exists(session, key.project, key.domain):
                raise ConnectError(Code.NOT_FOUND, f"project {key.project!r} (domain {key.domain!r}) does not exist")
            await store.upsert_task(
                session,
                key,
                spec=spec.SerializeToString(deterministic=True),
                short_name=spec.short_name or key.name.rsplit(".", 1)[-1],
                environment_name=spec.environment.name,
                short_description=spec.documentation.short_description[:1024],
                is_entrypoint=bool(template.metadata.is_entrypoint),
                now_us=now_us(),
            )
            from flyte_server.store.triggers import upsert_task_triggers

            await upsert_task_triggers(session, request.task_id, request.triggers)
        return pb.DeployTaskResponse()

    async def get_task_details(
        self, request: pb.GetTaskDetailsRequest, ctx: RequestContext[Any, Any]
    ) -> pb.GetTaskDetailsResponse:
        key = _task_key(request.task_id)
        async with self.engine.database.session() as session:
            row = await store.get_task(session, key)
        if row is None:
            raise ConnectError(
                Code.NOT_FOUND,
                f"task {key.name!r} version {key.version!r} does not exist in {key.project}/{key.domain}",
            )
        details = task_definition_pb2.TaskDetails(task_id=_task_id(row), metadata=_metadata(row))
        details.spec.ParseFromString(row.spec)
        return pb.GetTaskDetailsResponse(details=details)

    async def list_tasks(self, request: pb.ListTasksRequest, ctx: RequestContext[Any, Any]) -> pb.ListTasksResponse:
        project: str | None = None
        domain: str | None = None
        if request.HasField("project_id"):
            project, domain = request.project_id.name or None, request.project_id.domain or None
        is_entrypoint: bool | None = None
        deployed_by: str | None = None
        for known in request.known_filters:
            if known.WhichOneof("filter_by") == "is_entrypoint":
                is_entrypoint = known.is_entrypoint
            elif known.WhichOneof("filter_by") == "deployed_by":
                deployed_by = known.deployed_by
        try:
            async with self.engine.database.session() as session:
                rows, token = await store.list_tasks(
                    session,
                    request.request,
                    project=project,
                    domain=domain,
                    is_entrypoint=is_entrypoint,
                    deployed_by=deployed_by,
                )
        except ListQueryError as error:
            raise ConnectError(Code.INVALID_ARGUMENT, str(error)) from error
        tasks = [task_definition_pb2.Task(task_id=_task_id(row), metadata=_metadata(row)) for row in rows]
        return pb.ListTasksResponse(tasks=tasks, token=token)

    async def list_versions(
        self, request: pb.ListVersionsRequest, ctx: RequestContext[Any, Any]
    ) -> pb.ListVersionsResponse:
        name = request.task_name
        for part in ("project", "domain", "name"):
            if not getattr(name, part):
                raise ConnectError(Code.INVALID_ARGUMENT, f"task_name.{part} is required")
        try:
            async with self.engine.database.session() as session:
                rows, token = await store.list_versions(
                    session, request.request, project=name.project, domain=name.domain, name=name.name
                )
        except ListQueryError as error:
            raise ConnectError(Code.INVALID_ARGUMENT, str(error)) from error
        versions = []
        for row in rows:
            version = pb.ListVersionsResponse.VersionResponse(version=row.version)
            version.deployed_at.CopyFrom(timestamp(row.created_us))
            versions.append(version)
        return pb.ListVersionsResponse(versions=versions, token=token)


def task_app(engine: Engine, *, interceptors: Sequence[Any] = (), read_max_bytes: int | None = None) -> Any:
    """The ASGI application of TaskService."""
    return TaskServiceASGIApplication(TaskService(engine), interceptors=interceptors, read_max_bytes=read_max_bytes)

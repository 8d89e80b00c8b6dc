"""``TriggerService``: deploy, inspect, list, (de)activate and delete triggers; the scheduler fires them.

Triggers also arrive with ``TaskService.DeployTask``; the engine stores those through
:func:`flyte_server.store.triggers.upsert_task_triggers`, and resolves ``CreateRun{trigger_name}``
through :func:`flyte_server.store.triggers.resolve_trigger` (both re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from connectrpc.request import RequestContext
from flyteidl2.common import identifier_pb2
from flyteidl2.task import common_pb2
from flyteidl2.trigger import trigger_definition_pb2 as definition
from flyteidl2.trigger import trigger_service_connect
from flyteidl2.trigger import trigger_service_pb2 as pb
from flyteidl2.trigger.trigger_service_connect import TriggerServiceASGIApplication
from sqlalchemy.ext.asyncio import AsyncSession

from flyte_server.admin._common import invalid_argument, not_found, page_size, parse_int_token, timestamp
from flyte_server.admin.identity_service import local_identity
from flyte_server.scheduler import ScheduleError, next_fire_time
from flyte_server.store import triggers as store
from flyte_server.store.db import Database
from flyte_server.store.models.triggers import TriggerRow
from flyte_server.store.projects import DOMAINS, project_exists
from flyte_server.store.triggers import resolve_trigger, upsert_task_triggers

__all__ = ["TriggerService", "resolve_trigger", "trigger_app", "trigger_details", "upsert_task_triggers"]


def _trigger_id(row: TriggerRow) -> identifier_pb2.TriggerIdentifier:
    return identifier_pb2.TriggerIdentifier(
        name=identifier_pb2.TriggerName(project=row.project, domain=row.domain, name=row.name, task_name=row.task_name),
        revision=row.revision,
    )


def _status(row: TriggerRow) -> definition.TriggerStatus:
    return definition.TriggerStatus(
        deployed_at=timestamp(row.deployed_at),
        updated_at=timestamp(row.updated_at),
        triggered_at=timestamp(row.triggered_at),
    )


def _metadata() -> definition.TriggerMetadata:
    identity = local_identity()
    return definition.TriggerMetadata(deployed_by=identity, updated_by=identity)


def trigger_details(row: TriggerRow) -> definition.TriggerDetails:
    """The ``TriggerDetails`` message of a stored trigger."""
    return definition.TriggerDetails(
        id=_trigger_id(row),
        metadata=_metadata(),
        spec=store.trigger_spec(row),
        status=_status(row),
        automation_spec=store.trigger_automation(row),
        description=row.description,
    )


def _summary(row: TriggerRow) -> definition.Trigger:
    return definition.Trigger(
        id=_trigger_id(row),
        metadata=_metadata(),
        status=_status(row),
        active=row.active,
        automation_spec=store.trigger_automation(row),
    )


def check_automation(automation: common_pb2.TriggerAutomationSpec) -> None:
    """Reject a schedule the scheduler could not evaluate, with ``INVALID_ARGUMENT``."""
    if automation.type == common_pb2.TYPE_SCHEDULE:
        try:
            now = datetime.now(timezone.utc)
            next_fire_time(automation, now, anchor=now)
        except ScheduleError as e:
            raise invalid_argument(f"invalid trigger schedule: {e}") from e
    elif automation.type == common_pb2.TYPE_ARTIFACT:
        raise invalid_argument("artifact triggers are not supported by this server; use a schedule")


class TriggerService(trigger_service_connect.TriggerService):  # type: ignore[misc]  # the generated stubs are untyped
    """Triggers in the store; ``on_change`` tells the scheduler to look again."""

    def __init__(self, database: Database, *, on_change: Callable[[], None] = lambda: None) -> None:
        self._database = database
        self._on_change = on_change

    @staticmethod
    async def _check_scope(session: AsyncSession, project: str, domain: str) -> None:
        if domain not in DOMAINS:
            raise invalid_argument(f"unknown domain {domain!r}; use one of {', '.join(DOMAINS)}")
        if not await project_exists(session, project):
            raise not_found(f"project {project!r} does not exist")

    async def deploy_trigger(
        self, request: pb.DeployTriggerRequest, ctx: RequestContext[Any, Any]
    ) -> pb.DeployTriggerResponse:
        automation = request.automation_spec
        if not request.HasField("automation_spec"):
            automation = common_pb2.TriggerAutomationSpec(type=common_pb2.TYPE_NONE)
        check_automation(automation)
        key = store.TriggerKey.from_proto(request.name)
        async with self._database.session() as session:
            await self._check_scope(session, key.project, key.domain)
            row = await store.deploy_trigger(session, key, request.spec, automation)
            details = trigger_details(row)
        self._on_change()
        return pb.DeployTriggerResponse(trigger=details)

    async def get_trigger_details(
        self, request: pb.GetTriggerDetailsRequest, ctx: RequestContext[Any, Any]
    ) -> pb.GetTriggerDetailsResponse:
        key = store.TriggerKey.from_proto(request.name)
        async with self._database.session() as session:
            row = await store.get_trigger(session, key)
        if row is None:
            raise not_found(_missing([key]))
        return pb.GetTriggerDetailsResponse(trigger=trigger_details(row))

    async def list_triggers(
        self, request: pb.ListTriggersRequest, ctx: RequestContext[Any, Any]
    ) -> pb.ListTriggersResponse:
        limit = page_size(request.request.limit)
        after = parse_int_token(request.request.token)
        scope = request.WhichOneof("scope_by")
        project = domain = task_name = task_version = None
        if scope == "project_id":
            project, domain = request.project_id.name, request.project_id.domain
        elif scope == "task_id":
            project, domain = request.task_id.project, request.task_id.domain
            task_name, task_version = request.task_id.name, request.task_id.version
        elif scope == "task_name":
            project, domain, task_name = request.task_name.project, request.task_name.domain, request.task_name.name
        async with self._database.session() as session:
            if project and not await project_exists(session, project):
                raise not_found(f"project {project!r} does not exist")
            rows = await store.list_triggers(
                session,
                project=project,
                domain=domain,
                task_name=task_name,
                task_version=task_version,
                limit=limit + 1,
                after_id=after,
            )
        token = str(rows[limit - 1].id) if len(rows) > limit else ""
        return pb.ListTriggersResponse(triggers=[_summary(row) for row in rows[:limit]], token=token)

    async def update_triggers(
        self, request: pb.UpdateTriggersRequest, ctx: RequestContext[Any, Any]
    ) -> pb.UpdateTriggersResponse:
        keys = [store.TriggerKey.from_proto(name) for name in request.names]
        async with self._database.session() as session:
            missing = await store.set_triggers_active(session, keys, request.active)
            if missing:
                raise not_found(_missing(missing))
        self._on_change()
        return pb.UpdateTriggersResponse()

    async def delete_triggers(
        self, request: pb.DeleteTriggersRequest, ctx: RequestContext[Any, Any]
    ) -> pb.DeleteTriggersResponse:
        keys = [store.TriggerKey.from_proto(name) for name in request.names]
        async with self._database.session() as session:
            missing = await store.delete_triggers(session, keys)
            if missing:
                raise not_found(_missing(missing))
        self._on_change()
        return pb.DeleteTriggersResponse()


def _missing(keys: Sequence[store.TriggerKey]) -> str:
    names = ", ".join(f"{key.project}/{key.domain}/{key.task_name}/{key.name}" for key in keys)
    return f"no such trigger: {names}" if len(keys) == 1 else f"no such triggers: {names}"


def trigger_app(
    database: Database,
    *,
    on_change: Callable[[], None] = lambda: None,
    interceptors: Any = (),
    read_max_bytes: int | None = None,
) -> TriggerServiceASGIApplication:
    """The Connect application serving :class:`TriggerService`."""
    return TriggerServiceASGIApplication(
        TriggerService(database, on_change=on_change), interceptors=interceptors, read_max_bytes=read_max_bytes
    )

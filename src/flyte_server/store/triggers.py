"""Trigger rows: deploy (standalone or with a task), look up, list, (de)activate, delete, and fire bookkeeping.

Triggers are keyed by (project, domain, task name, trigger name); the organization is ignored,
as everywhere in this server. The two functions the engine calls are :func:`upsert_task_triggers`
(from ``TaskService.DeployTask``) and :func:`resolve_trigger` (from ``RunService.CreateRun`` with
a ``trigger_name``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from flyteidl2.common import identifier_pb2
from flyteidl2.task import common_pb2, task_definition_pb2
from flyteidl2.trigger import trigger_definition_pb2
from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flyte_server.store.models.triggers import TriggerRow

__all__ = [
    "TriggerKey",
    "TriggerNotFoundError",
    "active_schedule_triggers",
    "delete_triggers",
    "deploy_trigger",
    "get_trigger",
    "list_triggers",
    "record_fire",
    "resolve_trigger",
    "set_triggers_active",
    "task_trigger_summaries",
    "trigger_automation",
    "trigger_spec",
    "upsert_task_triggers",
]


class TriggerNotFoundError(LookupError):
    """No trigger has that name in that project and domain (or the name is ambiguous)."""


@dataclass(frozen=True)
class TriggerKey:
    """What identifies a trigger: project, domain, task name and trigger name."""

    project: str
    domain: str
    task_name: str
    name: str

    @classmethod
    def from_proto(cls, name: identifier_pb2.TriggerName) -> TriggerKey:
        """The key of a ``TriggerName`` (its ``org`` is ignored)."""
        return cls(project=name.project, domain=name.domain, task_name=name.task_name, name=name.name)

    def matches(self) -> ColumnElement[bool]:
        """A WHERE clause selecting this trigger's row."""
        return and_(
            TriggerRow.project == self.project,
            TriggerRow.domain == self.domain,
            TriggerRow.task_name == self.task_name,
            TriggerRow.name == self.name,
        )


def trigger_spec(row: TriggerRow) -> trigger_definition_pb2.TriggerSpec:
    """The stored ``TriggerSpec`` of a row, with its current ``active`` flag and task version."""
    spec = trigger_definition_pb2.TriggerSpec.FromString(row.spec)
    spec.active = row.active
    spec.task_version = row.task_version
    return spec


def trigger_automation(row: TriggerRow) -> common_pb2.TriggerAutomationSpec:
    """The stored schedule of a row."""
    return common_pb2.TriggerAutomationSpec.FromString(row.automation_spec)


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def get_trigger(session: AsyncSession, key: TriggerKey) -> TriggerRow | None:
    """The trigger with this key, or ``None``."""
    return await session.scalar(select(TriggerRow).where(key.matches()))


async def deploy_trigger(
    session: AsyncSession,
    key: TriggerKey,
    spec: trigger_definition_pb2.TriggerSpec,
    automation: common_pb2.TriggerAutomationSpec,
    *,
    now: datetime | None = None,
) -> TriggerRow:
    """Create or replace a trigger; a new revision each time.

    Its ``active`` flag and task version come from ``spec``. The fixed-rate anchor
    (``activated_at``) moves when the trigger becomes active or its schedule changes, and the
    last fire time is kept across redeploys so that a redeploy never fires a time twice.
    """
    now = now or _now()
    stored_spec = trigger_definition_pb2.TriggerSpec()
    stored_spec.CopyFrom(spec)
    automation_bytes = automation.SerializeToString(deterministic=True)
    row = await get_trigger(session, key)
    if row is None:
        row = TriggerRow(
            project=key.project,
            domain=key.domain,
            task_name=key.task_name,
            name=key.name,
            revision=1,
            deployed_at=now,
            activated_at=now,
            triggered_at=None,
        )
        session.add(row)
    else:
        if (spec.active and not row.active) or automation_bytes != row.automation_spec:
            row.activated_at = now
        row.revision += 1
    row.task_version = spec.task_version
    row.spec = stored_spec.SerializeToString(deterministic=True)
    row.automation_spec = automation_bytes
    row.automation_type = automation.type
    row.active = spec.active
    row.description = spec.description[:1024]
    row.updated_at = now
    await session.flush()
    return row


async def upsert_task_triggers(
    session: AsyncSession,
    task_id: task_definition_pb2.TaskIdentifier,
    triggers: Sequence[task_definition_pb2.TaskTrigger],
    *,
    now: datetime | None = None,
) -> list[TriggerRow]:
    """Deploy the triggers that came with ``TaskService.DeployTask`` (call it on every DeployTask).

    Each trigger is bound to the deployed version of the task. The task's other triggers are
    deleted, so a trigger removed from the code stops firing once the task is redeployed.

    Example:
        >>> async with database.session() as session:  # doctest: +SKIP
        ...     await upsert_task_triggers(session, request.task_id, request.triggers)
    """
    rows = []
    for trigger in triggers:
        key = TriggerKey(project=task_id.project, domain=task_id.domain, task_name=task_id.name, name=trigger.name)
        spec = trigger_definition_pb2.TriggerSpec(
            run_spec=trigger.spec.run_spec,
            active=trigger.spec.active,
            task_version=task_id.version,
            description=trigger.spec.description,
        )
        if trigger.spec.HasField("inputs"):
            spec.inputs.CopyFrom(trigger.spec.inputs)
        elif trigger.spec.HasField("offloaded_input_data"):
            spec.offloaded_input_data.CopyFrom(trigger.spec.offloaded_input_data)
        rows.append(await deploy_trigger(session, key, spec, trigger.automation_spec, now=now))
    kept = [trigger.name for trigger in triggers]
    await session.execute(
        delete(TriggerRow).where(
            TriggerRow.project == task_id.project,
            TriggerRow.domain == task_id.domain,
            TriggerRow.task_name == task_id.name,
            TriggerRow.name.not_in(kept),
        )
    )
    return rows


async def resolve_trigger(
    session: AsyncSession,
    project: str,
    domain: str,
    trigger_name: str | identifier_pb2.TriggerName,
) -> tuple[task_definition_pb2.TaskIdentifier, trigger_definition_pb2.TriggerSpec]:
    """The task and spec (inputs, run spec) a run of this trigger uses: for ``CreateRun{trigger_name}``.

    ``trigger_name`` is a plain name or a ``TriggerName`` (whose ``task_name``, when set, picks
    among triggers of the same name on different tasks). The returned spec carries either inline
    ``inputs`` or ``offloaded_input_data`` (a directory holding ``inputs.pb``), and ``run_spec``.

    For ``CreateRun``, inputs and ``run_spec`` given in the request itself win over the
    trigger's: the scheduler sends them (with the kickoff time already added to the inputs), so
    only the task comes from here then.

    Raises:
        TriggerNotFoundError: no such trigger, or the name matches triggers of several tasks.

    Example:
        >>> task_id, spec = await resolve_trigger(session, "flytesnacks", "development", "nightly")  # doctest: +SKIP
    """
    if isinstance(trigger_name, identifier_pb2.TriggerName):
        name, task_name = trigger_name.name, trigger_name.task_name
    else:
        name, task_name = trigger_name, ""
    query = select(TriggerRow).where(
        TriggerRow.project == project, TriggerRow.domain == domain, TriggerRow.name == name
    )
    if task_name:
        query = query.where(TriggerRow.task_name == task_name)
    rows = list((await session.scalars(query.limit(2))).all())
    if not rows:
        raise TriggerNotFoundError(f"trigger {name!r} does not exist in project {project!r}, domain {domain!r}")
    if len(rows) > 1:
        raise TriggerNotFoundError(
            f"trigger name {name!r} is used by several tasks in project {project!r}, domain {domain!r}; "
            "give its task name too"
        )
    row = rows[0]
    task_id = task_definition_pb2.TaskIdentifier(
        project=row.project, domain=row.domain, name=row.task_name, version=row.task_version
    )
    return task_id, trigger_spec(row)


async def list_triggers(
    session: AsyncSession,
    *,
    project: str | None,
    domain: str | None,
    task_name: str | None = None,
    task_version: str | None = None,
    limit: int,
    after_id: int = 0,
) -> list[TriggerRow]:
    """Triggers of a project, domain, task and task version (each when given), oldest first, after ``after_id``."""
    query = select(TriggerRow).where(TriggerRow.id > after_id)
    if project:
        query = query.where(TriggerRow.project == project)
    if domain:
        query = query.where(TriggerRow.domain == domain)
    if task_name:
        query = query.where(TriggerRow.task_name == task_name)
    if task_version:
        query = query.where(TriggerRow.task_version == task_version)
    return list((await session.scalars(query.order_by(TriggerRow.id).limit(limit))).all())


def _any_of(keys: Sequence[TriggerKey]) -> ColumnElement[bool]:
    return or_(*(key.matches() for key in keys))


async def set_triggers_active(
    session: AsyncSession, keys: Sequence[TriggerKey], active: bool, *, now: datetime | None = None
) -> list[TriggerKey]:
    """Activate or deactivate triggers; returns the keys that do not exist (nothing changes then)."""
    now = now or _now()
    rows = list((await session.scalars(select(TriggerRow).where(_any_of(keys)))).all())
    found = {TriggerKey(row.project, row.domain, row.task_name, row.name) for row in rows}
    missing = [key for key in keys if key not in found]
    if missing:
        return missing
    for row in rows:
        if row.active == active:
            continue
        row.active = active
        row.revision += 1
        row.updated_at = now
        if active:
            row.activated_at = now
    return []


async def delete_triggers(session: AsyncSession, keys: Sequence[TriggerKey]) -> list[TriggerKey]:
    """Delete triggers; returns the keys that do not exist (nothing is deleted then)."""
    rows = list((await session.scalars(select(TriggerRow).where(_any_of(keys)))).all())
    found = {TriggerKey(row.project, row.domain, row.task_name, row.name) for row in rows}
    missing = [key for key in keys if key not in found]
    if missing:
        return missing
    await session.execute(delete(TriggerRow).where(TriggerRow.id.in_([row.id for row in rows])))
    return []


async def active_schedule_triggers(session: AsyncSession) -> list[TriggerRow]:
    """Every active trigger with a schedule: what the scheduler watches."""
    query = select(TriggerRow).where(
        TriggerRow.active.is_(True), TriggerRow.automation_type == common_pb2.TYPE_SCHEDULE
    )
    return list((await session.scalars(query.order_by(TriggerRow.id))).all())


async def record_fire(session: AsyncSession, trigger_id: int, scheduled_at: datetime) -> None:
    """Remember that the run scheduled for ``scheduled_at`` was fired (never moves backwards)."""
    await session.execute(
        update(TriggerRow)
        .where(
            TriggerRow.id == trigger_id,
            or_(TriggerRow.triggered_at.is_(None), TriggerRow.triggered_at < scheduled_at),
        )
        .values(triggered_at=scheduled_at)
    )


async def task_trigger_summaries(
    session: AsyncSession, project: str, domain: str, task_names: Sequence[str]
) -> dict[str, task_definition_pb2.TaskTriggersSummary]:
    """``TaskMetadata.triggers_summary`` for tasks (GetTaskDetails / ListTasks): details of a task's
    only trigger, or counts when it has several. Tasks without triggers are left out.
    """
    if not task_names:
        return {}
    query = select(TriggerRow).where(
        TriggerRow.project == project, TriggerRow.domain == domain, TriggerRow.task_name.in_(list(task_names))
    )
    by_task: dict[str, list[TriggerRow]] = {}
    for row in (await session.scalars(query.order_by(TriggerRow.id))).all():
        by_task.setdefault(row.task_name, []).append(row)
    summaries = {}
    for task_name, rows in by_task.items():
        summary = task_definition_pb2.TaskTriggersSummary()
        if len(rows) == 1:
            summary.details.name = rows[0].name
            summary.details.active = rows[0].active
            summary.details.automation_spec.CopyFrom(trigger_automation(rows[0]))
        else:
            summary.stats.total = len(rows)
            summary.stats.active = sum(1 for row in rows if row.active)
        summaries[task_name] = summary
    return summaries

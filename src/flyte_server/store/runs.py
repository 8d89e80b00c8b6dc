"""Repository functions for runs, actions, attempts, run labels and shared task specs.

All functions take an open ``AsyncSession`` (the caller owns the transaction), so an engine tick can
batch many changes into one commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from typing import Any, NamedTuple

from flyteidl2.common import list_pb2, phase_pb2
from flyteidl2.workflow import run_definition_pb2
from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    false,
    insert,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from flyte_server.store.listing import Field, ListQueryError, Page, apply_list_request
from flyte_server.store.models.replicas import RunOwnerRow
from flyte_server.store.models.runs import ActionRow, AttemptRow, RunLabelRow, TaskSpecRow

__all__ = [
    "ROOT_ACTION",
    "TERMINAL_PHASES",
    "ActionKey",
    "children_of",
    "get_action",
    "get_attempt",
    "get_attempts",
    "get_task_spec",
    "insert_action",
    "insert_attempt",
    "list_actions",
    "list_runs",
    "non_terminal_actions",
    "put_task_spec",
    "run_actions",
    "set_run_labels",
    "spec_digest",
    "update_action",
    "update_attempt",
]

ROOT_ACTION = "a0"
"""The name of every run's root action."""

TERMINAL_PHASES = frozenset(
    {
        phase_pb2.ACTION_PHASE_SUCCEEDED,
        phase_pb2.ACTION_PHASE_FAILED,
        phase_pb2.ACTION_PHASE_ABORTED,
        phase_pb2.ACTION_PHASE_TIMED_OUT,
        phase_pb2.ACTION_PHASE_RECOVERED,
    }
)
"""Phases an action never leaves."""


class ActionKey(NamedTuple):
    """The identity of an action (org is ignored, as Flyte's OSS backend does)."""

    project: str
    domain: str
    run: str
    name: str

    @property
    def run_key(self) -> tuple[str, str, str]:
        """``(project, domain, run)``."""
        return (self.project, self.domain, self.run)

    def __str__(self) -> str:
        return f"{self.project}/{self.domain}/{self.run}/{self.name}"


def _action_where(key: ActionKey) -> ColumnElement[bool]:
    return and_(
        ActionRow.project == key.project,
        ActionRow.domain == key.domain,
        ActionRow.run_name == key.run,
        ActionRow.name == key.name,
    )


def _attempt_where(key: ActionKey, attempt: int) -> ColumnElement[bool]:
    return and_(
        AttemptRow.project == key.project,
        AttemptRow.domain == key.domain,
        AttemptRow.run_name == key.run,
        AttemptRow.action_name == key.name,
        AttemptRow.attempt == attempt,
    )


# Core statements for the engine's hot writes: compiled once, parameters by name (the SET clause is
# whatever non-key parameters a call passes), no ORM bookkeeping.
_ACTIONS: Table = ActionRow.__table__  # type: ignore[assignment]
_ATTEMPTS: Table = AttemptRow.__table__  # type: ignore[assignment]
_UPDATE_ACTION = _ACTIONS.update().where(
    _ACTIONS.c.project == bindparam("key_project"),
    _ACTIONS.c.domain == bindparam("key_domain"),
    _ACTIONS.c.run_name == bindparam("key_run"),
    _ACTIONS.c.name == bindparam("key_name"),
)
_UPDATE_ATTEMPT = _ATTEMPTS.update().where(
    _ATTEMPTS.c.project == bindparam("key_project"),
    _ATTEMPTS.c.domain == bindparam("key_domain"),
    _ATTEMPTS.c.run_name == bindparam("key_run"),
    _ATTEMPTS.c.action_name == bindparam("key_name"),
    _ATTEMPTS.c.attempt == bindparam("key_attempt"),
)


Statement = tuple[Any, dict[str, Any], tuple[object, ...]]
"""A batchable row write: statement, parameters, row identity (see ``engine.writer.Statements``)."""

_INSERT_ACTION = _ACTIONS.insert()
_INSERT_ATTEMPT = _ATTEMPTS.insert()


def action_insert(values: dict[str, Any]) -> Statement:
    """The insert of an action row as a batchable statement (see ``engine.writer.Statements``)."""
    row = ("action", values["project"], values["domain"], values["run_name"], values["name"])
    return _INSERT_ACTION, values, row


def action_update(key: ActionKey, values: dict[str, Any]) -> Statement:
    """An update of one action's columns as a batchable statement."""
    return _UPDATE_ACTION, {**_key_params(key), **values}, ("action", *key)


def attempt_insert(values: dict[str, Any]) -> Statement:
    """The insert of an attempt row as a batchable statement."""
    row = ("attempt", values["project"], values["domain"], values["run_name"], values["action_name"], values["attempt"])
    return _INSERT_ATTEMPT, values, row


def attempt_update(key: ActionKey, attempt: int, values: dict[str, Any]) -> Statement:
    """An update of one attempt's columns as a batchable statement."""
    return _UPDATE_ATTEMPT, {**_key_params(key), "key_attempt": attempt, **values}, ("attempt", *key, attempt)


def _key_params(key: ActionKey) -> dict[str, str]:
    return {"key_project": key.project, "key_domain": key.domain, "key_run": key.run, "key_name": key.name}


def spec_digest(spec: bytes) -> str:
    """The digest a serialized TaskSpec is stored under."""
    return hashlib.sha256(spec).hexdigest()


def _insert_ignoring_duplicates(session: AsyncSession, table: Any, values: dict[str, Any]) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).values(**values).on_conflict_do_nothing()
    return sqlite.insert(table).values(**values).on_conflict_do_nothing()


async def put_task_spec(session: AsyncSession, spec: bytes) -> str:
    """Store a serialized TaskSpec once; returns its digest."""
    digest = spec_digest(spec)
    await session.execute(_insert_ignoring_duplicates(session, TaskSpecRow, {"digest": digest, "spec": spec}))
    return digest


async def get_task_spec(session: AsyncSession, digest: str) -> bytes | None:
    """The serialized TaskSpec stored under ``digest``."""
    if not digest:
        return None
    spec: bytes | None = await session.scalar(select(TaskSpecRow.spec).where(TaskSpecRow.digest == digest))
    return spec


async def insert_action(session: AsyncSession, values: dict[str, Any]) -> None:
    """Insert an action row (the caller checked it does not exist)."""
    connection = await session.connection()
    await connection.execute(_INSERT_ACTION, values)


async def update_action(session: AsyncSession, key: ActionKey, values: dict[str, Any]) -> None:
    """Update columns of one action."""
    connection = await session.connection()
    await connection.execute(_UPDATE_ACTION, {**_key_params(key), **values})


async def get_action(session: AsyncSession, key: ActionKey) -> ActionRow | None:
    """One action, or ``None``."""
    row: ActionRow | None = await session.scalar(select(ActionRow).where(_action_where(key)))
    return row


async def insert_attempt(session: AsyncSession, values: dict[str, Any]) -> None:
    """Insert an attempt row."""
    connection = await session.connection()
    await connection.execute(_INSERT_ATTEMPT, values)


async def update_attempt(session: AsyncSession, key: ActionKey, attempt: int, values: dict[str, Any]) -> None:
    """Update columns of one attempt."""
    connection = await session.connection()
    await connection.execute(_UPDATE_ATTEMPT, {**_key_params(key), "key_attempt": attempt, **values})


async def get_attempt(session: AsyncSession, key: ActionKey, attempt: int) -> AttemptRow | None:
    """One attempt of an action, or ``None``."""
    row: AttemptRow | None = await session.scalar(select(AttemptRow).where(_attempt_where(key, attempt)))
    return row


async def get_attempts(session: AsyncSession, key: ActionKey) -> Sequence[AttemptRow]:
    """Every attempt of an action, oldest first."""
    result = await session.scalars(
        select(AttemptRow)
        .where(
            AttemptRow.project == key.project,
            AttemptRow.domain == key.domain,
            AttemptRow.run_name == key.run,
            AttemptRow.action_name == key.name,
        )
        .order_by(AttemptRow.attempt)
    )
    return result.all()


async def children_of(session: AsyncSession, parent: ActionKey) -> Sequence[ActionRow]:
    """The direct children of an action, in creation order."""
    result = await session.scalars(
        select(ActionRow)
        .where(
            ActionRow.project == parent.project,
            ActionRow.domain == parent.domain,
            ActionRow.run_name == parent.run,
            ActionRow.parent_name == parent.name,
        )
        .order_by(ActionRow.created_us, ActionRow.name)
    )
    return result.all()


async def run_actions(session: AsyncSession, project: str, domain: str, run: str) -> Sequence[ActionRow]:
    """Every action of a run, in creation order."""
    result = await session.scalars(
        select(ActionRow)
        .where(ActionRow.project == project, ActionRow.domain == domain, ActionRow.run_name == run)
        .order_by(ActionRow.created_us, ActionRow.name)
    )
    return result.all()


async def non_terminal_actions(
    session: AsyncSession, *, owner: str | None = None, runs: Collection[tuple[str, str, str]] | None = None
) -> Sequence[ActionRow]:
    """Every action not in a terminal phase (what a restarted engine resumes).

    ``owner``: only of the runs that replica drives (``run_owners``); ``runs``: only of these runs.
    """
    statement = select(ActionRow).where(ActionRow.phase.not_in(TERMINAL_PHASES))
    if owner is not None:
        statement = statement.join(
            RunOwnerRow,
            and_(
                RunOwnerRow.project == ActionRow.project,
                RunOwnerRow.domain == ActionRow.domain,
                RunOwnerRow.run_name == ActionRow.run_name,
            ),
        ).where(RunOwnerRow.owner == owner)
    if runs is not None:
        if not runs:
            return []
        statement = statement.where(tuple_(ActionRow.project, ActionRow.domain, ActionRow.run_name).in_(list(runs)))
    result = await session.scalars(statement.order_by(ActionRow.created_us))
    return result.all()


async def set_run_labels(session: AsyncSession, project: str, domain: str, run: str, labels: dict[str, str]) -> None:
    """Replace the labels of a run."""
    await session.execute(
        delete(RunLabelRow).where(
            RunLabelRow.project == project, RunLabelRow.domain == domain, RunLabelRow.run_name == run
        )
    )
    for key, value in labels.items():
        await session.execute(
            insert(RunLabelRow).values(project=project, domain=domain, run_name=run, key=key, value=value)
        )


async def run_labels(
    session: AsyncSession, project: str, domain: str, runs: Iterable[str]
) -> dict[str, dict[str, str]]:
    """The labels of several runs of one project/domain."""
    names = list(runs)
    if not names:
        return {}
    result = await session.execute(
        select(RunLabelRow.run_name, RunLabelRow.key, RunLabelRow.value).where(
            RunLabelRow.project == project, RunLabelRow.domain == domain, RunLabelRow.run_name.in_(names)
        )
    )
    labels: dict[str, dict[str, str]] = {}
    for run_name, key, value in result.all():
        labels.setdefault(run_name, {})[key] = value
    return labels


_ACTION_FIELDS = {
    "name": Field(ActionRow.name),
    "run_name": Field(ActionRow.run_name),
    "phase": Field(ActionRow.phase, "phase"),
    "task_name": Field(ActionRow.task_name),
    "task_version": Field(ActionRow.task_version),
    "task_project": Field(ActionRow.task_project),
    "task_domain": Field(ActionRow.task_domain),
    "environment_name": Field(ActionRow.environment_name),
    "short_name": Field(ActionRow.short_name),
    "function_name": Field(ActionRow.function_name),
    "parent": Field(ActionRow.parent_name),
    "parent_name": Field(ActionRow.parent_name),  # what Action.listall(parent_name=...) sends
    "parent_action_name": Field(ActionRow.parent_name),
    "group": Field(ActionRow.group_name),
    "action_type": Field(ActionRow.action_type, "int"),
    "cache_status": Field(ActionRow.cache_status, "int"),
    "attempts": Field(ActionRow.attempts, "int"),
    "trigger_name": Field(ActionRow.trigger_name),
    "source": Field(ActionRow.source, "int"),
    "created_at": Field(ActionRow.created_us, "time"),
    "updated_at": Field(ActionRow.updated_us, "time"),
    "ended_at": Field(ActionRow.ended_us, "time"),
    "start_time": Field(ActionRow.created_us, "time"),
    "end_time": Field(ActionRow.ended_us, "time"),
}


# Runs record no creator: on this server every run is the local user's (the subject IdentityService
# answers with), so Run.listall(created_by_subject=...) lists all runs for it and none for others.
_RUN_CREATOR = "local"
_CREATOR_FIELDS = frozenset({"created_by", "executed_by", "created_by_subject"})


def _creator_filter(function: int, values: list[str]) -> ColumnElement[bool]:
    if function == list_pb2.Filter.Function.EQUAL and values:
        return true() if values[0] == _RUN_CREATOR else false()
    if function == list_pb2.Filter.Function.NOT_EQUAL and values:
        return false() if values[0] == _RUN_CREATOR else true()
    if function == list_pb2.Filter.Function.VALUE_IN:
        return true() if _RUN_CREATOR in values else false()
    raise ListQueryError("unsupported function for 'created_by'")


def _special_filter(field: str, function: int, values: list[str]) -> ColumnElement[bool] | None:
    if field in _CREATOR_FIELDS:
        return _creator_filter(function, values)
    if not field.startswith("labels."):
        return None
    key = field.removeprefix("labels.")
    match_row = and_(
        RunLabelRow.project == ActionRow.project,
        RunLabelRow.domain == ActionRow.domain,
        RunLabelRow.run_name == ActionRow.run_name,
        RunLabelRow.key == key,
    )
    if function == list_pb2.Filter.Function.EXISTS:
        return exists().where(match_row)
    if function == list_pb2.Filter.Function.NOT_EXISTS:
        return ~exists().where(match_row)
    if function == list_pb2.Filter.Function.EQUAL and values:
        return exists().where(match_row, RunLabelRow.value == values[0])
    if function == list_pb2.Filter.Function.NOT_EQUAL and values:
        return ~exists().where(match_row, RunLabelRow.value == values[0])
    if function == list_pb2.Filter.Function.VALUE_IN:
        return exists().where(match_row, RunLabelRow.value.in_(values))
    raise ListQueryError(f"unsupported function for {field!r}")


async def _page(session: AsyncSession, statement: Select[Any], page: Page) -> tuple[list[ActionRow], str]:
    rows = list((await session.scalars(statement)).all())
    return rows[: page.limit], page.next_token(len(rows))


async def list_runs(
    session: AsyncSession,
    request: list_pb2.ListRequest,
    *,
    project: str | None,
    domain: str | None,
    task: tuple[str, str, str, str] | None = None,
    trigger_name: str | None = None,
    paused_only: bool = False,
) -> tuple[list[ActionRow], str]:
    """Root actions, filtered and paged; ``task`` is (project, domain, name, version or "").

    ``paused_only``: only runs with a condition action waiting (PAUSED; found through the phase index).
    """
    statement = select(ActionRow).where(ActionRow.name == ROOT_ACTION)
    if paused_only:
        paused = aliased(ActionRow)
        statement = statement.where(
            tuple_(ActionRow.project, ActionRow.domain, ActionRow.run_name).in_(
                select(paused.project, paused.domain, paused.run_name).where(
                    paused.phase == phase_pb2.ACTION_PHASE_PAUSED,
                    paused.action_type == run_definition_pb2.ACTION_TYPE_CONDITION,
                )
            )
        )
    if project:
        statement = statement.where(ActionRow.project == project)
    if domain:
        statement = statement.where(ActionRow.domain == domain)
    if task is not None:
        task_project, task_domain, task_name, task_version = task
        statement = statement.where(
            ActionRow.task_project == task_project,
            ActionRow.task_domain == task_domain,
            ActionRow.task_name == task_name,
        )
        if task_version:
            statement = statement.where(ActionRow.task_version == task_version)
    if trigger_name:
        statement = statement.where(ActionRow.trigger_name == trigger_name)
    statement, page = apply_list_request(
        statement,
        request,
        _ACTION_FIELDS,
        default_sort=("created_at", True),
        tiebreak=ActionRow.run_name,
        special=_special_filter,
    )
    return await _page(session, statement, page)


async def list_actions(
    session: AsyncSession, request: list_pb2.ListRequest, *, project: str, domain: str, run: str
) -> tuple[list[ActionRow], str]:
    """The actions of one run, filtered and paged (creation order by default)."""
    statement = select(ActionRow).where(
        ActionRow.project == project, ActionRow.domain == domain, ActionRow.run_name == run
    )
    statement, page = apply_list_request(
        statement, request, _ACTION_FIELDS, default_sort=("created_at", False), tiebreak=ActionRow.name
    )
    return await _page(session, statement, page)

"""Repository functions for deployed tasks."""

from __future__ import annotations

from typing import NamedTuple

from flyteidl2.common import list_pb2
from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flyte_server.store.listing import Field, apply_list_request
from flyte_server.store.models.tasks import TaskRow

__all__ = ["TaskKey", "get_task", "list_tasks", "list_versions", "upsert_task"]


class TaskKey(NamedTuple):
    """The identity of a deployed task version."""

    project: str
    domain: str
    name: str
    version: str


def _where(key: TaskKey) -> object:
    return and_(
        TaskRow.project == key.project,
        TaskRow.domain == key.domain,
        TaskRow.name == key.name,
        TaskRow.version == key.version,
    )


async def get_task(session: AsyncSession, key: TaskKey) -> TaskRow | None:
    """One deployed task version, or ``None``."""
    row: TaskRow | None = await session.scalar(select(TaskRow).where(_where(key)))  # type: ignore[arg-type]
    return row


async def upsert_task(
    session: AsyncSession,
    key: TaskKey,
    *,
    spec: bytes,
    short_name: str,
    environment_name: str,
    short_description: str,
    is_entrypoint: bool,
    now_us: int,
) -> bool:
    """Insert or replace a task version; returns whether it was new."""
    values = {
        "spec": spec,
        "short_name": short_name,
        "environment_name": environment_name,
        "short_description": short_description,
        "is_entrypoint": is_entrypoint,
        "updated_us": now_us,
    }
    existing = await session.scalar(select(TaskRow.created_us).where(_where(key)))  # type: ignore[arg-type]
    if existing is None:
        await session.execute(insert(TaskRow).values(**key._asdict(), created_us=now_us, **values))
        return True
    await session.execute(update(TaskRow).where(_where(key)).values(**values))  # type: ignore[arg-type]
    return False


_FIELDS = {
    "name": Field(TaskRow.name),
    "version": Field(TaskRow.version),
    "project": Field(TaskRow.project),
    "domain": Field(TaskRow.domain),
    "short_name": Field(TaskRow.short_name),
    "environment_name": Field(TaskRow.environment_name),
    "is_entrypoint": Field(TaskRow.is_entrypoint, "bool"),
    "deployed_by": Field(TaskRow.deployed_by),
    "created_at": Field(TaskRow.created_us, "time"),
    "updated_at": Field(TaskRow.updated_us, "time"),
    "deployed_at": Field(TaskRow.created_us, "time"),
}


async def list_tasks(
    session: AsyncSession,
    request: list_pb2.ListRequest,
    *,
    project: str | None,
    domain: str | None,
    is_entrypoint: bool | None = None,
    deployed_by: str | None = None,
    name: str | None = None,
) -> tuple[list[TaskRow], str]:
    """Task versions, filtered and paged (newest first by default)."""
    statement = select(TaskRow)
    if project:
        statement = statement.where(TaskRow.project == project)
    if domain:
        statement = statement.where(TaskRow.domain == domain)
    if name:
        statement = statement.where(TaskRow.name == name)
    if is_entrypoint is not None:
        statement = statement.where(TaskRow.is_entrypoint == is_entrypoint)
    if deployed_by:
        statement = statement.where(TaskRow.deployed_by == deployed_by)
    statement, page = apply_list_request(
        statement, request, _FIELDS, default_sort=("created_at", True), tiebreak=TaskRow.version
    )
    rows = list((await session.scalars(statement)).all())
    return rows[: page.limit], page.next_token(len(rows))


async def list_versions(
    session: AsyncSession, request: list_pb2.ListRequest, *, project: str, domain: str, name: str
) -> tuple[list[TaskRow], str]:
    """The versions of one task (newest first by default)."""
    return await list_tasks(session, request, project=project, domain=domain, name=name)

"""Apps in the store: create, read, update, list and delete their ``App`` messages (status is live, not stored)."""

from __future__ import annotations

import time

from flyteidl2.app import app_definition_pb2 as definition
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from flyte_server.store.models.apps import AppRow

__all__ = ["all_apps", "app_of", "create_app", "delete_app", "get_app", "get_app_by_name", "list_apps", "update_app"]


def _now_us() -> int:
    return time.time_ns() // 1000


def app_of(row: AppRow) -> definition.App:
    """The stored ``App`` (metadata and spec) of ``row``, with its revision."""
    app = definition.App.FromString(row.app)
    app.metadata.revision = row.revision
    return app


def _stored(app: definition.App) -> bytes:
    copy = definition.App()
    copy.CopyFrom(app)
    copy.ClearField("status")
    return bytes(copy.SerializeToString())


async def get_app(session: AsyncSession, project: str, domain: str, name: str) -> AppRow | None:
    """The app ``name`` of (project, domain), or ``None``."""
    return await session.get(AppRow, (project, domain, name))


async def get_app_by_name(session: AsyncSession, name: str) -> AppRow | None:
    """The app called ``name`` in any project and domain (names are unique per server), or ``None``."""
    return await session.scalar(select(AppRow).where(AppRow.name == name))


async def create_app(session: AsyncSession, app: definition.App) -> AppRow:
    """Store a new app at revision 1 (the caller checked that its name is free)."""
    ident = app.metadata.id
    now = _now_us()
    row = AppRow(
        project=ident.project,
        domain=ident.domain,
        name=ident.name,
        revision=1,
        app=_stored(app),
        created_us=now,
        updated_us=now,
    )
    session.add(row)
    await session.flush()
    return row


async def update_app(session: AsyncSession, row: AppRow, app: definition.App) -> AppRow:
    """Replace the spec of ``row`` with ``app``'s and bump its revision."""
    row.revision += 1
    row.app = _stored(app)
    row.updated_us = _now_us()
    await session.flush()
    return row


async def list_apps(
    session: AsyncSession, *, project: str | None, domain: str | None, after: str, limit: int
) -> list[AppRow]:
    """Apps ordered by name, after ``after``, at most ``limit`` (``project``/``domain`` filter when given)."""
    query = select(AppRow).order_by(AppRow.name)
    if project:
        query = query.where(AppRow.project == project)
    if domain:
        query = query.where(AppRow.domain == domain)
    if after:
        query = query.where(AppRow.name > after)
    return list((await session.scalars(query.limit(limit))).all())


async def all_apps(session: AsyncSession) -> list[AppRow]:
    """Every app (the supervisor's view at start)."""
    return list((await session.scalars(select(AppRow))).all())


async def delete_app(session: AsyncSession, project: str, domain: str, name: str) -> bool:
    """Delete the app; whether it existed."""
    result = await session.execute(
        delete(AppRow).where(AppRow.project == project, AppRow.domain == domain, AppRow.name == name)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]

"""Project lookups every service shares (runs, tasks, uploads and triggers need an existing project)."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flyte_server.store.models.projects import DEFAULT_DOMAINS, DEFAULT_PROJECT, ProjectRow

__all__ = ["DOMAINS", "create_project", "ensure_default_project", "get_project", "list_projects", "project_exists"]

DOMAINS = DEFAULT_DOMAINS
"""Every project has these domains, as in Flyte."""


async def project_exists(session: AsyncSession, project: str, domain: str | None = None) -> bool:
    """Whether ``project`` exists (and ``domain`` is one of its domains, when given)."""
    if domain is not None and domain not in DOMAINS:
        return False
    return await session.get(ProjectRow, project) is not None


async def ensure_default_project(session: AsyncSession) -> None:
    """Seed the default project ``flytesnacks`` on first start, as Flyte does."""
    if await session.scalar(select(ProjectRow.identifier).where(ProjectRow.identifier == DEFAULT_PROJECT)) is None:
        session.add(
            ProjectRow(
                identifier=DEFAULT_PROJECT,
                name=DEFAULT_PROJECT,
                description="The default project",
                created_at=datetime.now(timezone.utc),
            )
        )


async def get_project(session: AsyncSession, project: str) -> ProjectRow | None:
    """The project with this identifier, or ``None``."""
    return await session.get(ProjectRow, project)


async def list_projects(
    session: AsyncSession,
    *,
    limit: int,
    offset: int = 0,
    states: tuple[int, ...] | None = None,
    sort_by: str = "identifier",
    descending: bool = False,
) -> list[ProjectRow]:
    """Projects sorted by ``sort_by`` (``identifier``, ``name`` or ``created_at``), one page from ``offset``."""
    columns = {"identifier": ProjectRow.identifier, "name": ProjectRow.name, "created_at": ProjectRow.created_at}
    column = columns[sort_by]
    order = [column.desc() if descending else column.asc(), ProjectRow.identifier]
    query = select(ProjectRow)
    if states is not None:
        query = query.where(ProjectRow.state.in_(states))
    return list((await session.scalars(query.order_by(*order).offset(offset).limit(limit))).all())


async def create_project(
    session: AsyncSession, *, identifier: str, name: str, description: str, labels: bytes, state: int = 0
) -> bool:
    """Add a project; ``False`` when one with this identifier exists."""
    if await session.get(ProjectRow, identifier) is not None:
        return False
    session.add(
        ProjectRow(
            identifier=identifier,
            name=name,
            description=description,
            labels=labels,
            state=state,
            created_at=datetime.now(timezone.utc),  # microseconds, so listings sort by creation reliably
        )
    )
    await session.flush()
    return True

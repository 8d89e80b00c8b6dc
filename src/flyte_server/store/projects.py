"""Project lookups every service shares (runs, tasks, uploads and triggers need an existing project)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flyte_server.store.models.projects import DEFAULT_DOMAINS, DEFAULT_PROJECT, ProjectRow

__all__ = ["DOMAINS", "ensure_default_project", "project_exists"]

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
        session.add(ProjectRow(identifier=DEFAULT_PROJECT, name=DEFAULT_PROJECT, description="The default project"))

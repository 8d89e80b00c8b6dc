"""Secret rows: create, update, look up (most specific scope first), list and delete.

Rows hold ciphertext only; encryption is the caller's job (``flyte_server.secrets``).
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from flyte_server.store.models.secrets import SecretRow

__all__ = ["delete_secret", "find_secret", "get_secret", "list_secrets", "put_secret"]


async def get_secret(session: AsyncSession, project: str, domain: str, name: str) -> SecretRow | None:
    """The secret stored under exactly this scope and name."""
    return await session.scalar(
        select(SecretRow).where(SecretRow.project == project, SecretRow.domain == domain, SecretRow.name == name)
    )


async def find_secret(session: AsyncSession, project: str, domain: str, name: str) -> SecretRow | None:
    """The secret a task in (project, domain) sees under ``name``: the most specific scope wins.

    Scopes are tried in the order (project, domain), (project, any domain), (any project, domain),
    then the whole server.
    """
    rows = (
        await session.scalars(
            select(SecretRow).where(
                SecretRow.name == name, SecretRow.project.in_((project, "")), SecretRow.domain.in_((domain, ""))
            )
        )
    ).all()
    ranked = sorted(rows, key=lambda row: (row.project == "", row.domain == ""))
    return ranked[0] if ranked else None


async def put_secret(
    session: AsyncSession,
    *,
    project: str,
    domain: str,
    name: str,
    ciphertext: bytes,
    is_binary: bool,
    secret_type: int,
    create: bool,
) -> bool:
    """Create (``create=True``) or update a secret; ``False`` when it already exists / does not exist."""
    row = await get_secret(session, project, domain, name)
    now = datetime.now(timezone.utc)
    if create:
        if row is not None:
            return False
        session.add(
            SecretRow(
                project=project,
                domain=domain,
                name=name,
                ciphertext=ciphertext,
                is_binary=is_binary,
                secret_type=secret_type,
                created_at=now,
                updated_at=now,
            )
        )
        await session.flush()
        return True
    if row is None:
        return False
    row.ciphertext, row.is_binary, row.secret_type, row.updated_at = ciphertext, is_binary, secret_type, now
    return True


async def list_secrets(
    session: AsyncSession, *, project: str, domain: str, limit: int, after_id: int = 0
) -> list[SecretRow]:
    """Secrets stored under exactly this scope, in creation order, from ``after_id`` on (a page token)."""
    query = (
        select(SecretRow)
        .where(SecretRow.project == project, SecretRow.domain == domain, SecretRow.id > after_id)
        .order_by(SecretRow.id)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def delete_secret(session: AsyncSession, project: str, domain: str, name: str) -> bool:
    """Delete one secret; ``False`` when there was none."""
    result = await session.execute(
        delete(SecretRow).where(SecretRow.project == project, SecretRow.domain == domain, SecretRow.name == name)
    )
    return bool(getattr(result, "rowcount", 0))

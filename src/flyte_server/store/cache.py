"""Repository functions for the task output cache and its reservations."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flyte_server.store.models.cache import CacheEntryRow, CacheReservationRow

__all__ = ["delete_entry", "get_entry", "put_entry", "release_reservation", "reserve"]


async def get_entry(session: AsyncSession, key: str) -> CacheEntryRow | None:
    """The cache entry under ``key``, or ``None``."""
    row: CacheEntryRow | None = await session.scalar(select(CacheEntryRow).where(CacheEntryRow.key == key))
    return row


async def put_entry(
    session: AsyncSession, key: str, *, outputs: bytes, output_uri: str, source: str, now_us: int
) -> None:
    """Create or overwrite the entry under ``key``."""
    existing = await session.scalar(select(CacheEntryRow.key).where(CacheEntryRow.key == key))
    values = {"outputs": outputs, "output_uri": output_uri, "source": source, "created_us": now_us}
    if existing is None:
        await session.execute(insert(CacheEntryRow).values(key=key, **values))
    else:
        await session.execute(update(CacheEntryRow).where(CacheEntryRow.key == key).values(**values))


async def delete_entry(session: AsyncSession, key: str) -> None:
    """Remove the entry under ``key`` (an expired entry)."""
    await session.execute(delete(CacheEntryRow).where(CacheEntryRow.key == key))


async def reserve(session: AsyncSession, key: str, owner: str, *, now_us: int, ttl_us: int) -> str:
    """Take (or renew) the reservation of ``key`` for ``owner``; returns the owner holding it now."""
    row: CacheReservationRow | None = await session.scalar(
        select(CacheReservationRow).where(CacheReservationRow.key == key).with_for_update()
    )
    if row is None:
        await session.execute(insert(CacheReservationRow).values(key=key, owner=owner, expires_us=now_us + ttl_us))
        return owner
    if row.owner == owner or row.expires_us <= now_us:
        await session.execute(
            update(CacheReservationRow)
            .where(CacheReservationRow.key == key)
            .values(owner=owner, expires_us=now_us + ttl_us)
        )
        return owner
    return row.owner


async def release_reservation(session: AsyncSession, key: str, owner: str) -> None:
    """Drop ``owner``'s reservation of ``key`` (nothing when someone else holds it)."""
    await session.execute(
        delete(CacheReservationRow).where(CacheReservationRow.key == key, CacheReservationRow.owner == owner)
    )

"""Repository functions for replicas, run ownership, the replicas' inbox and named leases.

See :mod:`flyte_server.store.models.replicas` for the tables. Every function takes an open
``AsyncSession``; the caller owns the transaction.
"""

from __future__ import annotations

from sqlalchemy import and_, delete, exists, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from flyte_server.store.models.replicas import InboxRow, LeaseRow, ReplicaRow, RunOwnerRow
from flyte_server.store.models.runs import ActionRow
from flyte_server.store.runs import ROOT_ACTION, TERMINAL_PHASES

__all__ = [
    "RunKey",
    "acquire_lease",
    "adopt_orphans",
    "claim_run",
    "forget_finished_runs",
    "live_replicas",
    "owner_of",
    "post_inbox",
    "register",
    "release",
    "release_lease",
    "renew",
    "runs_owned_by_others",
    "take_inbox",
]

RunKey = tuple[str, str, str]
"""``(project, domain, run name)``."""

_ADOPTION_LOCK = 0x466C797465 + 1
"""The PostgreSQL advisory lock that lets one replica at a time adopt the runs of dead ones."""


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _upsert(session: AsyncSession, table: type) -> object:
    return postgresql.insert(table) if _dialect(session) == "postgresql" else sqlite.insert(table)


async def register(
    session: AsyncSession, replica: str, *, url: str, host: str, pid: int, now_us: int, ttl_us: int
) -> None:
    """Add (or refresh) this replica's row, alive until ``now_us + ttl_us``."""
    statement = _upsert(session, ReplicaRow).values(  # type: ignore[attr-defined]
        id=replica, url=url, host=host, pid=pid, started_us=now_us, expires_us=now_us + ttl_us
    )
    statement = statement.on_conflict_do_update(
        index_elements=[ReplicaRow.id],
        set_={"url": url, "host": host, "pid": pid, "started_us": now_us, "expires_us": now_us + ttl_us},
    )
    await session.execute(statement)


async def renew(session: AsyncSession, replica: str, *, now_us: int, ttl_us: int) -> bool:
    """Extend this replica's lease; ``False`` when its row is gone (another replica declared it dead)."""
    result = await session.execute(
        update(ReplicaRow).where(ReplicaRow.id == replica).values(expires_us=now_us + ttl_us)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def release(session: AsyncSession, replica: str) -> None:
    """Remove this replica's row (a clean stop): its runs may be adopted at once."""
    await session.execute(delete(ReplicaRow).where(ReplicaRow.id == replica))


async def live_replicas(session: AsyncSession, *, now_us: int) -> list[ReplicaRow]:
    """Replicas whose lease has not expired."""
    return list((await session.scalars(select(ReplicaRow).where(ReplicaRow.expires_us >= now_us))).all())


async def claim_run(session: AsyncSession, key: RunKey, replica: str, *, now_us: int) -> None:
    """Record ``replica`` as the owner of a new run."""
    project, domain, run = key
    await session.execute(
        _upsert(session, RunOwnerRow)  # type: ignore[attr-defined]
        .values(project=project, domain=domain, run_name=run, owner=replica, since_us=now_us)
        .on_conflict_do_nothing()
    )


async def owner_of(session: AsyncSession, key: RunKey) -> str | None:
    """The replica driving a run (``""``: nobody yet), or ``None`` when the run has no owner row."""
    project, domain, run = key
    owner: str | None = await session.scalar(
        select(RunOwnerRow.owner).where(
            RunOwnerRow.project == project, RunOwnerRow.domain == domain, RunOwnerRow.run_name == run
        )
    )
    return owner


async def runs_owned_by_others(session: AsyncSession, replica: str) -> set[RunKey]:
    """Runs another replica drives (or nobody yet)."""
    result = await session.execute(
        select(RunOwnerRow.project, RunOwnerRow.domain, RunOwnerRow.run_name).where(RunOwnerRow.owner != replica)
    )
    return {(project, domain, run) for project, domain, run in result.all()}


async def adopt_orphans(session: AsyncSession, replica: str, *, now_us: int) -> list[RunKey]:
    """Take over the runs of replicas whose lease expired (and unowned runs); returns them.

    Dead replicas' rows and inbox entries are removed: the adopter reloads their runs from the
    store. On PostgreSQL one replica adopts at a time (an advisory lock held until commit).
    """
    if _dialect(session) == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADOPTION_LOCK})
    live = [row.id for row in await live_replicas(session, now_us=now_us)]
    if replica not in live:
        live.append(replica)
    result = await session.execute(
        update(RunOwnerRow)
        .where(RunOwnerRow.owner.not_in(live))
        .values(owner=replica, since_us=now_us)
        .returning(RunOwnerRow.project, RunOwnerRow.domain, RunOwnerRow.run_name)
    )
    adopted = [(project, domain, run) for project, domain, run in result.all()]
    await session.execute(delete(ReplicaRow).where(ReplicaRow.id.not_in(live)))
    await session.execute(delete(InboxRow).where(InboxRow.owner.not_in(live)))
    return adopted


async def forget_finished_runs(session: AsyncSession, replica: str) -> int:
    """Drop the ownership rows of this replica's runs whose root action is terminal."""
    finished = exists().where(
        ActionRow.project == RunOwnerRow.project,
        ActionRow.domain == RunOwnerRow.domain,
        ActionRow.run_name == RunOwnerRow.run_name,
        ActionRow.name == ROOT_ACTION,
        ActionRow.phase.in_(TERMINAL_PHASES),
    )
    result = await session.execute(delete(RunOwnerRow).where(and_(RunOwnerRow.owner == replica, finished)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def post_inbox(session: AsyncSession, owner: str, key: tuple[str, str, str, str], *, now_us: int) -> None:
    """Tell ``owner`` that action ``key`` changed in the store (a new child, an abort)."""
    project, domain, run, action = key
    session.add(
        InboxRow(owner=owner, project=project, domain=domain, run_name=run, action_name=action, created_us=now_us)
    )
    await session.flush()


async def take_inbox(session: AsyncSession, replica: str, *, limit: int = 1000) -> list[tuple[str, str, str, str]]:
    """Remove and return up to ``limit`` actions waiting in this replica's inbox, oldest first."""
    rows = (
        await session.execute(
            select(InboxRow.id, InboxRow.project, InboxRow.domain, InboxRow.run_name, InboxRow.action_name)
            .where(InboxRow.owner == replica)
            .order_by(InboxRow.id)
            .limit(limit)
        )
    ).all()
    if rows:
        await session.execute(delete(InboxRow).where(InboxRow.id.in_([row[0] for row in rows])))
    return [(row[1], row[2], row[3], row[4]) for row in rows]


async def acquire_lease(session: AsyncSession, name: str, owner: str, *, now_us: int, ttl_us: int) -> bool:
    """Take or renew the lease ``name`` for ``owner`` unless another owner holds it unexpired."""
    statement = _upsert(session, LeaseRow).values(  # type: ignore[attr-defined]
        name=name, owner=owner, expires_us=now_us + ttl_us
    )
    statement = statement.on_conflict_do_update(
        index_elements=[LeaseRow.name],
        set_={"owner": owner, "expires_us": now_us + ttl_us},
        where=(LeaseRow.owner == owner) | (LeaseRow.expires_us < now_us),
    ).returning(LeaseRow.owner)
    holder = (await session.execute(statement)).scalar_one_or_none()
    return holder == owner


async def release_lease(session: AsyncSession, name: str, owner: str) -> None:
    """Give the lease ``name`` up (when ``owner`` holds it)."""
    await session.execute(delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.owner == owner))

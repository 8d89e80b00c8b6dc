"""The database: engine, sessions and schema migrations, the same code for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Integer, MetaData, String, event, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["MIGRATIONS", "Base", "Database", "Migration"]

_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """The declarative base of every table."""

    metadata = MetaData(naming_convention=_NAMING)


class SchemaVersion(Base):
    """Which migrations have been applied."""

    __tablename__ = "schema_version"
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    description: Mapped[str] = mapped_column(String(200))


@dataclass(frozen=True)
class Migration:
    """One step of the schema's history; applied once, in order, inside a transaction."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _create_initial_schema(connection: Connection) -> None:
    # Importing the model modules registers their tables on Base.metadata.
    from flyte_server.store import models  # noqa: F401

    Base.metadata.create_all(connection)


def _attempt_handles(connection: Connection) -> None:
    # Attempts carry their executor's opaque handle id instead of a pid and its start ticks; a
    # running attempt of an older server keeps its process as the local executor's handle. A
    # schema created by migration 1 from today's models has the column already.
    columns = {column["name"] for column in inspect(connection).get_columns("attempts")}
    if "handle" not in columns:
        connection.execute(text("ALTER TABLE attempts ADD COLUMN handle TEXT NOT NULL DEFAULT ''"))
    if "pid" in columns:
        connection.execute(
            text(
                "UPDATE attempts SET handle = 'local:' || CAST(pid AS TEXT) || ':' || CAST(pid_start AS TEXT) "
                "WHERE pid > 0"
            )
        )
        connection.execute(text("ALTER TABLE attempts DROP COLUMN pid"))
        connection.execute(text("ALTER TABLE attempts DROP COLUMN pid_start"))


def _replica_tables(connection: Connection) -> None:
    # Runs active before replicas existed belong to nobody: the first replica to start adopts them.
    from flyte_server.store.models.replicas import InboxRow, LeaseRow, ReplicaRow, RunOwnerRow

    tables = [model.__table__ for model in (ReplicaRow, RunOwnerRow, InboxRow, LeaseRow)]
    Base.metadata.create_all(connection, tables=tables)  # type: ignore[arg-type]
    connection.execute(
        text(
            "INSERT INTO run_owners (project, domain, run_name, owner, since_us) "
            "SELECT project, domain, run_name, '', 0 FROM actions WHERE name = 'a0' AND phase NOT IN (5, 6, 7, 8, 10) "
            "AND NOT EXISTS (SELECT 1 FROM run_owners o WHERE o.project = actions.project "
            "AND o.domain = actions.domain AND o.run_name = actions.run_name)"
        )
    )


def _notification_log(connection: Connection) -> None:
    from flyte_server.store.models.notifications import NotificationRow

    Base.metadata.create_all(connection, tables=[NotificationRow.__table__])  # type: ignore[list-item]


def _apps_table(connection: Connection) -> None:
    from flyte_server.store.models.apps import AppRow

    Base.metadata.create_all(connection, tables=[AppRow.__table__])  # type: ignore[list-item]


# Append new migrations at the end; never edit an applied one.
MIGRATIONS: list[Migration] = [
    Migration(1, "initial schema", _create_initial_schema),
    Migration(2, "attempt handles of any executor instead of pids", _attempt_handles),
    Migration(3, "replicas: run owners, their inbox, named leases", _replica_tables),
    Migration(4, "notification delivery log", _notification_log),
    Migration(5, "apps (AppService)", _apps_table),
]


class Database:
    """An async engine plus a session factory for one database URL.

    Example:
        >>> database = Database("sqlite+aiosqlite:////tmp/flyte-doc.db")  # doctest: +SKIP
        >>> await database.migrate()  # doctest: +SKIP
        >>> async with database.session() as session: ...  # doctest: +SKIP
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        options: dict[str, object] = {"echo": echo}
        if not self.is_sqlite:
            options.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def migrate(self) -> int:
        """Apply the migrations not applied yet; returns the schema version."""
        async with self.engine.begin() as connection:
            return await connection.run_sync(_migrate)

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


_MIGRATION_LOCK = 0x466C797465  # any constant shared by every replica ("Flyte")


def _migrate(connection: Connection) -> int:
    if connection.dialect.name == "postgresql":
        # Replicas starting together must not create the same tables at once; the lock is
        # released when the migration transaction ends.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    SchemaVersion.__table__.create(connection, checkfirst=True)  # type: ignore[attr-defined]
    applied = {row[0] for row in connection.execute(text("SELECT version FROM schema_version"))}
    current = max(applied, default=0)
    for migration in MIGRATIONS:
        if migration.version in applied:
            continue
        migration.apply(connection)
        connection.execute(
            text("INSERT INTO schema_version (version, description) VALUES (:v, :d)"),
            {"v": migration.version, "d": migration.description},
        )
        current = migration.version
    return current


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()

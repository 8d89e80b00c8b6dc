"""Fixtures for the control-plane tests: a real server on a loopback port, Connect clients, databases.

``admin_server`` runs ``flyte_server.server.serve`` (uvicorn, SQLite, local blobs) in a thread,
once per test module, without the engine: the admin services under test do not need it.
``database`` is a migrated store on SQLite and on PostgreSQL (a database created for the test
session and dropped after it; the PostgreSQL cases are skipped when no server answers).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flyteidl2.auth.identity_connect import IdentityServiceClient
from flyteidl2.cluster.service_connect import ClusterServiceClient
from flyteidl2.project.project_service_connect import ProjectServiceClient
from flyteidl2.secret.secret_connect import SecretServiceClient
from flyteidl2.trigger.trigger_service_connect import TriggerServiceClient
from sqlalchemy import delete

from flyte_server.config import ServerConfig
from flyte_server.server import EngineFactory, ServerInfo, serve
from flyte_server.store.db import Base, Database
from flyte_server.store.projects import ensure_default_project

POSTGRES_ADMIN_URL = os.environ.get("FLYTE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
"""A PostgreSQL database the tests may connect to in order to create their own database."""


@dataclass
class RunningServer:
    """A server serving in a background thread; :meth:`stop` shuts it down cleanly."""

    config: ServerConfig
    info: ServerInfo
    _loop: asyncio.AbstractEventLoop
    _stop: asyncio.Event
    _thread: threading.Thread

    @property
    def url(self) -> str:
        return self.info.url

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the server did not stop"


def start_server(
    config: ServerConfig, *, with_engine: bool = False, engine_factory: EngineFactory | None = None
) -> RunningServer:
    """Start ``serve(config)`` in a thread and wait until it is ready (or failed)."""
    ready = threading.Event()
    state: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        state["loop"] = loop

        async def main() -> None:
            state["stop"] = asyncio.Event()

            def on_ready(info: ServerInfo) -> None:
                state["info"] = info
                ready.set()

            await serve(
                config,
                on_ready=on_ready,
                shutdown=state["stop"],
                with_engine=with_engine,
                engine_factory=engine_factory,
            )

        try:
            loop.run_until_complete(main())
        except BaseException as e:  # handed to the test thread below
            state["error"] = e
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            ready.set()

    thread = threading.Thread(target=run, name="flyte-server", daemon=True)
    thread.start()
    ready.wait(timeout=60)
    if "error" in state:
        raise state["error"]
    assert "info" in state, "the server did not start within 60 s"
    return RunningServer(config=config, info=state["info"], _loop=state["loop"], _stop=state["stop"], _thread=thread)


@pytest.fixture
def launch_server() -> Iterator[Callable[..., RunningServer]]:
    """Start servers with :func:`start_server` (same arguments); those still running are stopped afterwards."""
    started: list[RunningServer] = []

    def launch(
        config: ServerConfig, *, with_engine: bool = False, engine_factory: EngineFactory | None = None
    ) -> RunningServer:
        server = start_server(config, with_engine=with_engine, engine_factory=engine_factory)
        started.append(server)
        return server

    yield launch
    for server in started:
        if server.running:
            server.stop()


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The admin services on a free loopback port, with a fresh data directory per test module."""
    data_dir = tmp_path_factory.mktemp("server")
    server = start_server(ServerConfig(port=0, data_dir=data_dir))
    yield server
    server.stop()


@dataclass
class Clients:
    """Connect clients of the admin services, all pointed at one server."""

    url: str
    _open: list[Any] = field(default_factory=list)

    def _client(self, kind: type[Any]) -> Any:
        client = kind(self.url)
        self._open.append(client)
        return client

    @property
    def projects(self) -> ProjectServiceClient:
        return self._client(ProjectServiceClient)

    @property
    def secrets(self) -> SecretServiceClient:
        return self._client(SecretServiceClient)

    @property
    def triggers(self) -> TriggerServiceClient:
        return self._client(TriggerServiceClient)

    @property
    def cluster(self) -> ClusterServiceClient:
        return self._client(ClusterServiceClient)

    @property
    def identity(self) -> IdentityServiceClient:
        return self._client(IdentityServiceClient)

    async def close(self) -> None:
        for client in self._open:
            await client.close()


@pytest.fixture
async def clients(admin_server: RunningServer) -> AsyncIterator[Clients]:
    """Clients of ``admin_server``'s services, closed after the test."""
    opened = Clients(admin_server.url)
    yield opened
    await opened.close()


@pytest.fixture
async def server_database(admin_server: RunningServer) -> AsyncIterator[Database]:
    """A second connection to ``admin_server``'s own database, to check what it stored."""
    database = Database(admin_server.config.database_url)
    yield database
    await database.close()


def _new_postgres_database() -> Iterator[str]:
    asyncpg = pytest.importorskip("asyncpg")
    name = f"flyte_test_{secrets.token_hex(6)}"

    async def execute(sql: str) -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    try:
        asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as e:
        pytest.skip(f"PostgreSQL is not available at {POSTGRES_ADMIN_URL}: {e}")
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (``flyte_test_<random>``), dropped afterwards."""
    yield from _new_postgres_database()


@pytest.fixture
def empty_postgres_url() -> Iterator[str]:
    """A PostgreSQL database of its own for one test (no tables yet), dropped afterwards."""
    yield from _new_postgres_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The async SQLAlchemy URL of a SQLite file or of the session's PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A migrated, empty store (plus the default project) on SQLite and on PostgreSQL."""
    database = Database(database_url)
    await database.migrate()
    async with database.session() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "schema_version":
                await session.execute(delete(table))
    async with database.session() as session:
        await ensure_default_project(session)
    yield database
    await database.close()

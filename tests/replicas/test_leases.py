"""One holder at a time: the trigger scheduler's lease across replicas, and one server per SQLite file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tests.e2e.helpers import ServerProcess

from flyte_server.store import replicas as replica_store
from flyte_server.store.db import Database

pytestmark = pytest.mark.timeout(120)

SECOND = 1_000_000


@pytest.mark.postgres
async def test_a_lease_has_one_holder_until_it_expires(pg_url: str) -> None:
    database = Database(pg_url.replace("postgresql://", "postgresql+asyncpg://", 1))
    await database.migrate()
    try:

        async def take(owner: str, now: int) -> bool:
            async with database.session() as session:
                return await replica_store.acquire_lease(session, "test-lease", owner, now_us=now, ttl_us=10 * SECOND)

        t0 = 1_000 * SECOND
        assert await take("a", t0)
        assert not await take("b", t0 + 1 * SECOND), "b took a lease a holds"
        assert await take("a", t0 + 5 * SECOND), "a could not renew its lease"
        assert not await take("b", t0 + 14 * SECOND), "b took a renewed lease"
        assert await take("b", t0 + 16 * SECOND), "b could not take an expired lease"
        assert not await take("a", t0 + 17 * SECOND)
    finally:
        await database.close()


def test_a_second_server_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'flyte.db'}"
    first = ServerProcess(data_dir=tmp_path / "one", worker_python=sys.executable, extra_args=["--db", url])
    second = ServerProcess(data_dir=tmp_path / "two", worker_python=sys.executable, extra_args=["--db", url])
    first.start()
    try:
        with pytest.raises(RuntimeError, match="SQLite supports one server"):
            second.start(timeout=60)
        assert second.process is not None and second.process.poll() not in (None, 0)
    finally:
        first.stop()
    second.start()  # once the first is gone, the file is free again
    second.stop()

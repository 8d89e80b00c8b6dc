"""Migration 2: attempts of an older store keep their running process as a local executor handle."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from flyte_server.store.db import Database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    url: str = request.getfixturevalue("empty_postgres_url")
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


async def _columns(database: Database) -> set[str]:
    async with database.engine.connect() as connection:
        return await connection.run_sync(lambda sync: {c["name"] for c in inspect(sync).get_columns("attempts")})


async def test_a_store_of_the_pid_era_migrates_to_handles(empty_url: str) -> None:
    database = Database(empty_url)
    try:
        assert await database.migrate() >= 2
        assert "handle" in await _columns(database) and "pid" not in await _columns(database)
        # Turn it back into a version-1 store whose attempts have pids, with one running attempt.
        async with database.engine.begin() as connection:
            await connection.execute(text("ALTER TABLE attempts DROP COLUMN handle"))
            await connection.execute(text("ALTER TABLE attempts ADD COLUMN pid INTEGER NOT NULL DEFAULT 0"))
            await connection.execute(text("ALTER TABLE attempts ADD COLUMN pid_start BIGINT NOT NULL DEFAULT 0"))
            await connection.execute(text("DELETE FROM schema_version WHERE version >= 2"))
            for action, pid, ticks in (("a0", 4242, 987654321), ("c0", 0, 0)):
                await connection.execute(
                    text(
                        "INSERT INTO attempts (project, domain, run_name, action_name, attempt, phase, cache_status,"
                        " output_uri, log_path, work_dir, error_info, transitions, pid, pid_start, started_us,"
                        " ended_us) VALUES ('p', 'd', 'r', :action, 1, 4, 0, '', '', '', :empty, '[]', :pid,"
                        " :ticks, 1, 0)"
                    ),
                    {"action": action, "pid": pid, "ticks": ticks, "empty": b""},
                )
        assert await database.migrate() >= 2
        assert "pid" not in await _columns(database) and "pid_start" not in await _columns(database)
        async with database.engine.connect() as connection:
            rows = dict((await connection.execute(text("SELECT action_name, handle FROM attempts"))).all())
        assert rows == {"a0": "local:4242:987654321", "c0": ""}
        assert await database.migrate() >= 2, "applying the migrations again changes nothing"
    finally:
        await database.close()

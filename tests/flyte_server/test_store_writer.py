"""The store writer batches row writes into few commits and ``executemany`` calls, keeping their order."""

from __future__ import annotations

import asyncio

from flyteidl2.common import phase_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from flyte_server.engine.model import ActionKey
from flyte_server.engine.watch import WatchHub
from flyte_server.engine.writer import Statements, StoreWriter
from flyte_server.store import runs
from flyte_server.store.db import Database

QUEUED = phase_pb2.ACTION_PHASE_QUEUED
RUNNING = phase_pb2.ACTION_PHASE_RUNNING
SUCCEEDED = phase_pb2.ACTION_PHASE_SUCCEEDED
FAILED = phase_pb2.ACTION_PHASE_FAILED


def _key(name: str) -> ActionKey:
    return ActionKey("flytesnacks", "development", "r1", name)


def _row(name: str) -> dict[str, object]:
    return {
        "project": "flytesnacks",
        "domain": "development",
        "run_name": "r1",
        "name": name,
        "parent_name": "",
        "action_type": 1,
        "phase": QUEUED,
        "created_us": 1,
        "updated_us": 1,
    }


def _attempt(name: str) -> dict[str, object]:
    return {
        "project": "flytesnacks",
        "domain": "development",
        "run_name": "r1",
        "action_name": name,
        "attempt": 1,
        "phase": RUNNING,
        "started_us": 2,
    }


async def test_interleaved_changes_land_in_order_in_few_commits(database: Database) -> None:
    writer = StoreWriter(database, WatchHub())
    names = [f"a{i}" for i in range(40)]
    seen_by_barrier: list[int] = []

    async def barrier(session: AsyncSession) -> None:
        # A function change sees every statement queued before it.
        row = await runs.get_action(session, _key("a0"))
        assert row is not None
        seen_by_barrier.append(row.phase)

    futures = []
    for name in names:
        futures.append(writer.enqueue(Statements([runs.action_insert(_row(name))])))
    for name in names:
        change = Statements()
        change.add(*runs.attempt_insert(_attempt(name)))
        change.add(*runs.action_update(_key(name), {"phase": RUNNING, "updated_us": 2}))
        futures.append(writer.enqueue(change))
    futures.append(writer.enqueue(barrier))
    for name in names:
        change = Statements()
        # Two shapes on the same row, the later one first in its group: order must still hold.
        change.add(*runs.action_update(_key(name), {"phase": SUCCEEDED, "updated_us": 3, "ended_us": 3}))
        change.add(*runs.attempt_update(_key(name), 1, {"phase": SUCCEEDED, "ended_us": 3}))
        if name == "a7":
            change.add(*runs.action_update(_key(name), {"phase": FAILED, "updated_us": 4}))
        futures.append(writer.enqueue(change))
    writer.start()
    await asyncio.gather(*futures)
    await writer.stop()

    assert seen_by_barrier == [RUNNING]
    assert writer.commits <= 3, f"{len(futures)} changes took {writer.commits} commits"
    async with database.session() as session:
        for name in names:
            row = await runs.get_action(session, _key(name))
            attempt = await runs.get_attempt(session, _key(name), 1)
            assert row is not None and attempt is not None
            assert row.phase == (FAILED if name == "a7" else SUCCEEDED), name
            assert attempt.phase == SUCCEEDED and attempt.ended_us == 3


async def test_a_bad_change_fails_alone(database: Database) -> None:
    writer = StoreWriter(database, WatchHub())
    good = writer.enqueue(Statements([runs.action_insert(_row("good"))]))
    duplicate = writer.enqueue(Statements([runs.action_insert(_row("good"))]))
    other = writer.enqueue(Statements([runs.action_insert(_row("other"))]))
    writer.start()
    results = await asyncio.gather(good, duplicate, other, return_exceptions=True)
    await writer.stop()
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], Exception)
    async with database.session() as session:
        assert await runs.get_action(session, _key("good")) is not None
        assert await runs.get_action(session, _key("other")) is not None

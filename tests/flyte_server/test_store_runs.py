"""The run/task/cache repositories behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from flyteidl2.common import list_pb2, phase_pb2

from flyte_server.store import cache as cache_store
from flyte_server.store import runs, tasks
from flyte_server.store.db import Database
from flyte_server.store.listing import ListQueryError

QUEUED = phase_pb2.ACTION_PHASE_QUEUED
RUNNING = phase_pb2.ACTION_PHASE_RUNNING
SUCCEEDED = phase_pb2.ACTION_PHASE_SUCCEEDED
FAILED = phase_pb2.ACTION_PHASE_FAILED


def action(
    run: str, name: str, *, parent: str = "", phase: int = QUEUED, created: int = 1, **extra: Any
) -> dict[str, Any]:
    return {
        "project": "p",
        "domain": "development",
        "run_name": run,
        "name": name,
        "parent_name": parent,
        "action_type": 1,
        "phase": phase,
        "created_us": created,
        "updated_us": created,
        **extra,
    }


def filter_(field: str, function: int, *values: str) -> list_pb2.Filter:
    return list_pb2.Filter(field=field, function=function, values=list(values))


async def test_actions_children_attempts_and_resume_set(database: Database) -> None:
    spec = b"\x0a\x03abc"
    async with database.session() as session:
        digest = await runs.put_task_spec(session, spec)
        await runs.put_task_spec(session, spec)  # stored once
        await runs.insert_action(session, action("r1", "a0", spec_digest=digest, phase=RUNNING))
        await runs.insert_action(session, action("r1", "c2", parent="a0", created=3))
        await runs.insert_action(session, action("r1", "c1", parent="a0", created=2, phase=SUCCEEDED))
        await runs.insert_action(session, action("r1", "g1", parent="c2", created=4))
        await runs.insert_attempt(
            session,
            {
                "project": "p",
                "domain": "development",
                "run_name": "r1",
                "action_name": "a0",
                "attempt": 1,
                "phase": RUNNING,
                "started_us": 5,
            },
        )
    root = runs.ActionKey("p", "development", "r1", "a0")
    async with database.session() as session:
        assert await runs.get_task_spec(session, digest) == spec
        assert [row.name for row in await runs.children_of(session, root)] == ["c1", "c2"]
        await runs.update_attempt(session, root, 1, {"phase": SUCCEEDED, "ended_us": 9, "handle": "local:42:7"})
        await runs.update_action(session, root, {"phase": SUCCEEDED, "attempts": 1})
    async with database.session() as session:
        row = await runs.get_action(session, root)
        assert row is not None and row.phase == SUCCEEDED and row.attempts == 1
        attempt = await runs.get_attempt(session, root, 1)
        assert attempt is not None and (attempt.phase, attempt.handle, attempt.ended_us) == (SUCCEEDED, "local:42:7", 9)
        assert await runs.get_action(session, root._replace(name="nope")) is None
        assert sorted(row.name for row in await runs.non_terminal_actions(session)) == ["c2", "g1"]
        assert [row.name for row in await runs.run_actions(session, "p", "development", "r1")] == [
            "a0",
            "c1",
            "c2",
            "g1",
        ]


async def test_list_runs_filters_sorts_and_pages(database: Database) -> None:
    async with database.session() as session:
        for index in range(5):
            phase = SUCCEEDED if index % 2 == 0 else FAILED
            await runs.insert_action(
                session,
                action(
                    f"r{index}",
                    "a0",
                    phase=phase,
                    created=100 + index,
                    task_name="wf.main",
                    task_version=f"v{index % 2}",
                ),
            )
            await runs.insert_action(session, action(f"r{index}", "child", parent="a0", created=100 + index))
        await runs.set_run_labels(session, "p", "development", "r1", {"team": "ml"})
        await runs.set_run_labels(session, "p", "development", "r3", {"team": "data"})
        await runs.insert_action(session, {**action("other", "a0", created=1), "project": "q"})

    async with database.session() as session:
        rows, token = await runs.list_runs(session, list_pb2.ListRequest(limit=2), project="p", domain="development")
        assert [row.run_name for row in rows] == ["r4", "r3"] and token == "2"
        rows, token = await runs.list_runs(
            session, list_pb2.ListRequest(limit=2, token=token), project="p", domain="development"
        )
        assert [row.run_name for row in rows] == ["r2", "r1"] and token == "4"
        rows, token = await runs.list_runs(
            session, list_pb2.ListRequest(limit=2, token=token), project="p", domain="development"
        )
        assert [row.run_name for row in rows] == ["r0"] and token == ""

        by_phase = list_pb2.ListRequest(filters=[filter_("phase", list_pb2.Filter.VALUE_IN, str(FAILED))])
        rows, _ = await runs.list_runs(session, by_phase, project="p", domain="development")
        assert {row.run_name for row in rows} == {"r1", "r3"}

        by_name = list_pb2.ListRequest(
            filters=[
                filter_("phase", list_pb2.Filter.EQUAL, "SUCCEEDED"),
                filter_("task_version", list_pb2.Filter.EQUAL, "v0"),
            ],
            sort_by=list_pb2.Sort(key="created_at", direction=list_pb2.Sort.ASCENDING),
        )
        rows, _ = await runs.list_runs(session, by_name, project="p", domain="development")
        assert [row.run_name for row in rows] == ["r0", "r2", "r4"]

        labelled = list_pb2.ListRequest(filters=[filter_("labels.team", list_pb2.Filter.EQUAL, "ml")])
        rows, _ = await runs.list_runs(session, labelled, project="p", domain="development")
        assert [row.run_name for row in rows] == ["r1"]
        has_label = list_pb2.ListRequest(filters=[filter_("labels.team", list_pb2.Filter.EXISTS)])
        rows, _ = await runs.list_runs(session, has_label, project="p", domain="development")
        assert {row.run_name for row in rows} == {"r1", "r3"}
        assert await runs.run_labels(session, "p", "development", ["r1", "r2"]) == {"r1": {"team": "ml"}}

        since = list_pb2.ListRequest(filters=[filter_("created_at", list_pb2.Filter.GREATER_THAN_OR_EQUAL, "103")])
        rows, _ = await runs.list_runs(session, since, project="p", domain="development")
        assert {row.run_name for row in rows} == {"r3", "r4"}

        rows, _ = await runs.list_actions(session, list_pb2.ListRequest(), project="p", domain="development", run="r2")
        assert [row.name for row in rows] == ["a0", "child"]

        for bad in (
            list_pb2.ListRequest(token="x"),
            list_pb2.ListRequest(filters=[filter_("nonsense", list_pb2.Filter.EQUAL, "1")]),
            list_pb2.ListRequest(filters=[filter_("phase", list_pb2.Filter.EQUAL, "NOT_A_PHASE")]),
            list_pb2.ListRequest(sort_by=list_pb2.Sort(key="nonsense")),
        ):
            with pytest.raises(ListQueryError):
                await runs.list_runs(session, bad, project="p", domain="development")


async def test_tasks_upsert_and_list_latest(database: Database) -> None:
    async with database.session() as session:
        for index, (name, version) in enumerate([("env.a", "v1"), ("env.b", "v1"), ("env.a", "v2")]):
            created = await tasks.upsert_task(
                session,
                tasks.TaskKey("p", "development", name, version),
                spec=f"{name}{version}".encode(),
                short_name=name.split(".")[1],
                environment_name="env",
                short_description="",
                is_entrypoint=name == "env.a",
                now_us=10 + index,
            )
            assert created
        again = await tasks.upsert_task(
            session,
            tasks.TaskKey("p", "development", "env.a", "v1"),
            spec=b"new",
            short_name="a",
            environment_name="env",
            short_description="",
            is_entrypoint=True,
            now_us=99,
        )
        assert not again
    async with database.session() as session:
        row = await tasks.get_task(session, tasks.TaskKey("p", "development", "env.a", "v1"))
        assert row is not None and row.spec == b"new" and row.created_us == 10 and row.updated_us == 99
        latest = list_pb2.ListRequest(
            limit=1,
            filters=[filter_("name", list_pb2.Filter.EQUAL, "env.a")],
            sort_by=list_pb2.Sort(key="created_at", direction=list_pb2.Sort.DESCENDING),
        )
        rows, token = await tasks.list_tasks(session, latest, project="p", domain="development")
        assert [(row.name, row.version) for row in rows] == [("env.a", "v2")] and token == "1"
        rows, _ = await tasks.list_tasks(
            session, list_pb2.ListRequest(), project="p", domain="development", is_entrypoint=False
        )
        assert [row.name for row in rows] == ["env.b"]
        rows, _ = await tasks.list_versions(
            session, list_pb2.ListRequest(), project="p", domain="development", name="env.a"
        )
        assert [row.version for row in rows] == ["v2", "v1"]
        assert await tasks.get_task(session, tasks.TaskKey("p", "development", "env.c", "v1")) is None


async def test_cache_entries_and_reservations(database: Database) -> None:
    async with database.session() as session:
        assert await cache_store.get_entry(session, "k") is None
        await cache_store.put_entry(session, "k", outputs=b"1", output_uri="/a", source="s", now_us=1)
        await cache_store.put_entry(session, "k", outputs=b"2", output_uri="/b", source="s", now_us=2)
        assert await cache_store.reserve(session, "k", "owner-1", now_us=0, ttl_us=100) == "owner-1"
    async with database.session() as session:
        entry = await cache_store.get_entry(session, "k")
        assert entry is not None and (entry.outputs, entry.output_uri) == (b"2", "/b")
        assert await cache_store.reserve(session, "k", "owner-2", now_us=50, ttl_us=100) == "owner-1"
        assert await cache_store.reserve(session, "k", "owner-1", now_us=60, ttl_us=100) == "owner-1"
        # An expired reservation passes to the next caller.
        assert await cache_store.reserve(session, "k", "owner-2", now_us=500, ttl_us=100) == "owner-2"
        await cache_store.release_reservation(session, "k", "owner-1")  # not the holder: no effect
        assert await cache_store.reserve(session, "k", "owner-3", now_us=510, ttl_us=100) == "owner-2"
        await cache_store.release_reservation(session, "k", "owner-2")
        assert await cache_store.reserve(session, "k", "owner-3", now_us=520, ttl_us=100) == "owner-3"
        await cache_store.delete_entry(session, "k")
        assert await cache_store.get_entry(session, "k") is None


async def test_the_filters_flyte_2_sends_for_creator_and_parent(database: Database) -> None:
    """``Run.listall(created_by_subject=...)`` and ``Action.listall(parent_name=...)`` of PyPI flyte 2.12.1."""
    async with database.session() as session:
        await runs.insert_action(session, action("r1", "a0", created=1))
        await runs.insert_action(session, action("r1", "c1", parent="a0", created=2))
        await runs.insert_action(session, action("r1", "g1", parent="c1", created=3))
    async with database.session() as session:
        mine = list_pb2.ListRequest(filters=[filter_("created_by", list_pb2.Filter.EQUAL, "local")])
        rows, _ = await runs.list_runs(session, mine, project="p", domain="development")
        assert [row.run_name for row in rows] == ["r1"]  # every run here is the local user's
        theirs = list_pb2.ListRequest(filters=[filter_("created_by", list_pb2.Filter.EQUAL, "someone")])
        rows, _ = await runs.list_runs(session, theirs, project="p", domain="development")
        assert rows == []
        children = list_pb2.ListRequest(filters=[filter_("parent_name", list_pb2.Filter.EQUAL, "a0")])
        rows, _ = await runs.list_actions(session, children, project="p", domain="development", run="r1")
        assert [row.name for row in rows] == ["c1"]

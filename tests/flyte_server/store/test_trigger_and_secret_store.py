"""The trigger and secret tables on SQLite and PostgreSQL: deploy, resolve, (de)activate, fire bookkeeping."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from flyteidl2.common import identifier_pb2, run_pb2
from flyteidl2.task import common_pb2, task_definition_pb2
from flyteidl2.task import run_pb2 as task_run_pb2
from flyteidl2.trigger import trigger_definition_pb2
from sqlalchemy.exc import IntegrityError

from flyte_server.store import secrets as secret_store
from flyte_server.store import triggers as store
from flyte_server.store.db import Database
from flyte_server.store.models.secrets import SecretRow
from flyte_server.store.triggers import TriggerNotFoundError

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)
TASK = task_definition_pb2.TaskIdentifier(project="flytesnacks", domain="development", name="wf.hello", version="v1")


def _schedule(minutes: int = 5) -> common_pb2.TriggerAutomationSpec:
    rate = common_pb2.FixedRate(value=minutes, unit=common_pb2.FIXED_RATE_UNIT_MINUTE)
    return common_pb2.TriggerAutomationSpec(type=common_pb2.TYPE_SCHEDULE, schedule=common_pb2.Schedule(rate=rate))


def _task_trigger(name: str, *, active: bool = True, minutes: int = 5) -> task_definition_pb2.TaskTrigger:
    return task_definition_pb2.TaskTrigger(
        name=name,
        spec=task_definition_pb2.TaskTriggerSpec(
            active=active,
            inputs=common_pb2.Inputs(literals=[common_pb2.NamedLiteral(name="n")]),
            run_spec=task_run_pb2.RunSpec(overwrite_cache=True),
            description=f"the {name} trigger",
        ),
        automation_spec=_schedule(minutes),
    )


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


async def test_task_deploy_upserts_its_triggers_and_drops_removed_ones(database: Database) -> None:
    async with database.session() as session:
        await store.upsert_task_triggers(session, TASK, [_task_trigger("hourly"), _task_trigger("daily")], now=T0)
    async with database.session() as session:
        await store.record_fire(session, (await store.get_trigger(session, _key("hourly"))).id, T0)  # type: ignore[union-attr]
    v2 = task_definition_pb2.TaskIdentifier()
    v2.CopyFrom(TASK)
    v2.version = "v2"
    async with database.session() as session:
        await store.upsert_task_triggers(
            session, v2, [_task_trigger("hourly", minutes=10)], now=T0 + timedelta(hours=1)
        )
    async with database.session() as session:
        rows = await store.list_triggers(session, project="flytesnacks", domain="development", limit=10)
    assert [(row.name, row.task_version, row.revision) for row in rows] == [("hourly", "v2", 2)]
    row = rows[0]
    assert _utc(row.triggered_at) == T0, "a redeploy keeps the last fire time"
    assert _utc(row.activated_at) == T0 + timedelta(hours=1), "a new schedule restarts the fixed-rate count"
    assert store.trigger_automation(row).schedule.rate.value == 10
    spec = store.trigger_spec(row)
    assert (spec.description, spec.run_spec.overwrite_cache, spec.task_version) == ("the hourly trigger", True, "v2")


def _key(name: str) -> store.TriggerKey:
    return store.TriggerKey(project="flytesnacks", domain="development", task_name="wf.hello", name=name)


async def test_resolve_trigger_gives_task_and_spec(database: Database) -> None:
    async with database.session() as session:
        await store.upsert_task_triggers(session, TASK, [_task_trigger("nightly")], now=T0)
    async with database.session() as session:
        task_id, spec = await store.resolve_trigger(session, "flytesnacks", "development", "nightly")
        by_name = await store.resolve_trigger(
            session,
            "flytesnacks",
            "development",
            identifier_pb2.TriggerName(
                name="nightly", task_name="wf.hello", project="flytesnacks", domain="development"
            ),
        )
    assert task_id == TASK and by_name[0] == TASK
    assert spec.inputs.literals[0].name == "n" and spec.active
    async with database.session() as session:
        with pytest.raises(TriggerNotFoundError, match="does not exist"):
            await store.resolve_trigger(session, "flytesnacks", "production", "nightly")


async def test_resolve_trigger_refuses_an_ambiguous_name(database: Database) -> None:
    other = task_definition_pb2.TaskIdentifier(
        project="flytesnacks", domain="development", name="wf.other", version="1"
    )
    async with database.session() as session:
        await store.upsert_task_triggers(session, TASK, [_task_trigger("shared")], now=T0)
        await store.upsert_task_triggers(session, other, [_task_trigger("shared")], now=T0)
    async with database.session() as session:
        with pytest.raises(TriggerNotFoundError, match="several tasks"):
            await store.resolve_trigger(session, "flytesnacks", "development", "shared")


async def test_offloaded_trigger_inputs_are_kept(database: Database) -> None:
    trigger = _task_trigger("offloaded")
    trigger.spec.offloaded_input_data.CopyFrom(run_pb2.OffloadedInputData(uri="/blobs/x", inputs_hash="h"))
    async with database.session() as session:
        await store.upsert_task_triggers(session, TASK, [trigger], now=T0)
    async with database.session() as session:
        _, spec = await store.resolve_trigger(session, "flytesnacks", "development", "offloaded")
    assert spec.WhichOneof("input_wrapper") == "offloaded_input_data"
    assert spec.offloaded_input_data.uri == "/blobs/x"


async def test_activation_and_deletion_are_all_or_nothing(database: Database) -> None:
    async with database.session() as session:
        await store.upsert_task_triggers(session, TASK, [_task_trigger("a"), _task_trigger("b")], now=T0)
    async with database.session() as session:
        missing = await store.set_triggers_active(session, [_key("a"), _key("nope")], False)
    assert missing == [_key("nope")]
    async with database.session() as session:
        assert len(await store.active_schedule_triggers(session)) == 2
        assert await store.set_triggers_active(session, [_key("a")], False, now=T0 + timedelta(minutes=1)) == []
    async with database.session() as session:
        assert [row.name for row in await store.active_schedule_triggers(session)] == ["b"]
        assert await store.delete_triggers(session, [_key("a"), _key("zzz")]) == [_key("zzz")]
        assert await store.delete_triggers(session, [_key("a")]) == []
    async with database.session() as session:
        assert await store.get_trigger(session, _key("a")) is None


async def test_record_fire_never_moves_backwards(database: Database) -> None:
    async with database.session() as session:
        (row,) = await store.upsert_task_triggers(session, TASK, [_task_trigger("f")], now=T0)
    async with database.session() as session:
        await store.record_fire(session, row.id, T0 + timedelta(minutes=10))
        await store.record_fire(session, row.id, T0 + timedelta(minutes=5))
    async with database.session() as session:
        stored = await store.get_trigger(session, _key("f"))
    assert stored is not None and _utc(stored.triggered_at) == T0 + timedelta(minutes=10)


async def test_deploy_trigger_standalone_keeps_spec_fields(database: Database) -> None:
    spec = trigger_definition_pb2.TriggerSpec(active=False, task_version="v9", description="manual")
    async with database.session() as session:
        row = await store.deploy_trigger(session, _key("manual"), spec, _schedule(), now=T0)
        assert (row.active, row.task_version, row.revision) == (False, "v9", 1)
        assert await store.active_schedule_triggers(session) == []


async def test_secret_lookup_prefers_the_most_specific_scope(database: Database) -> None:
    async with database.session() as session:
        for project, domain, value in (("", "", b"1"), ("", "development", b"2"), ("flytesnacks", "", b"3")):
            created = await secret_store.put_secret(
                session,
                project=project,
                domain=domain,
                name="k",
                ciphertext=value,
                is_binary=False,
                secret_type=0,
                create=True,
            )
            assert created
    async with database.session() as session:
        assert (await secret_store.find_secret(session, "flytesnacks", "development", "k")).ciphertext == b"3"  # type: ignore[union-attr]
        assert (await secret_store.find_secret(session, "other", "development", "k")).ciphertext == b"2"  # type: ignore[union-attr]
        assert (await secret_store.find_secret(session, "other", "staging", "k")).ciphertext == b"1"  # type: ignore[union-attr]
        assert await secret_store.find_secret(session, "other", "staging", "missing") is None


async def test_secret_scope_and_name_are_unique(database: Database) -> None:
    async with database.session() as session:
        await secret_store.put_secret(
            session, project="p", domain="", name="k", ciphertext=b"x", is_binary=False, secret_type=0, create=True
        )
    with pytest.raises(IntegrityError):
        async with database.session() as session:
            session.add(SecretRow(project="p", domain="", name="k", ciphertext=b"y"))


async def test_replicas_migrating_one_postgres_database_at_once(empty_postgres_url: str) -> None:
    url = "postgresql+asyncpg://" + empty_postgres_url.split("://", 1)[1]
    replicas = [Database(url) for _ in range(3)]
    try:
        versions = await asyncio.gather(*(replica.migrate() for replica in replicas))
        assert len(set(versions)) == 1
        async with replicas[0].session() as session:
            assert await store.active_schedule_triggers(session) == []
    finally:
        for replica in replicas:
            await replica.close()


async def test_task_trigger_summaries(database: Database) -> None:
    other = task_definition_pb2.TaskIdentifier(project="flytesnacks", domain="development", name="wf.one", version="1")
    async with database.session() as session:
        await store.upsert_task_triggers(session, TASK, [_task_trigger("a"), _task_trigger("b", active=False)], now=T0)
        await store.upsert_task_triggers(session, other, [_task_trigger("only")], now=T0)
    async with database.session() as session:
        summaries = await store.task_trigger_summaries(
            session, "flytesnacks", "development", ["wf.hello", "wf.one", "wf.none"]
        )
    assert set(summaries) == {"wf.hello", "wf.one"}
    assert (summaries["wf.hello"].stats.total, summaries["wf.hello"].stats.active) == (2, 1)
    details = summaries["wf.one"].details
    assert (details.name, details.active, details.automation_spec.schedule.rate.value) == ("only", True, 5)

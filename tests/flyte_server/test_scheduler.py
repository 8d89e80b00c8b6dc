"""The trigger scheduler driven through simulated time: fixed rates, cron, restarts, (de)activation."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.common import run_pb2
from flyteidl2.task import common_pb2, task_definition_pb2
from flyteidl2.trigger import trigger_definition_pb2
from flyteidl2.workflow import run_definition_pb2, run_service_pb2
from google.protobuf import timestamp_pb2

from flyte_server.blobs.local import LocalBlobStore
from flyte_server.scheduler import TriggerScheduler, scheduled_run_name
from flyte_server.store import triggers as store
from flyte_server.store.db import Database

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)
TASK = task_definition_pb2.TaskIdentifier(project="flytesnacks", domain="development", name="wf.tick", version="v1")


class RecordingEngine:
    """Records CreateRun requests and, like the engine, refuses a run name twice."""

    def __init__(self) -> None:
        self.requests: list[run_service_pb2.CreateRunRequest] = []
        self.failure: Code | None = None

    @property
    def names(self) -> list[str]:
        return [request.run_id.name for request in self.requests]

    async def create_run(self, request: run_service_pb2.CreateRunRequest) -> run_definition_pb2.Run:
        if self.failure is not None:
            raise ConnectError(self.failure, "injected failure")
        if request.run_id.name in self.names:
            raise ConnectError(Code.ALREADY_EXISTS, f"run {request.run_id.name} exists")
        self.requests.append(request)
        return run_definition_pb2.Run()


def _rate(minutes: int, start: datetime | None = None) -> common_pb2.TriggerAutomationSpec:
    rate = common_pb2.FixedRate(value=minutes, unit=common_pb2.FIXED_RATE_UNIT_MINUTE)
    if start is not None:
        rate.start_time.FromDatetime(start.replace(tzinfo=None))
    return common_pb2.TriggerAutomationSpec(type=common_pb2.TYPE_SCHEDULE, schedule=common_pb2.Schedule(rate=rate))


def _cron(expression: str, kickoff: str = "") -> common_pb2.TriggerAutomationSpec:
    schedule = common_pb2.Schedule(cron=common_pb2.Cron(expression=expression), kickoff_time_input_arg=kickoff)
    return common_pb2.TriggerAutomationSpec(type=common_pb2.TYPE_SCHEDULE, schedule=schedule)


async def _deploy(
    database: Database,
    name: str,
    automation: common_pb2.TriggerAutomationSpec,
    *,
    at: datetime = T0,
    spec: task_definition_pb2.TaskTriggerSpec | None = None,
) -> None:
    given = spec or task_definition_pb2.TaskTriggerSpec(active=True, inputs=common_pb2.Inputs())
    trigger_spec = trigger_definition_pb2.TriggerSpec(active=given.active, task_version=TASK.version)
    if given.HasField("offloaded_input_data"):
        trigger_spec.offloaded_input_data.CopyFrom(given.offloaded_input_data)
    else:
        trigger_spec.inputs.CopyFrom(given.inputs)
    key = store.TriggerKey(project=TASK.project, domain=TASK.domain, task_name=TASK.name, name=name)
    async with database.session() as session:
        await store.deploy_trigger(session, key, trigger_spec, automation, now=at)


async def test_fixed_rate_fires_once_per_interval(database: Database) -> None:
    engine = RecordingEngine()
    scheduler = TriggerScheduler(database=database, engine=engine)
    start = T0 + timedelta(minutes=10)
    await _deploy(database, "every-minute", _rate(1, start))

    assert await scheduler.tick(start - timedelta(seconds=1)) == []
    fired = await scheduler.tick(start)
    assert [run.scheduled_at for run in fired] == [start]
    assert await scheduler.tick(start + timedelta(seconds=30)) == []
    fired = await scheduler.tick(start + timedelta(seconds=61))
    assert [run.scheduled_at for run in fired] == [start + timedelta(minutes=1)]

    first = engine.requests[0]
    assert first.run_id.name == scheduled_run_name("flytesnacks", "development", "wf.tick", "every-minute", start)
    assert len(first.run_id.name) <= 30
    assert (first.trigger_name.name, first.trigger_name.task_name) == ("every-minute", "wf.tick")
    assert first.source == run_definition_pb2.RUN_SOURCE_SCHEDULE_TRIGGER
    assert first.run_start_time.ToDatetime(tzinfo=timezone.utc) == start
    assert first.WhichOneof("input_wrapper") == "inputs"


async def test_a_restarted_scheduler_does_not_fire_twice(database: Database) -> None:
    engine = RecordingEngine()
    await _deploy(database, "restart", _rate(1, T0 + timedelta(minutes=1)))
    await TriggerScheduler(database=database, engine=engine).tick(T0 + timedelta(minutes=1, seconds=5))
    assert len(engine.requests) == 1

    restarted = TriggerScheduler(database=database, engine=engine)
    assert await restarted.tick(T0 + timedelta(minutes=1, seconds=40)) == []
    assert len(engine.requests) == 1

    # Even if the fire was never recorded (a crash right after CreateRun), the deterministic run
    # name makes the engine refuse the duplicate.
    async with database.session() as session:
        row = await store.get_trigger(session, store.TriggerKey("flytesnacks", "development", "wf.tick", "restart"))
        assert row is not None
        row.triggered_at = None
    (again,) = await restarted.tick(T0 + timedelta(minutes=1, seconds=40))
    assert again.already_existed and len(engine.requests) == 1


async def test_after_downtime_only_the_latest_missed_time_fires(database: Database) -> None:
    engine = RecordingEngine()
    await _deploy(database, "five", _rate(5, T0))
    await TriggerScheduler(database=database, engine=engine).tick(T0)
    fired = await TriggerScheduler(database=database, engine=engine).tick(T0 + timedelta(minutes=23))
    assert [run.scheduled_at for run in fired] == [T0 + timedelta(minutes=20)]
    assert len(engine.requests) == 2


async def test_deactivated_triggers_do_not_fire_and_reactivation_restarts_the_count(database: Database) -> None:
    engine = RecordingEngine()
    scheduler = TriggerScheduler(database=database, engine=engine)
    await _deploy(database, "toggle", _rate(10))  # no start time: counts from activation (T0)
    key = store.TriggerKey("flytesnacks", "development", "wf.tick", "toggle")
    async with database.session() as session:
        await store.set_triggers_active(session, [key], False, now=T0 + timedelta(minutes=1))
    assert await scheduler.tick(T0 + timedelta(minutes=30)) == []

    reactivated = T0 + timedelta(minutes=33)
    async with database.session() as session:
        await store.set_triggers_active(session, [key], True, now=reactivated)
    assert [run.scheduled_at for run in await scheduler.tick(reactivated)] == [reactivated]
    assert await scheduler.tick(reactivated + timedelta(minutes=9)) == []
    assert [run.scheduled_at for run in await scheduler.tick(reactivated + timedelta(minutes=10))] == [
        reactivated + timedelta(minutes=10)
    ]


async def test_cron_trigger_passes_the_kickoff_time_as_an_input(database: Database) -> None:
    engine = RecordingEngine()
    inputs = common_pb2.Inputs(literals=[common_pb2.NamedLiteral(name="n")])
    inputs.literals[0].value.scalar.primitive.integer = 5
    spec = task_definition_pb2.TaskTriggerSpec(active=True, inputs=inputs)
    await _deploy(database, "hourly", _cron("0 * * * *", kickoff="when"), spec=spec)
    (fired,) = await TriggerScheduler(database=database, engine=engine).tick(T0 + timedelta(minutes=70))
    assert fired.scheduled_at == T0 + timedelta(hours=1)
    literals = {item.name: item.value for item in engine.requests[0].inputs.literals}
    assert literals["n"].scalar.primitive.integer == 5
    assert literals["when"].scalar.primitive.datetime.ToDatetime(tzinfo=timezone.utc) == T0 + timedelta(hours=1)


async def test_offloaded_inputs_are_passed_through_or_read_for_the_kickoff_time(
    database: Database, tmp_path: Path
) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs", secret=b"k")
    stored = common_pb2.Inputs(literals=[common_pb2.NamedLiteral(name="n")])
    uri = (await blobs.put("offloaded/abc/inputs.pb", stored.SerializeToString())).rsplit("/", 1)[0]
    spec = task_definition_pb2.TaskTriggerSpec(
        active=True, offloaded_input_data=run_pb2.OffloadedInputData(uri=uri, inputs_hash="abc")
    )
    await _deploy(database, "plain", _rate(1, T0), spec=spec)
    await _deploy(database, "kicked", _cron("* * * * *", kickoff="at"), spec=spec)
    engine = RecordingEngine()
    await TriggerScheduler(database=database, engine=engine, blobs=blobs).tick(T0 + timedelta(seconds=90))
    by_trigger = {request.trigger_name.name: request for request in engine.requests}
    assert by_trigger["plain"].offloaded_input_data.uri == uri
    assert [item.name for item in by_trigger["kicked"].inputs.literals] == ["n", "at"]


async def test_failed_fires_retry_only_when_the_error_is_transient(database: Database) -> None:
    engine = RecordingEngine()
    scheduler = TriggerScheduler(database=database, engine=engine)
    await _deploy(database, "flaky", _rate(1, T0))
    engine.failure = Code.UNAVAILABLE
    assert await scheduler.tick(T0) == []
    engine.failure = None
    assert [run.scheduled_at for run in await scheduler.tick(T0 + timedelta(seconds=1))] == [T0]

    engine.failure = Code.NOT_FOUND  # e.g. the task version was deleted: skip that time, do not spin
    assert await scheduler.tick(T0 + timedelta(minutes=1)) == []
    engine.failure = None
    assert await scheduler.tick(T0 + timedelta(minutes=1, seconds=5)) == []
    assert engine.names == [scheduled_run_name("flytesnacks", "development", "wf.tick", "flaky", T0)]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_background_loop_fires_on_time(database: Database) -> None:
    engine = RecordingEngine()
    now = datetime.now(timezone.utc)
    first = (now + timedelta(seconds=1)).replace(microsecond=0) + timedelta(seconds=1)
    await _deploy(database, "soon", _rate(60, first), at=now)
    scheduler = TriggerScheduler(database=database, engine=engine)
    await scheduler.start()
    try:
        for _ in range(100):
            if engine.requests:
                break
            await asyncio.sleep(0.05)
    finally:
        await scheduler.stop()
    assert engine.names == [scheduled_run_name("flytesnacks", "development", "wf.tick", "soon", first)]
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(first.replace(tzinfo=None))
    assert engine.requests[0].run_start_time == stamp

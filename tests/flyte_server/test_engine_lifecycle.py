"""The engine's state machine with real worker processes: outcomes, retries, timeouts, aborts, slots."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from engine_harness import (
    create_run,
    enqueue_child,
    key,
    phase_name,
    running_engine,
    task_spec,
    wait_until,
)
from flyteidl2.common import list_pb2, phase_pb2
from flyteidl2.core import catalog_pb2
from flyteidl2.task import run_pb2

from flyte_server.engine import Engine
from flyte_server.store.db import Database

P = phase_pb2


async def test_success_and_failure_are_decided_by_the_files(tmp_path: Path) -> None:
    async with running_engine(tmp_path) as engine:
        ok = await create_run(engine, task_spec("t.ok", "ok", "7"))
        failed = await create_run(engine, task_spec("t.fail", "fail", "fatal"))
        done = await wait_until(engine, ok)
        assert phase_name(done.status.phase) == "SUCCEEDED"
        assert done.attempts[0].outputs.output_uri.endswith("/a0/1/outputs.pb")
        assert done.status.cache_status == catalog_pb2.CACHE_DISABLED
        _, outputs, _, _ = await engine.queries.action_data(key(ok))
        assert outputs.literals[0].value.scalar.primitive.integer == 7

        failure = await wait_until(engine, failed)
        assert phase_name(failure.status.phase) == "FAILED"
        assert failure.error_info.code == "ValueError" and "fatal" in failure.error_info.message
        assert failure.status.attempts == 1
        # Finished work leaves nothing behind in memory.
        assert not engine.machine.actions and not engine.machine.runs and engine.machine.slots_used == 0
        assert engine.hub.subscriber_count == 0


async def test_user_retries_keep_the_action_queued_until_the_last_attempt(tmp_path: Path) -> None:
    counter = tmp_path / "flaky"
    async with running_engine(tmp_path) as engine:
        run = await create_run(engine, task_spec("t.flaky", "flaky", str(counter), "2", retries=3))
        seen: list[int] = []
        async for details in engine.queries.watch_action_details(key(run)):
            seen.append(details.status.phase)
        assert phase_name(seen[-1]) == "SUCCEEDED"
        assert all(phase not in (P.ACTION_PHASE_FAILED,) for phase in seen), "no terminal phase before the end"
        details = await engine.queries.action_details(key(run))
        assert details.status.attempts == 3
        assert [phase_name(attempt.phase) for attempt in details.attempts] == ["FAILED", "FAILED", "SUCCEEDED"]
        assert counter.read_text() == "xxx"

        exhausted = await create_run(engine, task_spec("t.flaky2", "flaky", str(tmp_path / "f2"), "5", retries=1))
        details = await wait_until(engine, exhausted)
        assert phase_name(details.status.phase) == "FAILED" and details.status.attempts == 2


async def test_system_failures_have_their_own_budget(tmp_path: Path) -> None:
    async with running_engine(tmp_path) as engine:
        run = await create_run(engine, task_spec("t.crash", "exit", "3", retries=0))
        details = await wait_until(engine, run)
        assert phase_name(details.status.phase) == "FAILED"
        assert details.status.attempts == 3, "two system retries (the policy), although the task has no retries"
        assert details.error_info.code == "SystemFailure"
        assert details.error_info.kind == details.error_info.KIND_SYSTEM
        assert "exited with status 3" in details.error_info.message
        assert "fake task exit" in details.error_info.message, "the end of the log is in the message"


async def test_runtime_timeout_kills_the_process(tmp_path: Path) -> None:
    async with running_engine(tmp_path) as engine:
        started = time.monotonic()
        run = await create_run(engine, task_spec("t.slow", "sleep", "60", timeout=1.0, retries=2))
        details = await wait_until(engine, run)
        assert time.monotonic() - started < 15
        assert phase_name(details.status.phase) == "TIMED_OUT"
        assert details.error_info.code == "MAX_RUNTIME_EXCEEDED"
        assert details.status.attempts == 1, "a timeout is final"
        await _no_workers(engine, run)


async def _no_workers(engine: Engine, run: str, timeout: float = 10) -> None:
    root = engine.launcher.work_root / "flytesnacks" / "development" / run
    deadline = time.monotonic() + timeout
    while engine.executor.find_workers(root):
        assert time.monotonic() < deadline, "worker processes are still alive"
        await asyncio.sleep(0.1)


async def test_queued_timeout_and_waiting_for_resources(tmp_path: Path) -> None:
    async with running_engine(tmp_path, workers=1) as engine:
        blocker = await create_run(engine, task_spec("t.block", "sleep", "2"))
        await wait_until(engine, blocker, phase=P.ACTION_PHASE_RUNNING)
        starved = await create_run(engine, task_spec("t.starved", "ok", queued_timeout=0.5))
        waiting = await wait_until(engine, starved, phase=P.ACTION_PHASE_WAITING_FOR_RESOURCES)
        assert phase_name(waiting.status.phase) == "WAITING_FOR_RESOURCES"
        details = await wait_until(engine, starved)
        assert phase_name(details.status.phase) == "TIMED_OUT"
        assert details.error_info.code == "QUEUED_TIMEOUT_EXCEEDED"
        patient = await create_run(engine, task_spec("t.patient", "ok"))
        assert phase_name((await wait_until(engine, patient)).status.phase) == "SUCCEEDED"


async def test_abort_cascades_to_descendants_and_their_processes(tmp_path: Path) -> None:
    async with running_engine(tmp_path, workers=8) as engine:
        run = await create_run(engine, task_spec("t.parent", "sleep", "60"))
        await wait_until(engine, run, phase=P.ACTION_PHASE_RUNNING)
        for index in range(3):
            await enqueue_child(engine, run, f"c{index}", task_spec("t.child", "sleep", "60"))
        await enqueue_child(engine, run, "g0", task_spec("t.grandchild", "sleep", "60"), parent="c0")
        for name in ("c0", "c1", "c2", "g0"):
            await wait_until(engine, run, name, phase=P.ACTION_PHASE_RUNNING)
        root = engine.launcher.work_root / "flytesnacks" / "development" / run
        assert len(engine.executor.find_workers(root)) == 5

        await engine.abort(key(run), "stop it")
        for name in ("a0", "c0", "c1", "c2", "g0"):
            details = await engine.queries.action_details(key(run, name))
            assert phase_name(details.status.phase) == "ABORTED", name
            assert details.abort_info.reason
        await _no_workers(engine, run)
        await engine.abort(key(run), "again")  # aborting a finished run changes nothing
        with pytest.raises(ConnectError) as error:
            await engine.abort(key("no-such-run"), "x")
        assert error.value.code == Code.NOT_FOUND
        with pytest.raises(ConnectError) as error:
            await enqueue_child(engine, run, "late", task_spec("t.child", "ok"))
        assert error.value.code == Code.ABORTED


async def test_a_parent_waiting_on_children_gives_its_slot_away(tmp_path: Path) -> None:
    # One slot: the parent runs, then yields it while it has children, so they can run.
    async with running_engine(tmp_path, workers=1) as engine:
        run = await create_run(engine, task_spec("t.parent", "sleep", "30"))
        await wait_until(engine, run, phase=P.ACTION_PHASE_RUNNING)
        await enqueue_child(engine, run, "c0", task_spec("t.child", "ok", "1"))
        await enqueue_child(engine, run, "c1", task_spec("t.child", "ok", "2"))
        for name in ("c0", "c1"):
            assert phase_name((await wait_until(engine, run, name)).status.phase) == "SUCCEEDED"
        await engine.abort(key(run), "done")


async def test_max_action_concurrency_limits_a_run(tmp_path: Path) -> None:
    async with running_engine(tmp_path, workers=8) as engine:
        spec = run_pb2.RunSpec(max_action_concurrency=1)
        run = await create_run(engine, task_spec("t.parent", "sleep", "30"), run_spec=spec)
        await wait_until(engine, run, phase=P.ACTION_PHASE_RUNNING)
        await enqueue_child(engine, run, "c0", task_spec("t.child", "sleep", "1.5"))
        await enqueue_child(engine, run, "c1", task_spec("t.child", "ok"))
        await wait_until(engine, run, "c0", phase=P.ACTION_PHASE_RUNNING)
        second = await wait_until(engine, run, "c1", phase=P.ACTION_PHASE_WAITING_FOR_RESOURCES)
        assert phase_name(second.status.phase) == "WAITING_FOR_RESOURCES"
        first_end = (await wait_until(engine, run, "c0")).status.end_time.ToMicroseconds()
        later = await wait_until(engine, run, "c1")
        running_since = [t for t in later.attempts[0].phase_transitions if t.phase == P.ACTION_PHASE_RUNNING]
        assert running_since[0].start_time.ToMicroseconds() >= first_end
        await engine.abort(key(run), "done")


async def test_enqueue_is_idempotent_and_checked(tmp_path: Path) -> None:
    async with running_engine(tmp_path) as engine:
        run = await create_run(engine, task_spec("t.parent", "sleep", "30"))
        await wait_until(engine, run, phase=P.ACTION_PHASE_RUNNING)
        counter = tmp_path / "count"
        spec = task_spec("t.count", "count", str(counter))
        await enqueue_child(engine, run, "c0", spec)
        await enqueue_child(engine, run, "c0", spec)
        await wait_until(engine, run, "c0")
        await enqueue_child(engine, run, "c0", spec)
        await asyncio.sleep(0.3)
        assert counter.read_text() == "x", "the same child is never launched twice"
        for bad_parent, code in (("nope", Code.NOT_FOUND), ("", Code.INVALID_ARGUMENT)):
            with pytest.raises(ConnectError) as error:
                await enqueue_child(engine, run, "c9", spec, parent=bad_parent)
            assert error.value.code == code
        with pytest.raises(ConnectError) as error:
            await enqueue_child(engine, "unknown-run", "c9", spec)
        assert error.value.code == Code.NOT_FOUND
        with pytest.raises(ConnectError) as error:
            await enqueue_child(engine, run, "../escape", spec)
        assert error.value.code == Code.INVALID_ARGUMENT
        await engine.abort(key(run), "done")


async def test_watch_children_sends_snapshot_sentinel_then_updates(tmp_path: Path) -> None:
    async with running_engine(tmp_path) as engine:
        run = await create_run(engine, task_spec("t.parent", "sleep", "30"))
        await wait_until(engine, run, phase=P.ACTION_PHASE_RUNNING)
        await enqueue_child(engine, run, "c0", task_spec("t.child", "ok", "3"))
        await wait_until(engine, run, "c0")
        other = await create_run(engine, task_spec("t.parent", "sleep", "30"))  # another run's a0 must not leak in
        await wait_until(engine, other, phase=P.ACTION_PHASE_RUNNING)

        stream = engine.queries.watch_children(key(run))
        first = await anext(stream)
        assert first is not None and first.action_id.name == "c0" and first.phase == P.ACTION_PHASE_SUCCEEDED
        assert first.output_uri.endswith("/c0/1")
        assert await anext(stream) is None, "the sentinel follows the snapshot"
        await enqueue_child(engine, run, "c1", task_spec("t.child", "ok"))
        await enqueue_child(engine, other, "x1", task_spec("t.child", "ok"))
        phases = []
        while not phases or phases[-1] != P.ACTION_PHASE_SUCCEEDED:
            update = await asyncio.wait_for(anext(stream), timeout=20)
            assert update is not None and update.action_id.name == "c1"
            phases.append(update.phase)
        assert phases == sorted(set(phases)), "updates move forward (queued-up progress is conflated)"
        await stream.aclose()
        await engine.abort(key(run), "done")
        await engine.abort(key(other), "done")


async def test_cache_hit_populate_and_overwrite(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    spec = task_spec("t.cached", "count", str(counter), cache_version="1")
    async with running_engine(tmp_path) as engine:
        first = await create_run(engine, spec)
        assert (await wait_until(engine, first)).status.cache_status == catalog_pb2.CACHE_POPULATED
        second = await create_run(engine, spec)
        hit = await wait_until(engine, second)
        assert phase_name(hit.status.phase) == "SUCCEEDED" and hit.status.cache_status == catalog_pb2.CACHE_HIT
        _, outputs, _, _ = await engine.queries.action_data(key(second))
        assert outputs.literals[0].value.scalar.primitive.integer == 1
        assert counter.read_text() == "x"
        third = await create_run(engine, spec, run_spec=run_pb2.RunSpec(overwrite_cache=True))
        assert (await wait_until(engine, third)).status.cache_status == catalog_pb2.CACHE_POPULATED
        assert counter.read_text() == "xx"
        other_version = await create_run(engine, task_spec("t.cached", "count", str(counter), cache_version="2"))
        await wait_until(engine, other_version)
        assert counter.read_text() == "xxx"


async def test_serialized_cache_runs_once_for_concurrent_callers(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    async with running_engine(tmp_path, workers=4) as engine:
        run = await create_run(engine, task_spec("t.parent", "sleep", "30"))
        await wait_until(engine, run, phase=P.ACTION_PHASE_RUNNING)
        spec = task_spec("t.serial", "count", str(counter), cache_version="1", serializable=True)
        for index in range(3):
            await enqueue_child(engine, run, f"c{index}", spec, cache_key="same-key")
        statuses = sorted([(await wait_until(engine, run, f"c{index}")).status.cache_status for index in range(3)])
        assert statuses == sorted([catalog_pb2.CACHE_POPULATED, catalog_pb2.CACHE_HIT, catalog_pb2.CACHE_HIT])
        assert counter.read_text() == "x"
        await engine.abort(key(run), "done")


async def test_environment_of_a_worker(tmp_path: Path) -> None:
    async with running_engine(tmp_path) as engine:
        spec = run_pb2.RunSpec()
        spec.envs.values.add(key="MY_RUN_VAR", value="hello")
        run = await create_run(engine, task_spec("t.env", "env", "MY_RUN_VAR"), run_spec=spec)
        await wait_until(engine, run)
        log = (engine.launcher.log_path(engine_action(engine, run))).read_text()
        assert "ENV MY_RUN_VAR=hello" in log
        launch = await engine.launcher.environment(engine_action(engine, run))
        assert launch["_U_ORG_NAME"] == "local" and launch["ACTION_NAME"] == "a0" and launch["RUN_NAME"] == run
        assert launch["FLYTE_ATTEMPT_NUMBER"] == "0" and launch["_U_INSECURE"] == "true"
        assert launch["_U_EP_OVERRIDE"] == "127.0.0.1:9" and launch["FSSPEC_FILE_AUTO_MKDIR"] == "true"
        assert launch["_U_RUN_BASE"].endswith(f"/flytesnacks/development/{run}")
        assert "PYTHONPATH" not in launch


def engine_action(engine: Engine, run: str) -> object:
    from flyte_server.engine.model import ActionState, RunState

    state = RunState(project="flytesnacks", domain="development", name=run, run_spec=run_pb2.RunSpec(), start_us=0)
    return ActionState(
        key=key(run),
        run=state,
        parent="",
        group="",
        kind=1,
        phase=1,
        attempt=1,
        spec=None,
        spec_digest="",
        input_uri="",
        run_output_base=engine.run_output_base("flytesnacks", "development", run, run_pb2.RunSpec()),
        env={},
        created_us=0,
        queued_us=0,
    )


async def test_engine_on_the_shared_database_backends(tmp_path: Path, database: Database) -> None:
    async with running_engine(tmp_path, database=database) as engine:
        run = await create_run(engine, task_spec("t.parent", "sleep", "30"))
        await wait_until(engine, run, phase=P.ACTION_PHASE_RUNNING)
        for index in range(5):
            await enqueue_child(engine, run, f"c{index}", task_spec("t.child", "ok", str(index)))
        for index in range(5):
            assert phase_name((await wait_until(engine, run, f"c{index}")).status.phase) == "SUCCEEDED"
        await engine.abort(key(run), "done")
        assert phase_name((await engine.queries.action_details(key(run))).status.phase) == "ABORTED"


def test_fake_task_is_executable() -> None:
    assert os.path.exists(Path(__file__).with_name("fake_task.py"))


async def test_watch_streams_end_with_their_parent_and_on_shutdown(tmp_path: Path) -> None:
    async with running_engine(tmp_path) as engine:
        run = await create_run(engine, task_spec("t.parent", "sleep", "30"))
        await wait_until(engine, run, phase=P.ACTION_PHASE_RUNNING)
        stream = engine.queries.watch_children(key(run))
        assert await anext(stream) is None  # no children yet: just the sentinel
        await engine.abort(key(run), "done")
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(stream), timeout=5)

        other = await create_run(engine, task_spec("t.parent", "sleep", "30"))
        await wait_until(engine, other, phase=P.ACTION_PHASE_RUNNING)
        open_stream = engine.queries.watch_children(key(other))
        details_stream = engine.queries.watch_action_details(key(other))
        assert await anext(open_stream) is None
        await anext(details_stream)
        engine.close_streams()
        for stream_ in (open_stream, details_stream):
            with pytest.raises(StopAsyncIteration):
                await asyncio.wait_for(anext(stream_), timeout=5)
        assert engine.hub.subscriber_count == 0
        await engine.abort(key(other), "done")


async def test_inline_inputs_are_accepted_served_and_bounded(tmp_path: Path) -> None:
    import base64

    from flyteidl2.core import literals_pb2
    from flyteidl2.task import common_pb2

    from flyte_server.engine.data import INLINE_DATA_MAX

    inputs = common_pb2.Inputs(
        literals=[
            common_pb2.NamedLiteral(
                name="x",
                value=literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=41))),
            )
        ]
    )
    inline = "data:application/x-protobuf;base64," + base64.b64encode(inputs.SerializeToString()).decode()
    async with running_engine(tmp_path) as engine:
        run = await create_run(engine, task_spec("t.parent", "sleep", "30"))
        await wait_until(engine, run, phase=P.ACTION_PHASE_RUNNING)
        await enqueue_child(engine, run, "c0", task_spec("t.child", "ok", "1"), input_uri=inline)
        assert phase_name((await wait_until(engine, run, "c0")).status.phase) == "SUCCEEDED"
        served, _, uri, _ = await engine.queries.action_data(key(run, "c0"))
        assert served == inputs and uri == inline
        assert not (tmp_path / "blobs").exists() or not list((tmp_path / "blobs").rglob("c0/inputs.pb"))

        too_big = "data:application/x-protobuf;base64," + "A" * (2 * INLINE_DATA_MAX)
        for bad, message in ((too_big, "limited to"), ("data:application/x-protobuf;base64,%%%", "not base64")):
            with pytest.raises(ConnectError) as caught:
                await enqueue_child(engine, run, "bad", task_spec("t.child", "ok"), input_uri=bad)
            assert caught.value.code == Code.INVALID_ARGUMENT and message in caught.value.message
        actions, _ = await engine.queries.list_actions(list_pb2.ListRequest(), key(run))
        assert sorted(action.id.name for action in actions) == ["a0", "c0"], "rejected children were not kept"
        await engine.abort(key(run), "done")


async def test_a_childs_queued_up_progress_is_sent_as_its_latest_state(tmp_path: Path) -> None:
    from flyte_server.engine.watch import ActionEvent

    async with running_engine(tmp_path) as engine:
        run = await create_run(engine, task_spec("t.parent", "sleep", "30"))
        await wait_until(engine, run, phase=P.ACTION_PHASE_RUNNING)
        stream = engine.queries.watch_children(key(run))
        assert await anext(stream) is None  # no children yet: just the sentinel
        child = key(run, "c9")

        def publish(phase: int) -> None:
            engine.hub.publish(ActionEvent(key=child, parent="a0", phase=phase, attempt=1, action_type=1))

        publish(P.ACTION_PHASE_QUEUED)
        publish(P.ACTION_PHASE_RUNNING)
        publish(P.ACTION_PHASE_SUCCEEDED)
        update = await asyncio.wait_for(anext(stream), timeout=10)
        assert update is not None and update.action_id.name == "c9" and update.phase == P.ACTION_PHASE_SUCCEEDED
        publish(P.ACTION_PHASE_QUEUED)  # progress alone still arrives, a moment later
        update = await asyncio.wait_for(anext(stream), timeout=10)
        assert update is not None and update.phase == P.ACTION_PHASE_QUEUED
        await stream.aclose()
        await engine.abort(key(run), "done")

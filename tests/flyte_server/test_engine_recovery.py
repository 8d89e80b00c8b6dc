"""A new engine on the same store resumes what the previous one left: queued work, live and dead workers."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from engine_harness import create_run, enqueue_child, key, phase_name, running_engine, task_spec, wait_until
from flyteidl2.common import phase_pb2

P = phase_pb2


async def test_a_live_worker_is_reattached_not_run_again(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    async with running_engine(tmp_path) as first:
        run = await create_run(first, task_spec("t.count", "count", str(counter), "2"))
        await wait_until(first, run, phase=P.ACTION_PHASE_RUNNING)
        await first.stop(leave_workers=True)
    async with running_engine(tmp_path) as second:
        details = await wait_until(second, run)
        assert phase_name(details.status.phase) == "SUCCEEDED"
        assert details.status.attempts == 1, "re-attached to the running worker"
        assert counter.read_text() == "x", "not run a second time"


async def test_a_dead_worker_with_outputs_counts_as_success(tmp_path: Path) -> None:
    async with running_engine(tmp_path) as first:
        run = await create_run(first, task_spec("t.slow", "sleep", "30"))
        await wait_until(first, run, phase=P.ACTION_PHASE_RUNNING)
        process = first.machine.actions[key(run)].process
        await first.stop(leave_workers=True)
    os.kill(process.pid, signal.SIGKILL)
    output_dir = Path(first.run_output_base("flytesnacks", "development", run, None)) / "a0" / "1"  # type: ignore[arg-type]
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "outputs.pb").write_bytes(b"")
    async with running_engine(tmp_path) as second:
        details = await wait_until(second, run)
        assert phase_name(details.status.phase) == "SUCCEEDED" and details.status.attempts == 1


async def test_a_dead_worker_without_files_is_launched_again(tmp_path: Path) -> None:
    async with running_engine(tmp_path) as first:
        run = await create_run(first, task_spec("t.slow", "sleep", "1"))
        await wait_until(first, run, phase=P.ACTION_PHASE_RUNNING)
        process = first.machine.actions[key(run)].process
        await first.stop(leave_workers=True)
    os.kill(process.pid, signal.SIGKILL)
    async with running_engine(tmp_path) as second:
        details = await wait_until(second, run)
        assert phase_name(details.status.phase) == "SUCCEEDED"
        assert details.status.attempts == 2
        assert phase_name(details.attempts[0].phase) == "FAILED"
        assert details.attempts[0].error_info.code == "SystemFailure"


async def test_queued_and_stopped_actions_resume_after_a_clean_stop(tmp_path: Path) -> None:
    async with running_engine(tmp_path, workers=1) as first:
        parent = await create_run(first, task_spec("t.parent", "sleep", "30"))
        await wait_until(first, parent, phase=P.ACTION_PHASE_RUNNING)
        blocker = await create_run(first, task_spec("t.block", "sleep", "1"))
        waiting = await create_run(first, task_spec("t.wait", "ok", "5"))
        await wait_until(first, waiting, phase=P.ACTION_PHASE_WAITING_FOR_RESOURCES)
        await enqueue_child(first, parent, "c0", task_spec("t.child", "ok", "1"))
        await wait_until(first, parent, "c0")
        # A clean stop kills the running workers; their actions start again as new attempts.
    async with running_engine(tmp_path, workers=1) as second:
        for run in (blocker, waiting):
            assert phase_name((await wait_until(second, run)).status.phase) == "SUCCEEDED"
        for _ in range(100):
            parent_details = await second.queries.action_details(key(parent))
            if parent_details.status.attempts == 2 and parent_details.status.phase == P.ACTION_PHASE_RUNNING:
                break
            await asyncio.sleep(0.1)
        assert parent_details.status.attempts == 2, "the killed parent runs again as attempt 2"
        assert parent_details.attempts[0].error_info.code == "SystemFailure"
        child = await second.queries.action_details(key(parent, "c0"))
        assert phase_name(child.status.phase) == "SUCCEEDED" and child.status.attempts == 1
        await second.abort(key(parent), "done")

"""Reused workers: with our runtime, attempts run inside long-lived warm processes, not one process each.

The server runs every attempt with *this* environment's ``a0`` (whose runtime offers reused
workers); the PyPI SDK is the client. What a user must not notice, apart from the speed: each
attempt keeps its own log, aborts and timeouts still stop the task, a crashing task fails its own
attempt (as a system error, retried) and the server carries on, runs never share a process.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flyteidl2.common import identifier_pb2, phase_pb2
from flyteidl2.dataproxy import dataproxy_service_pb2
from flyteidl2.workflow import run_service_pb2

from .helpers import DOMAIN, PROJECT, ReferenceClient, ServerProcess, make_rpc


@pytest.fixture(scope="module")
def reused(e2e_root: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(data_dir=e2e_root / "reused", worker_python=sys.executable, workers=8)
    process.start()
    yield process
    process.stop()


def _action_id(run: str, name: str = "a0") -> identifier_pb2.ActionIdentifier:
    return identifier_pb2.ActionIdentifier(
        run=identifier_pb2.RunIdentifier(project=PROJECT, domain=DOMAIN, name=run), name=name
    )


def test_children_of_a_run_share_a_few_processes_and_runs_never_share(
    reused: ServerProcess, client: ReferenceClient
) -> None:
    first = client(reused, {"op": "run", "task": "worker_pids", "inputs": {"n": 12}})
    second = client(reused, {"op": "run", "task": "worker_pids", "inputs": {"n": 12}})
    assert first["phase"] == second["phase"] == "ActionPhase.SUCCEEDED", reused.log_tail()
    first_pids, second_pids = set(first["values"][0]), set(second["values"][0])
    assert len(first_pids) <= 4, f"12 children ran in {len(first_pids)} processes"
    assert not first_pids & second_pids, "two runs shared a worker process"


async def test_each_attempt_keeps_its_own_log(reused: ServerProcess, client: ReferenceClient) -> None:
    result = client(reused, {"op": "run", "task": "shout_many", "inputs": {"n": 6}})
    assert result["phase"] == "ActionPhase.SUCCEEDED", reused.log_tail()
    rpc = make_rpc(reused.base_url)
    try:
        actions = await rpc.runs.list_actions(run_service_pb2.ListActionsRequest(run_id=_action_id(result["run"]).run))
        children = [a for a in actions.actions if a.metadata.parent == "a0"]
        assert len(children) == 6
        seen = set()
        for child in children:
            lines: list[str] = []
            request = dataproxy_service_pb2.TailLogsRequest(action_id=child.id, attempt=1)
            async for response in rpc.data.tail_logs(request):
                for batch in response.logs:
                    lines.extend(line.message for line in batch.lines)
            voices = [line for line in lines if line.startswith("LOG-LINE")]
            assert len(voices) == 1, f"{child.id.name}: {lines}"
            seen.add(voices[0])
    finally:
        await rpc.close()
    assert seen == {f"LOG-LINE voice-{i}" for i in range(6)}


async def test_abort_cancels_the_running_children(
    reused: ServerProcess, client: ReferenceClient, tmp_path: Path
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    # Long enough that the abort (a new client process, slow on a loaded machine) comes first.
    seconds = 20.0
    started = client(
        reused,
        {
            "op": "run",
            "task": "marked_nap_fan_out",
            "inputs": {"marker_dir": str(markers), "n": 6, "seconds": seconds},
            "wait": False,
        },
    )
    deadline = time.monotonic() + 60
    while len(list(markers.glob("*.started"))) < 6:
        assert time.monotonic() < deadline, "the fan-out did not start"
        await asyncio.sleep(0.1)
    naps_end = time.monotonic() + seconds
    client(reused, {"op": "abort", "run": started["run"]})
    result = client(reused, {"op": "wait", "run": started["run"]})
    assert result["phase"] == "ActionPhase.ABORTED"
    rpc = make_rpc(reused.base_url)
    try:
        actions = await rpc.runs.list_actions(run_service_pb2.ListActionsRequest(run_id=_action_id(started["run"]).run))
    finally:
        await rpc.close()
    assert len(actions.actions) == 7
    assert {a.status.phase for a in actions.actions} == {phase_pb2.ACTION_PHASE_ABORTED}
    await asyncio.sleep(max(0.0, naps_end - time.monotonic()) + 1)
    assert not list(markers.glob("*.finished")), "an aborted child went on running"


def test_timeouts_stop_async_and_sync_tasks(reused: ServerProcess, client: ReferenceClient) -> None:
    started = time.monotonic()
    slow = client(reused, {"op": "run", "task": "slow", "inputs": {"seconds": 60.0}})
    spin = client(reused, {"op": "run", "task": "spin", "inputs": {"seconds": 60.0}})
    assert slow["phase"] == spin["phase"] == "ActionPhase.TIMED_OUT"
    assert time.monotonic() - started < 50
    after = client(reused, {"op": "run", "task": "fan_out", "inputs": {"n": 3}})
    assert after["phase"] == "ActionPhase.SUCCEEDED" and after["values"] == [[0, 1, 4]]


async def test_a_crashing_task_fails_alone(reused: ServerProcess, client: ReferenceClient) -> None:
    crashed = client(reused, {"op": "run", "task": "crash", "inputs": {"code": 7}})
    assert crashed["phase"] == "ActionPhase.FAILED"
    rpc = make_rpc(reused.base_url)
    try:
        details = (
            await rpc.runs.get_action_details(
                run_service_pb2.GetActionDetailsRequest(action_id=_action_id(crashed["run"]))
            )
        ).details
    finally:
        await rpc.close()
    assert details.error_info.kind == details.error_info.KIND_SYSTEM
    assert len(details.attempts) == 4, "a crash is a system failure, retried"
    after = client(reused, {"op": "run", "task": "fan_out", "inputs": {"n": 4}})
    assert after["phase"] == "ActionPhase.SUCCEEDED" and after["values"] == [[0, 1, 4, 9]]


def test_reused_workers_are_capped(client: ReferenceClient, tmp_path: Path) -> None:
    """Each run gets its own workers; past the cap the longest-idle ones retire, so memory stays bounded."""
    server = ServerProcess(
        data_dir=tmp_path / "data",
        worker_python=sys.executable,
        workers=4,
        extra_env={"FLYTE_SERVER_MAX_REUSED_WORKERS": "2"},
    )
    server.start()
    try:
        for _ in range(4):
            result = client(server, {"op": "run", "task": "fan_out", "inputs": {"n": 3}})
            assert result["phase"] == "ActionPhase.SUCCEEDED" and result["values"] == [[0, 1, 4]]
            deadline = time.monotonic() + 10
            while len(server.worker_pids(under="executor/reused")) > 2:
                assert time.monotonic() < deadline, "more reused workers alive than the cap"
                time.sleep(0.1)
        logs = list((tmp_path / "data" / "executor" / "reused").glob("w*.log"))
        assert len(logs) >= 4, "every run had workers of its own"
    finally:
        server.stop()

"""kill -9 the server in the middle of a run, start it again on the same data: the run completes.

Workers outlive the server (each is its own session); the restarted server re-attaches to them,
and the in-task controller reconnects and finds the children it already started, so no action is
lost and none that succeeded runs again.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flyteidl2.common import identifier_pb2, phase_pb2
from flyteidl2.workflow import run_service_pb2

from .helpers import DOMAIN, PROJECT, ReferenceClient, ServerProcess, make_rpc


def _start_marked_run(
    client: ReferenceClient,
    server: ServerProcess,
    task: str,
    markers: Path,
    inputs: dict[str, Any],
    going: Callable[[], bool],
) -> dict[str, Any]:
    """Start ``task`` (which leaves marker files in ``markers``) and wait until ``going()`` says so."""
    markers.mkdir()
    started: dict[str, Any] = client(
        server, {"op": "run", "task": task, "inputs": {"marker_dir": str(markers), **inputs}, "wait": False}
    )
    deadline = time.monotonic() + 60
    while not going():
        assert time.monotonic() < deadline, f"{task} did not get going"
        time.sleep(0.1)
    return started


@pytest.mark.timeout(300)
@pytest.mark.parametrize("runtime", ["pypi", "ours"])
async def test_run_survives_kill_9_of_the_server(
    runtime: str, reference_python: str, client: ReferenceClient, tmp_path: Path
) -> None:
    """With PyPI's runtime every attempt is its own process; with ours they run in reused workers."""
    worker_python = reference_python if runtime == "pypi" else sys.executable
    server = ServerProcess(data_dir=tmp_path / "data", worker_python=worker_python, workers=4)
    server.start()
    try:
        markers = tmp_path / "markers"
        started = _start_marked_run(
            client, server, "slow_chain", markers, {"n": 4, "seconds": 1.5}, lambda: (markers / "1.count").exists()
        )

        server.kill9()
        workers = server.worker_pids(started["run"]) if runtime == "pypi" else server.worker_pids(under="executor")
        assert workers, "the workers outlive the server"
        time.sleep(1.0)
        server.start()

        result = client(server, {"op": "wait", "run": started["run"]})
        assert result["phase"] == "ActionPhase.SUCCEEDED"
        assert result["values"] == [0 + 1 + 2 + 3]
        counts = {path.name: path.read_text() for path in sorted(markers.iterdir())}
        assert counts == {f"{i}.count": "x" for i in range(4)}, "every child ran exactly once"

        rpc = make_rpc(server.base_url)
        try:
            run_id = identifier_pb2.RunIdentifier(project=PROJECT, domain=DOMAIN, name=started["run"])
            actions = await rpc.runs.list_actions(run_service_pb2.ListActionsRequest(run_id=run_id))
        finally:
            await rpc.close()
        assert len(actions.actions) == 5
        assert {action.status.phase for action in actions.actions} == {phase_pb2.ACTION_PHASE_SUCCEEDED}
    finally:
        server.stop()


@pytest.mark.timeout(300)
async def test_a_fan_out_sharing_reused_workers_survives_kill_9(client: ReferenceClient, tmp_path: Path) -> None:
    """The parent and some of its children run in the same reused worker, which exits only after all
    of them: the restarted server must take each attempt's outcome from its files, not wait for that exit."""
    server = ServerProcess(data_dir=tmp_path / "data", worker_python=sys.executable, workers=8)
    server.start()
    try:
        markers = tmp_path / "markers"
        started = _start_marked_run(
            client,
            server,
            "marked_nap_fan_out",
            markers,
            {"n": 6, "seconds": 3.0},
            lambda: len(list(markers.glob("*.started"))) == 6,
        )
        server.kill9()
        time.sleep(0.5)
        server.start()
        result = client(server, {"op": "wait", "run": started["run"]}, timeout=90)
        assert result["phase"] == "ActionPhase.SUCCEEDED", server.log_tail()
        assert result["values"] == [list(range(6))]
        assert len(list(markers.glob("*.finished"))) == 6
    finally:
        server.stop()


@pytest.mark.timeout(300)
async def test_kill_9_mid_fan_out_runs_nothing_twice(client: ReferenceClient, tmp_path: Path) -> None:
    """Every child leaves one mark per execution: after a kill -9 mid fan-out and a restart, each
    child (and the root) has run exactly once — outcomes handed to the dead server are not lost."""
    server = ServerProcess(data_dir=tmp_path / "data", worker_python=sys.executable, workers=16)
    server.start()
    n = 200
    try:
        markers = tmp_path / "markers"
        started = _start_marked_run(
            client,
            server,
            "tallied_fan_out",
            markers,
            {"n": n},
            lambda: len(list(markers.glob("*.count"))) >= 60,
        )
        server.kill9()
        time.sleep(0.5)
        server.start()
        result = client(server, {"op": "wait", "run": started["run"]}, timeout=180)
        assert result["phase"] == "ActionPhase.SUCCEEDED", server.log_tail()
        assert result["values"] == [sum(range(n))]
        counts = {path.stem: len(path.read_text()) for path in markers.glob("*.count")}
        twice = sorted(name for name, count in counts.items() if count != 1)
        assert not twice, f"ran more than once: {twice}"
        assert len(counts) == n + 1

        rpc = make_rpc(server.base_url)
        try:
            run_id = identifier_pb2.RunIdentifier(project=PROJECT, domain=DOMAIN, name=started["run"])
            actions = await rpc.runs.list_actions(run_service_pb2.ListActionsRequest(run_id=run_id))
        finally:
            await rpc.close()
        root = [action for action in actions.actions if not action.metadata.parent]
        assert [action.status.attempts for action in root] == [1], "the root was not retried"
    finally:
        server.stop()

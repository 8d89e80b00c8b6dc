"""Faults that must neither lose nor repeat work: a parent that is retried while its children run,
a server that stalls under a parent's enqueues, tasks that leave processes behind when stopped.

Every child leaves one mark per execution (``<i>.count``), so "ran exactly once" is checked, not assumed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from flyteidl2.common import identifier_pb2
from flyteidl2.workflow import run_service_pb2

from .helpers import DOMAIN, PROJECT, ReferenceClient, ServerProcess, make_rpc

pytestmark = pytest.mark.timeout(300)


def _counts(markers: Path) -> dict[str, int]:
    return {path.stem: len(path.read_text()) for path in markers.glob("*.count")}


async def _attempts(server: ServerProcess, run: str) -> dict[str, int]:
    rpc = make_rpc(server.base_url)
    try:
        run_id = identifier_pb2.RunIdentifier(project=PROJECT, domain=DOMAIN, name=run)
        actions = await rpc.runs.list_actions(run_service_pb2.ListActionsRequest(run_id=run_id))
    finally:
        await rpc.close()
    return {action.id.name: action.status.attempts for action in actions.actions}


@pytest.fixture(params=["reused", "process"])
def fault_server(request: pytest.FixtureRequest, tmp_path: Path) -> ServerProcess:
    """Our runtime in reused workers, and one process per attempt (whose teardown cancels what is in flight)."""
    extra = {"FLYTE_SERVER_REUSE_WORKERS": "0"} if request.param == "process" else {}
    server = ServerProcess(data_dir=tmp_path / "data", worker_python=sys.executable, workers=16, extra_env=extra)
    server.start()
    yield server
    server.stop()


async def test_a_retried_parent_reattaches_to_the_children_its_failed_attempt_started(
    fault_server: ServerProcess, client: ReferenceClient, tmp_path: Path
) -> None:
    """The first attempt fails while its children run: they are not aborted, and the retry waits for them."""
    markers = tmp_path / "markers"
    markers.mkdir()
    n = 6
    result = client(
        fault_server,
        {
            "op": "run",
            "task": "fails_once_while_children_run",
            "inputs": {"marker_dir": str(markers), "n": n, "seconds": 3.0},
        },
        timeout=180,
    )
    assert result["phase"] == "ActionPhase.SUCCEEDED", (result, fault_server.log_tail())
    assert result["values"] == [sum(range(n))]
    counts = _counts(markers)
    assert counts.pop("root") == 2, "the parent ran twice (it failed once)"
    assert counts == {str(i): 1 for i in range(n)}, "every child ran exactly once"
    attempts = await _attempts(fault_server, result["run"])
    assert attempts.pop("a0") == 2
    assert set(attempts.values()) == {1}


async def test_enqueues_that_time_out_on_a_stalled_server_are_sent_again(
    fault_server: ServerProcess, client: ReferenceClient, tmp_path: Path
) -> None:
    """The parent's calls time out after 1 s; the server is stopped (SIGSTOP) for 4 s mid fan-out.
    The parent is neither failed nor retried, and no child runs twice."""
    markers = tmp_path / "markers"
    markers.mkdir()
    n = 40
    started = client(
        fault_server,
        {
            "op": "run",
            "task": "impatient_fan_out",
            "inputs": {"marker_dir": str(markers), "n": n, "seconds": 0.5},
            "wait": False,
        },
    )
    deadline = time.monotonic() + 60
    while len(_counts(markers)) < 5:
        assert time.monotonic() < deadline, "the fan-out did not start"
        time.sleep(0.05)
    assert fault_server.process is not None
    os.kill(fault_server.process.pid, signal.SIGSTOP)
    try:
        time.sleep(4.0)
    finally:
        os.kill(fault_server.process.pid, signal.SIGCONT)
    result = client(fault_server, {"op": "wait", "run": started["run"]}, timeout=180)
    assert result["phase"] == "ActionPhase.SUCCEEDED", (result, fault_server.log_tail())
    assert result["values"] == [sum(range(n))]
    counts = _counts(markers)
    assert counts == {"root": 1, **{str(i): 1 for i in range(n)}}
    assert set((await _attempts(fault_server, started["run"])).values()) == {1}


def _spawned(markers: Path, n: int) -> list[int]:
    deadline = time.monotonic() + 60
    while len(list(markers.glob("*.pids"))) < n:
        assert time.monotonic() < deadline, "the tasks did not start their processes"
        time.sleep(0.05)
    return [int(pid) for path in markers.glob("*.pids") for pid in path.read_text().split()]


def _still_alive(pids: list[int], within: float = 20.0) -> list[int]:
    """The pids among ``pids`` still running (not zombies) after waiting up to ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        alive = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
            except OSError:
                continue
            if state not in ("Z", "X"):
                alive.append(pid)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


async def test_abort_stops_every_process_the_tasks_started(
    fault_server: ServerProcess, client: ReferenceClient, tmp_path: Path
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    n = 3
    started = client(
        fault_server,
        {
            "op": "run",
            "task": "spawner_fan_out",
            "inputs": {"marker_dir": str(markers), "n": n, "seconds": 120.0},
            "wait": False,
        },
    )
    pids = _spawned(markers, n)
    assert len(pids) == 3 * n and _still_alive(pids, within=0) == pids, "the processes run"
    client(fault_server, {"op": "abort", "run": started["run"]})
    result = client(fault_server, {"op": "wait", "run": started["run"]})
    assert result["phase"] == "ActionPhase.ABORTED"
    assert not _still_alive(pids), "processes started by aborted tasks are still running"


async def test_a_timeout_stops_every_process_the_task_started(
    fault_server: ServerProcess, client: ReferenceClient, tmp_path: Path
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    result = client(fault_server, {"op": "run", "task": "spawner_timing_out", "inputs": {"marker_dir": str(markers)}})
    assert result["phase"] == "ActionPhase.TIMED_OUT"
    pids = _spawned(markers, 1)
    assert not _still_alive(pids), "processes started by a timed-out task are still running"


@pytest.fixture
def small_disk(tmp_path: Path) -> Path:
    """A 64 MiB tmpfs for the server's data (root only: mount)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode(errors='replace').strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _fill(mount: Path) -> Path:
    filler = mount / "filler"
    with open(filler, "wb") as out:
        chunk = b"\0" * (1 << 20)
        try:
            while True:
                out.write(chunk)
                out.flush()
        except OSError:
            pass
    return filler


async def test_a_full_disk_keeps_aborts_fails_what_cannot_be_kept_and_recovers(
    small_disk: Path, client: ReferenceClient, tmp_path: Path
) -> None:
    server = ServerProcess(data_dir=small_disk, worker_python=sys.executable, workers=8)
    server.start()
    try:
        markers = tmp_path / "markers"
        markers.mkdir()
        doomed = client(
            server,
            {
                "op": "run",
                "task": "marked_nap_fan_out",
                "inputs": {"marker_dir": str(markers), "n": 2, "seconds": 60.0},
                "wait": False,
            },
        )
        big = client(
            server,
            {
                "op": "run",
                "task": "big_after_nap",
                "inputs": {"marker_dir": str(markers), "seconds": 3.0, "size": 200_000},
                "wait": False,
            },
        )
        deadline = time.monotonic() + 60
        while len(list(markers.glob("*.started"))) < 3:
            assert time.monotonic() < deadline, "the runs did not start"
            time.sleep(0.1)
        filler = _fill(small_disk)

        began = time.monotonic()
        client(server, {"op": "abort", "run": doomed["run"]})
        assert time.monotonic() - began < 30, "the abort waited for the disk"
        time.sleep(12)  # the big output cannot be written; its attempts fail (and are retried)
        with urllib.request.urlopen(f"{server.base_url}/healthz", timeout=10) as response:
            assert response.status == 200
        filler.unlink()

        aborted = client(server, {"op": "wait", "run": doomed["run"]}, timeout=120)
        assert aborted["phase"] == "ActionPhase.ABORTED", server.log_tail()
        assert not list(markers.glob("*.finished")), "the aborted children were not stopped"
        # Its attempts failed as system errors while the disk was full: retried, it either succeeded
        # once there was space again, or ran out of retries with a clear error.
        finished = client(server, {"op": "wait", "run": big["run"]}, timeout=120)
        if finished["phase"] == "ActionPhase.SUCCEEDED":
            assert finished["values"] == ["y" * 200_000]
            assert (await _attempts(server, big["run"]))["a0"] >= 2
        else:
            assert finished["phase"] == "ActionPhase.FAILED", server.log_tail()
            assert "no space left" in finished.get("error", "").lower(), finished
        after = client(server, {"op": "run", "task": "square", "inputs": {"x": 7}}, timeout=120)
        assert after["phase"] == "ActionPhase.SUCCEEDED" and after["values"] == [49]
    finally:
        server.stop()

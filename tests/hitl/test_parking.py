"""Parking: runs that wait hold no worker process, and resume from where they stopped.

A server with ``FLYTE_SERVER_PARK_AFTER=0.5`` (our runtime): a task waiting on a condition, or in a
long ``flyte.durable.sleep``, ends its attempt after half a second (PAUSED, ``parked.json``), and
the server relaunches it as the next attempt when the condition ends or the sleep is over. The
relaunched attempt replays the task: the condition and the durable readings are found again, so
it goes on with the value (or the rest of the sleep). kill -9 of the server while runs are parked
loses nothing.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from e2e.helpers import DOMAIN, PROJECT, ServerProcess

from .conftest import PROGRAMS, WEBHOOK_SECRET

RUNS = 10


def _attempt_processes(data_dir: Path) -> list[int]:
    """Processes running attempts of this server: forked attempts and reused workers (not the warm zygote)."""
    roots = [str((data_dir / "work").resolve()) + os.sep]
    roots += [str(path.resolve()) + os.sep for path in data_dir.rglob("reused") if path.is_dir()]
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cwd = os.readlink(f"/proc/{entry}/cwd") + os.sep
            except OSError:
                continue
            if any(cwd.startswith(root) for root in roots):
                found.append(int(entry))
    return found


@pytest.fixture
def parking_server(hitl_root: Path) -> ServerProcess:
    server = ServerProcess(
        data_dir=hitl_root / f"parking-{time.monotonic_ns()}",
        worker_python=sys.executable,
        workers=4,
        extra_env={"FLYTE_SERVER_WEBHOOK_SECRET": WEBHOOK_SECRET, "FLYTE_SERVER_PARK_AFTER": "0.5"},
    )
    server.start()
    yield server
    server.stop()


def test_parked_runs_hold_no_process_survive_kill_9_and_resume_with_their_value(
    parking_server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flyte
    import flyte.remote
    from flyte.cli._loader import load_module

    server = parking_server
    monkeypatch.chdir(PROGRAMS)
    flyte.init(endpoint=server.endpoint, insecure=True, project=PROJECT, domain=DOMAIN)
    module = load_module(PROGRAMS / "hitl_wf.py")
    runs = [flyte.run(module.amount).name for _ in range(RUNS)]
    deadline = time.monotonic() + 120
    waiting: set[str] = set()
    while len(waiting) < RUNS:
        assert time.monotonic() < deadline, f"only {len(waiting)} runs reached their condition"
        waiting |= {run for run in set(runs) - waiting if flyte.remote.Condition.listall(run_name=run)}
        time.sleep(0.3)
    while _attempt_processes(server.data_dir):
        assert time.monotonic() < deadline, f"attempt processes still up: {_attempt_processes(server.data_dir)}"
        time.sleep(0.3)

    server.kill9()
    server.start()

    for index, run in enumerate(runs):
        condition = flyte.remote.Condition.get("amount", run_name=run)
        assert condition is not None, run
        condition.signal(index)
    for index, run in enumerate(runs):
        remote = flyte.remote.Run.get(run)
        remote.wait(quiet=True)
        assert remote.outputs()[0] == 2 * index
        action = flyte.remote.Action.get(run, "a0")
        assert action.attempts == 1, f"run {run}: {action.attempts} attempts (a parked attempt resumes as itself)"


def test_a_long_durable_sleep_parks_and_wakes_after_its_time(
    parking_server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flyte
    import flyte.remote
    from flyte.cli._loader import load_module

    monkeypatch.chdir(PROGRAMS)
    flyte.init(endpoint=parking_server.endpoint, insecure=True, project=PROJECT, domain=DOMAIN)
    module = load_module(PROGRAMS / "hitl_wf.py")
    began = time.monotonic()
    run = flyte.run(module.doze, seconds=4.0)
    time.sleep(2.5)
    assert not _attempt_processes(parking_server.data_dir), "the sleeping run kept a process"
    run.wait(quiet=True)
    slept = flyte.remote.Run.get(run.name).outputs()[0]
    assert 4.0 <= slept < 30, slept
    assert time.monotonic() - began >= 4.0
    assert flyte.remote.Action.get(run.name, "a0").attempts == 1

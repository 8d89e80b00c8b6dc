"""kill -9 of the server while 100 runs wait on conditions; after a restart every one is resolved
and completes once (workers outlive the server, their watch streams reconnect, and the stored
conditions come back PAUSED)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from e2e.helpers import DOMAIN, PROJECT, ServerProcess

from .conftest import PROGRAMS, WEBHOOK_SECRET

RUNS = 100

pytestmark = pytest.mark.heavy


def test_kill_9_while_100_runs_wait(hitl_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import flyte
    import flyte.remote
    from flyte.cli._loader import load_module

    server = ServerProcess(
        data_dir=hitl_root / "restart",
        worker_python=sys.executable,
        workers=4,
        # Waits stay in their processes here (the workers outlive the server); test_parking.py
        # covers parked waits across a kill -9.
        extra_env={"FLYTE_SERVER_WEBHOOK_SECRET": WEBHOOK_SECRET, "FLYTE_SERVER_PARK_AFTER": "off"},
    )
    server.start()
    try:
        monkeypatch.chdir(PROGRAMS)
        monkeypatch.setenv("HOME", str(hitl_root / "restart-home"))
        flyte.init(endpoint=server.endpoint, insecure=True, project=PROJECT, domain=DOMAIN)
        module = load_module(PROGRAMS / "hitl_wf.py")
        runs = [flyte.run(module.amount).name for _ in range(RUNS)]
        waiting: set[str] = set()
        deadline = time.monotonic() + 240
        while len(waiting) < RUNS and time.monotonic() < deadline:
            for run in set(runs) - waiting:
                if flyte.remote.Condition.listall(run_name=run):
                    waiting.add(run)
            time.sleep(0.5)
        assert len(waiting) == RUNS, f"only {len(waiting)} runs reached their condition"

        server.kill9()
        server.start()

        for index, run in enumerate(runs):
            condition = flyte.remote.Condition.get("amount", run_name=run)
            assert condition is not None and condition.phase.name in ("PAUSED", "RUNNING"), condition
            condition.signal(index)
        for index, run in enumerate(runs):
            remote = flyte.remote.Run.get(run)
            remote.wait(quiet=True)
            assert remote.outputs()[0] == 2 * index
            details = flyte.remote.Action.get(run, "a0") if hasattr(flyte.remote.Action, "get") else None
            if details is not None:
                assert details.attempts == 1, f"run {run} ran {details.attempts} times"
    finally:
        server.stop()

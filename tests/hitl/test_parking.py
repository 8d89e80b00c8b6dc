"""Parking: runs that wait hold no worker process, and resume from where they stopped.

A server with ``FLYTE_SERVER_PARK_AFTER=0.5`` (our runtime): a task waiting on a condition, or in a
long ``flyte.durable.sleep``, ends its attempt after half a second (PAUSED, ``parked.json``), and
the server relaunches it as the next attempt when the condition ends or the sleep is over. The
relaunched attempt replays the task: the condition and the durable readings are found again, so
it goes on with the value (or the rest of the sleep). kill -9 of the server while runs are parked
loses nothing, nor does it lose a condition's webhook delivery: it is sent again after the restart.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
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


class _Flaky(BaseHTTPRequestHandler):
    """Answers 503 until ``healthy`` is set, then resolves the condition through its callback."""

    deliveries: list[str] = []
    healthy = threading.Event()

    def do_POST(self) -> None:
        document = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Flaky.deliveries.append(self.headers["X-Flyte-Delivery"])
        if not _Flaky.healthy.is_set():
            self.send_response(503)
            self.end_headers()
            return
        self.send_response(204)
        self.end_headers()
        threading.Thread(
            target=lambda: httpx.post(document["callback"], json={"value": "yes"}, timeout=30), daemon=True
        ).start()

    def log_message(self, *args: Any) -> None:
        pass


def test_a_webhook_cut_off_by_kill_9_is_sent_again_after_the_restart(
    parking_server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flyte
    import flyte.remote
    from flyte.cli._loader import load_module

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    server = parking_server
    try:
        monkeypatch.chdir(PROGRAMS)
        flyte.init(endpoint=server.endpoint, insecure=True, project=PROJECT, domain=DOMAIN)
        module = load_module(PROGRAMS / "hitl_wf.py")
        run = flyte.run(module.hooked, url=f"http://127.0.0.1:{receiver.server_address[1]}/hook")
        deadline = time.monotonic() + 90
        while not _Flaky.deliveries:
            assert time.monotonic() < deadline, "the webhook was never called"
            time.sleep(0.1)
        server.kill9()  # its retries of the delivery die with it
        before = len(_Flaky.deliveries)
        _Flaky.healthy.set()
        server.start()
        remote = flyte.remote.Run.get(run.name)
        remote.wait(quiet=True)
        assert list(remote.outputs()) == ["got yes"]
    finally:
        receiver.shutdown()
        receiver.server_close()
    assert len(_Flaky.deliveries) > before, "no delivery after the restart"
    assert len(set(_Flaky.deliveries)) == 1, f"one delivery id for one condition: {set(_Flaky.deliveries)}"

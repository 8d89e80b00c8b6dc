"""Tasks without inputs work remotely with both clients: runs, deploys, child calls and triggers.

Both SDKs send an empty ``inputs_hash`` for a task without inputs; Flyte's backend accepts it
and so must we (``docs/protocol-leniency.md``). Each client deploys and runs
``zero_input_programs/zero_inputs.py`` through ``zero_driver.py`` in its own interpreter and HOME
(PyPI ``flyte`` 2.12.1 against the session server, whose workers run PyPI's ``a0``; ours against a
server whose workers run our ``a0``), runs a zero-input task from the CLI, and then the schedule
of the deployed zero-input trigger fires a run that succeeds.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flyteidl2.common import identifier_pb2, phase_pb2
from flyteidl2.dataproxy import dataproxy_service_pb2
from flyteidl2.workflow import run_service_pb2

from .helpers import DOMAIN, PROJECT, ServerProcess, make_rpc, watch_until_done

PROGRAMS = Path(__file__).parent / "zero_input_programs"


@pytest.fixture(scope="module")
def ours(e2e_root: Path) -> Iterator[ServerProcess]:
    """A server whose workers run our ``a0`` (this interpreter)."""
    process = ServerProcess(data_dir=e2e_root / "zero-ours", worker_python=sys.executable, workers=4)
    process.start()
    yield process
    process.stop()


def _python_of(client: str, reference_python: str) -> str:
    return reference_python if client == "pypi" else sys.executable


def _env(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH" and not key.startswith("PYTEST_")}
    env["HOME"] = str(home)
    return env


class Deployed:
    """What each client's driver printed, per client (``ours`` / ``pypi``), and when it deployed."""

    def __init__(self) -> None:
        self.results: dict[str, dict[str, Any]] = {}
        self.servers: dict[str, ServerProcess] = {}
        self.project_dirs: dict[str, Path] = {}


@pytest.fixture(scope="module")
def deployed(
    ours: ServerProcess, server: ServerProcess, reference_python: str, tmp_path_factory: pytest.TempPathFactory
) -> Deployed:
    """Both clients deploy and run the zero-input tasks, one after the other, once for the module."""
    state = Deployed()
    for client, target in (("ours", ours), ("pypi", server)):
        root = tmp_path_factory.mktemp(f"zero-{client}")
        project = root / "project"
        shutil.copytree(PROGRAMS, project, ignore=shutil.ignore_patterns("__pycache__"))
        (root / "home").mkdir()
        completed = subprocess.run(
            [_python_of(client, reference_python), "zero_driver.py", target.endpoint, PROJECT, DOMAIN],
            cwd=project,
            env=_env(root / "home"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
        # -6: PyPI's HTTP client (pyqwest) can abort at interpreter exit after all work is done.
        assert completed.returncode in (0, -6) and lines, (
            f"{client} driver failed ({completed.returncode}):\n{completed.stdout[-3000:]}\n{completed.stderr[-5000:]}"
        )
        state.results[client] = json.loads(lines[-1].removeprefix("RESULT "))
        state.servers[client] = target
        state.project_dirs[client] = project
    return state


CLIENTS = ("ours", "pypi")


@pytest.mark.timeout(600)
@pytest.mark.parametrize("client", CLIENTS)
def test_zero_input_tasks_deploy_and_run(deployed: Deployed, client: str) -> None:
    results = deployed.results[client]
    assert results["deployed hello"] == {"phase": "SUCCEEDED", "outputs": ["hello"]}, results
    assert results["deployed parent"] == {"phase": "SUCCEEDED", "outputs": ["hello!"]}, results
    assert results["run parent"] == {"phase": "SUCCEEDED", "outputs": ["hello!"]}, results
    assert results["run quiet"]["phase"] == "SUCCEEDED", results


@pytest.mark.timeout(600)
@pytest.mark.parametrize("client", CLIENTS)
def test_the_cli_runs_a_zero_input_task(deployed: Deployed, client: str, reference_python: str, tmp_path: Path) -> None:
    flyte_cli = Path(_python_of(client, reference_python)).parent / "flyte"
    target = deployed.servers[client]
    (tmp_path / "home").mkdir()
    endpoint = ["--endpoint", target.endpoint, "--insecure"]
    completed = subprocess.run(
        [str(flyte_cli), *endpoint, "run", "--project", PROJECT, "--domain", DOMAIN, "zero_inputs.py", "hello"],
        cwd=deployed.project_dirs[client],
        env=_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode in (0, -6), output[-4000:]
    assert "inputs_hash" not in output and "invalid" not in output.lower(), output[-4000:]


async def _fired_run(target: ServerProcess, *, timeout: float) -> identifier_pb2.ActionIdentifier:
    """The first run the ``every-minute`` trigger of ``zero_inputs.tick`` fired (waits for the schedule)."""
    rpc = make_rpc(target.base_url)
    trigger = identifier_pb2.TriggerName(
        project=PROJECT, domain=DOMAIN, name="every-minute", task_name="zero_inputs.tick"
    )
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            listed = await rpc.runs.list_runs(run_service_pb2.ListRunsRequest(trigger_name=trigger))
            if listed.runs:
                return listed.runs[0].action.id
            await asyncio.sleep(1)
        raise AssertionError(f"the trigger did not fire within {timeout}s:\n{target.log_tail(40)}")
    finally:
        await rpc.close()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("client", CLIENTS)
async def test_a_zero_input_trigger_fires_and_its_run_succeeds(deployed: Deployed, client: str) -> None:
    target = deployed.servers[client]
    action_id = await _fired_run(target, timeout=150)
    rpc = make_rpc(target.base_url)
    try:
        phases = await watch_until_done(rpc, action_id, timeout=120)
        assert phases[-1] == phase_pb2.ACTION_PHASE_SUCCEEDED, (phases, target.log_tail(40))
        data = await rpc.data.get_action_data(dataproxy_service_pb2.GetActionDataRequest(action_id=action_id))
        assert [item.value.scalar.primitive.string_value for item in data.outputs.literals] == ["tick"]
    finally:
        await rpc.close()

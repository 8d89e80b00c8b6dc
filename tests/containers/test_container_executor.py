"""``flyte start server --executor podman``: attempts in containers of their task's image (issue 13 scope 2).

One server for the module (the Debian test image stands in for the SDK's default image); the
tasks are driven by our SDK and by PyPI flyte. What a user notices: resources become container
limits seen inside, an abort removes the container, a server killed with -9 and started again
finds a running container by its labels and does not run the attempt twice, fan-outs of trivial
children stay fast in warm containers (whose attempts also outlive a crash of the server), and the
attempt's output reaches its log.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flyteidl2.common import identifier_pb2, phase_pb2
from flyteidl2.workflow import run_service_pb2

from containers.conftest import containers_of, drive
from e2e.helpers import DOMAIN, PROJECT, ServerProcess, make_rpc

pytestmark = pytest.mark.podman

P = phase_pb2


def _action(run: str) -> identifier_pb2.ActionIdentifier:
    return identifier_pb2.ActionIdentifier(
        run=identifier_pb2.RunIdentifier(project=PROJECT, domain=DOMAIN, name=run), name="a0"
    )


async def _details(server: ServerProcess, run: str) -> object:
    rpc = make_rpc(server.base_url)
    try:
        request = run_service_pb2.GetActionDetailsRequest(action_id=_action(run))
        return (await rpc.runs.get_action_details(request)).details
    finally:
        await rpc.close()


async def _wait_phase(server: ServerProcess, run: str, phases: set[int], timeout: float = 90) -> object:
    deadline = time.monotonic() + timeout
    while True:
        try:
            details = await _details(server, run)
            if details.status.phase in phases:  # type: ignore[attr-defined]
                return details
        except Exception:  # the server may be restarting
            if time.monotonic() > deadline:
                raise
        assert time.monotonic() < deadline, f"run {run} not in {phases}:\n{server.log_tail()}"
        await asyncio.sleep(0.3)


async def _wait_container(server: ServerProcess, run: str, timeout: float = 90) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        running = [c for c in containers_of(server, run=run) if str(c.get("State")).lower() == "running"]
        if running:
            return running[0]
        assert time.monotonic() < deadline, f"no container for {run}:\n{server.log_tail()}"
        await asyncio.sleep(0.3)


@pytest.mark.parametrize("sdk", ["ours", "pypi"])
def test_resources_become_container_limits_seen_inside(
    sdk: str, podman_server: ServerProcess, programs_dir: Path, reference_python: str, tmp_path: Path
) -> None:
    python = sys.executable if sdk == "ours" else reference_python
    result = drive(python, podman_server, programs_dir, tmp_path / "home", task="limits")
    assert result["phase"] == "SUCCEEDED", podman_server.log_tail()
    memory, cpu, in_container, debian = result["values"][0].split("|")
    assert int(memory) == 300 * 1024 * 1024, "Resources(memory='300Mi') is the container's memory limit"
    quota, period = cpu.split("/")
    assert quota != "max" and int(quota) == int(period), "Resources(cpu=1) is one CPU's quota"
    assert in_container == "True" and debian.startswith("12"), "it ran in the Debian image, not on the host"
    log = podman_server.data_dir / "logs" / PROJECT / DOMAIN / result["run"] / "a0" / "1.log"
    assert f"memory {memory}" in log.read_text(), "the container's output reached the attempt's log"
    assert not containers_of(podman_server, run=result["run"]), "a finished attempt's container is removed"


@pytest.mark.parametrize("sdk", ["ours", "pypi"])
def test_a_fan_out_of_trivial_children_runs_in_a_warm_container(
    sdk: str, podman_server: ServerProcess, programs_dir: Path, reference_python: str, tmp_path: Path
) -> None:
    python = sys.executable if sdk == "ours" else reference_python
    result = drive(python, podman_server, programs_dir, tmp_path / "home", task="fan_out", inputs={"n": 20})
    assert result["phase"] == "SUCCEEDED", podman_server.log_tail()
    assert result["values"] == [sum(i * i for i in range(20))]
    assert not containers_of(podman_server, run=result["run"]), "no container of its own per child"
    assert containers_of(podman_server, kind="warm"), "the children ran in the warm container of their image"


async def test_abort_stops_and_removes_the_container(
    podman_server: ServerProcess, programs_dir: Path, tmp_path: Path
) -> None:
    started = drive(
        sys.executable, podman_server, programs_dir, tmp_path / "h", task="sleepy", inputs={"seconds": 300}, wait=False
    )
    run = started["run"]
    await _wait_container(podman_server, run)
    rpc = make_rpc(podman_server.base_url)
    try:
        await rpc.runs.abort_run(
            run_service_pb2.AbortRunRequest(run_id=_action(run).run, reason="container test abort")
        )
    finally:
        await rpc.close()
    details = await _wait_phase(podman_server, run, {P.ACTION_PHASE_ABORTED})
    assert details.status.phase == P.ACTION_PHASE_ABORTED  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while containers_of(podman_server, run=run):
        assert time.monotonic() < deadline, "the aborted attempt's container is still there"
        await asyncio.sleep(0.3)


@pytest.mark.parametrize("task", ["sleepy", "warm_sleepy"])
async def test_a_server_killed_and_restarted_finds_its_running_attempts_again(
    task: str, podman_server: ServerProcess, programs_dir: Path, tmp_path: Path
) -> None:
    """``sleepy`` runs in a container of its own (found by its handle/labels), ``warm_sleepy`` in the warm container."""
    started = drive(
        sys.executable, podman_server, programs_dir, tmp_path / "home", task=task, inputs={"seconds": 12}, wait=False
    )
    run = started["run"]
    log = podman_server.data_dir / "logs" / PROJECT / DOMAIN / run / "a0" / "1.log"
    deadline = time.monotonic() + 90
    while not (log.exists() and "sleeping" in log.read_text()):
        assert time.monotonic() < deadline, f"{task} did not start:\n{podman_server.log_tail()}"
        await asyncio.sleep(0.3)
    podman_server.kill9()
    podman_server.start()
    details = await _wait_phase(podman_server, run, {P.ACTION_PHASE_SUCCEEDED, P.ACTION_PHASE_FAILED})
    assert details.status.phase == P.ACTION_PHASE_SUCCEEDED, podman_server.log_tail()  # type: ignore[attr-defined]
    assert details.status.attempts == 1, "re-attached to the running attempt, not run again"  # type: ignore[attr-defined]
    assert log.read_text().count("sleeping") == 1
    assert not (log.parent / "2.log").exists()


def test_an_image_that_cannot_be_pulled_fails_the_run_with_podmans_reason(
    podman_server: ServerProcess, programs_dir: Path, tmp_path: Path
) -> None:
    result = drive(sys.executable, podman_server, programs_dir, tmp_path / "home", task="in_a_missing_image")
    assert result["phase"] == "FAILED"
    assert "no-such-image" in result["error"] and "podman run failed" in result["error"], result


def test_secrets_reach_the_container_as_a_file_and_a_variable(
    podman_server: ServerProcess, programs_dir: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    created = subprocess.run(
        [
            *(sys.executable, "-m", "flyte", "--endpoint", podman_server.endpoint, "--insecure"),
            *("create", "secret", "ct-token", "--value", "tok-4711", "-p", PROJECT, "-d", DOMAIN),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(home)},
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    result = drive(sys.executable, podman_server, programs_dir, home, task="read_secret")
    assert result["phase"] == "SUCCEEDED", podman_server.log_tail()
    assert result["values"] == ["tok-4711|tok-4711"], "Secret(mount=...) is a file, Secret(key) a variable"
    assert "tok-4711" not in podman_server.log_path.read_text()

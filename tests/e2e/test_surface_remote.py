"""Issue-10 names in remote mode: flyte.durable is replay-safe across retries, checkpoints resume
from the previous attempt, and the task context says where it runs — with our SDK on our runtime,
and the same programs with the PyPI client on both runtimes and our client on the PyPI runtime."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import flyte
from flyte.cli._loader import load_module

from .helpers import DOMAIN, PROJECT, ServerProcess

PROGRAMS = Path(__file__).parent / "surface_programs"


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(data_dir=tmp_path_factory.mktemp("surface-ours") / "server", worker_python=sys.executable)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def wf(ours: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    project = tmp_path / "project"
    shutil.copytree(PROGRAMS, project, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(project)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    flyte.init(endpoint=ours.endpoint, insecure=True, project=PROJECT, domain=DOMAIN)
    yield load_module(project / "surface_wf.py")


def test_durable_time_and_sleep_are_replayed_on_the_retry(wf: ModuleType, ours: ServerProcess, tmp_path: Path) -> None:
    marker = tmp_path / "first-attempt"
    run = flyte.run(wf.durable_across_retries, sleep_s=3.0, marker=str(marker))
    run.wait()
    assert run.phase == "SUCCEEDED", ours.log_tail()
    recorded, slept, now_ts, attempt = run.outputs().o0
    assert attempt == 1.0
    assert slept < 2.0, f"the retry slept {slept:.2f}s of a 3s sleep the first attempt had finished"
    phases = [attempt.phase.name for attempt in run.details().action.attempt_history]
    assert phases == ["FAILED", "SUCCEEDED"]
    first_time, first_now = (float(value) for value in marker.read_text().split())
    assert (recorded, now_ts) == (first_time, first_now), "the retry read the clock again"


def test_a_retry_resumes_from_the_checkpoint_of_the_failed_attempt(wf: ModuleType, ours: ServerProcess) -> None:
    run = flyte.run(wf.resumes_from_checkpoint, steps=6)
    run.wait()
    assert run.phase == "SUCCEEDED", ours.log_tail()
    assert run.outputs().o0 == [1, 3]


def test_the_task_context_in_remote_mode(wf: ModuleType, ours: ServerProcess) -> None:
    run = flyte.run(wf.context_fields)
    run.wait()
    assert run.phase == "SUCCEEDED", ours.log_tail()
    fields = run.outputs().o0
    assert fields["in_cluster"] == "True"
    assert fields["bundle"].endswith(".tar.gz") and fields["bundle_here"] == "True"
    assert fields["input_path"].endswith("inputs.pb")
    assert fields["checkpoint"].endswith("_flytecheckpoints")


def _pypi_run(server: ServerProcess, python: str, project: Path, home: Path, task: str, **inputs: object) -> dict:
    request = {"endpoint": server.endpoint, "project": PROJECT, "domain": DOMAIN, "task": task, "inputs": inputs}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("PYTEST_")}
    env["HOME"] = str(home)
    done = subprocess.run(
        [python, "pypi_driver.py", json.dumps(request)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    # PyPI flyte's HTTP client may abort while the process exits, after the result was printed.
    assert done.returncode in (0, -signal.SIGABRT) and lines, f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    result: dict = json.loads(lines[-1].removeprefix("RESULT "))
    return result


@pytest.fixture
def pypi_project(tmp_path: Path) -> Path:
    project = tmp_path / "pypi-project"
    shutil.copytree(PROGRAMS, project, ignore=shutil.ignore_patterns("__pycache__"))
    return project


@pytest.mark.parametrize("runtime", ["ours", "pypi"])
def test_the_pypi_client_gets_the_same_outcomes(
    runtime: str,
    request: pytest.FixtureRequest,
    reference_python: str,
    pypi_project: Path,
    tmp_path: Path,
) -> None:
    server: ServerProcess = request.getfixturevalue("ours" if runtime == "ours" else "server")
    marker = tmp_path / "first-attempt"
    durable = _pypi_run(
        server,
        reference_python,
        pypi_project,
        tmp_path / "h1",
        "durable_across_retries",
        sleep_s=3.0,
        marker=str(marker),
    )
    assert durable["phase"] == "ActionPhase.SUCCEEDED", (durable, server.log_tail())
    recorded, slept, now_ts, attempt = durable["values"][0]
    first_time, first_now = (float(value) for value in marker.read_text().split())
    assert attempt == 1.0 and slept < 2.0
    assert (recorded, now_ts) == (first_time, first_now)

    resumed = _pypi_run(server, reference_python, pypi_project, tmp_path / "h2", "resumes_from_checkpoint", steps=6)
    assert resumed["phase"] == "ActionPhase.SUCCEEDED" and resumed["values"] == [[1, 3]], resumed


def test_our_client_on_the_pypi_runtime(server: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    shutil.copytree(PROGRAMS, project, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(project)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    flyte.init(endpoint=server.endpoint, insecure=True, project=PROJECT, domain=DOMAIN)
    module = load_module(project / "surface_wf.py")
    marker = tmp_path / "first-attempt"
    run = flyte.run(module.durable_across_retries, sleep_s=3.0, marker=str(marker))
    run.wait()
    assert run.phase == "SUCCEEDED", server.log_tail()
    recorded, slept, now_ts, attempt = run.outputs().o0
    assert attempt == 1.0 and slept < 2.0
    assert (recorded, now_ts) == tuple(float(value) for value in marker.read_text().split())
    resumed = flyte.run(module.resumes_from_checkpoint, steps=6)
    resumed.wait()
    assert resumed.phase == "SUCCEEDED" and resumed.outputs().o0 == [1, 3]


def test_run_python_script_on_the_control_plane(wf: ModuleType, ours: ServerProcess, tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text("import sys\nprint('answer', int(sys.argv[1]) * 2)\n")
    run = flyte.run_python_script(script, cpu=1, memory="1Gi", extra_args=["21"], wait=True)
    assert run.phase == "SUCCEEDED", run.details().action.error
    assert any("answer 42" in line for line in run.get_logs())
    failing = tmp_path / "fails.py"
    failing.write_text("raise SystemExit(4)\n")
    failed = flyte.run_python_script(failing, cpu=1, memory="1Gi", wait=True)
    assert failed.phase == "FAILED"
    assert "status 4" in (failed.details().action.error.message or "")

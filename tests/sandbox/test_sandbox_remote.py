"""flyte.sandbox on ``flyte start server``: a generated orchestrator runs on a worker (our runtime),
its task calls are child actions of the run, and a sandbox violation fails the action cleanly."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import flyte
from e2e.helpers import ServerProcess, load_program_against


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(data_dir=tmp_path_factory.mktemp("sandbox-server"), worker_python=sys.executable, workers=4)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def program(ours: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(Path(__file__).with_name("sandbox_tasks.py"), project / "sandbox_tasks_remote.py")
    return load_program_against(ours, project, "sandbox_tasks_remote.py", tmp_path / "home", monkeypatch)


def test_a_generated_orchestrator_runs_remotely_and_records_its_task_calls(program: ModuleType) -> None:
    run = flyte.run(program.generated, n=3)
    run.wait()
    assert run.phase == "SUCCEEDED", run.action.error
    assert run.outputs()[0] == {"total": 0 + 1 + 4, "count": 3, "refused": True}
    children = [action for action in run.actions() if action.name != "a0"]
    assert sorted(action.task_name for action in children) == [
        "sandbox_tests.add",
        "sandbox_tests.refuse",
        "sandbox_tests.square",
        "sandbox_tests.square",
        "sandbox_tests.square",
    ]
    refused = next(action for action in children if action.task_name == "sandbox_tests.refuse")
    assert refused.phase.name == "FAILED"


def test_a_runaway_orchestrator_fails_with_the_limit_it_hit(program: ModuleType) -> None:
    run = flyte.run(program.runaway)
    run.wait()
    assert run.phase == "FAILED"
    assert (
        run.action.error.message
        == "sandboxed code failed: TimeoutError: feed time limit exceeded: "
        + (run.action.error.message.rsplit(": ", 1)[1])
    )
    assert run.action.error.kind == "user"


pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the sandbox runs on POSIX")

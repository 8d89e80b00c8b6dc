"""Issue-10 names in remote mode, on our runtime: flyte.durable is replay-safe across retries,
checkpoints resume from the previous attempt, and the task context says where it runs."""

from __future__ import annotations

import shutil
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
    assert fields["bundle"].endswith(".tar.gz")
    assert fields["input_path"].endswith("inputs.pb")
    assert fields["checkpoint"].endswith("_flytecheckpoints")

"""The same user programs give the same results three ways (``remote_programs/compat_wf.py``):

* ``local``: our SDK in local mode, in this process;
* ``ours``: our SDK as the client, against a server whose workers run our ``a0``;
* ``pypi``: PyPI ``flyte==2.12.1`` as the client (its own venv, a fresh HOME), against the
  session server whose workers run the PyPI ``a0``.

Nested actions, traces, retries, files, a dataclass, caught and uncaught failures.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import flyte
from flyte.cli._loader import load_module

from .helpers import DOMAIN, PROJECT, ServerProcess

PROGRAMS = Path(__file__).parent / "remote_programs"

CASES: list[tuple[str, dict[str, Any]]] = [
    ("fan_out", {"n": 6}),
    ("nested", {"n": 4}),
    ("traced", {"x": 2}),
    ("flaky", {"marker": "<marker>"}),
    ("catches", {"a": 7}),
    ("fails", {"x": 3}),
    ("files", {"text": "hello files"}),
]


@pytest.fixture(scope="module")
def ours(e2e_root: Path) -> Iterator[ServerProcess]:
    """A server whose workers run our ``a0`` (this interpreter)."""
    process = ServerProcess(data_dir=e2e_root / "compat-ours", worker_python=sys.executable, workers=4)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The programs copied outside any git checkout, as a user's project folder."""
    target = tmp_path_factory.mktemp("compat") / "project"
    shutil.copytree(PROGRAMS, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _inputs(inputs: dict[str, Any], marker_dir: Path, leg: str, task: str) -> dict[str, Any]:
    return {k: (str(marker_dir / f"{leg}-{task}.count") if v == "<marker>" else v) for k, v in inputs.items()}


def _run_ours(module: Any, task: str, inputs: dict[str, Any], mode: str) -> dict[str, Any]:
    try:
        run = flyte.with_runcontext(mode=mode).run(getattr(module, task), **inputs)  # type: ignore[arg-type]
        run.wait(quiet=True)
        run.raise_for_status()
        return {"phase": run.phase, "outputs": [_plain(value) for value in run.outputs()]}
    except flyte.errors.BaseRuntimeError as error:
        return {"phase": "FAILED", "error_code": error.code}


def _run_pypi(
    reference_python: str, server: ServerProcess, project: Path, home: Path, task: str, inputs: dict[str, Any]
) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH" and not key.startswith("PYTEST_")}
    env["HOME"] = str(home)
    command = {"endpoint": server.endpoint, "project": PROJECT, "domain": DOMAIN, "task": task, "inputs": inputs}
    result = subprocess.run(
        [reference_python, "pypi_driver.py", json.dumps(command)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    # -6: pyqwest 0.12 (under the PyPI SDK too) can abort at interpreter exit after all work is done.
    assert result.returncode in (0, -6) and lines, (
        f"PyPI driver failed for {task}:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    )
    parsed: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return parsed


def test_same_results_local_ours_and_pypi(
    ours: ServerProcess,
    server: ServerProcess,
    reference_python: str,
    project_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(project_dir)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    module = load_module(project_dir / "compat_wf.py")
    markers = tmp_path / "markers"
    markers.mkdir()

    results: dict[str, dict[str, dict[str, Any]]] = {"local": {}, "ours": {}, "pypi": {}}
    flyte.init()
    for task, inputs in CASES:
        results["local"][task] = _run_ours(module, task, _inputs(inputs, markers, "local", task), "local")
    flyte.init(endpoint=ours.endpoint, insecure=True, project=PROJECT, domain=DOMAIN)
    for task, inputs in CASES:
        results["ours"][task] = _run_ours(module, task, _inputs(inputs, markers, "ours", task), "remote")
    for task, inputs in CASES:
        home = tmp_path / f"pypi-home-{task}"
        home.mkdir()
        results["pypi"][task] = _run_pypi(
            reference_python, server, project_dir, home, task, _inputs(inputs, markers, "pypi", task)
        )

    expected = {
        "fan_out": {"phase": "SUCCEEDED", "outputs": [[0, 1, 4, 9, 16, 25]]},
        "nested": {"phase": "SUCCEEDED", "outputs": [{"count": 4, "total": 14, "label": "n=4"}]},
        "traced": {"phase": "SUCCEEDED", "outputs": [3 + 21]},
        "flaky": {"phase": "SUCCEEDED", "outputs": [3]},
        "catches": {"phase": "SUCCEEDED", "outputs": ["caught ZeroDivisionError"]},
        "fails": {"phase": "FAILED", "error_code": "ValueError"},
        "files": {"phase": "SUCCEEDED", "outputs": ["HELLO FILES"]},
    }
    for leg, by_task in results.items():
        assert by_task == expected, f"{leg} differs: {json.dumps(by_task, indent=1)}\n{ours.log_tail(30)}"


def test_an_interactive_pickled_task_runs_on_our_runtime(
    ours: ServerProcess, project_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Notebook-style runs ship the task as a pickle (``--pkl``); nested calls go along."""
    monkeypatch.chdir(project_dir)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    module = load_module(project_dir / "compat_wf.py")
    flyte.init(endpoint=ours.endpoint, insecure=True, project=PROJECT, domain=DOMAIN)
    run = flyte.with_runcontext(interactive_mode=True).run(module.fan_out, n=4)
    assert run.outputs().o0 == [0, 1, 4, 9]
    children = [action for action in run.actions() if action.parent == "a0"]
    assert len(children) == 4 and {action.phase.name for action in children} == {"SUCCEEDED"}
    uploads = list((ours.data_dir / "blobs" / "uploads").rglob("*.pkl.gz"))
    assert uploads, "the task went as a pickle, not as a code bundle"

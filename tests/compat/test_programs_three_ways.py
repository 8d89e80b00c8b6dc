"""Programs in the style of Flyte 2's user guide give the same outcome three ways.

Each program in ``programs/`` runs

* ``local``: with our SDK in local mode, in this process;
* ``ours``: with our SDK as the client against ``flyte start server`` whose workers run our ``a0``;
* ``pypi``: with PyPI ``flyte`` 2.12.1 as the client (the reference venv: three driver subprocesses
  share the programs, started with the module so they overlap the other runs) against a server
  whose workers run PyPI's ``a0``;

and each program and way is one test, asserting the program's ``EXPECTED`` outcome (outputs as
JSON, so ``10.0`` is not ``10``; or the kind of error; ``EXPECTED_<WAY>`` where a way differs on
purpose). One server of each kind serves the module; the whole module takes about 100 s.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from program_runner import comparable, run_program

import flyte
from e2e.helpers import DOMAIN, PROJECT, ServerProcess
from flyte.cli._loader import load_module

PROGRAMS_DIR = Path(__file__).parent / "programs"
PYPI_DRIVER = Path(__file__).parent / "pypi_programs.py"
PROGRAMS = sorted(path.stem for path in PROGRAMS_DIR.glob("*.py"))
MODES = ("local", "ours", "pypi")

# Programs (or ways) that need work not landed yet: (program, mode) -> reason. Strict xfails, so
# each one is removed as soon as it passes.
PENDING: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The programs copied outside any git checkout, as a user's project folder."""
    target = tmp_path_factory.mktemp("compat-programs") / "project"
    shutil.copytree(PROGRAMS_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture(scope="module")
def pypi_server(reference_python: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose workers run PyPI's ``a0``."""
    process = ServerProcess(data_dir=tmp_path_factory.mktemp("pypi-server") / "data", worker_python=reference_python)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def ours_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose workers run our ``a0`` (this interpreter)."""
    process = ServerProcess(data_dir=tmp_path_factory.mktemp("ours-server") / "data", worker_python=sys.executable)
    process.start()
    yield process
    process.stop()


PYPI_DRIVERS = 3
"""PyPI driver processes running programs side by side (each mostly waits on the server)."""


class PypiResults:
    """The PyPI driver subprocesses, running every program; each test waits for its line."""

    def __init__(self, processes: list[subprocess.Popen[str]], logs: list[Path]) -> None:
        self._processes = processes
        self._logs = logs
        self._results: dict[str, dict[str, Any]] | None = None

    def _output(self) -> str:
        return "\n".join(log.read_text(errors="replace") for log in self._logs)

    def get(self, name: str) -> dict[str, Any]:
        if self._results is None:
            for process in self._processes:
                try:
                    process.wait(timeout=600)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            self._results = {}
            for line in self._output().splitlines():
                if line.startswith("RESULT "):
                    _, program, payload = line.split(" ", 2)
                    self._results[program] = json.loads(payload)
        if name not in self._results:
            raise AssertionError(f"the PyPI driver gave no result for {name}:\n{self._output()[-4000:]}")
        return self._results[name]

    def stop(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def pypi_results(
    reference_python: str, pypi_server: ServerProcess, project_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PypiResults]:
    processes, logs = [], []
    for index in range(PYPI_DRIVERS):
        home = tmp_path_factory.mktemp(f"pypi-home-{index}")
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH" and not key.startswith("PYTEST_")}
        env["HOME"] = str(home)
        logs.append(home.parent / f"pypi-programs-{index}.log")
        programs = PROGRAMS[index::PYPI_DRIVERS]
        with logs[-1].open("w") as sink:
            processes.append(
                subprocess.Popen(
                    [reference_python, str(PYPI_DRIVER), pypi_server.endpoint, PROJECT, DOMAIN, *programs],
                    cwd=project_dir,
                    env=env,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
    results = PypiResults(processes, logs)
    yield results
    results.stop()


def _expected(path: Path, mode: str) -> dict[str, Any]:
    """The program's ``EXPECTED_<WAY>`` or else ``EXPECTED``, read without importing it (the PyPI
    way must not depend on our SDK importing the program)."""
    constants: dict[str, dict[str, Any]] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign):
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id.startswith("EXPECTED"):
            constants[target.id] = ast.literal_eval(value)
    return constants.get(f"EXPECTED_{mode.upper()}", constants["EXPECTED"])


def _cases() -> list[Any]:
    cases = []
    for mode in MODES:
        for program in PROGRAMS:
            marks = []
            reason = PENDING.get((program, mode))
            if reason is not None:
                marks.append(pytest.mark.xfail(strict=True, reason=reason))
            cases.append(pytest.param(program, mode, marks=marks, id=f"{program}-{mode}"))
    return cases


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("program", "mode"), _cases())
def test_program(
    program: str,
    mode: str,
    request: pytest.FixtureRequest,
    project_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if mode == "pypi":
        outcome = request.getfixturevalue("pypi_results").get(program)
    else:
        # The runs of our SDK start as soon as the module does, while the PyPI driver works.
        request.getfixturevalue("pypi_results")
        monkeypatch.chdir(project_dir)
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        module = load_module(project_dir / f"{program}.py")
        if mode == "ours":
            server: ServerProcess = request.getfixturevalue("ours_server")
            flyte.init(endpoint=server.endpoint, insecure=True, project=PROJECT, domain=DOMAIN)
            outcome = run_program(flyte, module, mode="remote")
        else:
            flyte.init()
            outcome = run_program(flyte, module, mode="local")
    expected = _expected(project_dir / f"{program}.py", mode)
    assert comparable(outcome) == comparable(expected), f"{program} ({mode}): {outcome}"

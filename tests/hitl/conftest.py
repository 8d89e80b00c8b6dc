"""HITL fixtures: servers running our runtime and PyPI flyte's, and drivers for both SDKs.

* ``ours_server``: ``flyte start server`` whose workers run our runtime (this venv's Python).
* ``ref_server``: the same with the reference venv (PyPI ``flyte==2.12.1``) as worker Python.
* ``drive(python, server, command)``: runs ``programs/driver.py`` with that Python (ours or the
  reference) against ``server``; each call a fresh process and HOME.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.helpers import DOMAIN, PROJECT, ServerProcess

PROGRAMS = Path(__file__).parent / "programs"
WEBHOOK_SECRET = "hitl-test-secret"

Drive = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def hitl_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hitl")


def _server(root: Path, name: str, python: str) -> ServerProcess:
    return ServerProcess(
        data_dir=root / name, worker_python=python, extra_env={"FLYTE_SERVER_WEBHOOK_SECRET": WEBHOOK_SECRET}
    )


@pytest.fixture(scope="session")
def ours_server(hitl_root: Path) -> Iterator[ServerProcess]:
    process = _server(hitl_root, "ours", sys.executable)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def ref_server(reference_python: str, hitl_root: Path) -> Iterator[ServerProcess]:
    process = _server(hitl_root, "ref", reference_python)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def drive(hitl_root: Path) -> Drive:
    project = hitl_root / "project"
    shutil.copytree(PROGRAMS, project, ignore=shutil.ignore_patterns("__pycache__"))
    calls = [0]

    def call(python: str, server: ServerProcess, command: dict[str, Any], *, timeout: float = 120) -> dict[str, Any]:
        calls[0] += 1
        home = hitl_root / f"home-{calls[0]}"
        home.mkdir()
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH" and not key.startswith("PYTEST_")}
        env["HOME"] = str(home)
        request = {"endpoint": server.endpoint, "project": PROJECT, "domain": DOMAIN, **command}
        result = subprocess.run(
            [python, "driver.py", json.dumps(request)],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
        if not lines:
            raise AssertionError(
                f"driver failed ({result.returncode}) for {command}:\n{result.stdout[-3000:]}\n{result.stderr[-4000:]}"
            )
        parsed: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
        return parsed

    return call

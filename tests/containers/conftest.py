"""One ``flyte start server --executor podman`` for the container tests (the Debian test image as default image)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.helpers import ServerProcess

PROGRAMS = Path(__file__).parent / "programs"


def containers_of(server: ServerProcess, **labels: str) -> list[dict[str, Any]]:
    """This server's containers (running or not) that carry ``flyte.<name>=<value>`` for every label."""
    from flyte_server.executors.container import server_label

    filters = [f"label=flyte.server={server_label(server.data_dir)}"]
    filters += [f"label=flyte.{name}={value}" for name, value in labels.items()]
    out = subprocess.run(
        ["podman", "ps", "-a", "--format", "json", *[arg for f in filters for arg in ("--filter", f)]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out or "[]") or []


def remove_containers(server: ServerProcess) -> None:
    for entry in containers_of(server):
        subprocess.run(["podman", "rm", "-f", "-i", entry["Id"]], capture_output=True, check=False)


@pytest.fixture(scope="session")
def podman_server(debian_base: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The session's server: ``--executor podman --container-image <debian test image>``, our venv as runtime."""
    root = tmp_path_factory.mktemp("containers")
    server = ServerProcess(
        data_dir=root / "server",
        worker_python=sys.executable,
        workers=8,
        extra_args=["--executor", "podman", "--container-image", debian_base],
        extra_env={"CONTAINERS_CONF": os.environ["CONTAINERS_CONF"]},
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
        remove_containers(server)


@pytest.fixture(scope="session")
def programs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ``programs/`` outside the git checkout (the SDKs bundle just these files)."""
    target = tmp_path_factory.mktemp("container-programs") / "project"
    shutil.copytree(PROGRAMS, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def drive(python: str, server: ServerProcess, programs: Path, home: Path, **request: Any) -> dict[str, Any]:
    """Run ``programs/driver.py`` with ``python`` (either SDK) against ``server``; its RESULT."""
    home.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH" and not key.startswith("PYTEST_")}
    env["HOME"] = str(home)
    result = subprocess.run(
        [python, "driver.py", json.dumps({"endpoint": server.endpoint, **request})],
        cwd=programs,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise AssertionError(f"driver failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    parsed: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return parsed

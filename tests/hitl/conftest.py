"""HITL fixtures: servers running our runtime and PyPI flyte's, and drivers for both SDKs.

* ``ours_server``: ``flyte start server`` whose workers run our runtime (this venv's Python).
* ``ref_server``: the same with the reference venv (PyPI ``flyte==2.12.1``) as worker Python.
  Both send email to ``mailbox`` (aiosmtpd on loopback).
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


class Mailbox:
    """An SMTP server on loopback (aiosmtpd) that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append({"to": list(envelope.rcpt_tos), "body": envelope.content.decode(errors="replace")})
        return "250 OK"


@pytest.fixture(scope="session")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    from aiosmtpd.controller import Controller

    from e2e.helpers import free_port

    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def connect(server: ServerProcess) -> None:
    """Point our SDK (in this process) at ``server``."""
    import flyte

    flyte.init(endpoint=server.endpoint, insecure=True, project=PROJECT, domain=DOMAIN)


def condition_of(server: ServerProcess, run: str, timeout: float = 90) -> Any:
    """The run's only condition, once it is registered (our SDK's flyte.remote.Condition)."""
    import time

    import flyte.remote

    connect(server)
    deadline = time.monotonic() + timeout
    while True:
        found = flyte.remote.Condition.listall(run_name=run)
        if found or time.monotonic() > deadline:
            assert len(found) == 1, f"run {run} has conditions {found}"
            return found[0]
        time.sleep(0.3)


def outputs_of(server: ServerProcess, run: str) -> list[Any]:
    """Wait for ``run`` and return its outputs (or ``["<Error>: ..."]`` when it has none)."""
    import flyte.remote

    connect(server)
    remote = flyte.remote.Run.get(run)
    remote.wait(quiet=True)
    try:
        return list(remote.outputs())
    except Exception as error:
        return [f"{type(error).__name__}: {error}"]


@pytest.fixture(scope="session")
def hitl_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hitl")


def _server(root: Path, name: str, python: str, smtp_port: int) -> ServerProcess:
    env = {
        "FLYTE_SERVER_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "FLYTE_SERVER_SMTP_HOST": "127.0.0.1",
        "FLYTE_SERVER_SMTP_PORT": str(smtp_port),
    }
    return ServerProcess(data_dir=root / name, worker_python=python, extra_env=env)


@pytest.fixture(scope="session")
def ours_server(hitl_root: Path, mailbox: tuple[Mailbox, int]) -> Iterator[ServerProcess]:
    process = _server(hitl_root, "ours", sys.executable, mailbox[1])
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def ref_server(reference_python: str, hitl_root: Path, mailbox: tuple[Mailbox, int]) -> Iterator[ServerProcess]:
    process = _server(hitl_root, "ref", reference_python, mailbox[1])
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

"""Helpers of the end-to-end tests: the server subprocess, the reference client, Connect clients."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flyteidl2.common import identifier_pb2, phase_pb2
from flyteidl2.dataproxy import dataproxy_service_pb2
from flyteidl2.dataproxy.dataproxy_service_connect import DataProxyServiceClient
from flyteidl2.task import common_pb2, task_definition_pb2
from flyteidl2.task.task_service_connect import TaskServiceClient
from flyteidl2.workflow import run_service_pb2
from flyteidl2.workflow.queue_service_connect import QueueServiceClient
from flyteidl2.workflow.run_service_connect import RunServiceClient
from flyteidl2.workflow.state_service_connect import StateServiceClient

WORKFLOWS = Path(__file__).parent / "workflows"
PROJECT = "flytesnacks"
DOMAIN = "development"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def file_tail(path: Path, lines: int = 60) -> str:
    """The last ``lines`` lines of a server's log ("" when there is none yet)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class ServerProcess:
    """``flyte start server`` in a subprocess; start, stop, kill -9 and start again on the same data."""

    data_dir: Path
    worker_python: str
    port: int = field(default_factory=free_port)
    workers: int = 8
    extra_env: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)
    """More ``flyte start server`` options (``--storage s3://...``, ``--executor ray``)."""
    command_prefix: list[str] = field(default_factory=list)
    """What the server's command line runs under (``ip netns exec NAME``)."""
    worker_user: str | None = field(default_factory=lambda: os.environ.get("FLYTE_E2E_WORKER_USER", "root") or None)
    """``--worker-user``: tasks run as the test's user (they write markers into its directories); ``None``: the
    server's default (an unprivileged ``flyte-worker`` when the tests run as root). ``FLYTE_E2E_WORKER_USER=``
    (empty) runs every e2e server with the default."""
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def endpoint(self) -> str:
        """What a client passes to ``flyte.init(endpoint=...)``."""
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}-server.log"

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        home = self.data_dir.parent / f"{self.data_dir.name}-home"
        home.mkdir(exist_ok=True)
        env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
        env.update({"HOME": str(home), **self.extra_env})
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                *self.command_prefix,
                sys.executable,
                "-m",
                "flyte",
                "start",
                "server",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--worker-python",
                self.worker_python,
                "--workers",
                str(self.workers),
                "--log-level",
                "info",
                *(["--worker-user", self.worker_user] if self.worker_user is not None else []),
                *self.extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        log.close()
        self.starts += 1
        if self.command_prefix:
            self._wait_healthy_inside(timeout)
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server did not get ready in {timeout}s:\n{self.log_tail()}")

    def _wait_healthy_inside(self, timeout: float) -> None:
        """Poll /healthz from under the command prefix (a network namespace the test process is not in)."""
        probe = (
            "import sys, time, urllib.request\n"
            f"deadline = time.monotonic() + {timeout}\n"
            "while time.monotonic() < deadline:\n"
            "    try:\n"
            f"        urllib.request.urlopen('{self.base_url}/healthz', timeout=1); sys.exit(0)\n"
            "    except Exception:\n"
            "        time.sleep(0.2)\n"
            "sys.exit(1)\n"
        )
        result = subprocess.run([*self.command_prefix, sys.executable, "-c", probe], timeout=timeout + 30)
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log_tail()}")
        if result.returncode != 0:
            raise RuntimeError(f"the server did not get ready in {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        return file_tail(self.log_path, lines)

    def kill9(self) -> None:
        """Kill the server process (only it: its workers live on) without any chance to clean up."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        """SIGTERM and wait (the server stops its workers)."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def worker_pids(self, run: str | None = None, *, under: str = "work") -> list[int]:
        """Live worker processes whose working directory is under this server's data (``work`` for
        one process per attempt, ``executor`` for the warm and reused workers)."""
        root = (self.data_dir / under).resolve()
        if run is not None:
            root = root / PROJECT / DOMAIN / run
        prefix = str(root) + os.sep
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                cwd = os.readlink(f"/proc/{entry}/cwd")
                state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[-1].split()[0]
            except OSError:
                continue
            if cwd.startswith(prefix) and state not in ("Z", "X"):
                found.append(int(entry))
        return found


@dataclass
class ReferenceClient:
    """Runs ``workflows/driver.py`` with the PyPI SDK against a server, each call a fresh process and HOME."""

    python: str
    root: Path
    calls: int = 0

    def project_dir(self) -> Path:
        # A copy outside any git checkout, so the SDK bundles just these files.
        target = self.root / "project"
        if not target.exists():
            shutil.copytree(WORKFLOWS, target, ignore=shutil.ignore_patterns("__pycache__"))
        return target

    def __call__(self, server: ServerProcess, command: dict[str, Any], *, timeout: float = 120) -> dict[str, Any]:
        self.calls += 1
        home = self.root / f"home-{self.calls}"
        home.mkdir(parents=True)
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH" and not key.startswith("PYTEST_")}
        env["HOME"] = str(home)
        request = {"endpoint": server.endpoint, "project": PROJECT, "domain": DOMAIN, **command}
        result = subprocess.run(
            [self.python, "driver.py", json.dumps(request)],
            cwd=self.project_dir(),
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
        # PyPI flyte's HTTP client (pyqwest) sometimes aborts the process while it exits, after the
        # driver printed its result: SIGABRT then is not a failure of what the test checks.
        if result.returncode not in (0, -signal.SIGABRT) or not lines:
            raise AssertionError(
                f"driver failed ({result.returncode}) for {command}:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
            )
        parsed: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
        return parsed


@dataclass
class Rpc:
    """Connect clients of the engine's services on one server."""

    base_url: str
    runs: RunServiceClient
    tasks: TaskServiceClient
    data: DataProxyServiceClient
    queue: QueueServiceClient
    state: StateServiceClient

    async def close(self) -> None:
        for client in (self.runs, self.tasks, self.data, self.queue, self.state):
            await client.close()


def make_rpc(base_url: str) -> Rpc:
    return Rpc(
        base_url=base_url,
        runs=RunServiceClient(base_url),
        tasks=TaskServiceClient(base_url),
        data=DataProxyServiceClient(base_url),
        queue=QueueServiceClient(base_url),
        state=StateServiceClient(base_url),
    )


TERMINAL = {
    phase_pb2.ACTION_PHASE_SUCCEEDED,
    phase_pb2.ACTION_PHASE_FAILED,
    phase_pb2.ACTION_PHASE_ABORTED,
    phase_pb2.ACTION_PHASE_TIMED_OUT,
}


def int_inputs(**values: int) -> common_pb2.Inputs:
    from flyteidl2.core import literals_pb2

    return common_pb2.Inputs(
        literals=[
            common_pb2.NamedLiteral(
                name=name,
                value=literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value))),
            )
            for name, value in values.items()
        ]
    )


async def watch_until_done(rpc: Rpc, action_id: identifier_pb2.ActionIdentifier, timeout: float = 60) -> list[int]:
    """Follow WatchActionDetails until the stream ends; the phases seen, in order."""
    phases: list[int] = []

    async def follow() -> None:
        request = run_service_pb2.WatchActionDetailsRequest(action_id=action_id)
        async for response in rpc.runs.watch_action_details(request):
            phase = response.details.status.phase
            if not phases or phases[-1] != phase:
                phases.append(phase)

    await asyncio.wait_for(follow(), timeout=timeout)
    return phases


async def run_deployed_and_wait(
    rpc: Rpc, task_id: task_definition_pb2.TaskIdentifier, **inputs: int
) -> common_pb2.Outputs:
    """UploadInputs + CreateRun(task_id) + watch to the end + GetActionData: the outputs."""
    project = identifier_pb2.ProjectIdentifier(name=task_id.project, domain=task_id.domain)
    uploaded = await rpc.data.upload_inputs(
        dataproxy_service_pb2.UploadInputsRequest(project_id=project, task_id=task_id, inputs=int_inputs(**inputs))
    )
    created = await rpc.runs.create_run(
        run_service_pb2.CreateRunRequest(
            project_id=project, task_id=task_id, offloaded_input_data=uploaded.offloaded_input_data
        )
    )
    phases = await watch_until_done(rpc, created.run.action.id)
    assert phases[-1] == phase_pb2.ACTION_PHASE_SUCCEEDED, phases
    data = await rpc.data.get_action_data(dataproxy_service_pb2.GetActionDataRequest(action_id=created.run.action.id))
    return data.outputs


def load_program_against(
    server: ServerProcess, project_dir: Path, file_name: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> ModuleType:
    """A module of ``remote_programs/``, with ``flyte.init`` pointing at ``server`` (a fresh HOME: no bundle cache)."""
    import flyte
    from flyte.cli._loader import load_module

    monkeypatch.chdir(project_dir)
    monkeypatch.setenv("HOME", str(home))
    flyte.init(endpoint=server.endpoint, insecure=True, project=PROJECT, domain=DOMAIN)
    return load_module(project_dir / file_name)


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_in_pty(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run ``argv`` on a pseudo-terminal (stdin, stdout, stderr); its exit code and its screen without ANSI codes."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the terminal closed: the process ended
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(leader)
    return proc.returncode, ANSI.sub("", b"".join(chunks).decode(errors="replace"))

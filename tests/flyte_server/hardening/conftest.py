"""A control plane in a subprocess of its own, so a test can measure its memory (VmHWM) and connections."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("serve_with_limits.py")


@dataclass
class ServerSubprocess:
    """``serve_with_limits.py`` running; :meth:`peak_rss_mb` reads its high-water resident memory."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def status_field(self, name: str) -> int:
        """A ``kB`` field of ``/proc/<pid>/status`` (``VmHWM``, ``VmRSS``)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{name}:"):
                return int(line.split()[1])
        raise AssertionError(f"no {name} in /proc/{self.process.pid}/status")

    def peak_rss_mb(self) -> float:
        return self.status_field("VmHWM") / 1024

    def open_connections(self) -> int:
        """Established TCP connections of the server process (sockets besides the listener)."""
        sockets = 0
        for fd in Path(f"/proc/{self.process.pid}/fd").iterdir():
            try:
                if os.readlink(fd).startswith("socket:"):
                    sockets += 1
            except OSError:
                continue
        return sockets

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server_subprocess(data_dir: Path, *args: str, timeout: float = 90.0) -> ServerSubprocess:
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"{data_dir.name}-server.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env["HOME"] = str(data_dir.parent)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(SCRIPT), str(data_dir), *args],
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            start_new_session=True,
        )
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    line = b""
    while time.monotonic() < deadline and not line.endswith(b"\n"):
        if not selector.select(timeout=0.5):
            if process.poll() is not None:
                break
            continue
        byte = os.read(process.stdout.fileno(), 1)
        if not byte:
            break
        line += byte
    selector.close()
    if not line.startswith(b"port="):
        process.kill()
        process.wait()
        process.stdout.close()
        raise AssertionError(f"the server did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
    return ServerSubprocess(process=process, port=int(line.split(b"=")[1]), log_path=log_path)


@pytest.fixture
def server_subprocess(tmp_path: Path) -> Iterator[Callable[..., ServerSubprocess]]:
    """Start ``serve_with_limits.py`` with the given arguments; stopped after the test."""
    started: list[ServerSubprocess] = []

    def launch(*args: str, name: str = "server") -> ServerSubprocess:
        server = start_server_subprocess(tmp_path / name, *args)
        started.append(server)
        return server

    yield launch
    for server in started:
        server.stop()

"""``flyte start server`` as a user runs it: a subprocess that prints where it is, serves, and stops cleanly."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

READY = re.compile(r"Flyte server ready at (http://\S+)")


def _flyte_command() -> list[str]:
    script = Path(sys.executable).with_name("flyte")
    return [str(script)] if script.is_file() else [sys.executable, "-c", "from flyte.cli.main import main; main()"]


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "FLYTE_"))}
    env.update(HOME=str(home), PYTHONUNBUFFERED="1")
    return env


class ServerProcess:
    """A ``flyte start server`` subprocess whose output is collected in the background."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [*_flyte_command(), "start", "server", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._ready = threading.Event()
        self.url = ""
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: object, lines: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.append(line)
            match = READY.search(line)
            if match:
                self.url = match.group(1)
                self._ready.set()

    def wait_ready(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server not ready; stderr:\n{''.join(self.stderr)}")
        return self.url

    def finish(self, timeout: float = 30) -> int:
        code = self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return code


@pytest.fixture
def start_cli(cli_env: dict[str, str]) -> Iterator[object]:
    started: list[ServerProcess] = []

    def start(*args: str) -> ServerProcess:
        server = ServerProcess(list(args), cli_env)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
        for stream in (server.process.stdout, server.process.stderr):
            if stream is not None:
                stream.close()


def test_server_prints_how_to_connect_serves_and_stops_on_sigterm(start_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "data"
    server = start_cli("--port", "0", "--data-dir", str(data_dir), "--log-format", "json")
    url = server.wait_ready()
    port = url.rsplit(":", 1)[1]
    output = "".join(server.stdout)
    assert f"endpoint: localhost:{port}" in output
    assert f"flyte create config --endpoint localhost:{port} --insecure" in output
    assert "console:  http://" in output
    assert httpx.get(f"{url}/healthz").status_code == 200
    assert (data_dir / "flyte.db").is_file() and (data_dir / "server.key").is_file()

    stopped_at = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    assert server.finish() == 0
    assert time.monotonic() - stopped_at < 10
    records = [json.loads(line) for line in server.stderr if line.strip()]
    assert {"ts", "level", "logger", "msg"} <= set(records[0])
    assert any(record["msg"] == "stop requested" and record["signal"] == "SIGTERM" for record in records)


def test_sigint_stops_the_server_too(start_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = start_cli("--port", "0", "--data-dir", str(tmp_path / "data"), "--log-level", "warning")
    server.wait_ready()
    server.process.send_signal(signal.SIGINT)
    assert server.finish() == 0
    assert not [line for line in server.stderr if line.strip()], "warning level hides the info logs"


def _busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--db", "postgresql://postgres@127.0.0.1:1/flyte"], "cannot use the database postgresql+asyncpg://"),
        (["--storage", "gs://bucket/prefix"], "unsupported storage 'gs://bucket/prefix'"),
        (["--db", "mysql://127.0.0.1/flyte"], "unsupported database URL"),
    ],
)
def test_bad_options_fail_with_one_line(start_cli, tmp_path: Path, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    server = start_cli("--port", "0", "--data-dir", str(tmp_path / "data"), *args)
    assert server.finish() != 0
    errors = [line for line in server.stderr if line.strip()]
    assert len(errors) == 1, errors
    assert errors[0].startswith("Error: ") and message in errors[0]


def test_a_port_in_use_fails_with_one_line(start_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for port in _busy_port():
        server = start_cli("--port", str(port), "--data-dir", str(tmp_path / "data"))
        assert server.finish() == 1
        errors = [line for line in server.stderr if line.strip()]
        assert errors == [
            f"Error: port {port} on 127.0.0.1 is already in use; stop the other server or pick another --port\n"
        ]

"""Start and stop a ``flyte start server`` on a free loopback port for the benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    root: Path,
    python: str,
    workers: int,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    *,
    port: int | None = None,
    prefix: Sequence[str] = (),
) -> tuple[subprocess.Popen[bytes], int]:
    """Start a server with its data, home and log under ``root``; return it and its port once healthy.

    ``python`` is the interpreter whose ``a0`` runs the actions; ``env`` adds to the server's
    environment; ``args`` are more options of ``flyte start server`` (e.g. ``--auth``); ``prefix``
    what its command runs under (``ip netns exec NAME``, with ``port`` relayed here).
    """
    port = port or _free_port()
    (root / "server-home").mkdir()
    server_env = {**os.environ, **(env or {}), "HOME": str(root / "server-home")}
    log = (root / "server.log").open("wb")
    server = subprocess.Popen(
        [
            *prefix,
            sys.executable,
            "-m",
            "flyte",
            "start",
            "server",
            "--port",
            str(port),
            "--data-dir",
            str(root / "data"),
            "--worker-python",
            python,
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            *args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=server_env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                if response.status == 200:
                    return server, port
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit(f"the server did not start; see {root / 'server.log'}")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """Ask the server to shut down (SIGTERM) and wait for it."""
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)

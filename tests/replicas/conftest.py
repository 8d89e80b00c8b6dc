"""Two server replicas on one PostgreSQL database (created for the test module and dropped after).

Each replica is ``flyte start server`` in a subprocess with its own data directory and port, the
same ``--db``, ``--storage`` and ``--secret-key``, and a short replica lease
(``FLYTE_SERVER_REPLICA_TTL``) so that a killed replica's runs are adopted within seconds. Workers
are the default reused warm workers: a run's parent and its children run in one worker process.
Clients are this SDK in a subprocess (``driver.py``), one call per process.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.helpers import ServerProcess

HERE = Path(__file__).parent
POSTGRES = os.environ.get("FLYTE_TEST_POSTGRES_HOST", "127.0.0.1")
LEASE_SECONDS = 3.0


def _psql(sql: str) -> None:
    psql_in("postgres", sql)


def psql_in(database: str, sql: str) -> str:
    """Run ``sql`` in ``database`` as the superuser (fails the caller on an SQL error); its rows, unaligned."""
    return subprocess.run(
        ["psql", "-h", POSTGRES, "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-Atqc", sql],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for the module; skipped when no PostgreSQL answers."""
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed")
    name = f"flyte_replicas_{secrets.token_hex(4)}"
    try:
        _psql(f"CREATE DATABASE {name}")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        pytest.skip(f"PostgreSQL at {POSTGRES}:5432 is not usable: {error}")
    yield f"postgresql://postgres@{POSTGRES}:5432/{name}"
    _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@dataclass
class Cluster:
    a: ServerProcess
    b: ServerProcess
    root: Path

    def call(self, server: ServerProcess, command: dict[str, Any], *, timeout: float = 180) -> dict[str, Any]:
        """Run ``driver.py`` (this SDK) against ``server``; its ``RESULT``."""
        home = self.root / f"home-{secrets.token_hex(4)}"
        home.mkdir()
        env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
        env["HOME"] = str(home)
        env.pop("PYTHONPATH", None)
        result = subprocess.run(
            [sys.executable, "driver.py", json.dumps({"endpoint": server.endpoint, **command})],
            cwd=self.root / "project",
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
        if result.returncode != 0 or not lines:
            raise AssertionError(
                f"driver failed ({result.returncode}) for {command}:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
                f"\n--- replica a:\n{self.a.log_tail(30)}\n--- replica b:\n{self.b.log_tail(30)}"
            )
        parsed: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
        return parsed


@pytest.fixture(scope="module")
def cluster(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Replicas ``a`` and ``b`` on one database and one storage directory."""
    root = tmp_path_factory.mktemp("replicas")
    project = root / "project"
    project.mkdir()
    for name in ("replica_wf.py", "driver.py"):
        shutil.copy(HERE / name, project / name)
    storage = root / "blobs"
    storage.mkdir()
    key = secrets.token_hex(32)

    def replica(name: str) -> ServerProcess:
        return ServerProcess(
            data_dir=root / name,
            worker_python=sys.executable,
            workers=16,
            extra_env={
                "FLYTE_SERVER_REPLICA_TTL": str(LEASE_SECONDS),
                "FLYTE_SERVER_SCHEDULER_POLL": "1",
                "FLYTE_SERVER_SECRET_KEY": key,
            },
            extra_args=["--db", pg_url, "--storage", str(storage)],
        )

    cluster = Cluster(a=replica("a"), b=replica("b"), root=root)
    cluster.a.start()
    cluster.b.start()
    yield cluster
    cluster.a.stop()
    cluster.b.stop()

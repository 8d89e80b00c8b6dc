"""The first wave's acceptance programs with ``--storage s3://...`` against a real S3 server (moto) on loopback.

The tests of ``test_server_happy_path`` and ``test_server_failures`` run again here, unchanged, on
a server whose every bundle, input, output and report lives in the bucket (this module's
``server`` fixture replaces the session's). The rest checks what only S3 shows: nothing of the
run's data is on the server's disk, the objects are in the bucket, and a server killed with
``kill -9`` mid-run resumes from the bucket.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flyteidl2.common import phase_pb2
from flyteidl2.workflow import run_service_pb2

from .helpers import PROJECT, ReferenceClient, Rpc, ServerProcess, free_port
from .test_server_failures import (
    root_id,
    test_abort_of_a_running_fan_out_stops_every_descendant,
    test_logs_of_an_attempt_stream_back,
    test_non_recoverable_errors_are_not_retried,
    test_report_download_link,
    test_second_run_is_a_cache_hit,
    test_timeout_kills_the_attempt,
    test_user_errors_are_retried_until_success,
)
from .test_server_happy_path import (
    test_deploy_then_run_by_task_id,
    test_environment_reaches_the_task,
    test_run_nested_fan_out_and_read_it_back,
    test_two_levels_of_nesting_and_traces,
)
from .test_server_restart import _start_marked_run

pytest.importorskip("moto.server", reason="moto[server] is not installed")
boto3 = pytest.importorskip("boto3")

BUCKET = "flyte-e2e"
ACCESS_KEY, SECRET_KEY = "e2e-key", "e2e-secret"

REUSED = (
    test_run_nested_fan_out_and_read_it_back,
    test_two_levels_of_nesting_and_traces,
    test_deploy_then_run_by_task_id,
    test_environment_reaches_the_task,
    test_user_errors_are_retried_until_success,
    test_non_recoverable_errors_are_not_retried,
    test_timeout_kills_the_attempt,
    test_abort_of_a_running_fan_out_stops_every_descendant,
    test_second_run_is_a_cache_hit,
    test_logs_of_an_attempt_stream_back,
    test_report_download_link,
)
"""Collected in this module too, where ``server`` is the S3 one."""


class MotoServer:
    """moto's S3 server as a subprocess on a free loopback port (``prefix``: run it inside a namespace)."""

    def __init__(self, log_path: Path, prefix: list[str] | None = None) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.prefix = prefix or []
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*self.prefix, sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        create = [
            *self.prefix,
            sys.executable,
            "-c",
            "import boto3, sys; boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', "
            f"aws_access_key_id={ACCESS_KEY!r}, aws_secret_access_key={SECRET_KEY!r})"
            ".create_bucket(Bucket=sys.argv[2])",
            self.endpoint,
            BUCKET,
        ]
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto exited: {self.log_path.read_text(errors='replace')[-2000:]}")
            if subprocess.run(create, capture_output=True).returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"moto did not start: {self.log_path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def server_args(self, prefix: str) -> list[str]:
        """``flyte start server`` options that put its storage under ``s3://BUCKET/prefix``."""
        return [
            "--storage",
            f"s3://{BUCKET}/{prefix}",
            "--s3-endpoint",
            self.endpoint,
            "--s3-access-key-id",
            ACCESS_KEY,
            "--s3-secret-access-key",
            SECRET_KEY,
        ]

    def keys(self, prefix: str) -> list[str]:
        """Every object key under ``prefix`` (read from the test process: the bucket is on our loopback)."""
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        keys: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(
    reference_python: str, tmp_path_factory: pytest.TempPathFactory, moto: MotoServer
) -> Iterator[ServerProcess]:
    """A server of this module whose storage is the bucket (it replaces the session's server here)."""
    process = ServerProcess(
        data_dir=tmp_path_factory.mktemp("s3-e2e") / "server",
        worker_python=reference_python,
        extra_args=moto.server_args("e2e"),
    )
    process.start()
    yield process
    process.stop()


def files_under(root: Path) -> list[str]:
    return [str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()]


async def test_the_runs_data_is_in_the_bucket_not_on_disk(
    server: ServerProcess, client: ReferenceClient, moto: MotoServer
) -> None:
    result = client(server, {"op": "run", "task": "outer", "inputs": {"n": 3}})
    assert result["phase"] == "ActionPhase.SUCCEEDED" and result["values"] == [0 + 1 + 4]
    keys = moto.keys(f"e2e/{PROJECT}/")
    run_keys = [key for key in keys if f"/{result['run']}/" in key]
    # The root, fan_out and its three children each wrote their outputs to the bucket.
    assert len([key for key in run_keys if key.endswith("/outputs.pb")]) == 5, run_keys
    assert [key for key in run_keys if key.endswith("/inputs.pb")], "the children's inputs are offloaded there"
    assert [key for key in moto.keys("e2e/uploads/") if key.endswith(".tar.gz")], "the code bundle was uploaded there"
    assert not (server.data_dir / "blobs").exists(), files_under(server.data_dir)
    # Workers download what they run into their working directories; nothing is stored on the server's disk.
    stored = [name for name in files_under(server.data_dir) if not name.startswith("work/")]
    assert not [name for name in stored if name.endswith((".pb", ".tar.gz", ".html"))], stored


async def test_a_run_survives_kill_9_of_the_server_on_s3(
    reference_python: str, client: ReferenceClient, moto: MotoServer, tmp_path: Path
) -> None:
    """Crash the server mid fan-out: the next one finds the run's inputs and outputs in the bucket."""
    from .helpers import make_rpc

    process = ServerProcess(
        data_dir=tmp_path / "server", worker_python=reference_python, extra_args=moto.server_args("restart")
    )
    process.start()
    rpc: Rpc | None = None
    try:
        marker_dir = tmp_path / "marks"
        started = _start_marked_run(
            client, process, "slow_chain", marker_dir, {"n": 4, "seconds": 1.5}, (marker_dir / "1.count").exists
        )
        name = started["run"]
        process.kill9()
        process.start()
        result = client(process, {"op": "wait", "run": name})
        assert result["phase"] == "ActionPhase.SUCCEEDED" and result["values"] == [0 + 1 + 2 + 3]
        assert all((marker_dir / f"{i}.count").read_text() == "x" for i in range(4)), "no child ran twice"
        rpc = make_rpc(process.base_url)
        details = await rpc.runs.get_action_details(run_service_pb2.GetActionDetailsRequest(action_id=root_id(name)))
        assert details.details.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED
        assert [key for key in moto.keys(f"restart/{PROJECT}/") if f"/{name}/a0/" in key and key.endswith("outputs.pb")]
    finally:
        if rpc is not None:
            await rpc.close()
        process.stop()

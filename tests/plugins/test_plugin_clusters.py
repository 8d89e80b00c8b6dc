"""Plugin tasks of the PyPI plugins run for real in our local mode: Ray and Dask get the cluster
their spec asks for, Spark a session with the task's settings; aborting a task stops its cluster.

Ray runs in a network namespace with only ``lo`` (it binds loopback only there); every process the
tests start is stopped by pid.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from plugin_programs import PROGRAMS, program_env, run_program


def _alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]


@pytest.mark.ray
def test_ray_task_gets_the_cluster_of_its_spec_and_abort_stops_it(loopback_netns: str, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids.json"
    report, output = run_program(
        "ray_cluster.py", str(pid_file), prefix=["ip", "netns", "exec", loopback_netns], timeout=600
    )
    seen = report["seen"]
    assert seen["total"] == sum(i * i for i in range(20))
    # head 1 CPU + 2 workers x 2 CPUs + 1 worker with requests cpu=1: five CPUs, not this machine's.
    assert (seen["nodes"], seen["cpu"], seen["shard"]) == (4, 6.0, 2.0), output[-3000:]
    assert 600 * 1024 * 1024 in seen["node_memory"]
    assert seen["address"].startswith("127.0.0.1:")
    assert report["abort"] == "cancelled"
    assert report["recorded"] >= 4  # the nodes' `ray start` processes and what they started
    assert report["left_behind"] == []
    assert report["ray_initialized_after"] is False


@pytest.mark.dask
def test_dask_task_gets_a_scheduler_with_the_specs_workers() -> None:
    report, _ = run_program("dask_cluster.py", "cluster")
    assert report["total"] == sum(range(1, 11))
    assert report["workers"] == 3 and report["threads"] == [2, 2, 2]
    assert report["memory"] == [700 * 1024 * 1024] * 3
    assert report["scheduler"].startswith("tcp://127.0.0.1:")


@pytest.mark.dask
def test_dask_task_uses_an_existing_scheduler_when_named() -> None:
    report, _ = run_program("dask_cluster.py", "existing")
    assert report["scheduler"] == report["existing"] and report["workers"] == 1


@pytest.mark.dask
def test_interrupting_a_dask_task_leaves_no_cluster_process(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids.json"
    process = subprocess.Popen(
        [sys.executable, str(PROGRAMS / "dask_cluster.py"), "hang", str(pid_file)],
        cwd=PROGRAMS,
        env=program_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    pids: list[int] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if "WAITING" in line:
                break
        pids = json.loads(pid_file.read_text())
        assert len(_alive(pids)) == 4  # scheduler + 3 workers
        process.send_signal(signal.SIGINT)  # Ctrl-C: the run is cancelled
        assert process.wait(timeout=120) != 0
        deadline = time.monotonic() + 30
        while _alive(pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _alive(pids) == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        for pid in _alive(pids):  # only what this test's program started
            psutil.Process(pid).kill()


@pytest.mark.spark
def test_spark_task_session_has_the_specs_settings() -> None:
    report, _ = run_program("spark_session.py", timeout=600)
    assert report["counts"] == {"to": 2, "be": 2, "or": 1, "not": 1}
    assert report["master"] == "local[2]"  # 2 executor instances x 1 core
    assert (report["marker"], report["shuffle"], report["hadoop"]) == ("from-the-spec", "3", "hadoop-value")

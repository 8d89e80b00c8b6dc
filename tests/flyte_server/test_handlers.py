"""Task handlers: which types get what, a malformed spec, Spark settings, a dying Dask worker stops the attempt."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
from flyteidl2.core import tasks_pb2
from google.protobuf import struct_pb2

from flyte_server.executors import AttemptKey, LaunchSpec, attempt_labels
from flyte_server.executors.local import LocalExecutor
from flyte_server.handlers import ClusterOptions, TaskHandlers, TaskSpecError
from flyte_server.handlers.clusters import CLUSTER_MARKER_ENV


def _template(task_type: str, custom: dict | None = None) -> tasks_pb2.TaskTemplate:
    template = tasks_pb2.TaskTemplate(type=task_type)
    if custom is not None:
        struct = struct_pb2.Struct()
        struct.update(custom)
        template.custom.CopyFrom(struct)
    return template


def _spec(tmp_path: Path, argv: list[str] | None = None) -> LaunchSpec:
    key = AttemptKey("p", "d", "run1", "a0", 1)
    return LaunchSpec(
        argv=argv or ["a0", "--inputs", "x"],
        env={"PATH": os.environ["PATH"]},
        cwd=tmp_path / "work",
        log_path=tmp_path / "logs" / "1.log",
        entry="a0",
        key=key,
        labels=attempt_labels(key),
    )


def test_each_executor_gets_the_handlers_it_can_serve() -> None:
    local = TaskHandlers.default(worker_python=sys.executable)
    assert [local.handles(t) for t in ("python", "ray", "dask", "spark")] == [False, True, True, True]
    on_ray = TaskHandlers.default(worker_python=sys.executable, executor="ray")
    assert (on_ray.handles("ray"), on_ray.handles("dask")) == (False, True)
    assert not TaskHandlers.default(worker_python=sys.executable, executor="podman").handles("dask")


async def test_python_tasks_launch_unchanged(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    handlers = TaskHandlers.default(worker_python=sys.executable)
    assert await handlers.prepare("k", _template("python-task"), spec) is spec


@pytest.mark.parametrize(
    ("task_type", "custom", "message"),
    [
        ("ray", {"rayCluster": {"workerGroupSpec": [{"groupName": "g", "replicas": 1000}]}}, "at most"),
        ("dask", {"workers": {"numberOfWorkers": -2}}, "whole number"),
        ("spark", {"sparkConf": {"bad key!": "x"}}, "not a setting name"),
    ],
)
async def test_a_malformed_plugin_spec_is_a_task_spec_error(
    tmp_path: Path, task_type: str, custom: dict, message: str
) -> None:
    handlers = TaskHandlers.default(worker_python=sys.executable)
    with pytest.raises(TaskSpecError, match=message):
        await handlers.prepare("k", _template(task_type, custom), _spec(tmp_path))


async def test_spark_settings_reach_the_attempt_and_go_with_it(tmp_path: Path) -> None:
    handlers = TaskHandlers.default(ClusterOptions(spark_master="local[3]"), worker_python=sys.executable)
    custom = {"sparkConf": {"spark.sql.shuffle.partitions": "5"}, "hadoopConf": {"fs.x": "y"}}
    spec = await handlers.prepare("k", _template("spark", custom), _spec(tmp_path))
    assert spec.entry is None  # a process of its own, never a reused worker
    assert spec.env[CLUSTER_MARKER_ENV] == "p/d/run1/a0/1"
    conf = (Path(spec.env["SPARK_CONF_DIR"]) / "spark-defaults.conf").read_text()
    assert "spark.master local[3]\n" in conf and "spark.hadoop.fs.x y\n" in conf
    await handlers.release("k")
    assert not Path(spec.env["SPARK_CONF_DIR"]).exists()


@pytest.mark.dask
@pytest.mark.timeout(180)
async def test_a_dask_worker_that_dies_stops_the_attempt_and_says_why(tmp_path: Path) -> None:
    handlers = TaskHandlers.default(worker_python=sys.executable)
    custom = {"workers": {"numberOfWorkers": 2}}
    spec = await handlers.prepare("k", _template("dask", custom), _spec(tmp_path, ["sleep", "120"]))
    assert spec.env["DASK_SCHEDULER_ADDRESS"].startswith("tcp://127.0.0.1:")
    executor = LocalExecutor(sys.executable, state_dir=tmp_path / "executor", base_env={}, warm_workers=False)
    await executor.start()
    try:
        attempt = await executor.launch(spec)
        worker_pids = [
            pid
            for pid in _marked(spec.env[CLUSTER_MARKER_ENV])
            if b"dask_worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(worker_pids) == 2
        os.kill(worker_pids[0], signal.SIGKILL)
        exit_code = await handlers.wait("k", attempt, grace=2.0)
        assert exit_code is not None and exit_code < 0  # stopped, not finished
        assert "dask-worker-0" in (handlers.crash("k") or "")
    finally:
        await handlers.release("k")
        await executor.stop()
    assert not _marked(spec.env[CLUSTER_MARKER_ENV])
    assert "[dask-scheduler]" in spec.log_path.read_text()


def _marked(marker: str) -> list[int]:
    needle = f"{CLUSTER_MARKER_ENV}={marker}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
                state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if needle in environ and state != "Z":
                found.append(int(entry))
    return found


@pytest.mark.dask
@pytest.mark.timeout(180)
async def test_the_runtime_starts_while_the_cluster_does_and_a_cluster_that_fails_to_start_fails_it(
    tmp_path: Path,
) -> None:
    # No cluster is ready within a hundredth of a second.
    handlers = TaskHandlers.default(ClusterOptions(start_timeout=0.01), worker_python=sys.executable)
    a0 = str(Path(sys.executable).parent / "a0")
    spec = await handlers.prepare("k", _template("dask", {}), _spec(tmp_path, [a0, "--help"]))
    assert spec.argv[1].endswith("_prestart.py") and spec.argv[-2:] == [a0, "--help"]
    assert spec.env["DASK_SCHEDULER_ADDRESS"].startswith("tcp://127.0.0.1:")
    executor = LocalExecutor(sys.executable, state_dir=tmp_path / "executor", base_env={}, warm_workers=False)
    await executor.start()
    try:
        attempt = await executor.launch(spec)
        exit_code = await handlers.wait("k", attempt, grace=2.0)
        assert exit_code != 0
        assert "did not start" in (handlers.crash("k") or "")
    finally:
        await handlers.release("k")
        await executor.stop()


async def test_a_named_dask_scheduler_is_used_instead_of_a_cluster(tmp_path: Path) -> None:
    options = ClusterOptions(dask_scheduler="tcp://127.0.0.1:8786")
    handlers = TaskHandlers.default(options, worker_python=sys.executable)
    spec = await handlers.prepare("k", _template("dask", {"workers": {"numberOfWorkers": 4}}), _spec(tmp_path))
    assert spec.env["DASK_SCHEDULER_ADDRESS"] == "tcp://127.0.0.1:8786"
    assert spec.argv == ["a0", "--inputs", "x"]  # nothing to wait for
    assert not _marked(spec.env[CLUSTER_MARKER_ENV])
    await handlers.release("k")

"""The local clusters of plugin tasks: specs as the PyPI plugins serialize them, a real Dask cluster."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flyte._internal.clusters import (
    ClusterSpecError,
    DaskClusterSpec,
    NodeResources,
    RayClusterSpec,
    SparkSpec,
    parse_memory,
    spark_defaults,
    start_dask_cluster,
    start_spark,
)


def test_quantities() -> None:
    assert parse_memory("1Gi") == 1024**3
    assert parse_memory("500M") == 500_000_000
    assert NodeResources.from_k8s({"requests": {"cpu": "500m"}, "limits": {"cpu": "2"}}).cpu == 2.0
    assert NodeResources.from_flyte({"requests": [{"name": "CPU", "value": "1500m"}]}).whole_cpus == 2
    with pytest.raises(ValueError, match="not a memory quantity"):
        parse_memory("lots")


def test_ray_spec_as_the_plugin_serializes_it() -> None:
    custom = {
        "runtimeEnvYaml": "env_vars:\n  A: b\n",
        "rayCluster": {
            "headGroupSpec": {"rayStartParams": {"num-cpus": "1", "dashboard-host": "0.0.0.0"}},
            "workerGroupSpec": [
                {"groupName": "g", "replicas": 2.0, "rayStartParams": {"num-cpus": "2", "resources": '{"foo": 1}'}},
                {
                    "groupName": "pods",
                    "replicas": 1,
                    "k8sPod": {
                        "podSpec": {"containers": [{"name": "ray-worker", "resources": {"limits": {"cpu": "3"}}}]}
                    },
                },
            ],
        },
    }
    spec = RayClusterSpec.from_custom(custom, task_resources=NodeResources(cpu=4))
    assert spec.head.resources.cpu == 1
    assert spec.head.ignored_params == ("dashboard-host",)
    assert [(g.name, g.replicas, g.node.resources.cpu) for g in spec.workers] == [("g", 2, 2.0), ("pods", 1, 3.0)]
    assert spec.workers[0].node.custom_resources == {"foo": 1.0}
    assert spec.runtime_env == {"env_vars": {"A": "b"}}
    assert spec.total_cpus() == 1 + 4 + 3
    # The head takes the task's resources when its group names none.
    assert RayClusterSpec.from_custom({}, task_resources=NodeResources(cpu=4)).head.resources.cpu == 4


@pytest.mark.parametrize(
    ("custom", "message"),
    [
        ({"rayCluster": {"workerGroupSpec": [{"groupName": "g", "replicas": 500}]}}, "at most"),
        ({"rayCluster": {"workerGroupSpec": [{"groupName": "g", "replicas": -1}]}}, "whole number"),
        ({"rayCluster": {"workerGroupSpec": [{"groupName": "a b;rm", "replicas": 1}]}}, "short name"),
        ({"rayCluster": {"headGroupSpec": {"rayStartParams": {"num-cpus": "many"}}}}, "rayStartParams"),
        ({"rayCluster": []}, "not an object"),
    ],
)
def test_bad_ray_specs_are_refused(custom: dict, message: str) -> None:
    with pytest.raises(ClusterSpecError, match=message):
        RayClusterSpec.from_custom(custom)


def test_dask_and_spark_specs() -> None:
    spec = DaskClusterSpec.from_custom(
        {"workers": {"numberOfWorkers": 3.0, "resources": {"requests": [{"name": "MEMORY", "value": "1Gi"}]}}}
    )
    assert (spec.workers, spec.worker_resources.memory) == (3, 1024**3)
    with pytest.raises(ClusterSpecError, match="at most"):
        DaskClusterSpec.from_custom({"workers": {"numberOfWorkers": 1000}})
    spark = SparkSpec.from_custom(
        {
            "sparkConf": {"spark.executor.instances": "2", "spark.executor.cores": "2"},
            "hadoopConf": {"fs.s3a.endpoint": "http://127.0.0.1:9"},
        }
    )
    conf = spark_defaults(spark)
    assert conf["spark.master"] == "local[4]"
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9"
    assert spark_defaults(spark, master="spark://127.0.0.1:7077")["spark.master"] == "spark://127.0.0.1:7077"
    with pytest.raises(ClusterSpecError, match="line break"):
        SparkSpec.from_custom({"sparkConf": {"a": "b\nspark.master x"}})


def test_spark_settings_reach_a_session_through_its_conf_dir() -> None:
    cluster = start_spark(
        SparkSpec.from_custom({"sparkConf": {"spark.app.name": "x", "spark.sql.shuffle.partitions": "7"}}),
        python=sys.executable,
    )
    try:
        conf = (Path(cluster.env["SPARK_CONF_DIR"]) / "spark-defaults.conf").read_text()
        assert "spark.sql.shuffle.partitions 7\n" in conf
        assert "spark.master local[*]\n" in conf
    finally:
        cluster.stop()
    assert not Path(cluster.env["SPARK_CONF_DIR"]).exists()


@pytest.mark.dask
def test_a_dask_cluster_has_the_spec_workers_and_stops_by_pid(tmp_path: Path) -> None:
    log = io.BytesIO()
    spec = DaskClusterSpec.from_custom(
        {"workers": {"numberOfWorkers": 2, "resources": {"requests": [{"name": "CPU", "value": "2"}]}}}
    )
    with start_dask_cluster(spec, python=sys.executable, log=log, env=dict(os.environ), cwd=tmp_path) as cluster:
        pids = cluster.pids()
        assert len(pids) == 3
        probe = "from distributed import Client; c = Client(); print(sorted(c.nthreads().values()))"
        result = subprocess.run(
            [sys.executable, "-c", probe],
            env={**os.environ, **cluster.env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.stdout.strip() == "[2, 2]", result.stderr[-2000:]
        assert cluster.crashed() is None
        os.kill(pids[-1], 9)
        cluster.processes[-1].popen.wait(30)
        assert "dask-worker-1" in (cluster.crashed() or "")
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)]
    assert b"[dask-scheduler]" in log.getvalue()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"

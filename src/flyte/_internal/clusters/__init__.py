"""Clusters started on this machine for plugin tasks (Ray, Dask, Spark), shared by the SDK and the server.

The server's task handlers start one per attempt (:mod:`flyte_server.handlers`); the SDK's local
mode starts one per task call. Each ``start_*`` function blocks until the cluster is ready and
returns a :class:`LocalCluster`: its ``env`` is what the task's process needs to use it
(``RAY_ADDRESS``, ``DASK_SCHEDULER_ADDRESS``, ``SPARK_CONF_DIR``), ``pids()`` lists its
processes, ``crashed()`` says whether one of them died, and ``stop()`` tears it down by pid.

Example:
    >>> spec = DaskClusterSpec.from_custom({"workers": {"numberOfWorkers": 2}})  # doctest: +SKIP
    >>> with start_dask_cluster(spec, python=sys.executable, log=log, env=os.environ, cwd=Path.cwd()) as cluster:
    ...     os.environ.update(cluster.env)  # doctest: +SKIP
"""

from __future__ import annotations

from flyte._internal.clusters._base import (
    ClusterError,
    ClusterProcess,
    ClusterSpecError,
    LocalCluster,
    NodeResources,
    free_port,
    parse_cpu,
    parse_memory,
)
from flyte._internal.clusters.dask import MAX_DASK_WORKERS, DaskClusterSpec, dask_task_env, start_dask_cluster
from flyte._internal.clusters.ray import (
    MAX_RAY_NODES,
    RayClusterSpec,
    RayNodeSpec,
    RayWorkerGroup,
    ray_task_env,
    start_ray_cluster,
)
from flyte._internal.clusters.spark import SparkSpec, spark_defaults, start_spark

__all__ = [
    "MAX_DASK_WORKERS",
    "MAX_RAY_NODES",
    "ClusterError",
    "ClusterProcess",
    "ClusterSpecError",
    "DaskClusterSpec",
    "LocalCluster",
    "NodeResources",
    "RayClusterSpec",
    "RayNodeSpec",
    "RayWorkerGroup",
    "SparkSpec",
    "dask_task_env",
    "free_port",
    "parse_cpu",
    "parse_memory",
    "ray_task_env",
    "spark_defaults",
    "start_dask_cluster",
    "start_ray_cluster",
    "start_spark",
]

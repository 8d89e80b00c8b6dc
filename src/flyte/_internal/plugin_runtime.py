"""Plugin tasks honoured where they run: a Ray, Dask or Spark task gets the cluster its spec asks for.

Flyte 2's own local mode ignores a plugin task's spec (a Ray task's ``ray.init()`` starts a
throwaway single-node Ray, a Dask ``Client()`` a default local cluster, Spark uses no
``spark_conf``). Here, around the task's ``pre``/code/``post``:

* ``ray``: a head node and the spec's worker groups (their CPUs, memory, GPUs) start on this
  machine, bound to ``127.0.0.1``; ``RAY_ADDRESS`` points ``ray.init()`` at them; the driver is
  disconnected and every node stopped (by pid) when the task ends, fails or is cancelled.
* ``dask``: a scheduler and the spec's workers (threads from CPUs, memory limit); ``Client()``
  without arguments connects to the scheduler; stopped afterwards.
* ``spark``: the session the plugin's ``pre`` gets is built first, with ``spark_conf``,
  ``hadoop_conf`` (as ``spark.hadoop.*``) and a local master sized by the executor settings;
  stopped afterwards.

A cluster someone else runs is used instead of starting one: ``RAY_ADDRESS`` (or the config's
``address``), ``DASK_SCHEDULER_ADDRESS``, ``FLYTE_SPARK_MASTER`` (or ``spark.master`` in
``spark_conf``). The control plane's task handlers start the cluster of a remote action and pass
these variables, so a task never gets two. ``FLYTE_PLUGIN_CLUSTERS=0`` turns all of this off
(Flyte 2's behaviour).

Ray and Spark keep one connection per process, so plugin tasks of one kind run one at a time in
a process (a local run with several concurrent Ray tasks runs them in turn).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flyte._internal.clusters._base import LocalCluster
    from flyte._task import TaskTemplate

__all__ = ["CLUSTERS_SWITCH", "dask_spec_from_config", "plugin_runtime", "ray_spec_from_config", "spark_settings"]

CLUSTERS_SWITCH = "FLYTE_PLUGIN_CLUSTERS"
"""Set to ``0`` to run plugin tasks as Flyte 2's local mode does (no cluster from the spec)."""

_locks: dict[tuple[int, str], asyncio.Lock] = {}


def _lock(kind: str) -> asyncio.Lock:
    key = (id(asyncio.get_running_loop()), kind)
    lock = _locks.get(key)
    if lock is None:
        lock = _locks[key] = asyncio.Lock()
    return lock


@contextlib.asynccontextmanager
async def plugin_runtime(task: TaskTemplate[Any, Any]) -> AsyncIterator[None]:
    """Run the body with what ``task``'s plugin spec asks for (nothing for other tasks)."""
    kind = task.task_type
    starter = _STARTERS.get(kind)
    if starter is None or task.plugin_config is None or os.environ.get(CLUSTERS_SWITCH, "1") == "0":
        yield
        return
    async with _lock(kind):
        async with starter(task):
            yield


# --- Ray ------------------------------------------------------------------------------------------


def _resources_of(requests: Any, limits: Any) -> Any:
    """``NodeResources`` from a node config's ``requests``/``limits`` (limits win, as on Kubernetes)."""
    from flyte._internal.clusters._base import NodeResources, parse_cpu, parse_memory

    def one(resources: Any, index: int) -> NodeResources:
        if resources is None:
            return NodeResources()

        def pick(value: Any) -> Any:
            return value[index] if isinstance(value, (tuple, list)) else value

        cpu, memory = pick(resources.cpu), pick(resources.memory)
        device = resources.get_device()
        return NodeResources(
            cpu=parse_cpu(cpu) if cpu is not None else None,
            memory=parse_memory(memory) if memory is not None else None,
            gpu=math.ceil(device.quantity) if device is not None else None,
        )

    return one(limits, 1).or_else(one(requests, 0))


def ray_spec_from_config(config: Any, task_resources: Any = None) -> Any:
    """A ``RayClusterSpec`` from a ``flyteplugins.ray.RayJobConfig`` (read by attribute, so any
    object of that shape works): the head from ``head_node_config`` (else the task's resources),
    ``replicas`` nodes per worker group. A node's ``ray_start_params`` win; its ``limits`` (else
    ``requests``) fill in ``num-cpus``/``memory``/``num-gpus`` otherwise.

    Raises:
        ValueError: the config is malformed or asks for too many nodes.
    """
    from flyte._internal.clusters._base import NodeResources
    from flyte._internal.clusters.ray import RayClusterSpec

    def params(node_config: Any, default: Any) -> dict[str, str]:
        given = {str(k): str(v) for k, v in (getattr(node_config, "ray_start_params", None) or {}).items()}
        resources = _resources_of(getattr(node_config, "requests", None), getattr(node_config, "limits", None))
        resources = resources.or_else(default)
        if resources.cpu is not None:
            given.setdefault("num-cpus", str(resources.whole_cpus))
        if resources.memory is not None:
            given.setdefault("memory", str(resources.memory))
        if resources.gpu is not None:
            given.setdefault("num-gpus", str(resources.gpu))
        return given

    head = getattr(config, "head_node_config", None)
    groups = []
    for index, group in enumerate(getattr(config, "worker_node_config", None) or []):
        groups.append(
            {
                "groupName": str(getattr(group, "group_name", "") or f"group{index}"),
                "replicas": getattr(group, "replicas", 1),
                "rayStartParams": params(group, NodeResources()),
            }
        )
    custom: dict[str, Any] = {
        "rayCluster": {
            "headGroupSpec": {"rayStartParams": params(head, task_resources or NodeResources())},
            "workerGroupSpec": groups,
        }
    }
    runtime_env = getattr(config, "runtime_env", None)
    if runtime_env:
        import yaml

        custom["runtimeEnvYaml"] = yaml.safe_dump(dict(runtime_env))
    return RayClusterSpec.from_custom(custom)


def _task_resources(task: TaskTemplate[Any, Any]) -> Any:
    return _resources_of(task.resources, task.resources)


@contextlib.asynccontextmanager
async def _ray(task: TaskTemplate[Any, Any]) -> AsyncIterator[None]:
    config = task.plugin_config
    if getattr(config, "address", None) or os.environ.get("RAY_ADDRESS"):
        yield  # the user's (or the control plane's) cluster: ray.init() goes there
        return
    from flyte._internal.clusters.ray import start_ray_cluster

    spec = ray_spec_from_config(config, _task_resources(task))
    async with _cluster("ray", start_ray_cluster, spec):
        try:
            yield
        finally:
            _ray_disconnect()


def _ray_disconnect() -> None:
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


# --- Dask -----------------------------------------------------------------------------------------


def dask_spec_from_config(config: Any) -> Any:
    """A ``DaskClusterSpec`` from a ``flyteplugins.dask.Dask`` config (read by attribute).

    Raises:
        ValueError: a malformed config or too many workers.
    """
    from flyte._internal.clusters.dask import MAX_DASK_WORKERS, DaskClusterSpec

    workers = getattr(config, "workers", None)
    scheduler = getattr(config, "scheduler", None)
    count = getattr(workers, "number_of_workers", 1) if workers is not None else 1
    count = 1 if count is None else int(count)
    if count < 1 or count > MAX_DASK_WORKERS:
        raise ValueError(f"number_of_workers must be between 1 and {MAX_DASK_WORKERS}, not {count}")
    worker_resources = getattr(workers, "resources", None)
    scheduler_resources = getattr(scheduler, "resources", None)
    return DaskClusterSpec(
        workers=count,
        worker_resources=_resources_of(worker_resources, worker_resources),
        scheduler_resources=_resources_of(scheduler_resources, scheduler_resources),
    )


@contextlib.asynccontextmanager
async def _dask(task: TaskTemplate[Any, Any]) -> AsyncIterator[None]:
    import dask

    if os.environ.get("DASK_SCHEDULER_ADDRESS") or dask.config.get("scheduler-address", None):
        if os.environ.get("DASK_SCHEDULER_ADDRESS") and not dask.config.get("scheduler-address", None):
            with dask.config.set({"scheduler-address": os.environ["DASK_SCHEDULER_ADDRESS"]}):
                yield
        else:
            yield
        return
    from flyte._internal.clusters.dask import start_dask_cluster

    spec = dask_spec_from_config(task.plugin_config)
    async with _cluster("dask", start_dask_cluster, spec) as cluster:
        # Client() reads the config; the environment reaches processes the task starts.
        with dask.config.set({"scheduler-address": cluster.address}):
            yield


# --- Spark ----------------------------------------------------------------------------------------


def spark_settings(config: Any) -> tuple[str, dict[str, str]]:
    """The master and the configuration of a ``flyteplugins.spark.Spark`` config's local session.

    As the control plane applies them (:func:`flyte._internal.clusters.spark.spark_defaults`):
    the master is ``$FLYTE_SPARK_MASTER``, else ``spark.master`` from ``spark_conf``, else
    ``local[N]`` with N = ``spark.executor.instances`` x ``spark.executor.cores``; ``hadoop_conf``
    entries become ``spark.hadoop.*``. The driver binds loopback and the UI is off unless the
    configuration says otherwise.

    Raises:
        ValueError: a setting name or value Spark cannot take.

    Example:
        >>> class Conf:
        ...     spark_conf = {"spark.executor.instances": "2", "spark.executor.cores": "1"}
        ...     hadoop_conf = {"fs.s3a.endpoint": "http://127.0.0.1:9000"}
        >>> master, conf = spark_settings(Conf())
        >>> master, conf["spark.hadoop.fs.s3a.endpoint"]
        ('local[2]', 'http://127.0.0.1:9000')
    """
    from flyte._internal.clusters.spark import SparkSpec, spark_defaults

    spec = SparkSpec.from_custom(
        {
            "sparkConf": getattr(config, "spark_conf", None) or {},
            "hadoopConf": getattr(config, "hadoop_conf", None) or {},
        }
    )
    conf = {
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        **spark_defaults(spec, master=os.environ.get("FLYTE_SPARK_MASTER") or None),
    }
    return conf.pop("spark.master"), conf


@contextlib.asynccontextmanager
async def _spark(task: TaskTemplate[Any, Any]) -> AsyncIterator[None]:
    config = task.plugin_config
    if os.environ.get("SPARK_CONF_DIR"):
        yield  # the control plane wrote this task's settings where getOrCreate() reads them
        return
    master, conf = spark_settings(config)
    python = getattr(config, "executor_path", None) or sys.executable
    session = await asyncio.to_thread(_spark_session, master, conf, python)
    try:
        yield
    finally:
        await asyncio.to_thread(session.stop)


def _spark_session(master: str, conf: Mapping[str, str], python: str) -> Any:
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:  # a session of an earlier task (or the user's) with other settings
        active.stop()
    os.environ.setdefault("PYSPARK_PYTHON", python)
    builder = SparkSession.builder.master(master).appName("FlyteSpark")
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


# --- shared ---------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _cluster(kind: str, start: Any, spec: Any) -> AsyncIterator[LocalCluster]:
    """Start a cluster (off the event loop), export its variables while the body runs, stop it after.

    The cluster's processes write to one log; it is removed when the task succeeds and kept (its
    path logged) when the task fails. A task cancelled while the cluster starts still stops it.
    """
    log_dir = Path(tempfile.mkdtemp(prefix=f"flyte-{kind}-log-"))
    log_path = log_dir / "cluster.log"
    log = open(log_path, "wb")  # closed below, after the cluster's relays
    starting = asyncio.get_running_loop().run_in_executor(
        None, functools.partial(start, spec, python=sys.executable, log=log, env=dict(os.environ), cwd=Path.cwd())
    )
    try:
        cluster: LocalCluster = await asyncio.shield(starting)
    except asyncio.CancelledError:
        starting.add_done_callback(_stop_when_started)
        raise
    except BaseException:
        log.close()
        _logger().warning("The %s cluster did not start; its log is %s", kind, log_path)
        raise
    _logger().info("%s cluster for the task at %s (pids %s, log %s)", kind, cluster.address, cluster.pids(), log_path)
    saved: dict[str, str | None] = {}
    ok = False
    try:
        for key, value in cluster.env.items():
            saved[key] = os.environ.get(key)
            os.environ[key] = value
        yield cluster
        crash = cluster.crashed()
        if crash is not None:
            from flyte.errors import RuntimeSystemError

            raise RuntimeSystemError("ClusterCrashed", f"The {crash}")
        ok = True
    finally:
        for key, previous in saved.items():
            if previous is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = previous
        await asyncio.shield(asyncio.to_thread(cluster.stop))
        log.close()
        if ok:
            shutil.rmtree(log_dir, ignore_errors=True)
        else:
            _logger().warning("The task's %s cluster is stopped; its log is %s", kind, log_path)


def _stop_when_started(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is None:
        threading.Thread(target=future.result().stop, name="flyte-cluster-stop").start()


def _logger() -> Any:
    import logging

    return logging.getLogger("flyte")


_STARTERS = {"ray": _ray, "dask": _dask, "spark": _spark}

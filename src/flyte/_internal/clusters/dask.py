"""A Dask cluster on this machine for one task: a scheduler and the spec's worker group.

The spec is the ``DaskJob`` a Dask task template carries (``flyteidl2.plugins.DaskJob`` as a JSON
dict). Every worker is a ``dask worker`` process without a nanny (a worker that dies is a crash of
the cluster, not something restarted behind the task's back) with ``--nthreads`` from its CPUs and
``--memory-limit`` from its memory. The task reaches the scheduler through
``DASK_SCHEDULER_ADDRESS``, which is what ``dask.distributed.Client()`` without arguments reads.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from flyte._internal.clusters._base import (
    ClusterError,
    ClusterSpecError,
    LocalCluster,
    NodeResources,
    ProcessStarter,
    wait_ready,
)

__all__ = ["MAX_DASK_WORKERS", "DaskClusterSpec", "dask_task_env", "start_dask_cluster"]

MAX_DASK_WORKERS = 32
"""The most worker processes one task's cluster may have on this machine."""

_WORKER_READY = re.compile(r"Registered to:")


@dataclass(frozen=True, kw_only=True)
class DaskClusterSpec:
    """A scheduler and ``workers`` worker processes, each with ``worker_resources``.

    Example:
        >>> DaskClusterSpec.from_custom({"workers": {"numberOfWorkers": 3}}).workers
        3
    """

    workers: int = 1
    worker_resources: NodeResources = field(default_factory=NodeResources)
    scheduler_resources: NodeResources = field(default_factory=NodeResources)

    @classmethod
    def from_custom(cls, custom: Mapping[str, Any]) -> DaskClusterSpec:
        """Read a ``DaskJob`` JSON dict.

        Raises:
            ClusterSpecError: a malformed spec, or more than :data:`MAX_DASK_WORKERS` workers.
        """
        if not isinstance(custom, Mapping):
            raise ClusterSpecError("the Dask task's spec is not an object")
        workers = custom.get("workers") or {}
        scheduler = custom.get("scheduler") or {}
        if not isinstance(workers, Mapping) or not isinstance(scheduler, Mapping):
            raise ClusterSpecError("the Dask task's workers/scheduler are not objects")
        raw_count = workers.get("numberOfWorkers", 1)
        try:
            count = int(float(raw_count))
        except (TypeError, ValueError):
            raise ClusterSpecError(f"workers.numberOfWorkers is not a number: {raw_count!r}") from None
        if count < 1 or count != float(raw_count):
            raise ClusterSpecError(f"workers.numberOfWorkers must be a whole number >= 1, not {raw_count!r}")
        if count > MAX_DASK_WORKERS:
            raise ClusterSpecError(f"the Dask cluster asks for {count} workers; at most {MAX_DASK_WORKERS} run here")
        try:
            return cls(
                workers=count,
                worker_resources=NodeResources.from_flyte(workers.get("resources")),
                scheduler_resources=NodeResources.from_flyte(scheduler.get("resources")),
            )
        except ValueError as error:
            raise ClusterSpecError(f"the Dask task's resources: {error}") from None


def dask_task_env(address: str) -> dict[str, str]:
    """What makes a task's ``Client()`` connect to the scheduler at ``address``."""
    return {"DASK_SCHEDULER_ADDRESS": address}


def start_dask_cluster(
    spec: DaskClusterSpec,
    *,
    python: str,
    log: IO[bytes],
    env: Mapping[str, str],
    cwd: Path,
    popen_options: Mapping[str, Any] | None = None,
    owner: tuple[int, int] | None = None,
    host: str = "127.0.0.1",
    timeout: float = 120.0,
    port: int | None = None,
) -> LocalCluster:
    """Start the scheduler and the workers; return once every worker has registered.

    Args:
        spec: the cluster's shape.
        python: the interpreter of an environment with ``distributed`` (the task's own).
        log: where the processes' output goes (each line prefixed with the process's name).
        env: the processes' environment.
        cwd: their working directory.
        popen_options: more ``subprocess.Popen`` arguments.
        owner: ``(uid, gid)`` the processes run as, when not the caller's.
        host: the address they bind.
        timeout: seconds to wait for the scheduler and all workers.
        port: the scheduler's port, when the caller has to know the address in advance; default a free one.

    Raises:
        ClusterError: the cluster did not come up (what started is stopped).
    """
    import os

    scratch = Path(tempfile.mkdtemp(prefix="flyte-dask-"))
    if owner is not None:
        os.chown(scratch, *owner)
    scheduler_file = scratch / "scheduler.json"
    starter = ProcessStarter(log=log, env=env, cwd=cwd, popen_options=popen_options)
    cluster = LocalCluster(kind="dask", address="", scratch=[scratch])
    try:
        scheduler = starter.start(
            "dask-scheduler",
            [
                python,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                host,
                "--port",
                str(port or 0),
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ],
        )
        cluster.processes.append(scheduler)
        threads = spec.worker_resources.whole_cpus or 1
        memory = str(spec.worker_resources.memory) if spec.worker_resources.memory is not None else "0"
        readiness = []
        for index in range(spec.workers):
            worker = starter.start(
                f"dask-worker-{index}",
                [
                    python,
                    "-m",
                    "distributed.cli.dask_worker",
                    "--scheduler-file",
                    str(scheduler_file),
                    "--host",
                    host,
                    "--no-nanny",
                    "--no-dashboard",
                    "--nthreads",
                    str(threads),
                    "--memory-limit",
                    memory,
                    "--name",
                    f"worker-{index}",
                    "--local-directory",
                    str(scratch),
                ],
            )
            cluster.processes.append(worker)
            readiness.append((worker, _WORKER_READY))
    except ClusterError:
        cluster.stop()
        raise
    wait_ready(cluster, readiness, timeout=timeout)
    cluster.address = _scheduler_address(scheduler_file, cluster, deadline=time.monotonic() + 10)
    cluster.env = dask_task_env(cluster.address)
    return cluster


def _scheduler_address(path: Path, cluster: LocalCluster, *, deadline: float) -> str:
    while True:
        try:
            address = json.loads(path.read_text())["address"]
            if isinstance(address, str) and address:
                return address
        except (OSError, ValueError, KeyError, TypeError):
            pass
        if time.monotonic() > deadline:
            cluster.stop()
            raise ClusterError(f"the Dask scheduler wrote no address to {path}")
        time.sleep(0.05)

"""The ``ray``, ``dask`` and ``spark`` handlers: a cluster on this machine per attempt, or the user's.

Each reads the plugin's spec from the template's ``custom`` (as the PyPI plugins serialize it),
starts the cluster with :mod:`flyte._internal.clusters` in the task's own Python environment (its
processes run as the worker user, their output goes into the attempt's log, prefixed with the
process's name) and adds to the attempt's environment what makes the task's ``ray.init()`` /
``Client()`` / ``SparkSession`` use it. Plugin attempts run as processes of their own, never in a
reused worker: a Ray or Spark session would outlive the attempt there. ``FLYTE_CLUSTER_OF`` in the
environment of the task and of every cluster process names the attempt they belong to.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from flyteidl2.core import tasks_pb2
from google.protobuf.json_format import MessageToDict

from flyte._internal.clusters import (
    ClusterError,
    ClusterSpecError,
    DaskClusterSpec,
    LocalCluster,
    NodeResources,
    RayClusterSpec,
    SparkSpec,
    dask_task_env,
    free_port,
    ray_task_env,
    start_dask_cluster,
    start_ray_cluster,
    start_spark,
)
from flyte_server.executors import LaunchSpec
from flyte_server.handlers import HandlerError, TaskSpecError
from flyte_server.handlers._options import ClusterOptions
from flyte_server.isolation import make_owned_dirs, open_for_append

__all__ = ["CLUSTER_MARKER_ENV", "ClusterAttempt", "DaskHandler", "RayHandler", "SparkHandler"]

PRESTART = Path(__file__).with_name("_prestart.py")
"""Runs an attempt's ``a0`` once its cluster is ready, having imported the slow modules meanwhile."""

CLUSTER_MARKER_ENV = "FLYTE_CLUSTER_OF"
"""Names the attempt (``project/domain/run/action/attempt``) a task and its cluster processes belong to."""


@dataclass(eq=False)
class ClusterAttempt:
    """An attempt's launch spec and the cluster started for it (or still starting, see :meth:`start_behind`)."""

    spec: LaunchSpec
    cluster: LocalCluster | None = None
    grace: float = 3.0
    log: IO[bytes] | None = None
    scratch: Path | None = None
    starting: asyncio.Future[LocalCluster] | None = None
    _released: bool = field(default=False, repr=False)

    def crashed(self) -> str | None:
        starting = self.starting
        if starting is not None and starting.done() and not starting.cancelled() and starting.exception() is not None:
            return f"the cluster did not start: {starting.exception()}"
        return self.cluster.crashed() if self.cluster is not None else None

    def start_behind(self, start: Callable[[], LocalCluster], ready: Path) -> None:
        """Start the cluster in a thread while the attempt's process starts; write ``ready`` when it is up."""

        def started(future: asyncio.Future[LocalCluster]) -> None:
            if future.cancelled():
                status = "cancelled"
            elif future.exception() is not None:
                status = f"failed: {future.exception()}"
            else:
                self.cluster = future.result()
                status = "ok"
            if not self._released:
                partial = ready.with_suffix(".partial")
                partial.write_text(status)
                partial.rename(ready)  # whole, or not there: the process polls for the name

        self.starting = asyncio.ensure_future(asyncio.to_thread(start))
        self.starting.add_done_callback(started)

    async def release(self) -> None:
        if self._released:
            return
        self._released = True
        if self.starting is not None:
            # A thread cannot be cancelled: let the start finish (or fail), then stop what it started.
            await asyncio.gather(self.starting, return_exceptions=True)
            if not self.starting.cancelled() and self.starting.exception() is None:
                self.cluster = self.starting.result()
        if self.cluster is not None:
            await asyncio.to_thread(self.cluster.stop, self.grace)
        if self.log is not None:
            self.log.close()
        if self.scratch is not None:
            await asyncio.to_thread(shutil.rmtree, self.scratch, True)


class _ClusterHandler:
    """What the three handlers share: options, the task's Python, the worker user, the attempt log."""

    task_types: tuple[str, ...] = ()

    def __init__(
        self,
        *,
        options: ClusterOptions,
        worker_python: str,
        owner: tuple[int, int] | None = None,
        popen_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.options = options
        self.worker_python = worker_python
        self.owner = owner
        self.popen_options = dict(popen_options or {})

    @staticmethod
    def custom(template: tasks_pb2.TaskTemplate) -> dict[str, Any]:
        return MessageToDict(template.custom) if template.HasField("custom") else {}

    @staticmethod
    def marker(spec: LaunchSpec) -> str:
        return "/".join(str(part) for part in spec.key) if spec.key is not None else spec.cwd.name

    def spec_with(self, spec: LaunchSpec, env: Mapping[str, str]) -> LaunchSpec:
        """``spec`` with ``env`` added, as a process of its own (``entry=None``: no reused worker)."""
        return replace(spec, env={**spec.env, **env, CLUSTER_MARKER_ENV: self.marker(spec)}, entry=None)

    async def start_cluster(
        self,
        spec: LaunchSpec,
        start: Callable[..., LocalCluster],
        cluster_spec: Any,
        *,
        port: int,
        task_env: Mapping[str, str],
        modules: tuple[str, ...],
    ) -> ClusterAttempt:
        """Start the cluster (``start(cluster_spec, ..., port=port)`` in a thread), its output going into the log.

        An attempt of the Flyte runtime (``a0``) is launched at once through :mod:`._prestart`, which
        imports ``modules`` and the runtime while the cluster starts and runs the task once it is
        ready (``task_env``, known in advance from ``port``, tells it where); anything else is
        launched after the cluster is up.

        Raises:
            HandlerError: the cluster did not come up (only when it is waited for here).
        """
        log = await asyncio.to_thread(self._open_log, spec)
        run = functools.partial(
            start,
            cluster_spec,
            python=self.worker_python,
            log=log,
            env={**spec.env, CLUSTER_MARKER_ENV: self.marker(spec)},
            cwd=spec.cwd,
            popen_options=self.popen_options,
            owner=self.owner,
            host=self.options.host,
            timeout=self.options.start_timeout,
            port=port,
        )
        entry_module = _runtime_module(spec) if spec.entry == "a0" else None
        if entry_module is None:
            try:
                cluster = await asyncio.to_thread(run)
            except ClusterError as error:
                log.close()
                raise HandlerError(str(error)) from error
            except BaseException:
                log.close()
                raise
            return ClusterAttempt(
                spec=self.spec_with(spec, task_env), cluster=cluster, grace=self.options.stop_grace, log=log
            )
        scratch = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="flyte-ready-"))
        if self.owner is not None:
            os.chown(scratch, *self.owner)
        ready = scratch / "ready"
        argv = [self.worker_python, str(PRESTART), str(ready), ",".join((entry_module, *modules)), "--", *spec.argv]
        attempt = ClusterAttempt(
            spec=replace(self.spec_with(spec, task_env), argv=argv),
            grace=self.options.stop_grace,
            log=log,
            scratch=scratch,
        )
        attempt.start_behind(run, ready)
        return attempt

    def _open_log(self, spec: LaunchSpec) -> IO[bytes]:
        make_owned_dirs(spec.cwd, self.owner)
        make_owned_dirs(spec.log_path.parent, self.owner)
        log = open_for_append(spec.log_path)
        if self.owner is not None:
            os.fchown(log.fileno(), *self.owner)
        return log


def _free_port(host: str) -> int:
    try:
        return free_port(host)
    except OSError as error:
        raise HandlerError(f"no free port on {host} for the task's cluster: {error.strerror or error}") from error


def _runtime_module(spec: LaunchSpec) -> str | None:
    """The module whose ``main`` the ``a0`` script runs (``from X import main``), or ``None``."""
    try:
        with open(spec.argv[0], encoding="utf-8", errors="replace") as script:
            head = script.read(4096)
    except OSError:
        return None
    match = re.search(r"^from ([A-Za-z_][\w.]*) import main$", head, re.MULTILINE)
    return match.group(1) if match else None


def _task_resources(template: tasks_pb2.TaskTemplate) -> NodeResources:
    if not template.HasField("container") or not template.container.HasField("resources"):
        return NodeResources()
    try:
        return NodeResources.from_flyte(MessageToDict(template.container.resources))
    except ValueError as error:
        raise TaskSpecError(f"the task's resources: {error}") from None


class RayHandler(_ClusterHandler):
    """``ray``: a head and the spec's worker groups for the attempt.

    Not registered with the ``ray`` executor (``--executor ray --ray-address ...``): attempts run on
    the user's Ray cluster there, and a Ray task's ``ray.init()`` joins the cluster it runs on.
    """

    task_types: tuple[str, ...] = ("ray",)

    async def prepare(self, template: tasks_pb2.TaskTemplate, spec: LaunchSpec) -> ClusterAttempt:
        try:
            cluster_spec = RayClusterSpec.from_custom(self.custom(template), task_resources=_task_resources(template))
        except ClusterSpecError as error:
            raise TaskSpecError(f"the Ray task's spec: {error}") from None
        port = _free_port(self.options.host)
        task_env = {
            **ray_task_env(f"{self.options.host}:{port}", cluster_spec.runtime_env),
            "RAY_AUTH_MODE": spec.env.get("RAY_AUTH_MODE", "disabled"),  # what the nodes get
        }
        return await self.start_cluster(
            spec, start_ray_cluster, cluster_spec, port=port, task_env=task_env, modules=("ray", "flyteplugins.ray")
        )


class DaskHandler(_ClusterHandler):
    """``dask``: a scheduler and the spec's workers for the attempt (or the user's scheduler)."""

    task_types: tuple[str, ...] = ("dask",)

    async def prepare(self, template: tasks_pb2.TaskTemplate, spec: LaunchSpec) -> ClusterAttempt:
        try:
            cluster_spec = DaskClusterSpec.from_custom(self.custom(template))
        except ClusterSpecError as error:
            raise TaskSpecError(f"the Dask task's spec: {error}") from None
        if self.options.dask_scheduler:
            return ClusterAttempt(spec=self.spec_with(spec, dask_task_env(self.options.dask_scheduler)))
        port = _free_port(self.options.host)
        return await self.start_cluster(
            spec,
            start_dask_cluster,
            cluster_spec,
            port=port,
            task_env=dask_task_env(f"tcp://{self.options.host}:{port}"),
            modules=("distributed", "flyteplugins.dask"),
        )


class SparkHandler(_ClusterHandler):
    """``spark``: the spec's settings applied to a local Spark (or ``--spark-master``)."""

    task_types: tuple[str, ...] = ("spark",)

    async def prepare(self, template: tasks_pb2.TaskTemplate, spec: LaunchSpec) -> ClusterAttempt:
        try:
            spark_spec = SparkSpec.from_custom(self.custom(template))
        except ClusterSpecError as error:
            raise TaskSpecError(f"the Spark task's spec: {error}") from None
        settings = await asyncio.to_thread(
            start_spark, spark_spec, python=self.worker_python, master=self.options.spark_master, owner=self.owner
        )
        return ClusterAttempt(spec=self.spec_with(spec, settings.env), cluster=settings)

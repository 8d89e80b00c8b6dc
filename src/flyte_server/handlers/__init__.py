"""Task handlers: what an attempt of each task type needs before the executor runs it.

The engine builds an attempt's :class:`~flyte_server.executors.LaunchSpec` (command line,
environment, directories) and hands it to the handler of the task template's ``type``, which
prepares what that type needs — a Ray/Dask cluster, Spark settings — and returns the spec the
executor launches. Handlers know task types; they never talk to the store, and executors never
learn task types. Types without a handler (``python`` and anything unknown) launch as they are.

::

    handlers = TaskHandlers.default(options, worker_python=python)
    spec = await handlers.prepare(key, template, spec)      # may start a cluster
    exit_code = await handlers.wait(key, process, grace)    # a crashed cluster stops the attempt
    crash = handlers.crash(key)                             # why, when it did (a system error)
    await handlers.release(key)                             # always: tears the cluster down
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from flyteidl2.core import tasks_pb2

from flyte_server.executors import AttemptHandle, LaunchSpec
from flyte_server.handlers._options import ClusterOptions

__all__ = [
    "ClusterOptions",
    "HandlerError",
    "PreparedAttempt",
    "TaskHandler",
    "TaskHandlers",
    "TaskSpecError",
]

logger = logging.getLogger(__name__)

_CRASH_POLL_SECONDS = 0.5


class TaskSpecError(ValueError):
    """The task's plugin spec is malformed or asks for what cannot run here (a user error, not retried)."""


class HandlerError(RuntimeError):
    """What the attempt needs could not be set up (a cluster did not start): a system error, retried."""


@runtime_checkable
class PreparedAttempt(Protocol):
    """What a handler set up for one attempt."""

    spec: LaunchSpec
    """The launch spec to run (the engine's, with what the handler added)."""

    def crashed(self) -> str | None:
        """Why what the attempt depends on died while it ran (a message), or ``None``."""
        ...

    async def release(self) -> None:
        """Tear down what was set up (idempotent; called however the attempt ends)."""
        ...


@runtime_checkable
class TaskHandler(Protocol):
    """Prepares the attempts of some task types."""

    task_types: tuple[str, ...]
    """The template ``type`` values it handles."""

    async def prepare(self, template: tasks_pb2.TaskTemplate, spec: LaunchSpec) -> PreparedAttempt:
        """Set up what an attempt of ``template`` needs and return it with the spec to launch.

        Raises:
            TaskSpecError: the spec is unusable (the attempt fails as a user error).
            HandlerError: the setup failed (a system error, retried).
        """
        ...


@dataclass(eq=False)
class _Unchanged:
    spec: LaunchSpec

    def crashed(self) -> str | None:
        return None

    async def release(self) -> None:
        return None


class TaskHandlers:
    """The handlers by task type, and what each running attempt's handler prepared."""

    def __init__(self, handlers: list[TaskHandler] | None = None) -> None:
        self._by_type: dict[str, TaskHandler] = {}
        self._attempts: dict[Hashable, PreparedAttempt] = {}
        self._crashes: dict[Hashable, str] = {}
        for handler in handlers or []:
            self.register(handler)

    @classmethod
    def default(
        cls,
        options: ClusterOptions | None = None,
        *,
        worker_python: str,
        owner: tuple[int, int] | None = None,
        popen_options: dict[str, object] | None = None,
        executor: str = "local",
    ) -> TaskHandlers:
        """The Ray, Dask and Spark handlers for attempts of ``executor`` (``python`` and others launch unchanged).

        Clusters on this machine serve the ``local`` executor's processes. The ``ray`` executor runs
        attempts on a Ray cluster already, which is then the Ray tasks' cluster; container executors
        (``podman``/``docker``) get no handlers yet: a loopback cluster is not reachable from a container.
        """
        from flyte_server.handlers.clusters import DaskHandler, RayHandler, SparkHandler

        options = options or ClusterOptions()
        kinds: list[type[RayHandler] | type[DaskHandler] | type[SparkHandler]] = []
        if executor == "local":
            kinds = [RayHandler, DaskHandler, SparkHandler]
        elif executor == "ray":
            kinds = [DaskHandler, SparkHandler]
        return cls(
            [
                kind(options=options, worker_python=worker_python, owner=owner, popen_options=popen_options)
                for kind in kinds
            ]
        )

    def register(self, handler: TaskHandler) -> None:
        """Let ``handler`` prepare its task types (replacing an earlier handler of the same type)."""
        for task_type in handler.task_types:
            self._by_type[task_type] = handler

    def handles(self, task_type: str) -> bool:
        """Whether a handler is registered for ``task_type``."""
        return task_type in self._by_type

    async def prepare(self, key: Hashable, template: tasks_pb2.TaskTemplate | None, spec: LaunchSpec) -> LaunchSpec:
        """The spec to launch for attempt ``key``; what the handler set up is kept until :meth:`release`.

        Raises:
            TaskSpecError: the task's spec is unusable here.
            HandlerError: the setup failed.
        """
        await self.release(key)
        handler = self._by_type.get(template.type) if template is not None else None
        if handler is None:
            return spec
        prepared = await handler.prepare(template, spec)  # type: ignore[arg-type]
        self._attempts[key] = prepared
        return prepared.spec

    async def wait(self, key: Hashable, process: AttemptHandle, grace: float) -> int | None:
        """Wait for the attempt's process; if what it depends on crashes first, stop it (see :meth:`crash`)."""
        prepared = self._attempts.get(key)
        if prepared is None or isinstance(prepared, _Unchanged):
            return await process.wait()
        waiter = asyncio.ensure_future(process.wait())
        try:
            while True:
                done, _ = await asyncio.wait({waiter}, timeout=_CRASH_POLL_SECONDS)
                if done:
                    exit_code = waiter.result()
                    crash = prepared.crashed() if exit_code != 0 else None
                    if crash is not None:  # it failed because its cluster did (or never started)
                        self._crashes[key] = crash
                    return exit_code
                crash = prepared.crashed()
                if crash is not None:
                    self._crashes[key] = crash
                    logger.warning("attempt %s: %s; stopping it", key, crash.splitlines()[0])
                    await process.terminate(grace)
                    return await waiter
        finally:
            waiter.cancel()

    def crash(self, key: Hashable) -> str | None:
        """Why the attempt was stopped by :meth:`wait` (its cluster crashed), or ``None``."""
        return self._crashes.get(key)

    async def release(self, key: Hashable) -> None:
        """Tear down what was prepared for attempt ``key`` (nothing when nothing was)."""
        self._crashes.pop(key, None)
        prepared = self._attempts.pop(key, None)
        if prepared is not None:
            await prepared.release()

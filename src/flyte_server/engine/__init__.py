"""The action engine: runs, actions, attempts, retries, timeouts, cache, aborts and watch streams.

:class:`Engine` composes the parts (state machine, scheduler, cache, watch hub, store writer,
executor) and is what the server builds, starts and stops::

    engine = Engine(config=config, database=database, blobs=blobs, base_url="http://127.0.0.1:8090")
    await engine.start()          # resume from the store, start the executor
    apps = engine.connect_apps()  # Run, Task, DataProxy, Queue, State and Actions services
    ...
    await engine.stop()

Worker policy on :meth:`Engine.stop`: running workers are stopped (SIGTERM, then SIGKILL after
``EnginePolicy.kill_grace``) and their actions stay RUNNING in the store; the next start finds
them gone and launches them again as new attempts. After a crash (no ``stop``) workers keep
running on their own and the next start re-attaches to them (see :mod:`.recovery`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from flyteidl2.core import security_pb2
from flyteidl2.task import common_pb2, run_pb2, task_definition_pb2
from flyteidl2.workflow import run_definition_pb2, run_service_pb2

from flyte_server.blobs import BlobStore
from flyte_server.blobs.local import LocalBlobStore
from flyte_server.config import ServerConfig
from flyte_server.engine.cache import CacheManager
from flyte_server.engine.conditions import Conditions
from flyte_server.engine.data import INLINE_DATA_MAX, DataAccess
from flyte_server.engine.launch import Launcher
from flyte_server.engine.machine import ActionMachine, EnginePolicy
from flyte_server.engine.model import ActionKey, ActionState
from flyte_server.engine.queries import Queries
from flyte_server.engine.recovery import recover
from flyte_server.engine.replicas import Replicas
from flyte_server.engine.scheduler import Scheduler
from flyte_server.engine.submit import SubmitService
from flyte_server.engine.watch import WatchHub
from flyte_server.engine.writer import StoreWriter
from flyte_server.executors import Executor
from flyte_server.executors.local import LocalExecutor
from flyte_server.executors.zygote import ZYGOTE_SCRIPT
from flyte_server.handlers import TaskHandlers
from flyte_server.isolation import WorkerIdentity, prepare_worker_areas, resolve_worker_identity, user_options
from flyte_server.notify import Notifier
from flyte_server.store.db import Database

__all__ = ["MAX_REQUEST_BYTES", "Engine", "EnginePolicy"]

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024 * 1024
"""The largest (decompressed) request message the engine's services accept."""

SecretResolver = Callable[[str, str, Sequence[security_pb2.Secret]], Awaitable[dict[str, str]]]


def _env_flag(name: str) -> bool:
    """An on/off setting from the environment, on unless set to 0/false/no/off."""
    return os.environ.get(name, "1").lower() not in ("0", "false", "no", "off")


def _env_int(name: str) -> int | None:
    """A positive integer setting from the environment (``None`` when unset or unusable)."""
    try:
        value = int(os.environ.get(name, ""))
    except ValueError:
        return None
    return value if value > 0 else None


class Engine:
    """The control plane's engine; see the module docstring.

    Args:
        config: the server's options (``workers``, ``worker_python``, ``data_dir``).
        database: the store.
        blobs: the object store.
        base_url: this server's ``http://host:port`` (signed URLs, workers' endpoint).
        secret_resolver: turns a task's secret requests into env vars.
        executor: how attempts run (default: local worker processes).
        policy: retry/kill knobs.
        warm_workers: fork attempts from a warm worker (default on; ``FLYTE_SERVER_WARM_WORKERS=0`` turns it off).
        reuse_workers: run attempts of the Flyte runtime inside reused warm workers, no process per
            attempt (default on; ``FLYTE_SERVER_REUSE_WORKERS=0`` turns it off; at most
            ``FLYTE_SERVER_MAX_REUSED_WORKERS`` of them, default four per CPU).
    """

    def __init__(
        self,
        *,
        config: ServerConfig,
        database: Database,
        blobs: BlobStore,
        base_url: str,
        secret_resolver: SecretResolver | None = None,
        executor: Executor | None = None,
        policy: EnginePolicy | None = None,
        warm_workers: bool | None = None,
        reuse_workers: bool | None = None,
    ) -> None:
        if executor is None and config.executor == "ray":  # docs/ray-executor.md
            from flyte_server.executors.ray import RayExecutor

            executor = RayExecutor(
                config.ray_address, state_dir=config.data_dir / "executor", log_root=config.data_dir / "logs"
            )
        self.config = config
        self.database = database
        self.blobs = blobs
        self.base_url = base_url.rstrip("/")
        self.policy = policy or EnginePolicy()
        self.hub = WatchHub()
        self.writer = StoreWriter(database, self.hub)
        self.data = DataAccess(blobs)
        # A server running as root runs its workers as an unprivileged user (flyte_server.isolation).
        self.worker: WorkerIdentity | None = resolve_worker_identity(config.worker_user) if executor is None else None
        self.launcher = Launcher(
            worker_python=config.worker_python,
            data_dir=config.data_dir,
            base_url=self.base_url,
            storage_env=blobs.worker_env(),
            secret_resolver=secret_resolver,
            home=str(config.data_dir / "worker-home") if self.worker is not None else None,
        )
        if executor is None and config.executor in ("podman", "docker"):  # docs/containers.md
            from flyte_server.executors.container import container_executor

            executor = container_executor(config, self.launcher, blobs)
        self.launcher.image_venvs = executor is None
        self.executor: Executor = executor or LocalExecutor(
            config.worker_python,
            state_dir=config.data_dir / "executor",
            base_env=self.launcher.base_env,
            work_root=self.launcher.work_root,
            warm_workers=_env_flag("FLYTE_SERVER_WARM_WORKERS") if warm_workers is None else warm_workers,
            reuse_workers=_env_flag("FLYTE_SERVER_REUSE_WORKERS") if reuse_workers is None else reuse_workers,
            max_reused_workers=_env_int("FLYTE_SERVER_MAX_REUSED_WORKERS"),
            inline_outputs=INLINE_DATA_MAX,
            worker=self.worker,
        )
        self.machine = ActionMachine(
            writer=self.writer,
            policy=self.policy,
            workers=config.workers,
            on_ready=self._ready,
            on_gone=self._gone,
            on_slots_freed=self._slots_freed,
        )
        self.replicas: Replicas | None = Replicas(self)
        self.cache = CacheManager(database, requeue=self.machine.requeue)
        self.scheduler = Scheduler(
            machine=self.machine,
            executor=self.executor,
            launcher=self.launcher,
            cache=self.cache,
            data=self.data,
            handlers=TaskHandlers.default(
                config.clusters,
                worker_python=config.worker_python,
                owner=self.worker.owner if self.worker is not None else None,
                popen_options=user_options(self.worker),
                executor=config.executor,
            ),
        )
        self.machine.on_wake = self.scheduler.discard_parked
        self.submit = SubmitService(self)
        self.conditions = Conditions(self)
        self.notifier = Notifier(self)
        self.hub.listeners.append(self.notifier.on_event)
        self.queries = Queries(self)
        self.known_specs: set[str] = set()
        self._started = False

    def _ready(self, a: ActionState) -> None:
        self.scheduler.submit(a)

    def _gone(self, a: ActionState) -> None:
        self.scheduler.discard(a)

    def _slots_freed(self) -> None:
        self.scheduler.wake()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Resume every non-terminal action from the store, then start taking work."""
        if self._started:
            return
        if self.worker is not None:
            await asyncio.to_thread(self._prepare_worker_areas, self.worker)
        self.writer.start()
        await self.executor.start()
        adopted: list[tuple[str, str, str]] = []
        if self.replicas is not None:
            adopted = await self.replicas.start()
            if self.replicas.postgres:
                self.writer.announce = self.replicas.payloads
                self.writer.fence = self.replicas.fence
                self.writer.on_fenced = self.replicas.fenced
                record_before_start = getattr(self.executor, "record_before_start", None)
                if record_before_start is not None:
                    record_before_start()
        await recover(self, owner=self.replicas.id if self.replicas is not None else None)
        if self.replicas is not None:
            self.replicas.begin(adopted)
        self._started = True

    def _prepare_worker_areas(self, worker: WorkerIdentity) -> None:
        data_dir = self.config.data_dir
        reachable = [ZYGOTE_SCRIPT.parent]
        if isinstance(self.blobs, LocalBlobStore):
            self.blobs.share_with(worker.gid)
            reachable.append(self.blobs.root)
        prepare_worker_areas(
            worker,
            data_dir=data_dir,
            owned=[self.launcher.work_root, self.launcher.log_root, data_dir / "executor", data_dir / "worker-home"],
            reachable=reachable,
            python=self.config.worker_python,
        )

    async def stop(self, *, leave_workers: bool = False) -> None:
        """Stop scheduling and stop running workers; their actions resume on the next start.

        With ``leave_workers`` the workers keep running, as after a crash, and the next start
        re-attaches to them.
        """
        if not self._started:
            return
        self._started = False
        self.hub.close()
        running = [a for a in self.machine.actions.values() if a.process is not None and not a.process.done()]
        await self.scheduler.stop()
        if not leave_workers:
            await asyncio.gather(*(a.process.terminate(self.policy.kill_grace) for a in running))
        await self.machine.wait_for_kills()
        for a in list(self.machine.actions.values()):
            a.cancel_timers()
        self.cache.close()
        await self.writer.stop()
        await self.executor.stop()
        if self.replicas is not None:
            # A crash-like stop keeps this replica's lease: it resumes its runs when it comes back.
            await self.replicas.stop(release=not leave_workers)

    def close_streams(self) -> None:
        """End every open watch stream now (call it when shutdown begins, before draining requests).

        Watch streams otherwise stay open until their clients go away, which keeps a graceful
        HTTP shutdown waiting.
        """
        self.hub.close()

    # ------------------------------------------------------------------ operations

    async def create_run(self, request: run_service_pb2.CreateRunRequest) -> run_definition_pb2.Run:
        """Create a run (task_spec, task_id or trigger_name form) and queue its root action.

        Raises:
            ConnectError: INVALID_ARGUMENT, NOT_FOUND (project, task, trigger) or ALREADY_EXISTS.
        """
        return await self.submit.create_run(request)

    async def abort(self, key: ActionKey, reason: str) -> None:
        """Abort an action (``a0``: the whole run) and every non-terminal descendant.

        Raises:
            ConnectError: NOT_FOUND when there is no such action.
        """
        await self.submit.abort(key, reason)

    def run_output_base(self, project: str, domain: str, run: str, run_spec: run_pb2.RunSpec) -> str:
        """Where a run's actions keep inputs and outputs: ``<storage>/<project>/<domain>/<run>``."""
        del run_spec  # the SDK's run_base_dir is its own default; ours keeps runs apart in the store
        return self.blobs.native_url(f"{project}/{domain}/{run}")

    @staticmethod
    def inputs_hash(inputs: common_pb2.Inputs, spec: task_definition_pb2.TaskSpec | None) -> str:
        """The SDK's inputs hash over ``inputs`` minus the task's ``cache_ignore_input_vars``."""
        from flyte.types._hashing import hash_inputs

        ignored = set(spec.task_template.metadata.cache_ignore_input_vars) if spec is not None else set()
        return hash_inputs({item.name: item.value for item in inputs.literals if item.name not in ignored})

    def connect_apps(self, interceptors: Sequence[Any] = ()) -> list[Any]:
        """ASGI apps of RunService, TaskService, DataProxyService, QueueService, StateService, ActionsService."""
        from flyte_server.admin.actions_service import actions_app
        from flyte_server.admin.dataproxy_service import dataproxy_app
        from flyte_server.admin.queue_service import queue_app
        from flyte_server.admin.run_service import run_app
        from flyte_server.admin.state_service import state_app
        from flyte_server.admin.task_service import task_app

        options: dict[str, Any] = {"interceptors": tuple(interceptors), "read_max_bytes": MAX_REQUEST_BYTES}
        return [
            factory(self, **options)
            for factory in (run_app, task_app, dataproxy_app, queue_app, state_app, actions_app)
        ]

"""The app supervisor: every deployed app runs as supervised worker processes on this machine.

Each app has a reconcile loop that keeps the number of live replicas between the app's
``Scaling`` minimum and maximum: one replica per ``target`` in-flight requests (the concurrency
target, 1 when none is set), down to zero after ``scaledown_after`` without requests when the
minimum is 0. A replica is the app's container command (``fserve ... -- args``) launched the way
task attempts are (the worker Python environment, an image's virtualenv, the worker identity
and its allow-listed environment), listening on a free loopback port given in ``FLYTE_APP_PORT``
and ``PORT``. It is healthy once its port answers HTTP; a replica that exits, or stops answering,
is started again after a backoff that doubles up to :data:`MAX_BACKOFF`.

The proxy (:mod:`flyte_server.apps.proxy`) calls :meth:`AppSupervisor.acquire` for each request: it
counts the request in flight, wakes a scaled-to-zero app and holds the request until a replica is
healthy (a cold start), then hands out the least busy healthy replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from flyteidl2.app import app_definition_pb2 as definition

from flyte_server.executors.procs import kill_group, process_start_ticks, scan_working_dirs
from flyte_server.isolation import WorkerIdentity, make_owned_dirs, open_for_append, user_options

__all__ = ["AppKey", "AppNotRunning", "AppSupervisor", "Replica"]

logger = logging.getLogger(__name__)

MAX_BACKOFF = 30.0
"""The longest wait before a crashed replica is started again."""
DEFAULT_SCALEDOWN = 300.0
"""Seconds without requests before a replica above the minimum stops, when the app sets none."""
COLD_START_TIMEOUT = 120.0
"""How long a request waits for a scaled-to-zero app to become healthy."""
_TICK = 0.25
_HEALTH_EVERY = 5.0
_HEALTH_FAILURES = 3
_STOP_GRACE = 5.0

AppKey = tuple[str, str, str]
"""(project, domain, name)."""


class AppNotRunning(Exception):
    """The app cannot take requests: stopped, deleted, or no replica became healthy in time."""


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Replica:
    """One process of an app."""

    name: str
    port: int
    process: asyncio.subprocess.Process
    log_path: Path
    started: float = field(default_factory=time.monotonic)
    healthy: bool = False
    healthy_since: float = 0.0
    inflight: int = 0
    health_failures: int = 0
    last_health: float = 0.0
    stopping: bool = False

    @property
    def alive(self) -> bool:
        return self.process.returncode is None


@dataclass
class AppRuntime:
    """What the supervisor keeps about one deployed app."""

    key: AppKey
    app: definition.App
    revision: int
    replicas: list[Replica] = field(default_factory=list)
    inflight: int = 0
    last_request: float = field(default_factory=time.monotonic)
    restarts: int = 0
    backoff: float = 0.0
    next_start: float = 0.0
    serial: int = 0
    message: str = ""
    failed: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    task: asyncio.Task[None] | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def spec(self) -> definition.Spec:
        return self.app.spec

    @property
    def stopped(self) -> bool:
        return bool(self.spec.desired_state == definition.Spec.DESIRED_STATE_STOPPED)

    def bounds(self) -> tuple[int, int]:
        replicas = self.spec.autoscaling.replicas
        low = max(0, replicas.min)
        high = max(low, replicas.max, 1)
        return low, high

    def scaledown_after(self) -> float:
        period = self.spec.autoscaling.scaledown_period
        seconds = period.seconds + period.nanos / 1e9
        return seconds if seconds > 0 else DEFAULT_SCALEDOWN

    def target(self) -> int:
        metric = self.spec.autoscaling.scaling_metric
        if metric.HasField("concurrency") and metric.concurrency.target_value > 0:
            return int(metric.concurrency.target_value)
        return 1

    def live(self) -> list[Replica]:
        return [r for r in self.replicas if r.alive and not r.stopping]

    def healthy(self) -> list[Replica]:
        return [r for r in self.replicas if r.healthy and not r.stopping and r.process.returncode is None]


Launch = Callable[[AppRuntime, str, int], Any]


class AppSupervisor:
    """Runs deployed apps as supervised processes; see the module docstring.

    ``launcher`` is the engine's :class:`~flyte_server.engine.launch.Launcher` (worker Python,
    base environment, secrets, image venvs); ``raw_prefix`` maps an app to its raw-data location;
    ``on_change`` is told when an app's status changes (the App service's Watch).
    """

    def __init__(
        self,
        *,
        launcher: Any,
        data_dir: Path,
        worker: WorkerIdentity | None = None,
        raw_prefix: Callable[[AppKey], str] = lambda key: "",
        on_change: Callable[[AppKey], None] = lambda key: None,
    ) -> None:
        self.launcher = launcher
        self.worker = worker
        self.work_root = data_dir / "apps"
        self.log_root = data_dir / "logs" / "apps"
        self.raw_prefix = raw_prefix
        self.on_change = on_change
        self._apps: dict[AppKey, AppRuntime] = {}
        self._by_name: dict[str, AppKey] = {}
        self._health = httpx.AsyncClient(timeout=2.0, trust_env=False)
        self._closed = False

    # -- deployment ---------------------------------------------------------------------------

    def get(self, key: AppKey) -> AppRuntime | None:
        return self._apps.get(key)

    def by_name(self, name: str) -> AppRuntime | None:
        key = self._by_name.get(name)
        return self._apps.get(key) if key is not None else None

    async def deploy(self, app: definition.App, revision: int) -> None:
        """Run ``app`` (a new app, or a new revision: its replicas are replaced)."""
        ident = app.metadata.id
        key: AppKey = (ident.project, ident.domain, ident.name)
        runtime = self._apps.get(key)
        if runtime is not None and runtime.revision == revision:
            return
        if runtime is not None:
            same_spec = _without_state(runtime.spec) == _without_state(app.spec)
            runtime.app = app
            if same_spec:  # activated or deactivated: the loop starts or stops replicas
                runtime.revision = revision
                runtime.failed = False
                runtime.wake.set()
                self.on_change(key)
                return
            runtime.revision = revision
            runtime.failed = False
            runtime.restarts = 0
            runtime.backoff = 0.0
            runtime.message = ""
            for replica in list(runtime.replicas):
                await self._stop_replica(runtime, replica)
            runtime.wake.set()
            return
        runtime = AppRuntime(key=key, app=app, revision=revision)
        self._apps[key] = runtime
        self._by_name[ident.name] = key
        runtime.task = asyncio.create_task(self._run(runtime), name=f"app-{ident.name}")

    async def reap_orphans(self) -> int:
        """Stop replicas a previous server process left running (it was killed); how many."""
        found = await asyncio.to_thread(scan_working_dirs, self.work_root)
        count = len(found)
        for pid in found.values():
            kill_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE
        while found and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            found = {cwd: pid for cwd, pid in found.items() if process_start_ticks(pid) is not None}
        for pid in found.values():
            kill_group(pid, signal.SIGKILL)
        return count

    async def remove(self, key: AppKey) -> None:
        """Stop the app's replicas and forget it."""
        runtime = self._apps.pop(key, None)
        if runtime is None:
            return
        self._by_name.pop(key[2], None)
        if runtime.task is not None:
            runtime.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runtime.task
        await asyncio.gather(*(self._stop_replica(runtime, r) for r in list(runtime.replicas)))
        async with runtime.changed:
            runtime.changed.notify_all()

    async def stop(self) -> None:
        """Stop every app's replicas (the server is shutting down)."""
        self._closed = True
        await asyncio.gather(*(self.remove(key) for key in list(self._apps)))
        await self._health.aclose()

    # -- requests -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def acquire(self, name: str, *, timeout: float = COLD_START_TIMEOUT) -> AsyncIterator[Replica]:
        """A healthy replica of app ``name`` for one request, counted in flight while it is held.

        Raises:
            AppNotRunning: no such app, it is stopped, or no replica became healthy within ``timeout``.
        """
        runtime = self.by_name(name)
        if runtime is None:
            raise AppNotRunning(f"no app named {name!r}")
        if runtime.stopped:
            raise AppNotRunning(f"app {name!r} is stopped; start it with `flyte update app {name} --activate`")
        runtime.inflight += 1
        runtime.last_request = time.monotonic()
        replica: Replica | None = None
        try:
            healthy = runtime.healthy()
            if not healthy or runtime.inflight > len(healthy) * runtime.target():
                runtime.wake.set()
            if not healthy:
                await self._wait_healthy(runtime, name, timeout)
                healthy = runtime.healthy()
            replica = min(healthy, key=lambda r: r.inflight) if len(healthy) > 1 else healthy[0]
            replica.inflight += 1
            yield replica
        finally:
            runtime.inflight -= 1
            runtime.last_request = time.monotonic()
            if replica is not None:
                replica.inflight -= 1

    async def _wait_healthy(self, runtime: AppRuntime, name: str, timeout: float) -> None:
        """Hold a request until a replica of ``runtime`` is healthy (a cold start).

        Raises:
            AppNotRunning: the app was deleted, keeps failing, or took longer than ``timeout``.
        """
        deadline = time.monotonic() + timeout
        async with runtime.changed:
            while not runtime.healthy():
                if self._apps.get(runtime.key) is not runtime:
                    raise AppNotRunning(f"app {name!r} was deleted")
                if runtime.failed:
                    raise AppNotRunning(f"app {name!r} keeps failing: {runtime.message}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AppNotRunning(f"app {name!r} did not become healthy within {timeout:.0f}s")
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(runtime.changed.wait(), timeout=min(left, 1.0))

    def replica_failed(self, name: str, replica: Replica) -> None:
        """The proxy could not connect to ``replica``: take it out of rotation until it answers again."""
        runtime = self.by_name(name)
        if runtime is None:
            return
        replica.healthy = False  # probed on the next tick: it answers again, or is restarted
        runtime.wake.set()

    # -- status -------------------------------------------------------------------------------

    def status(self, key: AppKey) -> tuple[int, int, int, str]:
        """(deployment status, substate, live replicas, message) of the app as it is now."""
        runtime = self._apps.get(key)
        status = definition.Status
        if runtime is None:
            return status.DEPLOYMENT_STATUS_UNASSIGNED, status.SUBSTATE_UNSPECIFIED, 0, ""
        live = runtime.live()
        healthy = runtime.healthy()
        if runtime.stopped:
            return status.DEPLOYMENT_STATUS_STOPPED, status.SUBSTATE_UNSPECIFIED, len(live), "stopped"
        if runtime.failed:
            return status.DEPLOYMENT_STATUS_FAILED, status.CRASH_LOOP, len(live), runtime.message
        if healthy:
            return status.DEPLOYMENT_STATUS_ACTIVE, status.RUNNING, len(live), f"{len(healthy)} healthy replica(s)"
        if live:
            sub = status.SCALING_FROM_ZERO if runtime.restarts == 0 else status.CRASH_LOOP
            return status.DEPLOYMENT_STATUS_DEPLOYING, sub, len(live), runtime.message or "starting"
        if runtime.restarts and runtime.next_start > time.monotonic():
            return status.DEPLOYMENT_STATUS_DEPLOYING, status.CRASH_LOOP, 0, runtime.message
        return (
            status.DEPLOYMENT_STATUS_STARTED,
            status.SCALED_TO_ZERO,
            0,
            "scaled to zero; the first request starts it",
        )

    def log_files(self, key: AppKey) -> list[Path]:
        """The log files of the app's replicas, oldest first."""
        runtime = self._apps.get(key)
        if runtime is None:
            root = self.log_root.joinpath(*key)
            return sorted(root.glob("*.log"), key=lambda p: p.stat().st_mtime) if root.is_dir() else []
        return list(runtime.logs)

    # -- the reconcile loop -------------------------------------------------------------------

    async def _notify(self, runtime: AppRuntime) -> None:
        async with runtime.changed:
            runtime.changed.notify_all()
        self.on_change(runtime.key)

    def _desired(self, runtime: AppRuntime, now: float) -> int:
        if runtime.stopped:
            return 0
        low, high = runtime.bounds()
        wanted = math.ceil(runtime.inflight / runtime.target()) if runtime.inflight else 0
        current = len(runtime.live())
        if wanted < current and now - runtime.last_request < runtime.scaledown_after():
            wanted = current  # keep what runs until the app has been quiet for its scale-down period
        return max(low, min(high, wanted))

    async def _run(self, runtime: AppRuntime) -> None:
        try:
            while True:
                await self._reconcile(runtime)
                runtime.wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(runtime.wake.wait(), timeout=_TICK)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("the supervisor of an app failed", extra={"app": runtime.key[2]})

    async def _reconcile(self, runtime: AppRuntime) -> None:
        now = time.monotonic()
        changed = False
        for replica in list(runtime.replicas):
            if not replica.alive:
                runtime.replicas.remove(replica)
                changed = True
                if not replica.stopping:
                    self._crashed(runtime, replica, now)
        for replica in runtime.live():
            if await self._check_health(runtime, replica, now):
                changed = True
        desired = self._desired(runtime, now)
        live = runtime.live()
        if len(live) < desired and not runtime.failed and now >= runtime.next_start:
            for _ in range(desired - len(live)):
                if await self._start_replica(runtime) is None:
                    break
            changed = True
        elif len(live) > desired:
            idle = sorted(live, key=lambda r: (r.inflight, -r.started))
            for replica in idle[: len(live) - desired]:
                if replica.inflight == 0:
                    await self._stop_replica(runtime, replica)
                    changed = True
        if changed:
            await self._notify(runtime)

    def _crashed(self, runtime: AppRuntime, replica: Replica, now: float) -> None:
        code = replica.process.returncode
        stable = bool(replica.healthy_since) and now - replica.healthy_since > MAX_BACKOFF
        runtime.backoff = 0.5 if stable or runtime.backoff == 0 else min(MAX_BACKOFF, runtime.backoff * 2)
        runtime.restarts += 1
        runtime.next_start = now + runtime.backoff
        runtime.message = (
            f"replica {replica.name} exited with code {code}; restarting in {runtime.backoff:.1f}s "
            f"(restart {runtime.restarts}, log {replica.log_path})"
        )
        logger.warning("an app replica exited", extra={"app": runtime.key[2], "code": code})

    async def _check_health(self, runtime: AppRuntime, replica: Replica, now: float) -> bool:
        """Probe the replica's port; whether its health changed."""
        if replica.healthy and now - replica.last_health < _HEALTH_EVERY:
            return False
        replica.last_health = now
        try:
            await self._health.get(f"http://127.0.0.1:{replica.port}/", timeout=2.0)
            ok = True
        except httpx.HTTPError:
            ok = False
        if ok:
            replica.health_failures = 0
            if not replica.healthy:
                replica.healthy = True
                replica.healthy_since = now
                runtime.message = ""
                return True
            return False
        if not replica.healthy and not replica.healthy_since:
            return False  # still starting
        replica.health_failures += 1
        if replica.health_failures >= _HEALTH_FAILURES:
            logger.warning("an app replica stopped answering; restarting it", extra={"app": runtime.key[2]})
            replica.healthy = False
            await self._stop_replica(runtime, replica, keep=True)
            return True
        return False

    # -- processes ----------------------------------------------------------------------------

    def _argv(self, runtime: AppRuntime, port: int) -> list[str]:
        from flyte_server.engine.launch import substitute

        container = runtime.spec.container
        argv = [*container.command, *container.args]
        if not argv:
            raise ValueError("the app's container has no command or args")
        project, domain, name = runtime.key
        values = {
            "rawoutputdataprefix": self.raw_prefix(runtime.key),
            "project": project,
            "domain": domain,
            "name": name,
        }
        argv = substitute(argv, values)
        worker_bin = Path(self.launcher.worker_python).parent
        if argv[0] in ("python", "python3"):
            argv[0] = self.launcher.worker_python
        elif "/" not in argv[0] and (worker_bin / argv[0]).exists():
            argv[0] = str(worker_bin / argv[0])
        elif argv[0] == "fserve":
            # An environment without the entry-point script: the module behind it.
            argv[0:1] = [self.launcher.worker_python, "-m", "flyte.app._runtime"]
        if self.launcher.image_venvs and container.image:
            from flyte._internal.venvs.enter import wrap_command

            home = self.launcher.home
            cache = Path(home) / ".cache" / "flyte" / "venvs" if home else self.launcher.data_dir / "venvs"
            wrapped = wrap_command(
                argv,
                image=container.image,
                worker_python=self.launcher.worker_python,
                server_python=sys.executable,
                cache_dir=cache,
                strict=self.launcher.strict_images,
            )
            argv = wrapped or argv
        return argv

    async def _environment(self, runtime: AppRuntime, port: int, replica: str) -> dict[str, str]:
        project, domain, name = runtime.key
        env = dict(self.launcher.base_env)
        container = runtime.spec.container
        env.update({pair.key: pair.value for pair in container.env})
        secrets = runtime.spec.security_context.secrets
        if secrets:
            if self.launcher.secret_resolver is None:
                raise ValueError("the app asks for secrets, but this server has no secret store")
            env.update(await self.launcher.secret_resolver(project, domain, secrets))
        for item in runtime.spec.inputs.items:
            if item.string_value:
                env.setdefault(f"FLYTE_APP_INPUT_{item.name.upper()}", item.string_value)
        env.update(
            {
                "FLYTE_APP_HOST": "127.0.0.1",
                "FLYTE_APP_PORT": str(port),
                "PORT": str(port),
                "FLYTE_APP_NAME": name,
                # Where other apps answer (AppEndpoint parameters, AppEnvironment.endpoint in the app).
                "INTERNAL_APP_ENDPOINT_PATTERN": f"http://{self.launcher.endpoint}/apps/{{app_fqdn}}/",
                "FLYTE_APP_REPLICA": replica,
                "FLYTE_INTERNAL_EXECUTION_PROJECT": project,
                "FLYTE_INTERNAL_EXECUTION_DOMAIN": domain,
                "_U_ORG_NAME": "local",
            }
        )
        credentials = getattr(self.launcher, "task_credentials", None)
        if credentials is not None:
            env.update(credentials(project, domain, f"app-{name}", time.time_ns() // 1000))
        return env

    async def _start_replica(self, runtime: AppRuntime) -> Replica | None:
        project, domain, name = runtime.key
        runtime.serial += 1
        replica_name = f"{name}-{runtime.revision}-{runtime.serial}"
        port = free_port()
        cwd = self.work_root / project / domain / name / replica_name
        log_path = self.log_root / project / domain / name / f"{replica_name}.log"
        owner = self.worker.owner if self.worker is not None else None
        try:
            argv = self._argv(runtime, port)
            env = await self._environment(runtime, port, replica_name)
            await asyncio.to_thread(make_owned_dirs, cwd, owner)
            await asyncio.to_thread(make_owned_dirs, log_path.parent, owner)
            log = open_for_append(log_path)
        except (ValueError, LookupError, OSError) as error:
            runtime.failed = True
            runtime.message = f"cannot start app {name!r}: {error}"
            logger.warning("an app cannot start", extra={"app": name, "error": str(error)})
            await self._notify(runtime)
            return None
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=str(cwd),
                env=env,
                start_new_session=True,
                **user_options(self.worker),
            )
        except OSError as error:
            runtime.failed = True
            runtime.message = f"cannot start {argv[0]!r}: {error.strerror or error}"
            await self._notify(runtime)
            return None
        finally:
            log.close()
        replica = Replica(name=replica_name, port=port, process=process, log_path=log_path)
        runtime.replicas.append(replica)
        runtime.logs.append(log_path)
        del runtime.logs[:-20]
        logger.info("app replica started", extra={"app": name, "replica": replica_name, "port": port})
        return replica

    async def _stop_replica(self, runtime: AppRuntime, replica: Replica, *, keep: bool = False) -> None:
        """Stop a replica (SIGTERM to its group, SIGKILL after a grace period)."""
        replica.stopping = not keep
        replica.healthy = False
        process = replica.process
        if process.returncode is None:
            kill_group(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=_STOP_GRACE)
            except asyncio.TimeoutError:
                kill_group(process.pid, signal.SIGKILL)
                await process.wait()
        if not keep and replica in runtime.replicas:
            runtime.replicas.remove(replica)


def pid_of(replica: Replica) -> int:
    """The process id of a replica (for tests and the console)."""
    return int(replica.process.pid or os.getpid())


def _without_state(spec: definition.Spec) -> bytes:
    copy = definition.Spec()
    copy.CopyFrom(spec)
    copy.ClearField("desired_state")
    return bytes(copy.SerializeToString(deterministic=True))

"""The ``local`` executor: each attempt is a worker process on this machine.

Attempts whose command is the runtime entry point (``a0``) are forked from a warm worker of the
worker Python environment (see :mod:`flyte_server.executors.zygote`), which costs milliseconds;
anything else, or everything when the warm worker cannot start, is a plain subprocess. Either way
the worker is a session leader with its own working directory and log file. With a ``worker``
identity (a server running as root, see :mod:`flyte_server.isolation`) every worker process, the
warm one included, runs as that unprivileged user, and the directories made for it are its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from flyte_server.executors import AttemptHandle, AttemptKey, FinishedAttempt, LaunchError, LaunchSpec
from flyte_server.executors.procs import (
    ExitTracking,
    ExternalProcess,
    parse_handle,
    process_start_ticks,
    scan_working_dirs,
)
from flyte_server.executors.reuse import WorkerPool
from flyte_server.executors.zygote import Zygote, preload_file_for
from flyte_server.isolation import WorkerIdentity, make_owned_dirs, open_for_append, user_options

__all__ = ["LocalExecutor", "SubprocessWorker"]

logger = logging.getLogger(__name__)


class SubprocessWorker(ExitTracking):
    """A worker started as a plain subprocess of the server."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        super().__init__(process.pid, process_start_ticks(process.pid) or 0)
        self._process = process
        self._waiter = asyncio.create_task(self._wait_exit(), name=f"wait-pid-{process.pid}")

    async def _wait_exit(self) -> None:
        self._set_exit(await self._process.wait())


class LocalExecutor:
    """Worker processes on this machine, forked from a warm worker when possible.

    Example:
        >>> executor = LocalExecutor("/venv/bin/python", state_dir=Path("/tmp/x"), base_env={})  # doctest: +SKIP
        >>> await executor.start()  # doctest: +SKIP
    """

    name = "local"

    def __init__(
        self,
        worker_python: str,
        *,
        state_dir: Path,
        base_env: dict[str, str],
        work_root: Path | None = None,
        warm_workers: bool = True,
        reuse_workers: bool = True,
        max_reused_workers: int | None = None,
        inline_outputs: int = 0,
        worker: WorkerIdentity | None = None,
        zygote_prefix: list[str] | None = None,
        zygote_client_env: dict[str, str] | None = None,
        spawn_fallback: bool = True,
    ) -> None:
        self.worker_python = worker_python
        self.worker = worker
        self.state_dir = state_dir
        self.work_root = work_root or state_dir.parent / "work"
        """Attempts' working directories lie under it as ``<project>/<domain>/<run>/<action>/<attempt>``."""
        self.base_env = base_env
        self.warm_workers = warm_workers
        self.reuse_workers = reuse_workers
        self._zygote: Zygote | None = None
        self._pool = WorkerPool(
            state_dir,
            max_workers=max_reused_workers,
            inline_outputs=inline_outputs,
            owner=worker.owner if worker else None,
        )
        self.zygote_prefix = zygote_prefix
        """The warm worker runs through this command (a container executor's warm container)."""
        self.zygote_client_env = zygote_client_env
        self.spawn_fallback = spawn_fallback
        """Whether an attempt the warm worker cannot take runs as a plain process here (else LaunchError)."""
        self._zygote_failures = 0
        self._restart: asyncio.Task[None] | None = None

    def let_go_of_run(self, run_key: tuple[str, str, str]) -> None:
        """Another replica drives this run now: its reused workers are cut loose (see ``WorkerPool``)."""
        self._pool.let_go_of_run(*run_key)

    def record_before_start(self, enabled: bool = True) -> None:
        """Attempts in reused workers start only after the server recorded them (see ``WorkerPool``)."""
        self._pool.hold_until_recorded = enabled

    @property
    def warm(self) -> bool:
        """Whether attempts are forked from a warm worker now."""
        return self._zygote is not None and self._zygote.alive

    async def start(self) -> None:
        if not self.warm_workers:
            return
        if self.zygote_prefix is None and not (Path(self.worker_python).parent / "a0").exists():
            # No runtime in that environment (yet): nothing to keep warm.
            logger.info("no a0 next to %s: attempts start as plain processes", self.worker_python)
            return
        await self._start_zygote()

    async def _start_zygote(self) -> None:
        zygote = Zygote(
            self.worker_python,
            env=self.base_env,
            preload_file=preload_file_for(self.state_dir, self.worker_python),
            log_path=self.state_dir / "warm-worker.log",
            worker=self.worker,
            command_prefix=self.zygote_prefix,
            client_env=self.zygote_client_env,
        )
        try:
            await zygote.start()
        except LaunchError as error:
            self._zygote_failures += 1
            logger.warning("warm workers are off, attempts start as plain processes: %s", error)
            return
        self._zygote = zygote
        if self.reuse_workers and zygote.reuse:
            await self._pool.start(zygote)

    async def stop(self) -> None:
        if self._restart is not None:
            self._restart.cancel()
        await self._pool.stop()
        if self._zygote is not None:
            await self._zygote.stop()
            self._zygote = None

    async def launch(self, spec: LaunchSpec) -> AttemptHandle:
        if spec.entry == "a0" and self.warm_workers:
            zygote = self._zygote
            if zygote is not None and zygote.alive:
                if self.reuse_workers:
                    try:
                        attempt = await self._pool.launch(spec)
                    except LaunchError as error:
                        logger.warning("no reused worker, forking one for this attempt: %s", error)
                        attempt = None
                    if attempt is not None:
                        return attempt
                try:
                    return await zygote.launch(spec)
                except LaunchError as error:
                    logger.warning("the warm worker failed, launching a plain process: %s", error)
            self._restart_zygote_later()
        if not self.spawn_fallback:
            raise LaunchError("the warm worker is not running")
        return await self._spawn(spec)

    def _restart_zygote_later(self) -> None:
        if self._restart is not None and not self._restart.done():
            return
        if self._zygote_failures >= 3:
            return

        async def restart() -> None:
            if self._zygote is not None:
                await self._zygote.stop()
                self._zygote = None
            await asyncio.sleep(1.0)
            await self._start_zygote()

        self._restart = asyncio.create_task(restart(), name="zygote-restart")

    async def _spawn(self, spec: LaunchSpec) -> SubprocessWorker:
        await asyncio.to_thread(_make_dirs, spec, self.worker.owner if self.worker else None)
        try:
            log = open_for_append(spec.log_path)  # in the worker's directory: no symlinks followed
        except OSError as error:
            raise LaunchError(f"cannot open the log {spec.log_path}: {error.strerror or error}") from error
        try:
            process = await asyncio.create_subprocess_exec(
                *spec.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=str(spec.cwd),
                env=spec.env,
                start_new_session=True,
                **user_options(self.worker),
            )
        except OSError as error:
            raise LaunchError(f"cannot start {spec.argv[0]!r}: {error.strerror or error}") from error
        finally:
            log.close()
        return SubprocessWorker(process)

    async def find_attempts(self) -> dict[AttemptKey, AttemptHandle]:
        return {key: handle for cwd, handle in self.find_workers(self.work_root).items() if (key := self.key_of(cwd))}

    def key_of(self, cwd: Path) -> AttemptKey | None:
        """The attempt whose working directory ``cwd`` is, or ``None``."""
        try:
            parts = cwd.resolve().relative_to(self.work_root.resolve()).parts
        except ValueError:
            return None
        if len(parts) < 5 or not parts[4].isdigit():
            return None
        return AttemptKey(parts[0], parts[1], parts[2], parts[3], int(parts[4]))

    def find_workers(self, root: Path) -> dict[Path, AttemptHandle]:
        """Processes of attempts whose working directory lies under ``root``, by working directory.

        Attempts inside reused workers stand for their worker's process (or for an ended one).
        """
        found: dict[Path, AttemptHandle] = {}
        for cwd, pid in scan_working_dirs(root).items():
            ticks = process_start_ticks(pid)
            if ticks is not None and pid != os.getpid():
                found[cwd] = ExternalProcess(pid, ticks)
        for cwd, running in self._pool.find_running(root).items():
            found.setdefault(cwd, ExternalProcess(*running) if running else FinishedAttempt())
        return found

    async def reattach(self, handle_id: str) -> AttemptHandle | None:
        parsed = parse_handle(handle_id)
        if parsed is None:
            return None
        pid, start_ticks = parsed
        if pid <= 0 or process_start_ticks(pid) != start_ticks:
            return None
        return ExternalProcess(pid, start_ticks)


def _make_dirs(spec: LaunchSpec, owner: tuple[int, int] | None) -> None:
    make_owned_dirs(spec.cwd, owner)
    make_owned_dirs(spec.log_path.parent, owner)

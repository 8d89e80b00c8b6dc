"""The server side of a warm worker (see ``_zygote_main.py``): start it, ask it to fork, track exits.

Exit codes come from the zygote, which reaps its children. If the zygote dies, its children live
on (each is its own session); they are then waited on like any external process, exit code unknown.
The zygote runs with the workers' common environment (storage settings, this server's address):
some libraries read their settings once, at import time (fsspec's ``FSSPEC_*`` for instance).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from flyte_server.executors import LaunchError, LaunchSpec
from flyte_server.executors.procs import ExitTracking, ExternalProcess, process_start_ticks
from flyte_server.isolation import WorkerIdentity, open_for_append, open_worker_file, user_options

__all__ = ["Zygote", "ZygoteWorker"]

logger = logging.getLogger(__name__)

ZYGOTE_SCRIPT = Path(__file__).with_name("_zygote_main.py")
_REQUEST_TIMEOUT = 10.0


class ZygoteWorker(ExitTracking):
    """A worker forked by a zygote."""

    def __init__(self, pid: int, start_ticks: int = 0) -> None:
        super().__init__(pid, start_ticks or process_start_ticks(pid) or 0)
        self._fallback: ExternalProcess | None = None

    def _orphaned(self) -> None:
        """The zygote died: wait for this worker as an external process."""
        if self._exited.done():
            return
        if not self.start_ticks or process_start_ticks(self.pid) != self.start_ticks:
            self._set_exit(None)
            return
        self._fallback = ExternalProcess(self.pid, self.start_ticks)

        async def follow(fallback: ExternalProcess) -> None:
            await fallback.wait()
            self._set_exit(None)

        asyncio.get_running_loop().create_task(follow(self._fallback))


class Zygote:
    """One warm worker process for one Python environment."""

    def __init__(
        self,
        python: str,
        *,
        env: dict[str, str],
        preload_file: Path,
        log_path: Path,
        worker: WorkerIdentity | None = None,
        command_prefix: list[str] | None = None,
        client_env: dict[str, str] | None = None,
    ) -> None:
        self.python = python
        self.command_prefix = command_prefix or []
        """Runs the zygote through this (``podman run -i ... IMAGE``: a warm container)."""
        self.client_env = client_env
        """The environment of the process started (with a prefix: the container client's); default ``env``."""
        self.worker = worker
        """The user it (and so every child it forks) runs as; ``None``: the server's."""
        self.env = env
        self.preload_file = preload_file
        self.log_path = log_path
        self.info: dict[str, Any] = {}
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[tuple[int, int]]] = {}
        self._workers: dict[int, ZygoteWorker] = {}
        self._early_exits: dict[int, int] = {}
        self._ready: asyncio.Future[dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.returncode is None and self._reader is not None

    async def start(self, timeout: float = 60.0) -> None:
        """Start the zygote and wait until it has imported the runtime.

        Raises:
            LaunchError: it could not start or could not import the entry point.
        """
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            log = open_for_append(self.log_path)  # in the workers' directory: no symlinks followed
        except OSError as error:
            raise LaunchError(f"cannot open the warm worker's log {self.log_path}: {error}") from error
        try:
            self._process = await asyncio.create_subprocess_exec(
                *self.command_prefix,
                self.python,
                str(ZYGOTE_SCRIPT),
                "a0",
                str(self.preload_file),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                env=self.client_env if self.client_env is not None else self.env,
                cwd=str(self.log_path.parent),
                start_new_session=True,
                limit=1 << 20,
                **user_options(self.worker),
            )
        except OSError as error:
            raise LaunchError(f"cannot start a warm worker with {self.python}: {error}") from error
        finally:
            log.close()
        self._ready = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read(), name="zygote-reader")
        try:
            self.info = await asyncio.wait_for(asyncio.shield(self._ready), timeout=timeout)
        except (asyncio.TimeoutError, LaunchError) as error:
            await self.stop()
            raise LaunchError(f"the warm worker for {self.python} did not start: {error}") from error
        logger.info("warm worker ready: %s", self.info)

    async def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        stdout = self._process.stdout
        try:
            while True:
                line = await stdout.readline()
                if not line:
                    break
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                self._dispatch(message)
        finally:
            self._reader = None
            self._on_death()

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "ready" in message:
            if self._ready is not None and not self._ready.done():
                if message["ready"]:
                    self._ready.set_result(message)
                else:
                    self._ready.set_exception(LaunchError(str(message.get("error"))))
        elif "exit" in message:
            pid, code = int(message["exit"]), int(message["code"])
            worker = self._workers.pop(pid, None)
            if worker is not None:
                worker._set_exit(code)
            else:
                self._early_exits[pid] = code
        elif "id" in message:
            future = self._pending.pop(int(message["id"]), None)
            if future is not None and not future.done():
                if "pid" in message:
                    future.set_result((int(message["pid"]), int(message.get("ticks") or 0)))
                else:
                    future.set_exception(LaunchError(str(message.get("error"))))
        elif "learned" in message:
            self._remember(message["learned"])

    def _remember(self, modules: list[str]) -> None:
        try:
            known: set[str] = set()
            if self.preload_file.exists():
                with open_worker_file(self.preload_file) as existing:
                    known = set(existing.read().decode(errors="replace").split())
            new = [name for name in modules if name not in known]
            if new:
                with open_for_append(self.preload_file) as out:
                    out.write("".join(f"{name}\n" for name in new).encode())
        except OSError as error:
            logger.warning("cannot record the warm worker's modules: %s", error)

    def _on_death(self) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(LaunchError("the warm worker exited; see its log " + str(self.log_path)))
        for future in self._pending.values():
            if not future.done():
                future.set_exception(LaunchError("the warm worker exited"))
        self._pending.clear()
        for worker in self._workers.values():
            worker._orphaned()
        self._workers.clear()

    @property
    def reuse(self) -> bool:
        """Whether its runtime can run many attempts in one process (see ``flyte._internal.runtime.worker``)."""
        return bool(self.info.get("reuse"))

    async def launch(self, spec: LaunchSpec, *, reused: dict[str, str] | None = None) -> ZygoteWorker:
        """Fork a worker for ``spec`` (a reused worker when ``reused`` gives its socket, id and token).

        Raises:
            LaunchError: the zygote is gone or the fork failed.
        """
        process = self._process
        if not self.alive or process is None or process.stdin is None:
            raise LaunchError("the warm worker is not running")
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        request = {
            "op": "launch",
            "id": request_id,
            "argv": spec.argv,
            "env": spec.env,
            "cwd": str(spec.cwd),
            "log": str(spec.log_path),
        }
        if reused is not None:
            request["worker"] = reused
        process.stdin.write(json.dumps(request).encode() + b"\n")
        try:
            await process.stdin.drain()
            pid, ticks = await asyncio.wait_for(future, timeout=_REQUEST_TIMEOUT)
        except (ConnectionError, asyncio.TimeoutError) as error:
            self._pending.pop(request_id, None)
            raise LaunchError(f"the warm worker did not answer: {error!r}") from error
        worker = ZygoteWorker(pid, ticks)
        early = self._early_exits.pop(pid, None)
        if early is not None:
            worker._set_exit(early)
        else:
            self._workers[pid] = worker
        return worker

    async def stop(self) -> None:
        """Stop the zygote (its children are not touched)."""
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        if process.returncode is None:
            try:
                await asyncio.wait_for(process.wait(), timeout=5)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._process = None


def preload_file_for(state_dir: Path, python: str) -> Path:
    """Where the modules the warm worker of ``python`` should import are remembered."""
    import hashlib

    digest = hashlib.sha256(os.path.realpath(python).encode()).hexdigest()[:16]
    return state_dir / f"zygote-modules-{digest}-py{sys.version_info[0]}.txt"

"""Reused workers: many attempts in one warm process, no process per attempt.

A runtime that offers it (ours: ``flyte._internal.runtime.worker``) runs attempts as asyncio tasks
in a long-lived worker forked from the warm worker (the zygote). Attempts share a worker only when
they would have had the same process anyway: same environment except the action's own variables
(so the same run, project, task environment and secrets) and the same code (bundle, version,
resolver). A worker serves any number of attempts at once; a key gets up to one worker per CPU
before attempts double up, workers idle for ``idle_seconds`` are retired, and past
``max_workers`` the longest-idle worker makes room (or, when none is idle, the attempt is forked).

Each attempt still has its own log file and output directory, and the server still learns the
outcome from ``outputs.pb`` / ``error.pb`` — except small outputs of a success, which come back
with the attempt's result (:attr:`InProcessAttempt.outputs`) instead of as a file; the worker keeps
those until the server acknowledges them once the outcome is committed, and writes them as
``outputs.pb`` if the server goes away first, so a success is never lost to a crash of the server. The worker's pid
stands for the attempt's process: after a server crash the worker finishes what it runs (writing
outputs.pb, as there is no server to take them) and exits, and the next server waits for that exit
like for any orphaned worker. Abort and timeout cancel the attempt's task; one that does
not stop within the grace period takes its worker down with it (the other attempts in that worker
then fail as system errors and are retried).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
from pathlib import Path
from typing import Any

from flyte_server.executors import LaunchError, LaunchSpec
from flyte_server.executors.procs import ExitTracking, kill_group, process_start_ticks, scan_working_dirs
from flyte_server.executors.zygote import Zygote, ZygoteWorker
from flyte_server.isolation import make_owned_dirs, open_worker_file

__all__ = ["InProcessAttempt", "WorkerPool", "reuse_key"]

logger = logging.getLogger(__name__)

PER_ATTEMPT_ENV = frozenset({"ACTION_NAME", "FLYTE_ATTEMPT_NUMBER"})
"""Variables that may differ between attempts of one worker (``flyte._internal.runtime.worker``)."""

JOURNAL = "attempts.journal"
"""In a reused worker's directory: the working directory of every attempt it took, one a line."""

_CODE_FLAGS = frozenset({"--tgz", "--pkl", "--version", "--dest", "--image-cache", "--resolver"})
_CONNECT_TIMEOUT = 15.0


def reuse_key(spec: LaunchSpec) -> tuple[object, ...]:
    """Which attempts may share a worker: same environment (but the action's own) and same code."""
    env = frozenset(item for item in spec.env.items() if item[0] not in PER_ATTEMPT_ENV)
    argv = spec.argv
    code = tuple((flag, argv[index + 1]) for index, flag in enumerate(argv[:-1]) if flag in _CODE_FLAGS)
    return (argv[0], env, code)


class InProcessAttempt(ExitTracking):
    """One attempt running inside a reused worker (an :class:`~flyte_server.executors.AttemptHandle`)."""

    uses_work_dir = False
    """It never creates its working directory (the worker extracts bundles into its own)."""

    def __init__(self, worker: ReusedWorker, request_id: int) -> None:
        super().__init__(worker.pid, worker.start_ticks)
        self.id = f"{self.group}:{request_id}"  # the worker's process stands for it after a restart
        self.worker = worker
        self.request_id = request_id
        self.outputs: bytes | None = None
        """A success's outputs, when the worker sent them instead of writing ``outputs.pb``."""
        self.held: dict[str, Any] | None = None
        """The run request, while the attempt waits for :meth:`begin` (see :attr:`WorkerPool.hold_until_recorded`)."""

    @property
    def waits_to_begin(self) -> bool:
        """Whether the worker has not been sent this attempt yet: the caller records it, then calls :meth:`begin`."""
        return self.held is not None

    def begin(self) -> None:
        """Send the held attempt to its worker (it starts now)."""
        message, self.held = self.held, None
        if message is None or self.done():
            return
        if not self.worker.send(message):
            self.worker.attempts.pop(self.request_id, None)
            self._set_exit(None)  # the worker went away meanwhile: a system failure, retried

    def retire_worker_if_idle(self) -> None:
        """Let the worker exit now if it runs nothing else (its attempt parked: it would only idle)."""
        worker = self.worker
        if not worker.attempts and not worker.reserved and not worker.retiring:
            worker.retiring = True
            worker.send({"op": "exit"})

    def acknowledge(self) -> None:
        """The outcome is committed: the worker may forget the outputs it sent."""
        self.worker.send({"op": "ack", "id": self.request_id})

    async def terminate(self, grace: float) -> None:
        if self.done():
            return
        if self.held is not None:  # never sent: nothing runs
            self.held = None
            self.worker.finished(self.request_id, -signal.SIGTERM)
            return
        self.worker.send({"op": "cancel", "id": self.request_id})
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._exited), timeout=max(grace, 0.1))
        if not self.done():
            logger.warning("attempt %d did not stop: killing its reused worker %s", self.request_id, self.worker.id)
            await self.worker.kill()
            self._set_exit(-signal.SIGKILL)


class ReusedWorker:
    """One reused worker process and the attempts it runs."""

    def __init__(self, pool: WorkerPool, key: tuple[object, ...], worker_id: str) -> None:
        self.pool = pool
        self.key = key
        self.id = worker_id
        self.token = secrets.token_hex(16)
        self.pid = 0
        self.start_ticks = 0
        self.process: ZygoteWorker | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.connected: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.attempts: dict[int, InProcessAttempt] = {}
        self.reserved = 0
        self.retiring = False
        self.gone = False
        self.idle_since = asyncio.get_running_loop().time()
        self.follower: asyncio.Task[None] | None = None
        self.pool_env: dict[str, str] = {}
        """The worker's own environment (the attempts' minus their per-attempt variables)."""

    @property
    def load(self) -> int:
        return len(self.attempts) + self.reserved

    def send(self, message: dict[str, Any]) -> bool:
        """Write ``message`` to the worker; whether it is still connected."""
        if self.writer is None or self.writer.is_closing():
            return False
        self.writer.write(json.dumps(message).encode() + b"\n")
        return True

    async def run(self, spec: LaunchSpec, request_id: int, *, hold: bool = False) -> InProcessAttempt:
        """Give the worker an attempt; with ``hold``, only once the caller calls ``begin()``."""
        attempt = InProcessAttempt(self, request_id)
        self.attempts[request_id] = attempt
        # The worker's own environment is the rest (``reuse_key`` grouped the attempts by it).
        env = {key: spec.env[key] for key in PER_ATTEMPT_ENV if key in spec.env}
        attempt.held = {
            "op": "run",
            "id": request_id,
            "argv": spec.argv,
            "env": env,
            "log": str(spec.log_path),
            "inline_outputs": self.pool.inline_outputs,
            "ack": True,
            "journal": str(spec.cwd),
        }
        if not hold:
            attempt.begin()
        return attempt

    def finished(self, request_id: int, code: int | None, outputs: bytes | None = None) -> None:
        attempt = self.attempts.pop(request_id, None)
        if attempt is not None:
            attempt.outputs = outputs
            attempt._set_exit(code)
        if not self.attempts:
            self.idle_since = asyncio.get_running_loop().time()

    def lost(self) -> None:
        """The worker is gone: its running attempts end with an unknown exit status."""
        self.gone = True
        if not self.connected.done():
            self.connected.set_exception(LaunchError(f"the reused worker {self.id} exited before it connected"))
            self.connected.exception()
        for attempt in list(self.attempts.values()):
            attempt._set_exit(None)
        self.attempts.clear()
        self.pool.forget(self)

    def let_go(self) -> None:
        """Close the control connection (the worker then behaves as after a crash of the server)."""
        self.retiring = True
        if self.writer is not None and not self.writer.is_closing():
            self.writer.close()

    async def kill(self) -> None:
        if self.pid:
            kill_group(self.pid, signal.SIGKILL)
        if self.process is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.process.wait(), timeout=5)
        self.lost()


class WorkerPool:
    """Reused workers of one worker Python environment, forked from its zygote."""

    def __init__(
        self,
        state_dir: Path,
        *,
        per_key: int | None = None,
        max_workers: int | None = None,
        idle_seconds: float = 30.0,
        inline_outputs: int = 0,
        owner: tuple[int, int] | None = None,
    ) -> None:
        cpus = max(1, os.cpu_count() or 1)
        self.owner = owner
        """The workers' ``(uid, gid)`` when they run as another user: their directories are theirs."""
        self.state_dir = state_dir / "reused"
        self.per_key = per_key or cpus
        self.max_workers = max_workers or 4 * cpus
        """At most this many workers at once (each holds its run's modules); past it, attempts fork."""
        self.idle_seconds = idle_seconds
        self.inline_outputs = inline_outputs
        """Outputs up to this many bytes come back with the attempt's result (0: always ``outputs.pb``)."""
        self.hold_until_recorded = False
        """Attempts wait for ``begin()`` (after the server committed them as RUNNING) before they start.

        Set when replicas share the database: a replica that adopts the runs of a dead one trusts
        the store, and an attempt that began before its RUNNING row was committed would look
        QUEUED there and run again."""
        self.zygote: Zygote | None = None
        self._socket = f"@flyte-server-{os.getpid()}-{secrets.token_hex(6)}"
        self._server: asyncio.AbstractServer | None = None
        self._workers: dict[str, ReusedWorker] = {}
        self._by_key: dict[tuple[object, ...], list[ReusedWorker]] = {}
        self._next_request = 0
        self._next_worker = 0
        self._generation = secrets.token_hex(3)
        """Tells this server's worker ids from those of an earlier server whose workers still run."""
        self._reaper: asyncio.Task[None] | None = None

    async def start(self, zygote: Zygote) -> None:
        self.zygote = zygote
        if self._server is None:
            self._server = await asyncio.start_unix_server(self._accept, path="\0" + self._socket[1:], limit=1 << 24)
            self._reaper = asyncio.create_task(self._reap_idle(), name="reused-worker-reaper")

    async def stop(self) -> None:
        """Ask every worker to finish what it runs and exit; stop accepting connections."""
        if self._reaper is not None:
            self._reaper.cancel()
        for worker in list(self._workers.values()):
            worker.send({"op": "exit"})
            if worker.writer is not None:
                worker.writer.close()
        if self._server is not None:
            self._server.close()
            self._server = None

    def find_running(self, root: Path) -> dict[Path, tuple[int, int] | None]:
        """Attempts that reused workers (of this server or an earlier one) took, by working directory.

        Each worker appends an attempt's working directory to its journal before running it, so
        after a crash of the server an attempt whose start was never committed is still found: in
        the worker that runs it (``(pid, start ticks)``), or done with a worker that has exited
        (``None``: its outcome is in its files, or it was lost). Directories of exited workers
        that no worker of this server owns are removed once read.
        """
        found: dict[Path, tuple[int, int] | None] = {}
        prefix = str(root.resolve()) + os.sep
        live = scan_working_dirs(self.state_dir)
        try:
            worker_dirs = [path for path in self.state_dir.iterdir() if path.is_dir()]
        except OSError:
            return found
        for worker_dir in worker_dirs:
            pid = live.get(worker_dir.resolve())
            ticks = process_start_ticks(pid) if pid else None
            try:
                # The worker writes its journal: no symlink (to /dev/zero, say), FIFO or device is read.
                with open_worker_file(worker_dir / JOURNAL) as journal:
                    lines = journal.read().decode(errors="replace").splitlines()
            except OSError:
                lines = []
            for line in lines:
                if line.startswith(prefix):
                    found[Path(line)] = (pid, ticks) if pid and ticks is not None else None
            if ticks is None and worker_dir.name not in self._workers:
                shutil.rmtree(worker_dir, ignore_errors=True)
        return found

    def let_go_of_run(self, project: str, domain: str, run: str) -> int:
        """Cut loose the workers of a run this server no longer drives (another replica adopted it).

        Each behaves as after a crash of this server: it writes the outcomes it holds as files
        (where the adopter looks), finishes what it runs and exits. A worker serves one run, so
        nothing of this server's goes with it. Returns how many workers were let go.
        """
        wanted = {
            "FLYTE_INTERNAL_EXECUTION_PROJECT": project,
            "FLYTE_INTERNAL_EXECUTION_DOMAIN": domain,
            "RUN_NAME": run,
        }
        count = 0
        for worker in list(self._workers.values()):
            if all(worker.pool_env.get(name) == value for name, value in wanted.items()):
                worker.let_go()
                count += 1
        return count

    def forget(self, worker: ReusedWorker) -> None:
        self._workers.pop(worker.id, None)
        siblings = self._by_key.get(worker.key)
        if siblings and worker in siblings:
            siblings.remove(worker)
            if not siblings:
                del self._by_key[worker.key]

    async def launch(self, spec: LaunchSpec) -> InProcessAttempt | None:
        """Run ``spec`` in a reused worker; ``None`` when none can take it (the caller forks instead)."""
        zygote = self.zygote
        if zygote is None or not zygote.alive or not zygote.reuse or self._server is None:
            return None
        key = reuse_key(spec)
        worker = self._choose(key)
        if worker is None:
            return None
        worker.reserved += 1
        try:
            if worker.process is None and not worker.connected.done():
                if worker.reserved == 1 and not worker.pid:
                    await self._start_worker(worker, spec)
            await asyncio.wait_for(asyncio.shield(worker.connected), timeout=_CONNECT_TIMEOUT)
        except (LaunchError, asyncio.TimeoutError) as error:
            logger.warning("reused worker %s unavailable: %s", worker.id, error)
            if not worker.gone:
                await worker.kill()
            return None
        finally:
            worker.reserved -= 1
        if worker.gone:
            return None
        self._next_request += 1
        return await worker.run(spec, self._next_request, hold=self.hold_until_recorded)

    def _make_room(self) -> bool:
        """Whether one more worker fits under ``max_workers``, retiring the longest-idle one if needed."""
        active = [w for w in self._workers.values() if not w.retiring and not w.gone]
        if len(active) < self.max_workers:
            return True
        idle = [w for w in active if w.load == 0 and w.connected.done()]
        if not idle:
            return False
        oldest = min(idle, key=lambda w: w.idle_since)
        oldest.retiring = True
        oldest.send({"op": "exit"})
        return True

    def _choose(self, key: tuple[object, ...]) -> ReusedWorker | None:
        live = [w for w in self._by_key.get(key, []) if not w.retiring and not w.gone]
        best = min(live, key=lambda w: w.load, default=None)
        if best is not None and (best.load == 0 or len(live) >= self.per_key):
            return best
        if not self._make_room():
            return best  # None: the attempt gets a process of its own
        self._next_worker += 1
        worker = ReusedWorker(self, key, f"w{self._generation}-{self._next_worker}")
        self._workers[worker.id] = worker
        self._by_key.setdefault(key, []).append(worker)
        return worker

    async def _start_worker(self, worker: ReusedWorker, spec: LaunchSpec) -> None:
        assert self.zygote is not None
        worker_dir = self.state_dir / worker.id
        worker.pool_env = {key: value for key, value in spec.env.items() if key not in PER_ATTEMPT_ENV}
        await asyncio.to_thread(_fresh_dir, worker_dir, self.owner)
        process = await self.zygote.launch(
            LaunchSpec(
                argv=spec.argv[:1],
                env=worker.pool_env,
                cwd=worker_dir,
                log_path=self.state_dir / f"{worker.id}.log",
                entry=spec.entry,
            ),
            reused={"socket": self._socket, "id": worker.id, "token": worker.token},
        )
        worker.process = process
        worker.pid = process.pid
        worker.start_ticks = process.start_ticks
        worker.follower = asyncio.create_task(
            self._follow(worker, process, worker_dir), name=f"reused-worker-{worker.id}"
        )

    async def _follow(self, worker: ReusedWorker, process: ZygoteWorker, worker_dir: Path) -> None:
        code = await process.wait()
        if code not in (0, None):
            logger.warning("reused worker %s (pid %d) exited with status %s", worker.id, worker.pid, code)
        worker.lost()
        await asyncio.to_thread(shutil.rmtree, worker_dir, True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        worker: ReusedWorker | None = None
        try:
            hello = json.loads(await asyncio.wait_for(reader.readline(), timeout=_CONNECT_TIMEOUT) or b"{}")
            worker = self._workers.get(str(hello.get("hello")))
            if worker is None or not secrets.compare_digest(str(hello.get("token")), worker.token):
                worker = None
                return
            worker.writer = writer
            if not worker.connected.done():
                worker.connected.set_result(None)
            while True:
                line = await reader.readline()
                if not line:
                    break
                message = json.loads(line)
                if "done" in message:
                    outputs = message.get("outputs")
                    worker.finished(
                        int(message["done"]),
                        int(message["code"]),
                        base64.b64decode(outputs) if isinstance(outputs, str) else None,
                    )
                    if message.get("stuck") and not worker.retiring:
                        # A cancelled task left a thread running: no new attempts here; it exits when idle.
                        worker.retiring = True
                        worker.send({"op": "exit"})
        except (ValueError, asyncio.TimeoutError, ConnectionError) as error:
            logger.warning("reused worker connection closed: %s", error)
        finally:
            writer.close()
            if worker is not None:
                worker.lost()

    async def _reap_idle(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(max(self.idle_seconds / 4, 0.05))
            for worker in list(self._workers.values()):
                if worker.load == 0 and worker.connected.done() and loop.time() - worker.idle_since > self.idle_seconds:
                    worker.retiring = True
                    worker.send({"op": "exit"})


def _fresh_dir(path: Path, owner: tuple[int, int] | None) -> None:
    shutil.rmtree(path, ignore_errors=True)
    make_owned_dirs(path, owner)

"""A reused worker: one process that runs many attempts, each as an asyncio task.

The local executor of ``flyte start server`` starts it (forked from its warm worker) for attempts
that share everything but their action: same run, same code bundle, same environment. Attempts then
cost no process at all: the code bundle is extracted once, the task's module imported once, and
one client set serves every nested call.

Protocol: the worker connects to the server's Unix socket (``socket`` may be an abstract name
starting with ``@``), sends ``{"hello": <worker id>, "token": <token>}``, then reads one JSON object
per line:

* ``{"op": "run", "id": n, "argv": [...], "env": {...}, "log": path}`` runs one attempt — ``argv``
  is what a separate ``a0`` process would have been given, ``env`` its variables that differ from
  the worker's own environment (``PER_ATTEMPT_ENV``); its output and logging go to ``log``.
  The reply is ``{"done": n, "code": c}`` with ``a0``'s exit status. With ``"inline_outputs": k``
  in the request, a success's outputs of at most ``k`` bytes come back in the reply
  (``"outputs": <base64>``) instead of as ``outputs.pb``. With ``"ack": true`` the worker keeps
  those outputs until ``{"op": "ack", "id": n}`` says the server committed them; when the server
  goes away first it writes them as ``outputs.pb``, where the next server looks. A ``"journal"``
  key is appended to ``attempts.journal`` in the worker's directory before the attempt starts.
* ``{"op": "cancel", "id": n}`` cancels that attempt (abort, timeout); it then replies ``done``.
* ``{"op": "exit"}`` (or the server going away) lets the running attempts finish, then exits.

Output isolation: ``sys.stdout`` and ``sys.stderr`` are routed by a context variable to the log of
the attempt whose task (or whose ``asyncio.to_thread`` helper) writes; threads the user starts
without copying the context write to the worker's own log.

Processes: what an attempt starts with :mod:`subprocess` (or ``asyncio``'s subprocess functions) is
recorded and stopped with it on abort or timeout (:mod:`flyte._internal.runtime.subprocesses`).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import contextvars
import hashlib
import json
import logging
import os
import sys
import threading
import traceback
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from flyte._internal.runtime import subprocesses

if TYPE_CHECKING:
    from flyte._internal.runtime.taskrunner import ActionOptions

__all__ = ["PER_ATTEMPT_ENV", "REUSED_WORKER_PROTOCOL", "serve"]

REUSED_WORKER_PROTOCOL = 1
"""The version of the protocol below (the server's warm worker checks it before using ``serve``)."""

logger = logging.getLogger("flyte")

JOURNAL = "attempts.journal"
"""In the worker's working directory: the ``journal`` key of every attempt it took, one a line."""

PER_ATTEMPT_ENV = ("ACTION_NAME", "FLYTE_ATTEMPT_NUMBER")
"""Variables that differ between attempts sharing a worker (the rest of the environment is the worker's)."""


class _LazyLog:
    """An attempt's log file, created on its first write (most attempts of small tasks write nothing)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def file(self) -> IO[str]:
        if self._file is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._file = open(self.path, "a", buffering=1, encoding="utf-8")
        return self._file

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


_current_log: contextvars.ContextVar[_LazyLog | None] = contextvars.ContextVar("flyte_attempt_log", default=None)


class _Router:
    """A text stream that writes to the current attempt's log, else to the worker's own stream."""

    def __init__(self, default: IO[str]) -> None:
        self._default = default

    def _target(self) -> IO[str]:
        log = _current_log.get()
        return log.file() if log is not None else self._default

    def write(self, text: str) -> int:
        return self._target().write(text)

    def writelines(self, lines: Any) -> None:
        self._target().writelines(lines)

    def flush(self) -> None:
        log = _current_log.get()
        if log is None:
            self._default.flush()
        elif log._file is not None:
            log._file.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._target().fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)


class _Worker:
    def __init__(self, worker_dir: Path) -> None:
        self.bundles = worker_dir / "bundles"
        self.extracted: dict[str, asyncio.Future[None]] = {}
        self.attempts: dict[int, asyncio.Task[None]] = {}
        self.service: Any = None
        self.clients: Any = None
        self.initialised = False
        self.writer: asyncio.StreamWriter | None = None
        self.server_gone = False
        self.journal: IO[str] | None = None
        """Where each attempt's key (``"journal"`` in its request) is appended before it starts."""
        self.unacknowledged: dict[int, tuple[ActionOptions, bytes]] = {}
        """Outputs sent with a result that the server has not said it committed yet."""

    def connected(self) -> bool:
        """Whether the server is (as far as we know) still there to read replies."""
        return not self.server_gone and self.writer is not None and not self.writer.is_closing()

    def reply(self, message: dict[str, Any]) -> None:
        if self.writer is not None and not self.writer.is_closing():
            self.writer.write(json.dumps(message).encode() + b"\n")

    def _setup(self, options: ActionOptions, environ: Mapping[str, str]) -> None:
        """Once per worker: logging, ``flyte.init``, and the client set for nested calls."""
        from flyte._internal.runtime.entrypoint import _configure_logging, _init_sdk
        from flyte._internal.runtime.taskrunner import default_service

        _configure_logging(environ)
        _init_sdk(options.project, options.domain, options.org, environ)
        self.service, self.clients = default_service(options)
        self.initialised = True

    async def _bundle(self, tgz: str, dest: str) -> Path:
        """Where ``tgz`` is extracted for this worker (once, whoever asks first)."""
        from flyte._internal.runtime.bundle import download_tgz

        digest = hashlib.sha256(f"{tgz}\0{dest}".encode()).hexdigest()[:16]
        destination = self.bundles / digest / dest.lstrip("/")
        pending = self.extracted.get(digest)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self.extracted[digest] = pending
            try:
                await download_tgz(tgz, destination)
            except BaseException as error:
                del self.extracted[digest]
                pending.set_exception(error)
                pending.exception()  # retrieved: the caller re-raises it
                raise
            pending.set_result(None)
        else:
            await asyncio.shield(pending)
        return destination

    async def run(
        self,
        request_id: int,
        argv: list[str],
        env: dict[str, str],
        log_path: str,
        inline_limit: int = 0,
        keep_until_ack: bool = False,
    ) -> None:
        from flyte._internal.runtime.entrypoint import options_from_args
        from flyte._internal.runtime.taskrunner import InlineOutputs, inline_outputs, run_action, write_error
        from flyte._internal.threads import started_threads

        code = 1
        stuck = False
        succeeded = False
        options: ActionOptions | None = None
        threads: list[threading.Thread] = []
        started_threads.set(threads)
        log = _LazyLog(log_path)
        _current_log.set(log)  # this task's own context: nothing to reset
        sink = InlineOutputs(inline_limit) if inline_limit > 0 else None
        inline_outputs.set(sink)
        attempt_tag = "/".join((os.environ.get("RUN_NAME", ""), env.get("ACTION_NAME", ""), str(request_id)))
        processes = subprocesses.AttemptProcesses(attempt_tag)
        processes.activate()
        try:
            environ = collections.ChainMap(env, os.environ)
            options = options_from_args(argv[1:], environ)
            if not self.initialised:
                self._setup(options, environ)
            if options.tgz:
                try:
                    destination = await self._bundle(options.tgz, options.dest)
                except Exception as error:  # a bundle that cannot be fetched fails this attempt
                    await write_error(options, error)
                    code = 0
                    return
                options = replace(options, extracted_at=str(destination))
            logger.info(
                "Running action %s of run %s (attempt %d)",
                options.action_name,
                options.run_name,
                options.attempt_number,
            )
            succeeded = await run_action(options, self.service)
            logger.info("Action %s %s", options.action_name, "succeeded" if succeeded else "failed")
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except asyncio.CancelledError:
            code = -15
            if processes.pids:  # abort or timeout: what the attempt started goes with it
                await asyncio.to_thread(subprocesses.stop, processes)
            stuck = await _still_running(threads)
            if stuck:
                print("a task thread did not stop after the cancellation; this worker retires", file=sys.stderr)
            raise
        except BaseException:  # anything else is a crash of this attempt, not of the worker
            code = 1
            with contextlib.suppress(OSError):  # a full disk must not keep the reply from the server
                traceback.print_exc()
        finally:
            reply: dict[str, Any] = {"done": request_id, "code": code, "stuck": stuck}
            if sink is not None and sink.data is not None and succeeded and code == 0 and options is not None:
                if self.connected():
                    reply["outputs"] = base64.b64encode(sink.data).decode("ascii")
                    if keep_until_ack:
                        self.unacknowledged[request_id] = (options, sink.data)
                else:  # the server went away: leave the outcome where the next one looks for it
                    await _write_outputs_file(options, sink.data)
            with contextlib.suppress(OSError):
                log.close()
            self.attempts.pop(request_id, None)
            self.reply(reply)

    def handle(self, message: dict[str, Any]) -> bool:
        op = message.get("op")
        if op == "run":
            request_id = int(message["id"])
            if message.get("journal"):
                # Before the attempt starts: a server that restarts finds it here, not only in its database.
                if self.journal is None:
                    self.journal = open(JOURNAL, "a", buffering=1, encoding="utf-8")
                self.journal.write(f"{message['journal']}\n")
            task = asyncio.get_running_loop().create_task(
                self.run(
                    request_id,
                    list(message["argv"]),
                    dict(message["env"]),
                    str(message["log"]),
                    int(message.get("inline_outputs") or 0),
                    bool(message.get("ack")),
                ),
                name=f"attempt-{request_id}",
            )
            self.attempts[request_id] = task
        elif op == "ack":
            self.unacknowledged.pop(int(message["id"]), None)
        elif op == "cancel":
            running = self.attempts.get(int(message["id"]))
            if running is not None:
                running.cancel()
        elif op == "exit":
            return False
        return True

    async def main(self, socket: str, worker_id: str, token: str) -> None:
        address = "\0" + socket[1:] if socket.startswith("@") else socket
        reader, self.writer = await asyncio.open_unix_connection(address, limit=1 << 24)
        self.reply({"hello": worker_id, "token": token, "pid": os.getpid()})
        try:
            while True:
                try:
                    line = await reader.readline()
                except ConnectionError:
                    line = b""
                if not line:
                    self.server_gone = True
                    # At once, not after the running attempts: one of them may be a parent waiting
                    # for these outcomes through the next server.
                    await self._write_unacknowledged()
                    break
                if line.strip() and not self.handle(json.loads(line)):
                    break
            while self.attempts:
                await asyncio.gather(*list(self.attempts.values()), return_exceptions=True)
            # Told to exit with outcomes the server has not acknowledged (its commit did not happen):
            # keep them where a server looks, as when it goes away.
            await self._write_unacknowledged()
            if not self.server_gone:
                with contextlib.suppress(ConnectionError):
                    await self.writer.drain()
        finally:
            if self.clients is not None:
                await self.clients.close()
            self.writer.close()

    async def _write_unacknowledged(self) -> None:
        """The server went away before committing these outcomes: leave them where the next one looks."""
        while self.unacknowledged:
            _, (options, data) = self.unacknowledged.popitem()
            try:
                await _write_outputs_file(options, data)
            except OSError as error:
                print(f"could not keep the outputs of {options.action_name}: {error}", file=sys.__stderr__)


async def _write_outputs_file(options: ActionOptions, data: bytes) -> None:
    from flyte._internal.runtime import storage

    await storage.write_bytes(storage.join(options.outputs_path, "outputs.pb"), data)


async def _still_running(threads: list[threading.Thread], grace: float = 1.0) -> bool:
    """Whether one of ``threads`` is still alive ``grace`` seconds after its task was cancelled."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while any(thread.is_alive() for thread in threads):
        if loop.time() >= deadline:
            return True
        await asyncio.sleep(0.05)
    return False


def serve(socket: str, worker_id: str, token: str) -> int:
    """Run attempts sent by the server on ``socket`` until told to stop; the process's exit status."""
    sys.stdout = _Router(sys.stdout)  # type: ignore[assignment]
    sys.stderr = _Router(sys.stderr)  # type: ignore[assignment]
    subprocesses.install()
    worker = _Worker(Path.cwd())
    try:
        asyncio.run(worker.main(socket, worker_id, token))
    except (ConnectionError, OSError) as error:
        print(f"reused worker {worker_id}: {error}", file=sys.__stderr__)
        return 1
    return 0

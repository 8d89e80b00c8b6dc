"""The ``ray`` executor: every attempt runs on a Ray cluster, in warm Ray actors of our runtime.

``flyte start server --executor ray --ray-address ADDR|auto`` connects the server to a Ray cluster
as a driver; without an address it starts a local Ray head with the server (and stops it with the
server). See ``docs/ray-executor.md``.

Attempts run in *runners*: detached, named Ray actors in a namespace of this server, each a warm
process of the Flyte runtime (``flyte._internal.runtime.worker``) that runs attempts as asyncio
tasks, the way the local executor's reused workers do:

* attempts that ask for no resources share one runner per *reuse key* (same environment but the
  action's own variables, same code: so the same run and task environment), placed on the server's
  own node when it has room (a soft node affinity) and holding no Ray resources;
* an attempt with resources (``cpu``, ``memory``, ``gpu``, custom ones) gets a runner that holds
  exactly those (``num_cpus``, ``memory``, ``num_gpus``, ``resources``) and runs one attempt at a
  time; it stays warm for the next attempt with the same key (Ray places it where they fit, e.g. a
  task asking for ``{"node2": 1}`` on the node started with that resource).

The runner is told the attempt's per-attempt variables (``ACTION_NAME``, ``FLYTE_ATTEMPT_NUMBER``);
its own environment is the rest (secrets included, which is why runners are never shared across
keys). Code bundles, inputs and outputs travel through the object store the runtime is pointed at
(``--storage s3://...`` for nodes on other machines), never through the server's disk. The log of
an attempt is written on the runner's node and copied into the server's log file as it grows (the
server's TailLogs reads that file).

Handles are ``ray:<namespace>:<runner>:<attempt>``; a restarted server (or another replica on the
same cluster) finds the runner by name and asks it about the attempt, which kept running while no
server was there. Abort and timeout cancel the attempt's task inside its runner (its subprocesses
are stopped with it); an attempt that does not stop within the grace period takes its runner down
with ``ray.kill`` (Ray cannot force-cancel an actor task). A runner lost with its node fails its
attempts with an unknown exit status: the engine finds no outcome files and retries them as
system errors.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flyte._internal.runtime.worker import PER_ATTEMPT_ENV
from flyte_server.executors import (
    AttemptHandle,
    AttemptKey,
    FinishedAttempt,
    LaunchError,
    LaunchSpec,
    Resources,
)
from flyte_server.executors.reuse import _CODE_FLAGS

__all__ = ["RAY_RESOURCES_ENV", "RayAttempt", "RayExecutor", "ray_options"]

logger = logging.getLogger(__name__)

RAY_RESOURCES_ENV = "FLYTE_RAY_RESOURCES"
"""A task's environment variable with more Ray resources for its attempts, as JSON (``{"node2": 1}``)."""

_LOG_CHUNK = 1 << 20
_LOG_POLL_SECONDS = 1.0
_UNACKNOWLEDGED_SECONDS = 20.0
"""A success's outputs sent with its result and not acknowledged this long are written as ``outputs.pb``."""
_FINISHED_TTL_SECONDS = 600.0
"""How long a runner remembers a finished attempt (and keeps its log) for a server that restarts."""


# --------------------------------------------------------------------------- mapping


def ray_options(resources: Resources, env: Mapping[str, str]) -> dict[str, Any]:
    """Ray actor options for an attempt's resources (empty: it asked for none).

    ``cpu`` → ``num_cpus``, ``memory`` → ``memory`` (bytes), ``gpu`` → ``num_gpus``; custom
    resources (``Resources.custom`` and the task's ``FLYTE_RAY_RESOURCES`` JSON) → ``resources``.

    Raises:
        LaunchError: ``FLYTE_RAY_RESOURCES`` is not a JSON object of non-negative numbers.

    Example:
        >>> ray_options(Resources(cpu=0.5, memory=1 << 30, gpu=1), {"FLYTE_RAY_RESOURCES": '{"node2": 1}'})
        {'num_cpus': 0.5, 'memory': 1073741824, 'num_gpus': 1, 'resources': {'node2': 1.0}}
    """
    options: dict[str, Any] = {}
    if resources.cpu:
        options["num_cpus"] = resources.cpu
    if resources.memory:
        options["memory"] = resources.memory
    if resources.gpu:
        options["num_gpus"] = resources.gpu
    custom = {name: float(value) for name, value in resources.custom.items()}
    raw = env.get(RAY_RESOURCES_ENV)
    if raw:
        try:
            extra = json.loads(raw)
            if not isinstance(extra, dict):
                raise ValueError("not an object")
            for name, value in extra.items():
                if not isinstance(name, str) or not name or isinstance(value, bool) or float(value) < 0:
                    raise ValueError(f"bad entry {name!r}: {value!r}")
                custom[name] = float(value)
        except (ValueError, TypeError) as error:
            raise LaunchError(f"{RAY_RESOURCES_ENV} must be a JSON object of resource amounts: {error}") from error
    custom = {name: value for name, value in custom.items() if value > 0}
    if custom:
        options["resources"] = custom
    return options


def _reuse_key(spec: LaunchSpec, options: dict[str, Any]) -> str:
    """Which attempts may share a runner: same environment (but the action's own), code and resources."""
    env = sorted((k, v) for k, v in spec.env.items() if k not in PER_ATTEMPT_ENV)
    argv = spec.argv
    code = [(flag, argv[index + 1]) for index, flag in enumerate(argv[:-1]) if flag in _CODE_FLAGS]
    text = json.dumps([spec.entry, argv[0] if spec.entry != "a0" else "a0", env, code, options], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _attempt_id(spec: LaunchSpec) -> str:
    key = spec.key
    if key is None:
        labels = spec.labels
        return "/".join(labels.get(name, "") for name in ("project", "domain", "run", "action", "attempt"))
    return "/".join((key.project, key.domain, key.run, key.action, str(key.attempt)))


def _key_of(attempt_id: str) -> AttemptKey | None:
    parts = attempt_id.split("/")
    if len(parts) != 5 or not parts[4].isdigit():
        return None
    return AttemptKey(parts[0], parts[1], parts[2], parts[3], int(parts[4]))


# --------------------------------------------------------------------------- the runner (inside Ray)


class Runner:
    """A warm process of the Flyte runtime on a Ray node; runs attempts as asyncio tasks.

    Created as a detached, named Ray actor by :class:`RayExecutor`; never used directly.
    """

    def __init__(self, env: dict[str, str], capacity: int, inline_outputs: int = 0) -> None:
        os.environ.update(env)
        self.capacity = capacity
        self.inline_outputs = inline_outputs
        self._keeper: asyncio.Task[None] | None = None
        self.root = _runner_dir()
        os.chdir(self.root)
        self.logs = self.root / "logs"
        self.logs.mkdir()
        self.attempts: dict[str, dict[str, Any]] = {}
        self._next = 0
        self._worker: Any = None
        self.created = time.time()
        self.last_active = time.time()

    def _runtime(self) -> Any:
        if self._worker is None:
            from flyte._internal.runtime import subprocesses
            from flyte._internal.runtime.worker import _Router, _Worker

            class _Reporting(_Worker):
                """The reused worker of our runtime, replying to the runner instead of a socket."""

                def __init__(self, worker_dir: Path, done: dict[int, dict[str, Any]]) -> None:
                    super().__init__(worker_dir)
                    self.done = done

                def connected(self) -> bool:
                    return True  # small outputs come back with the result; kept until acknowledged

                def reply(self, message: dict[str, Any]) -> None:
                    if "done" in message:
                        self.done[int(message["done"])] = message

            sys.stdout = _Router(sys.stdout)  # type: ignore[assignment]
            sys.stderr = _Router(sys.stderr)  # type: ignore[assignment]
            subprocesses.install()
            self._done: dict[int, dict[str, Any]] = {}
            self._worker = _Reporting(self.root, self._done)
        return self._worker

    def _expire(self) -> None:
        now = time.time()
        for attempt_id, record in list(self.attempts.items()):
            if record["ended"] and now - record["ended"] > _FINISHED_TTL_SECONDS:
                self.attempts.pop(attempt_id, None)
                with contextlib.suppress(OSError):
                    os.unlink(record["log"])

    async def run(
        self, attempt_id: str, argv: list[str], env: dict[str, str], entry: str | None
    ) -> dict[str, Any] | None:
        """Start an attempt (once: the same id again only waits) and wait for its end (see :meth:`wait`).

        The attempt is a task of its own: it goes on if the caller (the server) goes away.
        """
        self._start(attempt_id, argv, env, entry)
        return await self.wait(attempt_id)

    def _start(self, attempt_id: str, argv: list[str], env: dict[str, str], entry: str | None) -> bool:
        """Start an attempt (once: a second start of the same id is a no-op); whether it is new."""
        self._expire()
        if self._keeper is None:
            self._keeper = asyncio.get_running_loop().create_task(self._keep_outputs(), name="keep-outputs")
        if attempt_id in self.attempts:
            return False
        self._next += 1
        number = self._next
        log_path = self.logs / f"{number}.log"
        record: dict[str, Any] = {"number": number, "log": str(log_path), "code": None, "ended": 0.0}
        self.attempts[attempt_id] = record
        self.last_active = time.time()
        if entry == "a0":
            coroutine = self._run_a0(record, argv, env)
        else:
            coroutine = self._run_command(record, argv, env)
        record["task"] = asyncio.get_running_loop().create_task(coroutine, name=f"attempt-{attempt_id}")
        return True

    async def _run_a0(self, record: dict[str, Any], argv: list[str], env: dict[str, str]) -> None:
        worker = self._runtime()
        number = record["number"]
        try:
            await worker.run(number, argv, env, record["log"], self.inline_outputs, True)
        except asyncio.CancelledError:
            pass
        finally:
            reply = self._done.pop(number, {"code": -15})
            record["code"] = int(reply.get("code", 1))
            record["stuck"] = bool(reply.get("stuck"))
            if reply.get("outputs"):
                record["outputs"] = reply["outputs"]
            record["ended"] = time.time()
            self.last_active = time.time()

    async def _run_command(self, record: dict[str, Any], argv: list[str], env: dict[str, str]) -> None:
        """Any other command: a process of its own (its group stopped with the attempt)."""
        import signal

        code = 1
        process: asyncio.subprocess.Process | None = None
        workdir = self.root / "work" / str(record["number"])
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            with open(record["log"], "ab") as log:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    cwd=str(workdir),
                    env={**os.environ, **env},
                    start_new_session=True,
                )
            code = await process.wait()
        except asyncio.CancelledError:
            code = -15
            if process is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
        except OSError as error:
            with open(record["log"], "a") as log:
                print(f"cannot start {argv[0]!r}: {error}", file=log)
            code = 127
        finally:
            record["code"] = code
            record["ended"] = time.time()
            self.last_active = time.time()
            shutil.rmtree(workdir, ignore_errors=True)

    async def wait(self, attempt_id: str) -> dict[str, Any] | None:
        """The attempt's end: ``{"code", "log_size", "stuck", "outputs"}``; ``None`` when this runner does not know it.

        ``outputs`` (base64) are a success's small outputs, sent instead of ``outputs.pb`` until
        :meth:`ack` says the server committed them; unacknowledged ones are written as
        ``outputs.pb`` after a while (the server went away), where the next server looks.
        """
        record = self.attempts.get(attempt_id)
        if record is None:
            return None
        task = record.get("task")
        if task is not None and not task.done():
            await asyncio.shield(task)
        return {
            "code": record["code"],
            "log_size": _size(record["log"]),
            "stuck": record.get("stuck", False),
            "outputs": record.get("outputs"),
        }

    async def ack(self, attempt_id: str) -> None:
        """The server committed the outputs it got with the result: forget them."""
        record = self.attempts.get(attempt_id)
        if record is not None:
            record.pop("outputs", None)
            if self._worker is not None:
                self._worker.unacknowledged.pop(record["number"], None)

    async def _keep_outputs(self) -> None:
        """Outputs no server acknowledged within a while go where the next server looks (``outputs.pb``)."""
        from flyte._internal.runtime.worker import _write_outputs_file

        while True:
            await asyncio.sleep(_UNACKNOWLEDGED_SECONDS / 2)
            worker = self._worker
            if worker is None:
                continue
            now = time.time()
            for record in list(self.attempts.values()):
                kept = worker.unacknowledged.get(record["number"])
                if kept is None or not record["ended"] or now - record["ended"] < _UNACKNOWLEDGED_SECONDS:
                    continue
                try:
                    await _write_outputs_file(*kept)
                except Exception as error:  # the store is unreachable: try again later
                    print(f"could not keep the outputs of attempt {record['number']}: {error}", file=sys.__stderr__)
                    continue
                worker.unacknowledged.pop(record["number"], None)
                record.pop("outputs", None)  # only now: a server asking meanwhile got them

    async def read_log(self, attempt_id: str, offset: int, limit: int = _LOG_CHUNK) -> bytes:
        """Up to ``limit`` bytes of the attempt's log from ``offset`` (``b""``: nothing more yet)."""
        record = self.attempts.get(attempt_id)
        if record is None:
            return b""
        try:
            with open(record["log"], "rb") as handle:
                handle.seek(offset)
                return handle.read(limit)
        except OSError:
            return b""

    async def cancel(self, attempt_id: str) -> bool:
        """Cancel a running attempt (its subprocesses are stopped with it); whether it was running."""
        record = self.attempts.get(attempt_id)
        task = record.get("task") if record else None
        if task is None or task.done():
            return False
        task.cancel()
        return True

    async def status(self) -> dict[str, Any]:
        """What a server that restarts needs: every attempt known here (``code`` ``None``: running)."""
        self._expire()
        return {
            "attempts": {attempt_id: record["code"] for attempt_id, record in self.attempts.items()},
            "running": sum(1 for record in self.attempts.values() if not record["ended"]),
            "idle_seconds": time.time() - self.last_active,
            "node": _node_id(),
            "pid": os.getpid(),
        }


def _runner_dir() -> Path:
    """A fresh directory for this runner process; those of runners that are gone are removed."""
    base = Path(tempfile.gettempdir()) / "flyte-ray-runners"
    with contextlib.suppress(Exception):  # inside the node's session directory: it goes with the cluster
        import ray._private.worker

        base = Path(ray._private.worker._global_node.get_session_dir_path()) / "flyte-runners"  # type: ignore[attr-defined]
    base.mkdir(parents=True, exist_ok=True)
    for old in base.iterdir():
        pid = old.name.split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=base))


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _node_id() -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id())


# --------------------------------------------------------------------------- the server side


class _RunnerRef:
    """The server's view of one runner actor."""

    def __init__(self, name: str, actor: Any, key: str, capacity: int) -> None:
        self.name = name
        self.actor = actor
        self.key = key
        self.capacity = capacity
        self.running: set[str] = set()
        self.idle_since = time.monotonic()
        self.dead = False
        self.retiring = False


class RayAttempt:
    """An attempt running in a runner (an :class:`~flyte_server.executors.AttemptHandle`)."""

    uses_work_dir = False
    """The engine has no working directory to remove (the attempt ran on a Ray node)."""

    def __init__(
        self,
        executor: RayExecutor,
        runner: _RunnerRef,
        attempt_id: str,
        log_path: Path | None,
        call: Any = None,
    ) -> None:
        self.executor = executor
        self.outputs: bytes | None = None
        """A success's outputs, when the runner sent them with the result instead of writing ``outputs.pb``."""
        self._call = call
        self.runner = runner
        self.attempt_id = attempt_id
        self.id = f"ray:{executor.namespace}:{runner.name}:{attempt_id}"
        self.group = f"ray:{executor.namespace}:{runner.name}"
        self.code: int | None = None
        self.log_path = log_path
        self._offset = _size(str(log_path)) if log_path is not None else 0
        self._ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiter = asyncio.create_task(self._follow(), name=f"ray-attempt-{attempt_id}")

    async def _follow(self) -> None:
        import ray.exceptions

        call = self._call if self._call is not None else self.runner.actor.wait.remote(self.attempt_id)
        self._call = None
        waiting = asyncio.ensure_future(call)
        result: dict[str, Any] | None = None
        try:
            while True:
                done, _ = await asyncio.wait({waiting}, timeout=_LOG_POLL_SECONDS)
                if done:
                    result = waiting.result()
                    break
                await self._copy_log()
            if result is not None:
                self.code = result.get("code")
                if result.get("outputs") and self.code == 0:
                    self.outputs = base64.b64decode(result["outputs"])
                if result.get("log_size", 0) > self._offset:
                    await self._copy_log(until=int(result["log_size"]))
                if result.get("stuck"):
                    self.executor.retire(self.runner)
        except (ray.exceptions.RayError, ConnectionError) as error:
            # The runner (or its node) is gone: the attempt's end is unknown; its files decide.
            logger.warning("the runner of attempt %s is gone: %s", self.attempt_id, error)
            self.runner.dead = True
            self.code = None
        except asyncio.CancelledError:
            waiting.cancel()
            raise
        finally:
            self.executor.finished(self)
            if not self._ended.done():
                self._ended.set_result(None)

    async def _copy_log(self, until: int | None = None) -> None:
        if self.log_path is None:
            return
        while until is None or self._offset < until:
            chunk: bytes = await self.runner.actor.read_log.remote(self.attempt_id, self._offset)
            if not chunk:
                return
            await asyncio.to_thread(_append, self.log_path, chunk)
            self._offset += len(chunk)
            if until is None and len(chunk) < _LOG_CHUNK:
                return

    async def wait(self) -> int | None:
        await asyncio.shield(self._ended)
        return self.code

    def acknowledge(self) -> None:
        """The outcome is committed: the runner may forget the outputs it sent."""
        import ray.exceptions

        if self.outputs is not None and not self.runner.dead:
            with contextlib.suppress(ray.exceptions.RayError):
                self.runner.actor.ack.remote(self.attempt_id)

    def done(self) -> bool:
        return self._ended.done()

    async def terminate(self, grace: float) -> None:
        if self.done():
            return
        import ray.exceptions

        with contextlib.suppress(ray.exceptions.RayError):
            await self.runner.actor.cancel.remote(self.attempt_id)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._ended), timeout=max(grace, 0.5))
        if not self.done():
            logger.warning("attempt %s did not stop: killing its runner %s", self.attempt_id, self.runner.name)
            self.executor.kill(self.runner)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._ended), timeout=10)
            if self.code is None:
                self.code = -9


def _append(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as out:
        out.write(data)


class RayExecutor:
    """Attempts on a Ray cluster; see the module docstring.

    Args:
        address: the cluster (``host:port``, ``ray://...`` or ``auto``); ``None`` starts a local head.
        state_dir: this server's executor directory (it keeps the Ray namespace of this server).
        log_root: where the server keeps attempt logs (``<log_root>/<project>/<domain>/<run>/<action>/<n>.log``),
            for attempts found again after a restart.
        idle_seconds: a runner without attempts for this long is stopped.
        inline_outputs: a success's outputs up to this many bytes come back with its result
            (default: the engine's inline limit).
        runners_per_key: runners that attempts of one key without resources spread over (default 1,
            or ``FLYTE_SERVER_RAY_RUNNERS_PER_KEY``; more puts a parent and its children on more cores).
    """

    name = "ray"

    def __init__(
        self,
        address: str | None,
        *,
        state_dir: Path,
        log_root: Path | None = None,
        idle_seconds: float = 30.0,
        namespace: str | None = None,
        inline_outputs: int | None = None,
        runners_per_key: int | None = None,
    ) -> None:
        if runners_per_key is None:
            runners_per_key = int(os.environ.get("FLYTE_SERVER_RAY_RUNNERS_PER_KEY", "1") or 1)
        if inline_outputs is None:
            from flyte_server.engine.data import INLINE_DATA_MAX

            inline_outputs = INLINE_DATA_MAX
        self.runners_per_key = max(1, runners_per_key)
        """Runners shared by attempts of one key (without resources) before attempts double up."""
        self.inline_outputs = inline_outputs
        """Outputs up to this many bytes come back with an attempt's result (0: always ``outputs.pb``)."""
        self.address = address
        self.state_dir = state_dir
        self.log_root = log_root
        self.idle_seconds = idle_seconds
        self.namespace = namespace or "flyte-" + hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:12]
        self._runners: dict[str, _RunnerRef] = {}
        self._by_key: dict[str, list[_RunnerRef]] = {}
        self._attempts: dict[str, RayAttempt] = {}
        self._remote_runner: Any = None
        self._head_node: str | None = None
        self._node_resources: list[dict[str, float]] = []
        self._nodes_checked = 0.0
        self._reaper: asyncio.Task[None] | None = None
        self._started = False
        self._placing = asyncio.Lock()
        self._temp_dir: str | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        import ray

        if self._started:
            return
        options: dict[str, Any] = {
            "namespace": self.namespace,
            "log_to_driver": False,
            "logging_level": logging.WARNING,
            "configure_logging": False,
        }
        try:
            if self.address:
                ray.init(address=self.address, **options)
            else:
                # A new head of our own ("local": never an existing cluster of this machine), in a
                # temp dir of its own (short: Ray's Unix sockets live there).
                self._temp_dir = tempfile.mkdtemp(prefix="flyte-ray-")
                ray.init(address="local", include_dashboard=False, _temp_dir=self._temp_dir, **options)
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = self.address or "a local Ray head"
            raise LaunchError(f"cannot connect to the Ray cluster at {where}: {error}") from error
        self._remote_runner = ray.remote(Runner)
        self._head_node = _head_node_id()
        self._started = True
        self._reaper = asyncio.create_task(self._reap_idle(), name="ray-runner-reaper")
        logger.info("Ray executor: namespace %s, %d nodes", self.namespace, len(ray.nodes()))  # type: ignore[no-untyped-call]

    async def stop(self) -> None:
        """Stop idle runners and disconnect (a local head stops with us); running attempts stay."""
        import ray

        if not self._started:
            return
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        for runner in list(self._runners.values()):
            if not runner.running:
                self.kill(runner)
        self._started = False
        await asyncio.to_thread(ray.shutdown)
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    # ------------------------------------------------------------------ launching

    def _feasible(self, options: dict[str, Any]) -> str | None:
        """Why no node of the cluster could ever run an attempt with ``options`` (``None``: one can)."""
        import ray

        wanted = self._wanted(options)
        if not wanted:
            return None
        if time.monotonic() - self._nodes_checked > 10 or not self._node_resources:
            self._node_resources = [dict(node["Resources"]) for node in ray.nodes() if node.get("Alive")]  # type: ignore[no-untyped-call]
            self._nodes_checked = time.monotonic()
        for resources in self._node_resources:
            if all(resources.get(name, 0.0) >= amount for name, amount in wanted.items()):
                return None
        asked = ", ".join(f"{name}={amount:g}" for name, amount in sorted(wanted.items()))
        return f"no node of the Ray cluster has {asked}"

    @staticmethod
    def _wanted(options: dict[str, Any]) -> dict[str, float]:
        wanted: dict[str, float] = dict(options.get("resources", {}))
        for option, name in (("num_cpus", "CPU"), ("num_gpus", "GPU"), ("memory", "memory")):
            if options.get(option):
                wanted[name] = float(options[option])
        return wanted

    def _new_runner(self, spec: LaunchSpec, options: dict[str, Any], key: str) -> _RunnerRef:
        name = f"r-{key}-{len(self._by_key.get(key, []))}-{os.urandom(3).hex()}"
        env = {k: v for k, v in spec.env.items() if k not in PER_ATTEMPT_ENV}
        actor_options: dict[str, Any] = {
            "name": name,
            "namespace": self.namespace,
            "lifetime": "detached",
            "max_restarts": 0,
            "max_concurrency": 1000,
            "num_cpus": 0,
        }
        actor_options.update(options)
        dedicated = bool(options)
        if not dedicated and self._head_node:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            actor_options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(self._head_node, soft=True)
        capacity = 1 if dedicated else 1 << 30
        actor = self._remote_runner.options(**actor_options).remote(env, capacity, self.inline_outputs)
        runner = _RunnerRef(name, actor, key, capacity)
        self._runners[name] = runner
        self._by_key.setdefault(key, []).append(runner)
        return runner

    def _free_runner(self, key: str) -> _RunnerRef | None:
        for runner in self._by_key.get(key, []):
            if not runner.dead and not runner.retiring and len(runner.running) < runner.capacity:
                return runner
        return None

    async def _runner_for(self, spec: LaunchSpec, options: dict[str, Any], attempt_id: str) -> _RunnerRef:
        """A runner for the attempt, which is counted as running there before this returns.

        Attempts without resources share their key's runner. One with resources takes an idle
        runner of its key; else a new runner is made once the cluster has the resources free (idle
        runners of other keys are stopped to make room), and placed before the next one is
        considered, so that two attempts never wait for the same free slot.
        """
        import ray
        import ray.exceptions

        key = _reuse_key(spec, options)
        if not options:
            live = [r for r in self._by_key.get(key, []) if not r.dead and not r.retiring]
            best = min(live, key=lambda r: len(r.running), default=None)
            if best is None or (best.running and len(live) < self.runners_per_key):
                best = self._new_runner(spec, options, key)
            best.running.add(attempt_id)
            return best
        runner = self._free_runner(key)
        if runner is not None:
            runner.running.add(attempt_id)
            return runner
        wanted = self._wanted(options)
        async with self._placing:
            while True:
                runner = self._free_runner(key)
                if runner is not None:
                    runner.running.add(attempt_id)
                    return runner
                available = await asyncio.to_thread(ray.available_resources)
                if all(available.get(name, 0.0) >= amount for name, amount in wanted.items()):
                    break
                for other in list(self._runners.values()):
                    if other.capacity == 1 and not other.running and other.key != key:
                        self.kill(other)
                await asyncio.sleep(0.25)
            runner = self._new_runner(spec, options, key)
            runner.running.add(attempt_id)
            try:
                await runner.actor.status.remote()  # placed: its resources are taken now
            except ray.exceptions.RayError:
                pass  # launch() finds it dead
            return runner

    async def launch(self, spec: LaunchSpec) -> RayAttempt:
        import ray.exceptions

        if not self._started:
            raise LaunchError("the Ray executor is not connected")
        options = ray_options(spec.resources, spec.env)
        reason = self._feasible(options)
        if reason is not None:
            raise LaunchError(reason)
        attempt_id = _attempt_id(spec)
        per_attempt = {k: spec.env[k] for k in PER_ATTEMPT_ENV if k in spec.env}
        runner = await self._runner_for(spec, options, attempt_id)
        try:
            # One call starts the attempt and returns with its end (a runner lost meanwhile: the wait fails).
            call = runner.actor.run.remote(attempt_id, list(spec.argv), per_attempt, spec.entry)
        except ray.exceptions.RayError as error:
            runner.running.discard(attempt_id)
            runner.dead = True
            self._forget(runner)
            raise LaunchError(f"the Ray runner {runner.name} could not take the attempt: {error}") from error
        with contextlib.suppress(OSError):  # there from the start (empty until the attempt writes)
            spec.log_path.parent.mkdir(parents=True, exist_ok=True)
            spec.log_path.touch()
        attempt = RayAttempt(self, runner, attempt_id, spec.log_path, call)
        self._attempts[attempt_id] = attempt
        return attempt

    def finished(self, attempt: RayAttempt) -> None:
        runner = attempt.runner
        runner.running.discard(attempt.attempt_id)
        self._attempts.pop(attempt.attempt_id, None)
        if not runner.running:
            runner.idle_since = time.monotonic()
        if runner.dead:
            self._forget(runner)

    def retire(self, runner: _RunnerRef) -> None:
        """No new attempts for ``runner``; it is stopped once idle."""
        runner.retiring = True

    def kill(self, runner: _RunnerRef) -> None:
        import ray

        runner.dead = True
        with contextlib.suppress(Exception):
            ray.kill(runner.actor, no_restart=True)
        self._forget(runner)

    def _forget(self, runner: _RunnerRef) -> None:
        self._runners.pop(runner.name, None)
        siblings = self._by_key.get(runner.key)
        if siblings and runner in siblings:
            siblings.remove(runner)
            if not siblings:
                del self._by_key[runner.key]

    async def _reap_idle(self) -> None:
        while True:
            await asyncio.sleep(max(self.idle_seconds / 4, 0.5))
            now = time.monotonic()
            for runner in list(self._runners.values()):
                # A runner holding resources frees them soon; a shared one stays warm longer.
                idle = min(self.idle_seconds, 5.0) if runner.capacity == 1 else self.idle_seconds
                if not runner.running and (runner.retiring or now - runner.idle_since > idle):
                    self.kill(runner)

    # ------------------------------------------------------------------ finding attempts again

    def _adopt(self, name: str) -> _RunnerRef | None:
        """The runner called ``name`` in our namespace (one an earlier server started), or ``None``."""
        import ray

        known = self._runners.get(name)
        if known is not None:
            return known
        try:
            actor = ray.get_actor(name, namespace=self.namespace)
        except ValueError:
            return None
        parts = name.split("-")
        key = parts[1] if len(parts) > 2 else name
        runner = _RunnerRef(name, actor, key, 1 << 30)
        runner.retiring = True  # an earlier server's runner: let it finish, give it nothing new
        self._runners[name] = runner
        return runner

    async def reattach(self, handle_id: str) -> RayAttempt | FinishedAttempt | None:
        import ray.exceptions

        parts = handle_id.split(":", 3)
        if len(parts) != 4 or parts[0] != "ray" or parts[1] != self.namespace:
            return None
        _, _, name, attempt_id = parts
        existing = self._attempts.get(attempt_id)
        if existing is not None:
            return existing
        runner = self._adopt(name)
        if runner is None:
            return None
        try:
            status = await runner.actor.status.remote()
        except ray.exceptions.RayError:
            self.kill(runner)
            return None
        if attempt_id not in status["attempts"]:
            return None
        return self._follow_adopted(runner, attempt_id)

    def _follow_adopted(self, runner: _RunnerRef, attempt_id: str) -> RayAttempt:
        runner.running.add(attempt_id)
        attempt = RayAttempt(self, runner, attempt_id, self.log_path_of(attempt_id))
        self._attempts[attempt_id] = attempt
        return attempt

    def log_path_of(self, attempt_id: str) -> Path | None:
        key = _key_of(attempt_id)
        if key is None or self.log_root is None:
            return None
        return self.log_root / key.project / key.domain / key.run / key.action / f"{key.attempt}.log"

    async def find_attempts(self) -> dict[AttemptKey, AttemptHandle]:
        import ray
        import ray.exceptions

        found: dict[AttemptKey, AttemptHandle] = {}
        try:
            names = [
                entry["name"]
                for entry in ray.util.list_named_actors(all_namespaces=True)
                if entry.get("namespace") == self.namespace
            ]
        except Exception as error:  # the GCS may be unreachable: nothing can be found then
            logger.warning("cannot list the Ray runners: %s", error)
            return found
        for name in names:
            runner = self._adopt(name)
            if runner is None:
                continue
            try:
                status = await runner.actor.status.remote()
            except ray.exceptions.RayError:
                self.kill(runner)
                continue
            for attempt_id in status["attempts"]:
                key = _key_of(attempt_id)
                if key is not None:
                    found[key] = self._attempts.get(attempt_id) or self._follow_adopted(runner, attempt_id)
            if not runner.running:
                runner.idle_since = time.monotonic()
        return found


def _head_node_id() -> str | None:
    import ray

    for node in ray.nodes():  # type: ignore[no-untyped-call]
        if node.get("Alive") and "node:__internal_head__" in node.get("Resources", {}):
            return str(node["NodeID"])
    return None

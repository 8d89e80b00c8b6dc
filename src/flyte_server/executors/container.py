"""The ``podman``/``docker`` executor: each attempt runs in a container of its task's image.

Two ways an attempt runs (docs/containers.md):

* **A container of its own** (``podman run -d --rm``): the task's image, its resources as
  container limits (``--memory``, ``--cpus``, GPUs through CDI), the host network (the attempt
  reaches this server's API on loopback as a local worker does), its working directory, its log
  directory and the server's local blob store bind-mounted at the same paths (so ``file://`` URIs
  in its command line mean the same inside; an S3 store needs no mount). Its environment, secrets
  included, is handed over as ``-e NAME`` with the value in the container client's environment,
  never on a command line. Output goes straight to the attempt's log file (a ``/bin/sh`` wrapper
  appends to it), so TailLogs sees it live and across a restart of the server.
* **A warm container** for attempts of our runtime (``a0``) that ask for no resources: one
  long-lived container per image runs a warm worker (the local executor's zygote, with the host's
  pid namespace), which forks attempts or runs them inside reused workers, as the local executor
  does on the host: trivial children cost milliseconds instead of a container start.

The Flyte runtime gets into an image in one of two ways: an image that has ``a0`` on its PATH
(built with ``flyte build``) runs its own; any other image gets the server's worker environment
(its virtualenv, base interpreter and editable sources) bind-mounted read-only at the same paths,
which needs a glibc-compatible image.

Every container carries the labels ``flyte.server`` (this server, from its data directory),
``flyte.project``, ``flyte.domain``, ``flyte.run``, ``flyte.action``, ``flyte.attempt``: after a
restart the executor finds its containers by them. Exits are learned from one ``events`` stream
(with a periodic ``ps`` as a safety net), not a ``wait`` process per container. Abort and timeout
stop the container (SIGTERM, SIGKILL after the grace period) and remove it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shlex
import shutil
import tempfile
from pathlib import Path
from typing import Any

from flyte_server.executors import (
    AttemptHandle,
    AttemptKey,
    FinishedAttempt,
    LaunchError,
    LaunchSpec,
    Resources,
)
from flyte_server.executors.local import LocalExecutor
from flyte_server.executors.procs import ExternalProcess, parse_handle, process_start_ticks
from flyte_server.executors.zygote import ZYGOTE_SCRIPT

__all__ = ["ContainerAttempt", "ContainerExecutor", "server_label"]

logger = logging.getLogger(__name__)

SDK_DEFAULT_IMAGES = ("ghcr.io/flyteorg/flyte:", "ghcr.io/unionai-oss/flyte:")
"""Images the SDK names when a task has none of its own: replaced by ``--container-image``."""

_LABEL = "flyte."
_RECONCILE_SECONDS = 10.0
_WARM_RETRY_SECONDS = 60.0
_CLI_TIMEOUT = 120.0
_WRAPPER = 'exec "$0" "$@" >>"$FLYTE_CONTAINER_LOG" 2>&1'
_SECRETS_DIR = "/etc/flyte/secrets"
_CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_NOT_PASSED = frozenset({"PATH", "HOME", "HOSTNAME", "TERM", "PWD", "SHLVL", "_"})


def server_label(data_dir: Path) -> str:
    """The ``flyte.server`` label of a server's containers: stable for its data directory."""
    return hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]


def _key_labels(labels: dict[str, str]) -> AttemptKey | None:
    try:
        return AttemptKey(
            labels[_LABEL + "project"],
            labels[_LABEL + "domain"],
            labels[_LABEL + "run"],
            labels[_LABEL + "action"],
            int(labels[_LABEL + "attempt"]),
        )
    except (KeyError, ValueError):
        return None


class ContainerAttempt:
    """One attempt in a container of its own; ``id`` is ``<runtime>:<container id>``."""

    def __init__(self, executor: ContainerExecutor, container_id: str) -> None:
        self.executor = executor
        self.container_id = container_id
        self.id = self.group = f"{executor.name}:{container_id}"
        self.code: int | None = None
        self._ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def _set_exit(self, code: int | None) -> None:
        if not self._ended.done():
            self.code = code
            self._ended.set_result(None)

    async def wait(self) -> int | None:
        await asyncio.shield(self._ended)
        return self.code

    def done(self) -> bool:
        return self._ended.done()

    async def terminate(self, grace: float) -> None:
        await self.executor._remove(self.container_id, grace)
        self._set_exit(self.code if self.done() else -9)


class ContainerExecutor:
    """Attempts in podman (or docker) containers; see the module docstring.

    Example:
        >>> executor = ContainerExecutor("podman", worker_python="/venv/bin/python", state_dir=Path("/d/executor"),
        ...     work_root=Path("/d/work"), log_root=Path("/d/logs"), server_id="abc")  # doctest: +SKIP
    """

    def __init__(
        self,
        runtime: str = "podman",
        *,
        worker_python: str,
        state_dir: Path,
        work_root: Path,
        log_root: Path,
        server_id: str,
        shared_paths: list[Path] | None = None,
        default_image: str | None = None,
        base_env: dict[str, str] | None = None,
        reuse: bool = True,
        inline_outputs: int = 0,
        warm_idle_seconds: float = 300.0,
    ) -> None:
        self.name = runtime
        self.binary = shutil.which(runtime) or runtime
        self._record_before_start = False
        self.worker_python = worker_python
        self.state_dir = state_dir
        self.work_root = work_root
        self.log_root = log_root
        self.server_id = server_id
        self.shared_paths = [path for path in (shared_paths or [])]
        """Directories every attempt sees at the same path, read-write (a local blob store)."""
        self.default_image = default_image
        self.base_env = base_env or {}
        self.reuse = reuse
        self.inline_outputs = inline_outputs
        self.runtime_mounts: list[str] = []
        self._attempts: dict[str, ContainerAttempt] = {}
        self._own_runtime: dict[str, bool] = {}
        self._warm: dict[str, LocalExecutor] = {}
        self._warm_lock = asyncio.Lock()
        self._warm_failed: dict[str, float] = {}
        self._warm_ids: dict[str, str] = {}
        self._warm_busy: dict[str, int] = {}
        self._warm_idle_since: dict[str, float] = {}
        self._followers: set[asyncio.Task[None]] = set()
        self._warm_adopted: set[AttemptHandle] = set()
        self.warm_idle_seconds = warm_idle_seconds
        """A warm container that ran nothing this long is stopped (the next attempt starts one again)."""
        self._events: asyncio.Task[None] | None = None
        self._reconciler: asyncio.Task[None] | None = None
        self._events_process: asyncio.subprocess.Process | None = None

    # ------------------------------------------------------------------ plumbing

    def _client_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        if extra:
            env.update({key: value for key, value in extra.items() if key not in _NOT_PASSED})
        return env

    async def _cli(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = _CLI_TIMEOUT, check: bool = True
    ) -> str:
        # Output goes to files, not pipes: ``run -d`` leaves conmon holding the pipes it inherited,
        # so reading a pipe to its end would wait for the container.
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            try:
                process = await asyncio.create_subprocess_exec(
                    self.binary,
                    *args,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    env=env or self._client_env(),
                )
            except OSError as error:
                raise LaunchError(f"cannot run {self.name}: {error.strerror or error}") from error
            try:
                await asyncio.wait_for(process.wait(), timeout=timeout)
            except asyncio.TimeoutError as error:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
                raise LaunchError(f"{self.name} {args[0]} did not answer within {timeout:g}s") from error
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        if check and process.returncode != 0:
            message = stderr.decode(errors="replace").strip().splitlines()
            raise LaunchError(f"{self.name} {args[0]} failed: {message[-1] if message else process.returncode}")
        return stdout.decode(errors="replace")

    # ------------------------------------------------------------------ lifecycle

    def let_go_of_run(self, run_key: tuple[str, str, str]) -> None:
        """Another replica drives this run now: the reused workers in the warm containers let go of it."""
        for pool in list(self._warm.values()):
            pool.let_go_of_run(run_key)

    def record_before_start(self, enabled: bool = True) -> None:
        """Attempts in the warm containers' reused workers start only once recorded (see ``WorkerPool``)."""
        self._record_before_start = enabled

    async def start(self) -> None:
        await self._cli("version", "--format", "{{.Client.Version}}", timeout=30)
        self.runtime_mounts = await asyncio.to_thread(runtime_mounts, self.worker_python)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._events = asyncio.create_task(self._follow_events(), name=f"{self.name}-events")
        self._reconciler = asyncio.create_task(self._reconcile_loop(), name=f"{self.name}-reconcile")

    async def stop(self) -> None:
        for task in (self._events, self._reconciler, *self._followers):
            if task is not None:
                task.cancel()
        if self._events_process is not None and self._events_process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._events_process.kill()
            await self._events_process.wait()
        for pool in list(self._warm.values()):
            await pool.stop()  # the warm worker exits with its stdin
        self._warm.clear()
        self._warm_ids.clear()
        # A clean stop (the engine stopped the running attempts first): no warm container is needed,
        # this server's or one an earlier server left and nothing adopted.
        with contextlib.suppress(LaunchError, ValueError):
            for entry in await self._list():
                labels = entry.get("Labels") or {}
                if isinstance(labels, dict) and labels.get(_LABEL + "kind") == "warm":
                    await self._remove(str(entry.get("Id") or entry.get("ID")), 0)

    # ------------------------------------------------------------------ launching

    def _image(self, spec: LaunchSpec) -> str:
        image = spec.image or ""
        if not image or image.startswith(SDK_DEFAULT_IMAGES):
            if self.default_image:
                return self.default_image
            raise LaunchError(
                f"the task runs in the SDK's default image {image or '(none)'!r}, which this machine cannot pull; "
                "give the task an image, or start the server with --container-image IMAGE"
            )
        return image

    async def _has_own_runtime(self, image: str) -> bool:
        known = self._own_runtime.get(image)
        if known is None:
            out = await self._cli(
                "run", "--rm", "--network=none", "--entrypoint", "/bin/sh", image, "-c", "command -v a0 || true"
            )
            known = self._own_runtime[image] = bool(out.strip())
        return known

    def _labels(self, spec: LaunchSpec, kind: str) -> list[str]:
        labels = {"server": self.server_id, "kind": kind}
        if spec.key is not None:
            labels.update(
                project=spec.key.project,
                domain=spec.key.domain,
                run=spec.key.run,
                action=spec.key.action,
                attempt=str(spec.key.attempt),
            )
        args: list[str] = []
        for name, value in labels.items():
            args += ["--label", f"{_LABEL}{name}={value}"]
        return args

    def _env_args(self, env: dict[str, str], *, own_runtime: bool) -> list[str]:
        # An image with its own runtime keeps its own PATH (a built image's venv is on it, ENV PATH=/opt/venv/bin:...).
        args = [] if own_runtime else ["-e", f"PATH={Path(self.worker_python).parent}:{_CONTAINER_PATH}"]
        for name in sorted(env):
            if name not in _NOT_PASSED:
                args += ["-e", name]  # the value comes from the client's environment, not the command line
        return args

    @staticmethod
    def _resource_args(resources: Resources) -> list[str]:
        args: list[str] = []
        if resources.memory:
            args += ["--memory", str(resources.memory)]
        if resources.cpu:
            args += ["--cpus", f"{resources.cpu:g}"]
        if resources.gpu:
            if not Path("/dev/nvidia0").exists():
                raise LaunchError(f"the task asks for {resources.gpu} GPU(s) and this machine has none")
            args += ["--device", "nvidia.com/gpu=all"]
        return args

    async def launch(self, spec: LaunchSpec) -> AttemptHandle:
        image = self._image(spec)
        # A raw container (ContainerTask) always gets the server's runtime mounted, to run in front of its command.
        own_runtime = spec.entry != "raw" and await self._has_own_runtime(image)
        if (
            self.reuse
            and spec.entry == "a0"
            and not own_runtime
            and _no_limits(spec.resources)
            and not spec.secret_files
        ):
            loop = asyncio.get_running_loop()
            if self._warm_failed.get(image, -1e9) + _WARM_RETRY_SECONDS < loop.time():
                try:
                    return await self._launch_warm(image, spec)
                except LaunchError as error:
                    self._warm_failed[image] = loop.time()
                    logger.warning("no warm container for %s, starting one per attempt: %s", image, error)
        return await self._launch_cold(image, spec, own_runtime=own_runtime)

    def _argv(self, spec: LaunchSpec, own_runtime: bool) -> list[str]:
        argv = list(spec.argv)
        if own_runtime and spec.entry == "a0":
            argv[0] = "a0"
        elif own_runtime and argv[0] == self.worker_python:
            argv[0] = "python3"
        return argv

    async def _launch_cold(self, image: str, spec: LaunchSpec, *, own_runtime: bool) -> ContainerAttempt:
        await asyncio.to_thread(_make_dirs, spec)
        env = dict(spec.env)
        env["FLYTE_CONTAINER_LOG"] = str(spec.log_path)
        volumes: list[str] = []
        if not own_runtime:
            volumes += [f"{path}:{path}:ro" for path in self.runtime_mounts]
        for path in {spec.cwd, spec.log_path.parent, *self.shared_paths}:
            volumes.append(f"{path}:{path}:rw")
        secrets: list[str] = []
        script = _WRAPPER
        if spec.secret_files:
            # File secrets are written from their variables into a tmpfs, never onto the host's disk.
            secrets = ["--tmpfs", f"{_SECRETS_DIR}:rw,mode=0700"]
            steps = [
                f'mkdir -p {shlex.quote(os.path.dirname(path))} && printf %s "${name}" > {shlex.quote(path)}'
                for path, name in sorted(spec.secret_files.items())
                if path.startswith(_SECRETS_DIR + "/") and name.isidentifier()
            ]
            script = " && ".join([*steps, _WRAPPER])
        args = [
            "run",
            "-d",
            "--rm",
            "--init",
            "--network=host",
            *secrets,
            *self._labels(spec, "attempt"),
            *self._env_args(env, own_runtime=own_runtime),
            *[arg for volume in volumes for arg in ("-v", volume)],
            "--workdir",
            str(spec.cwd),
            *self._resource_args(spec.resources),
            "--entrypoint",
            "/bin/sh",
            image,
            "-c",
            script,
            *self._argv(spec, own_runtime),
        ]
        container_id = (await self._cli(*args, env=self._client_env(env))).strip().splitlines()[-1]
        attempt = ContainerAttempt(self, container_id)
        self._attempts[container_id] = attempt
        return attempt

    async def _launch_warm(self, image: str, spec: LaunchSpec) -> AttemptHandle:
        async with self._warm_lock:
            pool = self._warm.get(image)
            if pool is None or not pool.warm:
                if pool is not None:
                    await pool.stop()
                pool = await self._start_warm(image, spec)
                self._warm[image] = pool
        handle = await pool.launch(spec)
        handle.id = f"{self.name}:warm:{handle.id}"  # type: ignore[misc]
        handle.group = f"{self.name}:warm:{handle.group}"  # type: ignore[misc]
        self._warm_busy[image] = self._warm_busy.get(image, 0) + 1

        async def ended() -> None:
            try:
                await handle.wait()
            finally:
                self._warm_busy[image] -= 1
                self._warm_idle_since[image] = asyncio.get_running_loop().time()

        task = asyncio.create_task(ended(), name=f"warm-attempt-{handle.id}")
        self._followers.add(task)
        task.add_done_callback(self._followers.discard)
        return handle

    async def _retire_idle_warm(self) -> None:
        """Stop the warm containers that ran nothing for ``warm_idle_seconds``."""
        now = asyncio.get_running_loop().time()
        self._warm_adopted = {handle for handle in self._warm_adopted if not handle.done()}
        if self._warm_adopted:
            return  # attempts of an earlier server may run in any warm container
        for image in list(self._warm):
            if self._warm_busy.get(image, 0) or now - self._warm_idle_since.get(image, now) < self.warm_idle_seconds:
                continue
            async with self._warm_lock:
                pool = self._warm.pop(image, None)
                container_id = self._warm_ids.pop(image, None)
            if pool is not None:
                await pool.stop()
            if container_id is not None:
                await self._remove(container_id, 0)
            logger.info("retired the idle warm container of %s", image)

    def _warm_dir(self, image: str) -> Path:
        return self.state_dir / "warm" / hashlib.sha256(image.encode()).hexdigest()[:12]

    async def _start_warm(self, image: str, spec: LaunchSpec) -> LocalExecutor:
        state_dir = self._warm_dir(image)
        await asyncio.to_thread(state_dir.mkdir, parents=True, exist_ok=True)
        for root in (self.work_root, self.log_root):
            await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
        volumes = [f"{path}:{path}:ro" for path in self.runtime_mounts]
        volumes.append(f"{ZYGOTE_SCRIPT.parent}:{ZYGOTE_SCRIPT.parent}:ro")
        for path in {self.state_dir, self.work_root, self.log_root, *self.shared_paths}:
            volumes.append(f"{path}:{path}:rw")
        container_id = await self._warm_container(image, state_dir, volumes)
        self._warm_ids[image] = container_id
        # The warm worker is exec'd into a container that only waits: when this server dies (and
        # the warm worker with its stdin), the container and the attempts forked in it live on,
        # and the next server adopts the container.
        prefix = [
            self.binary,
            "exec",
            "-i",
            *self._env_args(self.base_env, own_runtime=False),
            "--workdir",
            str(state_dir),
            container_id,
        ]
        pool = LocalExecutor(
            self.worker_python,
            state_dir=state_dir,
            base_env=self.base_env,
            work_root=self.work_root,
            warm_workers=True,
            reuse_workers=True,
            inline_outputs=self.inline_outputs,
            zygote_prefix=prefix,
            zygote_client_env=self._client_env(self.base_env),
            spawn_fallback=False,
        )
        pool.record_before_start(self._record_before_start)
        await pool.start()
        if not pool.warm:
            await pool.stop()
            raise LaunchError(f"the warm container of {image} did not start; see {state_dir / 'warm-worker.log'}")
        logger.info("warm container of %s ready", image)
        return pool

    async def _warm_container(self, image: str, state_dir: Path, volumes: list[str]) -> str:
        """The id of the running warm container of ``image``: an earlier server's, or a new one."""
        out = await self._cli(
            "ps",
            "--filter",
            f"label={_LABEL}server={self.server_id}",
            "--filter",
            f"label={_LABEL}kind=warm",
            "--format",
            "json",
        )
        for entry in _parse_ps(self.name, out):
            labels = entry.get("Labels") or {}
            if isinstance(labels, dict) and labels.get(_LABEL + "image") == image:
                logger.info("adopting the warm container of %s left by an earlier server", image)
                return str(entry.get("Id") or entry.get("ID"))
        labels = self._labels(LaunchSpec(argv=[], env={}, cwd=state_dir, log_path=state_dir), "warm")
        out = await self._cli(
            "run",
            "-d",
            "--rm",
            "--network=host",
            "--pid=host",
            *labels,
            "--label",
            f"{_LABEL}image={image}",
            *[arg for volume in volumes for arg in ("-v", volume)],
            "--workdir",
            str(state_dir),
            "--entrypoint",
            self.worker_python,
            image,
            "-c",
            "import time\nwhile True: time.sleep(86400)",
        )
        return out.strip().splitlines()[-1]

    # ------------------------------------------------------------------ stopping and exits

    async def _remove(self, container_id: str, grace: float) -> None:
        with contextlib.suppress(LaunchError):
            await self._cli("stop", "--time", str(max(0, round(grace))), container_id, check=False)
        with contextlib.suppress(LaunchError):
            await self._cli("rm", "--force", "--ignore", container_id, check=False)

    def _exited(self, container_id: str, code: int | None) -> None:
        attempt = self._attempts.pop(container_id, None)
        if attempt is not None:
            attempt._set_exit(code)

    async def _follow_events(self) -> None:
        while True:
            try:
                self._events_process = process = await asyncio.create_subprocess_exec(
                    self.binary,
                    "events",
                    "--format",
                    "json",
                    "--filter",
                    f"label={_LABEL}server={self.server_id}",
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.DEVNULL,
                    env=self._client_env(),
                    limit=1 << 20,
                )
                assert process.stdout is not None
                while line := await process.stdout.readline():
                    self._event(line)
                await process.wait()
            except (OSError, ValueError) as error:
                logger.warning("%s events: %s", self.name, error)
            await asyncio.sleep(1.0)
            await self._reconcile()

    def _event(self, line: bytes) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            return
        status = event.get("Status") or event.get("status")
        container_id = event.get("ID") or event.get("id") or ""
        if status in ("died", "die"):
            code = event.get("ContainerExitCode")
            if code is None:
                code = (event.get("Actor") or {}).get("Attributes", {}).get("exitCode")
            self._exited(container_id, int(code) if code is not None else None)
        elif status in ("remove", "destroy"):
            self._exited(container_id, None)

    async def _list(self) -> list[dict[str, Any]]:
        out = await self._cli("ps", "-a", "--filter", f"label={_LABEL}server={self.server_id}", "--format", "json")
        return _parse_ps(self.name, out)

    async def _reconcile(self) -> None:
        if not self._attempts:
            return
        try:
            listed = await self._list()
        except (LaunchError, ValueError) as error:
            logger.warning("cannot list %s containers: %s", self.name, error)
            return
        states = {str(entry.get("Id") or entry.get("ID")): entry for entry in listed}
        for container_id in list(self._attempts):
            entry = next((e for cid, e in states.items() if cid.startswith(container_id)), None)
            if entry is None:
                self._exited(container_id, None)
            elif str(entry.get("State", "")).lower() in ("exited", "stopped", "dead"):
                code = entry.get("ExitCode")
                self._exited(container_id, int(code) if code is not None else None)

    async def _reconcile_loop(self) -> None:
        while True:
            await asyncio.sleep(_RECONCILE_SECONDS)
            await self._reconcile()
            await self._retire_idle_warm()

    # ------------------------------------------------------------------ finding attempts again

    async def reattach(self, handle_id: str) -> AttemptHandle | None:
        prefix = f"{self.name}:"
        if not handle_id.startswith(prefix):
            return None
        rest = handle_id[len(prefix) :]
        if rest.startswith("warm:"):
            parsed = parse_handle(rest[len("warm:") :])
            if parsed is None or process_start_ticks(parsed[0]) != parsed[1]:
                return None
            adopted = ExternalProcess(*parsed)
            self._warm_adopted.add(adopted)
            return adopted
        try:
            out = await self._cli("inspect", "--format", "{{.State.Running}}", rest, check=False)
        except LaunchError:
            return None
        if out.strip().lower() != "true":
            return None
        return self._track(rest)

    def _track(self, container_id: str) -> ContainerAttempt:
        attempt = self._attempts.get(container_id)
        if attempt is None:
            attempt = self._attempts[container_id] = ContainerAttempt(self, container_id)
        return attempt

    async def find_attempts(self) -> dict[AttemptKey, AttemptHandle]:
        found: dict[AttemptKey, AttemptHandle] = {}
        try:
            listed = await self._list()
        except (LaunchError, ValueError) as error:
            logger.warning("cannot list %s containers: %s", self.name, error)
            listed = []
        for entry in listed:
            labels = entry.get("Labels") or {}
            if isinstance(labels, str):  # docker: "k=v,k=v"
                labels = dict(item.split("=", 1) for item in labels.split(",") if "=" in item)
            key = _key_labels(labels)
            container_id = str(entry.get("Id") or entry.get("ID"))
            if key is None:
                if labels.get(_LABEL + "kind") == "warm":
                    # A warm container of an earlier server: its attempts are found as processes below.
                    continue
                continue
            if str(entry.get("State", "")).lower() == "running":
                found[key] = self._track(container_id)
            else:
                found[key] = FinishedAttempt(f"{self.name}:{container_id}")
                await self._remove(container_id, 0)
        # Attempts that ran in warm containers: processes (host pid namespace) and reused-worker journals.
        warm_root = self.state_dir / "warm"
        for state_dir in await asyncio.to_thread(_subdirs, warm_root):
            scanner = LocalExecutor(self.worker_python, state_dir=state_dir, base_env={}, work_root=self.work_root)
            for key, handle in (await scanner.find_attempts()).items():
                if handle.id:  # an ended attempt (FinishedAttempt) has none
                    handle.id = f"{self.name}:warm:{handle.id}"  # type: ignore[misc]
                    handle.group = f"{self.name}:warm:{handle.group}"  # type: ignore[misc]
                    self._warm_adopted.add(handle)
                found.setdefault(key, handle)
        return found


def _parse_ps(runtime: str, out: str) -> list[dict[str, Any]]:
    """``ps --format json``: a JSON array (podman), or one object a line (docker)."""
    if runtime == "docker":
        return [json.loads(line) for line in out.splitlines() if line.strip()]
    return json.loads(out or "[]") or []


def _subdirs(path: Path) -> list[Path]:
    return [entry for entry in path.iterdir() if entry.is_dir()] if path.is_dir() else []


def _no_limits(resources: Resources) -> bool:
    return not (resources.cpu or resources.memory or resources.gpu or resources.custom)


def _make_dirs(spec: LaunchSpec) -> None:
    spec.cwd.mkdir(parents=True, exist_ok=True)
    spec.log_path.parent.mkdir(parents=True, exist_ok=True)


def runtime_mounts(python: str) -> list[str]:
    """Directories that make ``python``'s environment work elsewhere: its prefixes and extra path entries."""
    import subprocess

    probe = (
        "import json, sys; print(json.dumps([sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, "
        "*sys.path]))"
    )
    try:
        out = subprocess.run([python, "-I", "-c", probe], capture_output=True, text=True, timeout=60, check=True).stdout
        entries = json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        raise LaunchError(f"cannot inspect the worker environment {python}: {error}") from error
    # Editable installs add their source directories through .pth files, seen only without -I's isolation.
    try:
        site = subprocess.run(
            [python, "-c", "import json, sys; print(json.dumps(sys.path))"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        entries += json.loads(site)
    except (OSError, subprocess.SubprocessError, ValueError):
        pass
    mounts: list[str] = []
    for entry in sorted({os.path.realpath(e) for e in entries if e}, key=len):
        if not os.path.isdir(entry) or entry == "/":
            continue
        if any(entry == m or entry.startswith(m + os.sep) for m in mounts):
            continue
        mounts.append(entry)
    # The virtualenv's own directory (its bin/ holds a0), which realpath of sys.prefix may have resolved away.
    venv = os.path.dirname(os.path.dirname(os.path.abspath(python)))
    if not any(venv == m or venv.startswith(m + os.sep) for m in mounts):
        mounts.append(venv)
    return mounts


def container_executor(config: Any, launcher: Any, blobs: Any) -> ContainerExecutor:
    """The executor of ``flyte start server --executor podman|docker`` (``config.executor``)."""
    from flyte_server.blobs.local import LocalBlobStore
    from flyte_server.engine.data import INLINE_DATA_MAX

    shared = [blobs.root] if isinstance(blobs, LocalBlobStore) else []
    return ContainerExecutor(
        config.executor,
        worker_python=config.worker_python,
        state_dir=config.data_dir / "executor",
        work_root=launcher.work_root,
        log_root=launcher.log_root,
        server_id=server_label(config.data_dir),
        shared_paths=shared,
        default_image=getattr(config, "container_image", None),
        base_env=launcher.base_env,
        reuse=os.environ.get("FLYTE_SERVER_REUSE_CONTAINERS", "1").lower() not in ("0", "false", "no", "off"),
        inline_outputs=INLINE_DATA_MAX,
        warm_idle_seconds=float(os.environ.get("FLYTE_SERVER_WARM_CONTAINER_IDLE_SECONDS", "300")),
    )

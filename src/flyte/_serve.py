"""``flyte.serve``: start an app on this machine (``mode="local"``) or deploy it to the control plane.

Locally an app that serves itself (a FastAPI app, a ``@server`` function) runs on a thread of this
interpreter, as in Flyte 2 (what the program set up before serving is there); a command-line app
runs in a child process (``python -m flyte.app._runtime -- ARGS``, what ``fserve`` is). Either
way its parameters are resolved here, it answers on ``http://localhost:<port>``, and it stops
with :meth:`AppHandle.deactivate` or when this interpreter exits.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import inspect
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    import flyte.io
    from flyte.app._app_environment import AppEnvironment
    from flyte.app._types import Parameter
    from flyte.remote._app import App

__all__ = ["AppHandle", "ServeMode", "serve", "with_servecontext"]

ServeMode = Literal["local", "remote"]

_LOCAL_HOST = "localhost"
_HEALTH_TIMEOUT_S = 60.0
_HEALTH_INTERVAL_S = 0.2
_STOP_TIMEOUT_S = 10.0


@runtime_checkable
class AppHandle(Protocol):
    """A served app, local or deployed: its name, its URL, and switching it on and off."""

    @property
    def name(self) -> str: ...

    @property
    def endpoint(self) -> str: ...

    @property
    def url(self) -> str: ...

    def is_active(self) -> bool: ...

    def is_deactivated(self) -> bool: ...

    def activate(self, wait: bool = False) -> AppHandle: ...

    def deactivate(self, wait: bool = False) -> AppHandle: ...

    def ephemeral_ctx(self) -> Any: ...

    def ephemeral_ctx_sync(self) -> Any: ...


class _Blocking:
    """A blocking function (or method) with an ``.aio`` form that runs it on a worker thread."""

    def __init__(self, func: Callable[..., Any], bound: Any = None) -> None:
        self._func = func
        self._bound = bound
        functools.update_wrapper(self, func)

    def __get__(self, instance: Any, owner: Any = None) -> _Blocking:
        return self if instance is None else _Blocking(self._func, instance)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._bound is not None:
            return self._func(self._bound, *args, **kwargs)
        return self._func(*args, **kwargs)

    async def aio(self, *args: Any, **kwargs: Any) -> Any:
        """Run it from async code (on a worker thread: serving waits for the app to answer)."""
        return await asyncio.to_thread(self.__call__, *args, **kwargs)


_LOCAL_APPS: list[_LocalApp] = []
_LOCK = threading.Lock()


def _stop_all() -> None:
    for app in list(_LOCAL_APPS):
        app.deactivate()


atexit.register(_stop_all)


def _probe(url: str, timeout: float = 2.0) -> bool:
    """Whether something answers HTTP at ``url`` (any status: the app is up)."""
    import httpx

    try:
        httpx.get(url, timeout=timeout)
    except httpx.HTTPError:
        return False
    return True


class _ProcessRunner:
    """A command-line app: a child process (``python -m flyte.app._runtime ... -- ARGS``)."""

    def __init__(self, argv: list[str], environ: dict[str, str], cwd: str) -> None:
        self.argv, self.environ, self.cwd = argv, environ, cwd
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv, env=self.environ, cwd=self.cwd, start_new_session=True)

    def exit_code(self) -> int | None:
        """``None`` while it runs (or before it started: see :meth:`started`)."""
        return self.process.poll() if self.process is not None else None

    def started(self) -> bool:
        return self.process is not None

    def stop(self, timeout: float) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def wait(self) -> int:
        return self.process.wait() if self.process is not None else 0


class _ThreadRunner:
    """An app that serves itself (a FastAPI app, a ``@server`` function), on a thread of this process.

    As in Flyte 2, the app shares this interpreter: state set before serving (``app.state``)
    is there, and ``flyte.app.ctx().mode`` is ``"local"``.
    """

    def __init__(self, env: AppEnvironment, host: str, port: int) -> None:
        self.env, self.host, self.port = env, host, port
        self.thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[None] | None = None
        self.uvicorn: Any = None
        self.error: BaseException | None = None

    def start(self) -> None:
        self.error = None
        self.thread = threading.Thread(target=self._run, name=f"flyte-app-{self.env.name}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        try:
            self.loop.run_until_complete(self._main())
        except (Exception, SystemExit, asyncio.CancelledError) as e:  # uvicorn exits when it cannot bind
            self.error = e
        finally:
            self.loop.close()

    async def _main(self) -> None:
        from flyte.app._runtime import _call

        self.task = asyncio.current_task()  # type: ignore[assignment]
        env = self.env
        if env._on_startup is not None:
            await _call(env._on_startup)
        try:
            app = getattr(env, "app", None)
            if app is not None:
                import uvicorn

                settings = getattr(env, "uvicorn_config", None)
                level = getattr(settings, "log_level", "info") if settings is not None else "info"
                self.uvicorn = uvicorn.Server(uvicorn.Config(app, host=self.host, port=self.port, log_level=level))
                await self.uvicorn.serve()
            elif env._server is not None:
                accepted = inspect.signature(env._server).parameters
                kwargs = {k: v for k, v in (("host", self.host), ("port", self.port)) if k in accepted}
                await _call(lambda: env._server(**kwargs))  # type: ignore[misc]
        finally:
            if env._on_shutdown is not None:
                await _call(env._on_shutdown)

    def exit_code(self) -> int | None:
        if self.thread is None or self.thread.is_alive():
            return None
        if isinstance(self.error, SystemExit):
            return int(self.error.code or 1) if not isinstance(self.error.code, str) else 1
        return 1 if self.error is not None else 0

    def started(self) -> bool:
        return self.thread is not None

    def stop(self, timeout: float) -> None:
        if self.thread is None or not self.thread.is_alive():
            return
        if self.uvicorn is not None:
            self.uvicorn.should_exit = True
        elif self.loop is not None and self.task is not None:
            self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(timeout)  # a blocking sync server cannot be stopped: it ends with the interpreter

    def wait(self) -> int:
        while self.thread is not None and self.thread.is_alive():
            self.thread.join(0.5)  # in steps: Ctrl-C reaches the main thread
        return self.exit_code() or 0


@dataclass(eq=False)
class _LocalApp:
    """An app served on this machine: a child process, or a thread for apps that serve themselves."""

    app_name: str
    port: int
    runner: _ProcessRunner | _ThreadRunner
    health_check_path: str = "/"
    health_check_timeout: float = _HEALTH_TIMEOUT_S
    deactivate_timeout: float = _STOP_TIMEOUT_S
    before_start: Callable[[], None] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """The app's name."""
        return self.app_name

    @property
    def endpoint(self) -> str:
        """``http://localhost:<port>``."""
        return f"http://{_LOCAL_HOST}:{self.port}"

    @property
    def url(self) -> str:
        """Same as :attr:`endpoint`."""
        return self.endpoint

    def _health_url(self) -> str:
        path = self.health_check_path if self.health_check_path.startswith("/") else f"/{self.health_check_path}"
        return f"http://127.0.0.1:{self.port}{path}"

    def _running(self) -> bool:
        return self.runner.started() and self.runner.exit_code() is None

    def is_active(self) -> bool:
        """Whether the app runs and answers HTTP (any status)."""
        return self._running() and _probe(self._health_url())

    def is_deactivated(self) -> bool:
        """Whether the app is stopped."""
        return not self._running()

    def activate(self, wait: bool = False) -> _LocalApp:
        """Start the app (again) and wait until it answers (always; ``wait`` is accepted for Flyte 2).

        Raises:
            flyte.errors.DeploymentError: it exited, or did not answer in time.
        """
        from flyte.errors import DeploymentError

        if self._running():
            return self
        if _probe(self._health_url(), timeout=0.5):
            raise DeploymentError(f"port {self.port} is already in use; app {self.app_name!r} cannot listen on it")
        if self.before_start is not None:
            self.before_start()
        self.runner.start()
        with _LOCK:
            if self not in _LOCAL_APPS:
                _LOCAL_APPS.append(self)
        deadline = time.monotonic() + self.health_check_timeout
        while not _probe(self._health_url(), timeout=1.0):
            code = self.runner.exit_code()
            if code is not None:
                raise DeploymentError(f"app {self.app_name!r} exited with code {code} before answering on {self.url}")
            if time.monotonic() > deadline:
                self.deactivate()
                raise DeploymentError(
                    f"app {self.app_name!r} did not answer on {self.url} within {self.health_check_timeout:.0f} s"
                )
            time.sleep(_HEALTH_INTERVAL_S)
        return self

    def deactivate(self, wait: bool = False) -> _LocalApp:
        """Stop the app (a process: SIGTERM, then SIGKILL after the deactivate timeout)."""
        self.runner.stop(self.deactivate_timeout)
        with _LOCK:
            if self in _LOCAL_APPS:
                _LOCAL_APPS.remove(self)
        return self

    def wait(self) -> int:
        """Block until the app stops; its exit code."""
        return self.runner.wait()

    @asynccontextmanager
    async def ephemeral_ctx(self) -> AsyncGenerator[None, None]:
        """Serve for the block only."""
        await asyncio.to_thread(self.activate)
        try:
            yield
        finally:
            await asyncio.to_thread(self.deactivate)

    @contextmanager
    def ephemeral_ctx_sync(self) -> Generator[None, None, None]:
        """Serve for the block only."""
        self.activate()
        try:
            yield
        finally:
            self.deactivate()


@dataclass(frozen=True, kw_only=True)
class _Serve:
    """The settings of one ``flyte.with_servecontext(...)``; :meth:`serve` serves an app with them."""

    mode: ServeMode | None = None
    version: str | None = None
    copy_style: str = "loaded_modules"
    dry_run: bool = False
    project: str | None = None
    domain: str | None = None
    env_vars: dict[str, str] | None = None
    parameter_values: dict[str, dict[str, Any]] | None = None
    cluster_pool: str | None = None
    cluster: str | None = None
    log_level: int | None = None
    deactivate_timeout: float | None = None
    activate_timeout: float | None = None
    health_check_timeout: float | None = None
    health_check_path: str | None = None
    raw_data_path: str | None = None
    port: int | None = None
    """Local mode: listen here instead of the app's declared port."""

    def _mode(self) -> ServeMode:
        if self.mode is not None:
            if self.mode not in ("local", "remote"):
                raise ValueError(f"mode must be 'local' or 'remote', got {self.mode!r}")
            return self.mode
        from flyte._initialize import get_init_config

        return "remote" if get_init_config().endpoint else "local"

    def _overrides(self, app_env: AppEnvironment) -> dict[str, Any]:
        values = dict((self.parameter_values or {}).get(app_env.name, {}))
        known = {p.name for p in app_env.parameters}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"app {app_env.name!r} has no parameter(s) {unknown}; it has {sorted(known)}")
        return values

    @_Blocking
    def serve(self, app_env: AppEnvironment) -> AppHandle:
        """Serve ``app_env`` in this context's mode; a handle on the running app (``.aio`` for async code)."""
        from flyte.app._app_environment import AppEnvironment

        if not isinstance(app_env, AppEnvironment):
            raise TypeError(f"flyte.serve takes a flyte.app.AppEnvironment, got {type(app_env).__name__}")
        if self._mode() == "local":
            return self._serve_local(app_env)
        return self._serve_remote(app_env)

    # -- local ------------------------------------------------------------------------------------

    def _serve_local(self, app_env: AppEnvironment) -> _LocalApp:
        from flyte._initialize import get_init_config
        from flyte._internal.syncify import run_sync
        from flyte.app._parameters import encode_parameters, materialize
        from flyte.app._serde import _serves_itself

        parameters: list[Parameter] = run_sync(materialize(app_env.parameters, self._overrides(app_env)))
        port = self.port or app_env.get_port().port
        root = (get_init_config().root_dir or Path.cwd()).resolve()
        encoded = encode_parameters(parameters) if parameters else None
        runner: _ProcessRunner | _ThreadRunner
        before_start = None
        if _serves_itself(app_env) and app_env.command is None:
            runner = _ThreadRunner(app_env, "127.0.0.1", port)
            before_start = functools.partial(self._prepare_this_process, app_env, encoded)
        else:
            runner = self._process_runner(app_env, encoded, port, root)
        app = _LocalApp(
            app_name=app_env.name,
            port=port,
            runner=runner,
            health_check_path=self.health_check_path or "/",
            health_check_timeout=self.health_check_timeout or self.activate_timeout or _HEALTH_TIMEOUT_S,
            deactivate_timeout=self.deactivate_timeout or _STOP_TIMEOUT_S,
            before_start=before_start,
        )
        if not self.dry_run:
            app.activate()
            app_env._local_endpoint = app.endpoint
        return app

    def _prepare_this_process(self, app_env: AppEnvironment, encoded: str | None) -> None:
        """What ``fserve`` does for an app in its process, done in this one: mode, variables, parameters."""
        from flyte.app._context import MODE_ENV
        from flyte.app._runtime import _apply_parameters

        os.environ[MODE_ENV] = "local"
        os.environ.update(app_env.env_vars or {})
        os.environ.update(self.env_vars or {})
        _apply_parameters(encoded)

    def _process_runner(self, app_env: AppEnvironment, encoded: str | None, port: int, root: Path) -> _ProcessRunner:
        from flyte._initialize import get_init_config
        from flyte.app._context import MODE_ENV

        environ = {**os.environ, **(app_env.env_vars or {}), **(self.env_vars or {})}
        environ[MODE_ENV] = "local"
        environ["FLYTE_APP_PORT"] = str(port)
        environ["FLYTE_APP_HOST"] = "127.0.0.1"
        environ["FLYTE_APP_NAME"] = app_env.name
        environ["PYTHONPATH"] = os.pathsep.join([str(root), *filter(None, [environ.get("PYTHONPATH")])])
        argv = [sys.executable, "-m", "flyte.app._runtime", "--dest", str(root)]
        project, domain = get_init_config().project or "", get_init_config().domain or ""
        argv += ["--project", self.project or project, "--domain", self.domain or domain]
        if encoded:
            argv += ["--parameters", encoded]
        if self.raw_data_path:
            argv += ["--raw-data-path", self.raw_data_path]
        argv += ["--", *app_env._local_command()]
        return _ProcessRunner(argv, environ, str(root))

    # -- remote -----------------------------------------------------------------------------------

    def _serve_remote(self, app_env: AppEnvironment) -> App:
        from flyte._deploy import deploy_apps

        changes: dict[str, Any] = {}
        if self.cluster_pool is not None:
            changes["cluster_pool"] = self.cluster_pool
        if self.cluster is not None:
            changes["cluster"] = self.cluster
        if self.env_vars:
            changes["env_vars"] = {**(app_env.env_vars or {}), **self.env_vars}
        target = app_env._replaced(**changes) if changes else app_env
        [deployed] = deploy_apps(
            target,
            version=self.version,
            copy_style=self.copy_style,
            dry_run=self.dry_run,
            project=self.project,
            domain=self.domain,
            parameter_values=self._overrides(app_env),
        )
        app = deployed.deployed_app
        if self.dry_run:
            return app
        return app.watch(wait_for="activated", timeout=self.activate_timeout or 600.0)


def with_servecontext(
    mode: ServeMode | None = None,
    *,
    version: str | None = None,
    copy_style: str = "loaded_modules",
    dry_run: bool = False,
    project: str | None = None,
    domain: str | None = None,
    env_vars: dict[str, str] | None = None,
    parameter_values: dict[str, dict[str, str | flyte.io.File[Any] | flyte.io.Dir[Any]]] | None = None,
    cluster_pool: str | None = None,
    cluster: str | None = None,
    log_level: int | None = None,
    log_format: str = "console",
    user_log_level: int | None = None,
    interactive_mode: bool | None = None,
    copy_bundle_to: Path | None = None,
    deactivate_timeout: float | None = None,
    activate_timeout: float | None = None,
    health_check_timeout: float | None = None,
    health_check_interval: float | None = None,
    health_check_path: str | None = None,
    raw_data_path: str | None = None,
) -> _Serve:
    """Settings for serving apps; ``.serve(env)`` serves with them.

    Args:
        mode: ``"local"`` (a process on this machine) or ``"remote"`` (deploy to the control
            plane); default: remote when ``flyte.init`` has an endpoint, else local.
        version: the deployed version (default: computed from the code).
        copy_style: how the code bundle is built (``"loaded_modules"``, ``"all"``, ``"none"``).
        dry_run: prepare everything but start or deploy nothing.
        project: default: ``flyte.init``'s.
        domain: default: ``flyte.init``'s.
        env_vars: extra environment variables of the app.
        parameter_values: ``{app_name: {parameter: value}}`` overriding declared parameter values.
        cluster_pool: deploy to this cluster pool.
        cluster: deploy to this cluster.
        deactivate_timeout: local: seconds to wait for the process to stop.
        activate_timeout: seconds to wait for the app to become active.
        health_check_timeout: local: seconds to wait for the app to answer.
        health_check_path: local: the path probed (default ``/``).
        raw_data_path: where the app writes data.

    Example:
        >>> handle = flyte.with_servecontext(mode="local").serve(env)  # doctest: +SKIP
        >>> handle.url  # doctest: +SKIP
        'http://localhost:8080'
    """
    del log_format, user_log_level, interactive_mode, copy_bundle_to, health_check_interval
    return _Serve(
        mode=mode,
        version=version,
        copy_style=copy_style,
        dry_run=dry_run,
        project=project,
        domain=domain,
        env_vars=env_vars,
        parameter_values=parameter_values,
        cluster_pool=cluster_pool,
        cluster=cluster,
        log_level=log_level,
        deactivate_timeout=deactivate_timeout,
        activate_timeout=activate_timeout,
        health_check_timeout=health_check_timeout,
        health_check_path=health_check_path,
        raw_data_path=raw_data_path,
    )


@_Blocking
def serve(app_env: AppEnvironment) -> AppHandle:
    """Serve an app: deployed to the control plane when ``flyte.init`` has an endpoint, else on this machine.

    Example:
        >>> app = flyte.serve(env)  # doctest: +SKIP
        >>> app.url  # doctest: +SKIP
        'http://localhost:8090/apps/hello-api/'
    """
    handle: AppHandle = _Serve().serve(app_env)
    return handle

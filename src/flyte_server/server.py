"""Compose and run the control plane: store, blob store, engine, services, scheduler and uvicorn on one port.

:func:`build_app` wires the parts together without doing I/O; :meth:`ServerLifecycle.start`
migrates the database, seeds the default project, opens the object store and starts the engine
and the trigger scheduler; :func:`serve` binds the port, starts everything, serves until asked to
stop (SIGINT/SIGTERM or an event), then shuts down in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import importlib
import importlib.util
import logging
import signal
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from connectrpc.request import RequestContext
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError

from flyte_server.admin.app_service import AppsHub, app_apps
from flyte_server.admin.cluster_service import cluster_app
from flyte_server.admin.identity_service import identity_app
from flyte_server.admin.project_service import project_app
from flyte_server.admin.secret_service import secret_app
from flyte_server.admin.trigger_service import trigger_app
from flyte_server.app import Router
from flyte_server.apps.proxy import APPS_PREFIX, AppProxy
from flyte_server.apps.supervisor import AppSupervisor
from flyte_server.auth import AuthSetup
from flyte_server.auth.scope import ScopeInterceptor
from flyte_server.blobs import BlobStore
from flyte_server.blobs.local import SIGNED_PREFIX, LocalBlobStore
from flyte_server.blobs.s3 import S3BlobStore, S3StoreError
from flyte_server.config import ServerConfig
from flyte_server.console import CONSOLE_PREFIX, ConsoleApp
from flyte_server.console.api import CONSOLE_SERVICE, ConsoleApi
from flyte_server.engine.conditions import CALLBACK_PREFIX
from flyte_server.isolation import WorkerUserError, harden_data_dir, sqlite_file
from flyte_server.limits import uvicorn_options
from flyte_server.request_checks import RequestTextInterceptor
from flyte_server.rpc_guard import guard_connect_app
from flyte_server.scheduler import TriggerScheduler
from flyte_server.secrets import SecretCipher, derive_key, load_server_key, make_secret_resolver
from flyte_server.store.db import Database
from flyte_server.store.projects import ensure_default_project
from flyte_server.validation import ValidationInterceptor, reject_malformed_bodies

__all__ = [
    "EngineFactory",
    "ServerInfo",
    "ServerLifecycle",
    "ServerStartError",
    "bind_socket",
    "build_app",
    "run_server",
    "serve",
]

T = TypeVar("T")

logger = logging.getLogger(__name__)

EngineFactory = Callable[..., Any]
"""Builds the engine, called as ``factory(config=, database=, blobs=, base_url=, secret_resolver=)``.

The result must offer ``start()``, ``stop()``, ``create_run(request)`` and
``connect_apps(interceptors)`` (``flyte_server.engine.Engine`` does).
"""

READ_MAX_BYTES = 64 * 1024 * 1024
"""The largest request body a Connect service accepts (task specs and inline inputs are small)."""
_STARTUP_TIMEOUT = 30.0
_GRACEFUL_SHUTDOWN_SECONDS = 3


class ServerStartError(RuntimeError):
    """The server cannot start: the port is taken, the database unreachable, the storage unusable.

    Its message is one line saying what is wrong and what to do.
    """


@dataclass(frozen=True)
class ServerInfo:
    """Where a started server can be reached."""

    host: str
    """The interface it listens on."""
    port: int
    """The port it listens on (the real one when 0 was asked for)."""
    url: str
    """The base URL of every service, e.g. ``http://127.0.0.1:8090``."""
    endpoint: str
    """What clients pass as ``--endpoint`` (``localhost:8090`` for a loopback server)."""
    console_url: str
    """The web console."""
    data_dir: Path
    """Where the default database, blobs and keys live."""
    admin_api_key: str | None = None
    """The admin API key created at this start (auth on, first start), shown once."""


def _client_host(host: str) -> str:
    if host in ("", "0.0.0.0", "127.0.0.1", "localhost"):
        return "127.0.0.1"
    if host in ("::", "::1"):
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def server_info(config: ServerConfig) -> ServerInfo:
    """The addresses of a server started with ``config`` (whose port is already the real one)."""
    host = _client_host(config.host)
    scheme = "https" if config.tls_cert else "http"
    url = f"{scheme}://{host}:{config.port}"
    endpoint_host = "localhost" if host in ("127.0.0.1", "[::1]") else host
    endpoint = f"{endpoint_host}:{config.port}"
    return ServerInfo(
        host=config.host,
        port=config.port,
        url=url,
        endpoint=endpoint,
        console_url=f"{scheme}://{endpoint}{CONSOLE_PREFIX}",
        data_dir=config.data_dir,
    )


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); port 0 picks a free one.

    Raises:
        ServerStartError: the port is in use, or the address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only turns Nagle off (TCP_NODELAY) on accepted sockets whose
    # protocol says TCP; with proto 0 every response body waited ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise ServerStartError(
                f"port {port} on {host} is already in use; stop the other server or pick another --port"
            ) from e
        raise ServerStartError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    sock.setblocking(False)
    return sock


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def build_blob_store(config: ServerConfig, signing_key: bytes) -> BlobStore:
    """The object store ``config.storage_url`` names: a local directory or ``s3://bucket/prefix``.

    Raises:
        ServerStartError: an unsupported scheme or a directory that cannot be created.
    """
    url = config.storage_url
    if url.startswith("s3://"):
        try:
            return S3BlobStore(
                url,
                endpoint_url=config.s3_endpoint,
                access_key_id=config.s3_access_key_id,
                secret_access_key=config.s3_secret_access_key,
                worker_access_key_id=config.worker_s3_access_key_id,
                worker_secret_access_key=config.worker_s3_secret_access_key,
            )
        except S3StoreError as e:
            raise ServerStartError(str(e)) from e
    if "://" in url and not url.startswith("file://"):
        scheme = url.split("://", 1)[0]
        raise ServerStartError(f"unsupported storage {url!r} ({scheme}://); use a directory or s3://bucket/prefix")
    root = Path(url.removeprefix("file://")).expanduser()
    try:
        return LocalBlobStore(root, secret=signing_key)
    except OSError as e:
        raise ServerStartError(f"cannot use storage directory {root}: {e.strerror or e}") from e


def _engine_class() -> Any:
    # The engine is developed alongside; until its package exists the server runs without it.
    if importlib.util.find_spec("flyte_server.engine") is None:
        return None
    module = importlib.import_module("flyte_server.engine")
    return getattr(module, "Engine", None)


@dataclass
class ServerLifecycle:
    """Starts and stops what :func:`build_app` composed, in dependency order."""

    config: ServerConfig
    database: Database
    blobs: BlobStore
    router: Router
    engine: Any = None
    scheduler: TriggerScheduler | None = None
    auth: AuthSetup | None = None
    app: Any = None
    """What uvicorn serves: the router behind the auth gate (``Host`` allow-list, tokens, roles)."""
    apps: AppsHub | None = None
    """The deployed apps and their supervisor (with an engine that launches workers)."""
    proxy: AppProxy | None = None
    _started: list[str] = field(default_factory=list)

    async def start(self) -> None:
        """Migrate, seed, open storage, start the engine and scheduler; then report ready.

        Raises:
            ServerStartError: the database or the object store cannot be used.
        """
        where = _safe_url(self.database.url)
        try:
            await asyncio.wait_for(self.database.migrate(), timeout=_STARTUP_TIMEOUT)
            try:
                async with self.database.session() as session:
                    await ensure_default_project(session)
            except IntegrityError:
                pass  # another replica seeded it at the same moment
        except (SQLAlchemyError, OSError) as e:
            raise ServerStartError(f"cannot use the database {where}: {_first_line(e)}") from e
        except asyncio.TimeoutError as e:
            raise ServerStartError(f"the database {where} did not answer within {_STARTUP_TIMEOUT:.0f}s") from e
        self._started.append("database")
        harden_data_dir(self.config.data_dir, sqlite_file(self.config.database_url))  # the new -wal/-shm files
        if self.auth is not None:
            try:
                await self.auth.start()
            except (SQLAlchemyError, OSError) as e:
                raise ServerStartError(f"cannot set up authentication: {_first_line(e)}") from e
        if isinstance(self.blobs, S3BlobStore):
            try:
                await self.blobs.open()
            except S3StoreError as e:
                raise ServerStartError(str(e)) from e
            self._started.append("blobs")
        if self.engine is not None:
            from flyte_server.engine.replicas import ReplicaConflictError

            try:
                await self.engine.start()
            except (WorkerUserError, ReplicaConflictError) as e:
                raise ServerStartError(str(e)) from e
            self._started.append("engine")
        if self.apps is not None:
            await self.apps.start()
            self._started.append("apps")
        if self.scheduler is not None:
            await self.scheduler.start()
            self._started.append("scheduler")
        self.router.ready = True
        logger.info(
            "control plane started",
            extra={"database": where, "storage": self.config.storage_url, "engine": self.engine is not None},
        )

    async def stop(self) -> None:
        """Stop what was started, newest first; safe to call more than once."""
        self.router.ready = False
        while self._started:
            part = self._started.pop()
            try:
                if part == "scheduler" and self.scheduler is not None:
                    await self.scheduler.stop()
                elif part == "engine":
                    await self.engine.stop()
                elif part == "apps" and self.apps is not None:
                    await self.apps.stop()
            except Exception:  # keep shutting the rest down; the failure is logged with its traceback
                logger.exception("failed to stop a server component", extra={"component": part})
        if self.proxy is not None:
            await self.proxy.close()
        if isinstance(self.blobs, S3BlobStore):
            await self.blobs.close()
        await self.database.close()


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def build_app(
    config: ServerConfig,
    *,
    with_engine: bool = True,
    engine_factory: EngineFactory | None = None,
    worker_url: str | None = None,
) -> tuple[Router, ServerLifecycle]:
    """Compose the ASGI router and the lifecycle of every part, without I/O beyond key files.

    ``config.port`` must be the real port (signed URLs and workers use it). ``with_engine=False``
    serves only the admin services (projects, secrets, triggers, ...), for tests and tools;
    ``engine_factory`` replaces ``flyte_server.engine.Engine``; ``worker_url`` is where task
    processes reach the server when that is not its public URL (a plain loopback port under TLS).

    Raises:
        ServerStartError: an unusable database URL or storage location.

    Example:
        >>> router, lifecycle = build_app(ServerConfig(port=8090, data_dir=Path("/tmp/fs")))  # doctest: +SKIP
        >>> await lifecycle.start()  # doctest: +SKIP
    """
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        harden_data_dir(config.data_dir, sqlite_file(config.database_url))
    except OSError as e:
        raise ServerStartError(f"cannot create the data directory {config.data_dir}: {e.strerror or e}") from e
    master = load_server_key(config.data_dir, config.secret_key)
    try:
        database = Database(config.database_url)
    except (ArgumentError, SQLAlchemyError, ImportError) as e:
        raise ServerStartError(f"unsupported database URL {_safe_url(config.database_url)}: {e}") from e
    blobs = build_blob_store(config, derive_key(master, "signed-urls"))
    cipher = SecretCipher(derive_key(master, "secrets"))
    info = server_info(config)
    interceptors: Sequence[Any] = (ValidationInterceptor(), RequestTextInterceptor())
    auth = AuthSetup(
        enabled=config.auth,
        signing_key=derive_key(master, "auth-tokens"),
        database=database,
        data_dir=config.data_dir,
        endpoint=info.endpoint,
        tls=config.tls_cert is not None,
        allowed_hosts=(*config.allowed_hosts, *_own_host_names(config.host)),
        oidc_issuer=config.oidc_issuer,
        oidc_audience=config.oidc_audience,
    )
    if config.auth:
        interceptors = (*interceptors, ScopeInterceptor())

    engine: Any = None
    scheduler: TriggerScheduler | None = None
    engine_class = (engine_factory or _engine_class()) if with_engine else None
    if engine_class is not None:
        try:
            engine = engine_class(
                config=config,
                database=database,
                blobs=blobs,
                base_url=info.url,
                secret_resolver=make_secret_resolver(database, cipher),
            )
        except WorkerUserError as e:
            raise ServerStartError(str(e)) from e
        replicas = getattr(engine, "replicas", None)
        lease = replicas.scheduler_lease if replicas is not None else None
        scheduler = TriggerScheduler(database=database, engine=engine, blobs=blobs, lease=lease)
        launcher = getattr(engine, "launcher", None)
        if launcher is not None and config.auth:
            launcher.task_credentials = auth.task_environment
        if launcher is not None and worker_url is not None:
            # Task processes use the plain loopback listener; signed URLs keep the public address.
            launcher.endpoint = worker_url.split("://", 1)[1]
            launcher.base_env["_U_EP_OVERRIDE"] = launcher.endpoint
        if launcher is not None:
            auth.worker_endpoint = launcher.endpoint

    def triggers_changed() -> None:
        if scheduler is not None:
            scheduler.notify()

    apps: list[Any] = [
        cluster_app(interceptors=interceptors, read_max_bytes=READ_MAX_BYTES),
        identity_app(interceptors=interceptors, read_max_bytes=READ_MAX_BYTES),
        project_app(database, interceptors=interceptors, read_max_bytes=READ_MAX_BYTES),
        secret_app(database, cipher, interceptors=interceptors, read_max_bytes=READ_MAX_BYTES),
        trigger_app(database, on_change=triggers_changed, interceptors=interceptors, read_max_bytes=READ_MAX_BYTES),
    ]
    hub: AppsHub | None = None
    proxy: AppProxy | None = None
    launcher = getattr(engine, "launcher", None)
    if launcher is not None:
        supervisor = AppSupervisor(
            launcher=launcher,
            data_dir=config.data_dir,
            worker=getattr(engine, "worker", None),
            raw_prefix=lambda key: blobs.native_url("/".join(("apps", *key, "raw"))),
        )
        hub = AppsHub(database, supervisor, info.url)
        proxy = AppProxy(supervisor)
        apps.extend(app_apps(hub, interceptors=interceptors, read_max_bytes=READ_MAX_BYTES))
    if engine is not None:
        apps.extend(engine.connect_apps(interceptors=(*interceptors, _TriggersChangedOnDeploy(triggers_changed))))
    apps.extend(auth.connect_apps(interceptors=interceptors, read_max_bytes=READ_MAX_BYTES))
    router = Router(
        connect_apps=[guard_connect_app(reject_malformed_bodies(app), config.limits) for app in apps],
        blobs=blobs,
        extra_routes={
            CONSOLE_PREFIX: ConsoleApp(blobs=blobs),
            CONSOLE_SERVICE: ConsoleApi(engine),
            **auth.routes(),
            **({CALLBACK_PREFIX: engine.conditions.http_callback} if hasattr(engine, "conditions") else {}),
        },
        websocket_routes={APPS_PREFIX: proxy} if proxy is not None else {},
        root_redirect=CONSOLE_PREFIX,
    )
    if proxy is not None:
        router.extra_routes[APPS_PREFIX] = proxy
    gate = auth.wrap(router, public_prefixes=(CONSOLE_PREFIX, SIGNED_PREFIX, CALLBACK_PREFIX, APPS_PREFIX))
    if proxy is not None and config.auth:
        proxy.authenticate = gate.authenticate
    lifecycle = ServerLifecycle(
        config=config,
        database=database,
        blobs=blobs,
        router=router,
        engine=engine,
        scheduler=scheduler,
        auth=auth,
        app=gate,
        apps=hub,
        proxy=proxy,
    )
    return router, lifecycle


def _own_host_names(host: str) -> tuple[str, ...]:
    """The ``Host`` names of the interface the server listens on (all of this machine's for a wildcard)."""
    if host in ("", "0.0.0.0", "::"):
        return (socket.gethostname(), socket.getfqdn())
    return (host,)


class _TriggersChangedOnDeploy:
    """Wakes the scheduler after ``TaskService.DeployTask``, which may bring triggers along."""

    def __init__(self, notify: Callable[[], None]) -> None:
        self._notify = notify

    async def intercept_unary(
        self,
        call_next: Callable[[Any, RequestContext[Any, Any]], Awaitable[Any]],
        request: Any,
        ctx: RequestContext[Any, Any],
    ) -> Any:
        response = await call_next(request, ctx)
        if ctx.method().name == "DeployTask":
            self._notify()
        return response


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: :func:`serve` decides how to stop, and exits 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(
    config: ServerConfig,
    *,
    on_ready: Callable[[ServerInfo], None] | None = None,
    shutdown: asyncio.Event | None = None,
    with_engine: bool = True,
    engine_factory: EngineFactory | None = None,
) -> None:
    """Run the control plane until SIGINT/SIGTERM (in the main thread) or until ``shutdown`` is set.

    ``on_ready`` is called once ``/healthz`` answers 200, with the real addresses. A second
    SIGINT skips the graceful wait for open requests.

    Raises:
        ServerStartError: the server could not start (nothing is left running then).

    Example:
        >>> asyncio.run(serve(ServerConfig(port=0), on_ready=print))  # doctest: +SKIP
    """
    stop = shutdown or asyncio.Event()
    holder: list[uvicorn.Server] = []
    sock = bind_socket(config.host, config.port)
    config = replace(config, port=sock.getsockname()[1])
    # Under TLS, task processes reach the server on a plain loopback port of their own (tokens still apply).
    internal_sock = bind_socket("127.0.0.1", 0) if config.tls_cert else None
    worker_url = f"http://127.0.0.1:{internal_sock.getsockname()[1]}" if internal_sock else None
    lifecycle: ServerLifecycle | None = None
    with _signals_set(stop, holder):
        try:
            _router, lifecycle = build_app(
                config, with_engine=with_engine, engine_factory=engine_factory, worker_url=worker_url
            )
            await lifecycle.start()
            if stop.is_set():
                return
            server = _Server(
                uvicorn.Config(
                    lifecycle.app,
                    **_tls_options(config),
                    **uvicorn_options(config.limits, _http_protocol()),
                    # WebSockets only for apps behind the proxy (/apps/<name>/); every other path refuses them.
                    ws="websockets-sansio" if lifecycle.proxy is not None else "none",
                    lifespan="off",
                    log_config=None,
                    access_log=logging.getLogger("uvicorn.access").isEnabledFor(logging.INFO),
                    timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
                )
            )
            holder.append(server)
            internal = _internal_server(lifecycle.app, internal_sock, holder)
            serving = asyncio.create_task(server.serve(sockets=[sock]), name="uvicorn")
            while not server.started and not serving.done():
                await asyncio.sleep(0.02)
            if serving.done():
                serving.result()
                raise ServerStartError("the HTTP server stopped while starting; see the log above")
            info = server_info(config)
            if lifecycle.auth is not None and lifecycle.auth.new_admin_key:
                info = replace(info, admin_api_key=lifecycle.auth.new_admin_key)
            logger.info("serving", extra={"url": info.url, "endpoint": info.endpoint})
            if on_ready is not None:
                on_ready(info)
            stopper = asyncio.create_task(_exit_when_set(server, stop, lifecycle), name="shutdown-watcher")
            try:
                await serving
            finally:
                stopper.cancel()
            logger.info("shutting down")
            if internal is not None:
                internal[0].should_exit = True
                await internal[1]
        finally:
            if lifecycle is not None:
                await lifecycle.stop()
            sock.close()
            if internal_sock is not None:
                internal_sock.close()


def _tls_options(config: ServerConfig) -> dict[str, Any]:
    if config.tls_cert is None:
        return {}
    return {"ssl_certfile": str(config.tls_cert), "ssl_keyfile": str(config.tls_key) if config.tls_key else None}


def _internal_server(
    app: Any, sock: socket.socket | None, holder: list[uvicorn.Server]
) -> tuple[uvicorn.Server, asyncio.Task[None]] | None:
    """The plain-HTTP loopback listener of task processes when the public one is TLS."""
    if sock is None:
        return None
    server = _Server(uvicorn.Config(app, http=_http_protocol(), ws="none", lifespan="off", log_config=None))
    holder.append(server)
    return server, asyncio.create_task(server.serve(sockets=[sock]), name="uvicorn-internal")


async def _exit_when_set(server: uvicorn.Server, stop: asyncio.Event, lifecycle: ServerLifecycle) -> None:
    await stop.wait()
    server.should_exit = True
    # Watch streams never end on their own while runs go on; end them so uvicorn need not wait
    # out its graceful-shutdown timeout for them.
    if lifecycle.engine is not None:
        lifecycle.engine.close_streams()


@contextlib.contextmanager
def _signals_set(stop: asyncio.Event, servers: list[uvicorn.Server]) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM set ``stop`` (main thread only); a second SIGINT forces exit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()

    def handle(signum: int) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            for server in servers:
                server.force_exit = True
        stop.set()
        logger.info("stop requested", extra={"signal": signal.Signals(signum).name})

    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, handle, signum)
            installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def _http_protocol() -> str:
    """uvicorn's HTTP/1.1 implementation: httptools (a C parser, several times cheaper per request) when installed."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"


def run_server(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run the server's main coroutine on uvloop when it is installed (a faster event loop), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)

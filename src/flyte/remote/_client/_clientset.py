"""``ClientSet``: one Connect client per control-plane service, sharing one endpoint and policy.

Every unary call gets a default timeout and is retried with exponential backoff while the
server answers ``UNAVAILABLE`` (not started yet, restarting, connection refused). When it stays
unreachable the error says which endpoint was tried, in one line. Server streams are not
retried here; their consumers resubscribe (the controller's informer does).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from connectrpc.code import Code
from connectrpc.errors import ConnectError

from flyte.remote._auth_metadata import get_auth_metadata
from flyte.remote._client._auth import AuthInterceptor, TokenSource, token_source
from flyte.remote._client._endpoint import is_insecure_host, normalize_endpoint

if TYPE_CHECKING:
    from connectrpc.request import RequestContext
    from flyteidl2.actions.actions_service_connect import ActionsServiceClient
    from flyteidl2.app.app_logs_service_connect import AppLogsServiceClient
    from flyteidl2.app.app_service_connect import AppServiceClient
    from flyteidl2.auth.identity_connect import IdentityServiceClient
    from flyteidl2.cluster.service_connect import ClusterServiceClient
    from flyteidl2.dataproxy.dataproxy_service_connect import DataProxyServiceClient
    from flyteidl2.project.project_service_connect import ProjectServiceClient
    from flyteidl2.secret.secret_connect import SecretServiceClient
    from flyteidl2.settings.settings_service_connect import SettingsServiceClient
    from flyteidl2.task.task_service_connect import TaskServiceClient
    from flyteidl2.trigger.trigger_service_connect import TriggerServiceClient
    from flyteidl2.workflow.queue_service_connect import QueueServiceClient
    from flyteidl2.workflow.run_logs_service_connect import RunLogsServiceClient
    from flyteidl2.workflow.run_service_connect import RunServiceClient
    from flyteidl2.workflow.state_service_connect import StateServiceClient

    from flyte._initialize import InitConfig

__all__ = ["ClientConfig", "ClientSet", "cancel_requests"]

_LOOPBACK_IDLE_CONNECTIONS = 64
"""Idle connections a client set keeps to a server on this machine (pyqwest's default is 2)."""

REQ = TypeVar("REQ")
RES = TypeVar("RES")
C = TypeVar("C")


_PROCESS_ID = uuid.uuid4().hex[:12]
"""Request ids are this process's random id (or the action's prefix) and a counter: unique, no syscall each."""
_REQUEST_NUMBERS = itertools.count(1)


@dataclass(frozen=True, kw_only=True)
class ClientConfig:
    """How a :class:`ClientSet` talks to the control plane."""

    endpoint: str
    """The normalised base URL, e.g. ``http://localhost:8090``."""
    timeout_s: float = 30.0
    """Default deadline of one unary call (a call's own ``timeout_ms`` wins)."""
    retries: int = 3
    """How many times a unary call is retried while the server is ``UNAVAILABLE``."""
    backoff_s: float = 0.25
    """First retry delay; doubles on each retry, capped at 5 s."""
    retry_budget_s: float = 0.0
    """When set, ``UNAVAILABLE`` is retried until this many seconds have passed instead of ``retries`` times.

    Tasks use it: a control plane that restarts under them must not fail their attempts."""
    headers: Mapping[str, str] | None = None
    """Headers sent with every call."""
    request_id_prefix: str = ""
    """Prefix of the ``x-request-id`` header (inside a task: ``{project}-{domain}-{run}-{action}``)."""
    auth: TokenSource | None = None
    """Bearer tokens for every call (API key / client credentials); inside a task, its run's credential."""


TASK_RETRY_BUDGET_S = 300.0
"""How long a task keeps retrying a control plane that is unreachable (``_F_CP_RETRY_S`` overrides)."""


def _float_or(text: str | None, default: float) -> float:
    try:
        return float(text) if text else default
    except ValueError:
        return default


def _reason(error: ConnectError) -> str:
    message = str(error)
    # pyqwest nests its reasons; the last clause is the useful one ("Connection refused (os error 111)").
    return message.rsplit(": ", 1)[-1] if ": " in message else message


def cancel_requests() -> int:
    """How many cancellations of the current task are pending (0 where Python cannot tell)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return int(cancelling()) if cancelling is not None else 0


def _reraise_cancellation(error: ConnectError, cancels_before: int) -> None:
    """connectrpc turns a cancelled call into ``ConnectError(CANCELED)``; give callers the cancellation back.

    Otherwise ``asyncio.wait_for`` timeouts and task cancellation would surface as RPC errors.
    """
    if error.code == Code.CANCELED and isinstance(error.__cause__, asyncio.CancelledError):
        raise error.__cause__
    # The transport may also report a cancelled request as a broken connection (UNAVAILABLE), which
    # would be retried and the cancellation lost: a task cancelled during the call is cancelled.
    if cancel_requests() > cancels_before:
        raise asyncio.CancelledError() from error


class _PolicyInterceptor:
    """Request ids, default deadlines, UNAVAILABLE retries and the unreachable-endpoint message."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config

    def _headers(self, ctx: RequestContext[Any, Any]) -> None:
        headers = ctx.request_headers()
        for key, value in (self.config.headers or {}).items():
            headers[key] = value
        for key, value in get_auth_metadata():  # flyte.remote.auth_metadata(...) blocks
            headers[key] = value
        if "x-request-id" not in headers:
            prefix = self.config.request_id_prefix or _PROCESS_ID
            headers["x-request-id"] = f"{prefix}-{next(_REQUEST_NUMBERS):x}"

    def _unreachable(self, error: ConnectError) -> ConnectError:
        message = (
            f"Cannot reach the Flyte control plane at {self.config.endpoint} ({_reason(error)}); "
            "check that the server is running and the endpoint is right."
        )
        wrapped = ConnectError(Code.UNAVAILABLE, message)
        wrapped.__cause__ = error
        return wrapped

    async def intercept_unary(
        self, call_next: Callable[[REQ, RequestContext[Any, Any]], Awaitable[RES]], request: REQ, ctx: Any
    ) -> RES:
        from flyte._internal.retrying import call_with_retries, transient_retrying

        self._headers(ctx)
        timeout = None if ctx.timeout_ms() is not None else self.config.timeout_s
        cancels = cancel_requests()

        async def once() -> RES:
            try:
                if timeout is None:
                    return await call_next(request, ctx)
                return await self._with_deadline(call_next(request, ctx), timeout, ctx)
            except ConnectError as error:
                _reraise_cancellation(error, cancels)
                raise

        # UNAVAILABLE (the server is down or restarting) is retried: within the time budget when
        # one is set (tasks riding out a server restart), else for the configured number of tries.
        budget = self.config.retry_budget_s
        retrying = transient_retrying(
            lambda error: isinstance(error, ConnectError) and error.code == Code.UNAVAILABLE,
            attempts=None if budget > 0 else self.config.retries + 1,
            budget_s=budget if budget > 0 else None,
            first_delay=self.config.backoff_s,
            max_delay=5.0,
        )
        try:
            return await call_with_retries(once, retrying)
        except ConnectError as error:
            if error.code == Code.UNAVAILABLE:
                raise self._unreachable(error) from error.__cause__
            raise

    async def _with_deadline(self, call: Awaitable[RES], timeout: float, ctx: Any) -> RES:
        # connectrpc turns the cancellation of a call into an RPC error, so asyncio.wait_for would
        # report CANCELED instead of a timeout; run the call as a task and cancel it ourselves.
        task = asyncio.ensure_future(call)
        try:
            done, _ = await asyncio.wait({task}, timeout=timeout)
        except asyncio.CancelledError:
            task.cancel()
            await asyncio.wait({task})
            if not task.cancelled():
                task.exception()  # retrieved: connectrpc reports the cancellation as an error of the call
            raise
        if not done:
            task.cancel()
            await asyncio.wait({task})
            if not task.cancelled():
                task.exception()  # retrieved: the call's own error is replaced by the deadline
            raise ConnectError(
                Code.DEADLINE_EXCEEDED,
                f"{ctx.method().service_name}/{ctx.method().name} on {self.config.endpoint} "
                f"took longer than {timeout:g}s",
            )
        return task.result()

    def intercept_server_stream(
        self, call_next: Callable[[REQ, RequestContext[Any, Any]], AsyncIterator[RES]], request: REQ, ctx: Any
    ) -> AsyncIterator[RES]:
        self._headers(ctx)
        return self._stream(call_next(request, ctx))

    async def _stream(self, stream: AsyncIterator[RES]) -> AsyncIterator[RES]:
        cancels = cancel_requests()
        try:
            async for message in stream:
                yield message
        except ConnectError as error:
            _reraise_cancellation(error, cancels)
            if error.code == Code.UNAVAILABLE:
                raise self._unreachable(error) from error.__cause__
            raise


class ClientSet:
    """Async Connect clients for every control-plane service, created on first use.

    Example:
        >>> clients = ClientSet.for_endpoint("localhost:8090", insecure=True)
        >>> clients.endpoint
        'http://localhost:8090'
        >>> response = await clients.run_service.get_run_details(request)  # doctest: +SKIP
        >>> await clients.close()  # doctest: +SKIP
    """

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self._interceptor = _PolicyInterceptor(config)
        auth = config.auth if config.auth is not None else token_source(config.endpoint, {}, os.environ)
        self._interceptors: tuple[Any, ...] = (self._interceptor,)
        if auth is not None:
            self._interceptors += (AuthInterceptor(auth),)
        self._clients: dict[type[Any], Any] = {}
        self._http: Any = None
        self._transport: Any = None

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def for_endpoint(
        cls,
        endpoint: str,
        *,
        insecure: bool = False,
        timeout_s: float = 30.0,
        retries: int = 3,
        retry_budget_s: float = 0.0,
        headers: Mapping[str, str] | None = None,
        request_id_prefix: str = "",
    ) -> ClientSet:
        """Clients for ``endpoint`` (``host:port``, ``dns:///host:port`` or a URL).

        Raises:
            ValueError: the endpoint cannot be used.
        """
        return cls(
            ClientConfig(
                endpoint=normalize_endpoint(endpoint, insecure=insecure),
                timeout_s=timeout_s,
                retries=retries,
                retry_budget_s=retry_budget_s,
                headers=headers,
                request_id_prefix=request_id_prefix,
            )
        )

    @classmethod
    def from_init_config(cls, config: InitConfig | None = None) -> ClientSet:
        """Clients for the endpoint given to ``flyte.init`` (or a config file).

        Raises:
            flyte.errors.InitializationError: no endpoint was configured.
        """
        from flyte._initialize import get_init_config
        from flyte.errors import InitializationError

        config = config or get_init_config()
        if not config.endpoint:
            raise InitializationError(
                "ClientNotInitializedError",
                "user",
                "No Flyte endpoint is configured; call flyte.init(endpoint='localhost:8090', insecure=True) "
                "or flyte.init_from_config()",
            )
        try:
            clients = cls.for_endpoint(config.endpoint, insecure=config.insecure)
        except ValueError as error:
            raise InitializationError("ClientNotInitializedError", "user", str(error)) from error
        auth = token_source(clients.endpoint, config.extra, os.environ)
        return clients if auth is None else cls(replace(clients.config, auth=auth))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClientSet:
        """Clients for the control plane a task process runs under (``_U_EP_OVERRIDE``).

        The endpoint is plain HTTP when its host contains ``localhost`` or ``docker`` or when
        ``_U_INSECURE=true``. Request ids carry ``{project}-{domain}-{run}-{action}``. A task keeps
        retrying an unreachable control plane for ``_F_CP_RETRY_S`` seconds (default 300); one call
        may take ``_F_CP_TIMEOUT_S`` seconds (default 30).

        Raises:
            flyte.errors.RuntimeSystemError: ``_U_EP_OVERRIDE`` is not set.
        """
        from flyte.errors import RuntimeSystemError

        env = os.environ if environ is None else environ
        endpoint = env.get("_U_EP_OVERRIDE", "")
        if not endpoint:
            raise RuntimeSystemError(
                "MissingEndpoint",
                "_U_EP_OVERRIDE is not set, so this task cannot reach the control plane to run nested actions",
            )
        insecure = env.get("_U_INSECURE", "").lower() in ("1", "true", "yes") or is_insecure_host(endpoint)
        parts = [
            env.get("FLYTE_INTERNAL_EXECUTION_PROJECT", ""),
            env.get("FLYTE_INTERNAL_EXECUTION_DOMAIN", ""),
            env.get("RUN_NAME", ""),
            env.get("ACTION_NAME", ""),
        ]
        prefix = "-".join(parts) if any(parts) else ""
        # A task outlives restarts of its control plane: keep trying while it is away.
        budget = _float_or(env.get("_F_CP_RETRY_S"), TASK_RETRY_BUDGET_S)
        timeout = _float_or(env.get("_F_CP_TIMEOUT_S"), 30.0)
        return cls.for_endpoint(
            endpoint, insecure=insecure, request_id_prefix=prefix, retry_budget_s=budget, timeout_s=timeout
        )

    # --- clients --------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The base URL every client posts to."""
        return self.config.endpoint

    def _client(self, client_class: type[C]) -> C:
        client = self._clients.get(client_class)
        if client is None:
            # connectrpc shares one pyqwest transport (connection pool) between clients by default.
            # It gzips every message by default; on loopback that only burns CPU on both ends.
            options: dict[str, Any] = {}
            if _is_loopback(self.config.endpoint):
                options = {"send_compression": None, "accept_compression": (), "http_client": self._loopback_http()}
            client = client_class(self.config.endpoint, interceptors=self._interceptors, **options)  # type: ignore[call-arg]
            self._clients[client_class] = client
        return client  # type: ignore[no-any-return]

    @property
    def cluster_service(self) -> ClusterServiceClient:
        """``flyteidl2.cluster.ClusterService`` (SelectCluster)."""
        from flyteidl2.cluster.service_connect import ClusterServiceClient

        return self._client(ClusterServiceClient)

    @property
    def dataproxy_service(self) -> DataProxyServiceClient:
        """``flyteidl2.dataproxy.DataProxyService`` (uploads, inputs, action data, logs)."""
        from flyteidl2.dataproxy.dataproxy_service_connect import DataProxyServiceClient

        return self._client(DataProxyServiceClient)

    @property
    def task_service(self) -> TaskServiceClient:
        """``flyteidl2.task.TaskService`` (deploy, get, list tasks)."""
        from flyteidl2.task.task_service_connect import TaskServiceClient

        return self._client(TaskServiceClient)

    @property
    def run_service(self) -> RunServiceClient:
        """``flyteidl2.workflow.RunService`` (create, watch, abort runs and actions)."""
        from flyteidl2.workflow.run_service_connect import RunServiceClient

        return self._client(RunServiceClient)

    @property
    def run_logs_service(self) -> RunLogsServiceClient:
        """``flyteidl2.workflow.RunLogsService``."""
        from flyteidl2.workflow.run_logs_service_connect import RunLogsServiceClient

        return self._client(RunLogsServiceClient)

    @property
    def queue_service(self) -> QueueServiceClient:
        """``flyteidl2.workflow.QueueService`` (nested actions, default path)."""
        from flyteidl2.workflow.queue_service_connect import QueueServiceClient

        return self._client(QueueServiceClient)

    @property
    def state_service(self) -> StateServiceClient:
        """``flyteidl2.workflow.StateService`` (watch a parent's children)."""
        from flyteidl2.workflow.state_service_connect import StateServiceClient

        return self._client(StateServiceClient)

    @property
    def actions_service(self) -> ActionsServiceClient:
        """``flyteidl2.actions.ActionsService`` (nested actions when ``_U_USE_ACTIONS=1``)."""
        from flyteidl2.actions.actions_service_connect import ActionsServiceClient

        return self._client(ActionsServiceClient)

    @property
    def project_service(self) -> ProjectServiceClient:
        """``flyteidl2.project.ProjectService``."""
        from flyteidl2.project.project_service_connect import ProjectServiceClient

        return self._client(ProjectServiceClient)

    @property
    def trigger_service(self) -> TriggerServiceClient:
        """``flyteidl2.trigger.TriggerService``."""
        from flyteidl2.trigger.trigger_service_connect import TriggerServiceClient

        return self._client(TriggerServiceClient)

    @property
    def secret_service(self) -> SecretServiceClient:
        """``flyteidl2.secret.SecretService``."""
        from flyteidl2.secret.secret_connect import SecretServiceClient

        return self._client(SecretServiceClient)

    @property
    def identity_service(self) -> IdentityServiceClient:
        """``flyteidl2.auth.IdentityService`` (``flyte whoami``)."""
        from flyteidl2.auth.identity_connect import IdentityServiceClient

        return self._client(IdentityServiceClient)

    @property
    def settings_service(self) -> SettingsServiceClient:
        """``flyteidl2.settings.SettingsService``."""
        from flyteidl2.settings.settings_service_connect import SettingsServiceClient

        return self._client(SettingsServiceClient)

    @property
    def app_service(self) -> AppServiceClient:
        """``flyteidl2.app.AppService``."""
        from flyteidl2.app.app_service_connect import AppServiceClient

        return self._client(AppServiceClient)

    @property
    def app_logs_service(self) -> AppLogsServiceClient:
        """``flyteidl2.app.AppLogsService`` (an app's log lines, server stream)."""
        from flyteidl2.app.app_logs_service_connect import AppLogsServiceClient

        return self._client(AppLogsServiceClient)

    def _loopback_http(self) -> Any:
        """This set's own connection pool for a server on this machine.

        No OpenTelemetry hooks on every request (nothing here traces them), and idle connections
        kept for the next burst: a parent enqueues dozens of children at once, and the default
        pool would keep two of those connections and open the rest again each time.
        """
        if self._http is None:
            from pyqwest import Client, HTTPTransport

            self._transport = HTTPTransport(
                enable_otel=False,
                pool_max_idle_per_host=_LOOPBACK_IDLE_CONNECTIONS,
                enable_gzip=False,
                enable_brotli=False,
                enable_zstd=False,
            )
            self._http = Client(self._transport)
        return self._http

    async def close(self) -> None:
        """Close every client (safe to call more than once)."""
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.close()
        transport, self._transport, self._http = self._transport, None, None
        if transport is not None:
            await transport.aclose()

    async def __aenter__(self) -> ClientSet:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _is_loopback(endpoint: str) -> bool:
    """Whether ``endpoint`` (a URL) names this machine.

    Example:
        >>> _is_loopback("http://localhost:8090"), _is_loopback("https://flyte.example.com")
        (True, False)
    """
    from urllib.parse import urlsplit

    host = (urlsplit(endpoint).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")

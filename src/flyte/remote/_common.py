"""What every remote handle shares: the process-wide clients, defaults, errors, conversions.

Handles convert ``flyteidl2`` messages into plain attributes right here at the boundary; none
of them hands a protobuf message to the user.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal, overload

from flyte.errors import ControlPlaneError, InitializationError, NotFoundError
from flyte.models import ActionPhase

if TYPE_CHECKING:
    from connectrpc.errors import ConnectError
    from flyteidl2.dataproxy.dataproxy_service_connect import DataProxyServiceClient
    from google.protobuf.timestamp_pb2 import Timestamp

    from flyte.remote._client import ClientSet

__all__ = [
    "TimeFilter",
    "ToDict",
    "close_clients",
    "console_url",
    "control_plane_error",
    "dataproxy_for",
    "get_clients",
    "phase_from_proto",
    "phase_to_proto",
    "scope",
    "to_datetime",
]

_lock = threading.Lock()
_clients: dict[tuple[str, bool], ClientSet] = {}
_routes: dict[tuple[str, int, str, str], DataProxyServiceClient | None] = {}
_SETTLE_S = 0.05


def get_clients() -> ClientSet:
    """The clients of the control plane ``flyte.init`` configured (one set per endpoint, process-wide).

    Raises:
        InitializationError: no endpoint is configured, or it cannot be used.
    """
    from flyte._initialize import get_init_config
    from flyte.remote._client import ClientSet

    config = get_init_config()
    if not config.endpoint:
        raise InitializationError(
            "ClientNotInitializedError",
            "user",
            "No Flyte endpoint is configured; call flyte.init(endpoint='localhost:8090', insecure=True), "
            "flyte.init_from_config(), or pass --endpoint to the flyte command",
        )
    key = (config.endpoint, config.insecure)
    with _lock:
        clients = _clients.get(key)
        if clients is None:
            try:
                clients = ClientSet.from_init_config(config)
            except ValueError as error:
                raise InitializationError("ClientNotInitializedError", "user", str(error)) from error
            if not _clients:
                import atexit

                atexit.register(close_clients)
            _clients[key] = clients
    return clients


def close_clients() -> None:
    """Close every client of this process; registered to run at exit.

    The HTTP transport (pyqwest) finishes connection work on its own threads after the last
    call; if the interpreter finalises meanwhile, the process aborts (exit status 134) after
    all real work is done. Closing, then pausing a moment, lets those threads settle first.
    """
    import asyncio
    import time

    with _lock:
        sets = list(_clients.values())
        _clients.clear()
        _routes.clear()
    if not sets:
        return

    async def close_all() -> None:
        for clients in sets:
            await clients.close()

    try:
        asyncio.run(close_all())
    except RuntimeError:  # called while an event loop runs in this thread: leave it to the process exit
        pass
    time.sleep(_SETTLE_S)


def scope(project: str | None = None, domain: str | None = None) -> tuple[str, str]:
    """``(project, domain)``: the given ones, else those of ``flyte.init``.

    Raises:
        InitializationError: neither says which project or domain.
    """
    from flyte._initialize import get_init_config

    config = get_init_config()
    chosen_project = project or config.project
    chosen_domain = domain or config.domain
    if not chosen_project:
        raise InitializationError(
            "ClientNotInitializedError",
            "user",
            "No project is configured; pass project=... or flyte.init(project='flytesnacks')",
        )
    if not chosen_domain:
        raise InitializationError(
            "ClientNotInitializedError",
            "user",
            "No domain is configured; pass domain=... or flyte.init(domain='development')",
        )
    return chosen_project, chosen_domain


def org() -> str:
    """The organisation of ``flyte.init`` (``""`` when none, as Flyte 2 sends it to localhost)."""
    from flyte._initialize import get_init_config

    return get_init_config().org or ""


def control_plane_error(
    error: ConnectError, what: str, *, not_found: type[Exception] = NotFoundError, explain: bool = False
) -> Exception:
    """The SDK exception for a failed RPC about ``what`` (e.g. ``"run 'r1' in flytesnacks/development"``).

    ``NOT_FOUND`` gives ``not_found`` ("<what> was not found", or with ``explain`` the server's
    own reason, for requests that name several things); an unreachable server keeps the
    client's one-line message (which names the endpoint); everything else is a
    :class:`~flyte.errors.ControlPlaneError` carrying the Connect code.
    """
    from connectrpc.code import Code

    message = (error.message or str(error)).strip().splitlines()[0] if (error.message or str(error)).strip() else ""
    if error.code == Code.NOT_FOUND:
        if explain and message:
            return not_found(f"{message[0].upper()}{message[1:]} ({what})")
        return not_found(f"{what[0].upper()}{what[1:]} was not found")
    if error.code == Code.UNAVAILABLE:
        return ControlPlaneError(message, code="UNAVAILABLE")
    return ControlPlaneError(f"The control plane failed on {what}: {message}", code=error.code.name)


@overload
async def dataproxy_for(operation: str, project: str, domain: str) -> DataProxyServiceClient: ...


@overload
async def dataproxy_for(
    operation: str, project: str, domain: str, *, optional: Literal[True]
) -> DataProxyServiceClient | None: ...


async def dataproxy_for(
    operation: str, project: str, domain: str, *, optional: bool = False
) -> DataProxyServiceClient | None:
    """The DataProxy client for ``operation`` in a project, routed by ``ClusterService.SelectCluster``.

    The answer is cached per (endpoint, operation, project, domain). An empty endpoint (or the
    session's own) means the default client; so does ``UNIMPLEMENTED``, unless ``optional``,
    which then gives ``None`` (trigger inputs go inline then).
    """
    from connectrpc.code import Code
    from connectrpc.errors import ConnectError
    from flyteidl2.cluster import payload_pb2
    from flyteidl2.common import identifier_pb2

    from flyte._initialize import get_init_config
    from flyte.remote._client import ClientSet, normalize_endpoint

    clients = get_clients()
    op = payload_pb2.SelectClusterRequest.Operation.Value(operation)
    key = (clients.endpoint, op, project, domain)
    with _lock:
        if key in _routes:
            cached = _routes[key]
            return cached if cached is not None or optional else clients.dataproxy_service
    routed: DataProxyServiceClient | None
    request = payload_pb2.SelectClusterRequest(
        operation=op, project_id=identifier_pb2.ProjectIdentifier(name=project, domain=domain, organization=org())
    )
    routed = clients.dataproxy_service
    try:
        response = await clients.cluster_service.select_cluster(request)
    except ConnectError as error:
        if error.code != Code.UNIMPLEMENTED:
            raise control_plane_error(error, f"choosing a cluster for project {project}/{domain}") from error
        if optional:
            routed = None
    else:
        endpoint = response.cluster_endpoint
        insecure = get_init_config().insecure
        if endpoint and normalize_endpoint(endpoint, insecure=insecure) != clients.endpoint:
            routed = ClientSet.for_endpoint(endpoint, insecure=insecure).dataproxy_service
    with _lock:
        _routes[key] = routed
    if routed is None and not optional:
        return clients.dataproxy_service
    return routed


def phase_from_proto(value: int) -> ActionPhase:
    """``flyteidl2.common.ActionPhase`` → :class:`~flyte.models.ActionPhase` (unspecified reads as queued)."""
    from flyteidl2.common import phase_pb2

    name = phase_pb2.ActionPhase.Name(value).removeprefix("ACTION_PHASE_")
    return ActionPhase.__members__.get(name, ActionPhase.QUEUED)


def phase_to_proto(phase: ActionPhase | str) -> int:
    """A phase (``ActionPhase`` or its name, any case) → the ``flyteidl2`` enum value.

    Raises:
        ValueError: not a phase name.
    """
    from flyteidl2.common import phase_pb2

    name = phase.name if isinstance(phase, ActionPhase) else str(phase).strip().upper()
    try:
        return int(phase_pb2.ActionPhase.Value(f"ACTION_PHASE_{name}"))
    except ValueError:
        known = ", ".join(member.name.lower() for member in ActionPhase)
        raise ValueError(f"Unknown phase {phase!r}; use one of {known}") from None


def to_datetime(stamp: Timestamp | None) -> datetime | None:
    """A protobuf timestamp as an aware UTC ``datetime`` (``None`` when unset)."""
    if stamp is None or (stamp.seconds == 0 and stamp.nanos == 0):
        return None
    return datetime.fromtimestamp(stamp.seconds + stamp.nanos / 1e9, tz=timezone.utc)


def console_url(endpoint: str, project: str, domain: str, run: str) -> str:
    """The console page of a run: ``<endpoint>/v2/domain/<domain>/project/<project>/runs/<run>``."""
    return f"{endpoint.rstrip('/')}/v2/domain/{domain}/project/{project}/runs/{run}"


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.name if isinstance(value, ActionPhase) else value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if not f.name.startswith("_")}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return value


class ToDict:
    """``to_dict()`` / ``to_json()`` for handles: public fields as JSON-friendly values (phases by
    name, times in ISO 8601)."""

    def to_dict(self) -> dict[str, Any]:
        """The handle's public fields as plain, JSON-serialisable values."""
        result = _plain(self)
        assert isinstance(result, dict)
        return result

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON document.

        Example:
            >>> TimeFilter(after=datetime(2024, 1, 1, tzinfo=timezone.utc)).to_json()
            '{"after": "2024-01-01T00:00:00+00:00", "before": null}'
        """
        import json

        return json.dumps(self.to_dict(), default=str)


@dataclasses.dataclass(frozen=True)
class TimeFilter(ToDict):
    """A time window for listings: ``Run.listall(created_at=TimeFilter(after=...))``.

    Example:
        >>> from datetime import timedelta
        >>> window = TimeFilter(after=datetime.now(timezone.utc) - timedelta(hours=1))
        >>> flyte.remote.Run.listall(created_at=window)  # doctest: +SKIP
    """

    after: datetime | None = None
    """Only entries at or after this time (inclusive); a naive time is local time."""
    before: datetime | None = None
    """Only entries before this time (exclusive)."""

    def __post_init__(self) -> None:
        for label in ("after", "before"):
            value = getattr(self, label)
            if value is not None and not isinstance(value, datetime):
                raise TypeError(f"TimeFilter({label}=...) must be a datetime, got {value!r}")
        if self.after is not None and self.before is not None and _utc(self.after) >= _utc(self.before):
            raise ValueError(f"TimeFilter: after ({self.after}) must be earlier than before ({self.before})")

    def to_filters(self, field: str) -> list[Any]:
        """``list_pb2.Filter`` messages on ``field`` (``created_at``, ``updated_at``), times in UTC."""
        from flyteidl2.common import list_pb2

        filters = []
        if self.after is not None:
            filters.append(
                list_pb2.Filter(
                    field=field, function=list_pb2.Filter.GREATER_THAN_OR_EQUAL, values=[_utc(self.after).isoformat()]
                )
            )
        if self.before is not None:
            filters.append(
                list_pb2.Filter(field=field, function=list_pb2.Filter.LESS_THAN, values=[_utc(self.before).isoformat()])
            )
        return filters


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)

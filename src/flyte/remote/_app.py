"""``flyte.remote.App``: apps deployed on the control plane (flyteidl2's App service).

Apps are usually deployed with ``flyte.serve(env)``, ``flyte deploy`` or ``flyte serve FILE ENV``;
these handles find, (de)activate, update and delete them afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, Literal

from flyte._internal.syncify import syncify_classmethod, syncify_method
from flyte.remote._common import ToDict, control_plane_error, get_clients, org, scope, to_datetime
from flyte.remote._listing import syncify_listing

if TYPE_CHECKING:
    from datetime import datetime

    from flyteidl2.app import app_definition_pb2

__all__ = ["App", "WaitFor"]

WaitFor = Literal["activated", "deactivated"]

_STATUS_NAMES = (
    "unassigned",
    "assigned",
    "pending",
    "stopped",
    "started",
    "failed",
    "active",
    "scaling_up",
    "scaling_down",
    "deploying",
)
"""``flyte get app --status`` choices: ``DEPLOYMENT_STATUS_<NAME>`` in lower case."""

_WATCH_INTERVAL_S = 0.5
_LOGS_IDLE_S = 1.5
"""``show_logs`` prints what has come once the stream has been quiet this long."""


def _identifier(name: str, project: str, domain: str) -> Any:
    from flyteidl2.app import app_definition_pb2

    return app_definition_pb2.Identifier(org=org(), project=project, domain=domain, name=name)


def _status_value(name: str) -> int:
    from flyteidl2.app import app_definition_pb2

    try:
        return int(app_definition_pb2.Status.DeploymentStatus.Value(f"DEPLOYMENT_STATUS_{name.upper()}"))
    except ValueError as e:
        raise ValueError(f"unknown app status {name!r}; choose from {', '.join(_STATUS_NAMES)}") from e


class App(ToDict):
    """A deployed app: its spec and its live status.

    Example:
        >>> app = flyte.remote.App.get("hello-api")  # doctest: +SKIP
        >>> app.deployment_status, app.endpoint  # doctest: +SKIP
        ('active', 'http://localhost:8090/apps/hello-api/')
        >>> app.deactivate(wait=True)  # doctest: +SKIP
    """

    def __init__(self, pb2: app_definition_pb2.App) -> None:
        self.pb2 = pb2

    def __repr__(self) -> str:
        return f"App(name={self.name!r}, status={self.deployment_status!r}, endpoint={self.endpoint!r})"

    def to_dict(self) -> dict[str, Any]:
        """Name, scope, revision, desired state, status, endpoint and times, as plain values."""
        identifier = self.pb2.metadata.id
        created: datetime | None = (
            to_datetime(self.pb2.status.created_at) if self.pb2.status.HasField("created_at") else None
        )
        return {
            "name": self.name,
            "project": identifier.project,
            "domain": identifier.domain,
            "revision": self.revision,
            "desired_state": self.desired_state,
            "deployment_status": self.deployment_status,
            "endpoint": self.endpoint,
            "replicas": int(self.pb2.status.current_replicas),
            "created_at": created.isoformat() if created is not None else None,
            "message": self.message,
        }

    @property
    def name(self) -> str:
        """The app's name."""
        return str(self.pb2.metadata.id.name)

    @property
    def revision(self) -> int:
        """The spec's revision (grows with each update)."""
        return int(self.pb2.metadata.revision)

    @property
    def endpoint(self) -> str:
        """The URL the app answers on (the control plane's ``/apps/<name>/`` unless it says otherwise)."""
        ingress = self.pb2.status.ingress
        for url in (ingress.public_url, ingress.cname_url, ingress.vpc_url):
            if url:
                return str(url)
        try:
            base = get_clients().endpoint.rstrip("/")
        except Exception:  # no endpoint configured: a path is the best we can say
            base = ""
        return f"{base}/apps/{self.name}/"

    @property
    def url(self) -> str:
        """Where to open the app (its :attr:`endpoint`)."""
        return self.endpoint

    @property
    def desired_state(self) -> str:
        """``"active"``, ``"started"``, ``"stopped"`` or ``"unspecified"``."""
        from flyteidl2.app import app_definition_pb2

        name = str(app_definition_pb2.Spec.DesiredState.Name(self.pb2.spec.desired_state))
        return name.removeprefix("DESIRED_STATE_").lower()

    @property
    def deployment_status(self) -> str:
        """The latest status the control plane reported (``"active"``, ``"stopped"``, ``"failed"``, ...)."""
        from flyteidl2.app import app_definition_pb2

        conditions = self.pb2.status.conditions
        if not conditions:
            return "unspecified"
        value = conditions[-1].deployment_status
        return str(app_definition_pb2.Status.DeploymentStatus.Name(value)).removeprefix("DEPLOYMENT_STATUS_").lower()

    @property
    def message(self) -> str:
        """The latest status message (why it failed, for instance)."""
        conditions = self.pb2.status.conditions
        return str(conditions[-1].message) if conditions else ""

    def is_active(self) -> bool:
        """Whether the app serves requests (``active``; a scaled-to-zero app starts on the first one)."""
        return self.deployment_status in ("active", "started", "scaling_up", "scaling_down")

    def is_deactivated(self) -> bool:
        """Whether the app was stopped."""
        return self.deployment_status == "stopped"

    # -- reading ------------------------------------------------------------------------------

    @syncify_classmethod
    @classmethod
    async def get(cls, name: str, project: str | None = None, domain: str | None = None) -> App:
        """The app ``name`` of the project and domain.

        Raises:
            flyte.errors.NotFoundError: there is no such app.
        """
        from connectrpc.errors import ConnectError
        from flyteidl2.app import app_payload_pb2

        project, domain = scope(project, domain)
        try:
            response = await get_clients().app_service.get(
                app_payload_pb2.GetRequest(app_id=_identifier(name, project, domain))
            )
        except ConnectError as error:
            raise control_plane_error(error, f"app {name!r} in {project}/{domain}") from error
        return cls(response.app)

    @syncify_listing
    @classmethod
    async def listall(
        cls,
        created_by_subject: str | None = None,
        sort_by: tuple[str, Literal["asc", "desc"]] | None = None,
        limit: int = 100,
        in_status: str | tuple[str, ...] | None = None,
        *,
        project: str | None = None,
        domain: str | None = None,
    ) -> list[App]:
        """Apps of the project and domain (at most ``limit``; ``in_status``: only those in these statuses)."""
        from connectrpc.errors import ConnectError
        from flyteidl2.app import app_payload_pb2
        from flyteidl2.common import identifier_pb2, list_pb2

        project, domain = scope(project, domain)
        wanted = {_status_value(s) for s in ((in_status,) if isinstance(in_status, str) else (in_status or ()))}
        found: list[App] = []
        token = ""
        while len(found) < limit:
            request = app_payload_pb2.ListRequest(
                request=list_pb2.ListRequest(limit=min(100, limit - len(found)), token=token),
                project=identifier_pb2.ProjectIdentifier(name=project, domain=domain, organization=org()),
            )
            if sort_by is not None:
                request.request.sort_by.key = sort_by[0]
                request.request.sort_by.direction = (
                    list_pb2.Sort.ASCENDING if sort_by[1] == "asc" else list_pb2.Sort.DESCENDING
                )
            try:
                response = await get_clients().app_service.list(request)
            except ConnectError as error:
                raise control_plane_error(error, f"listing apps of {project}/{domain}", explain=True) from error
            for item in response.apps:
                app = cls(item)
                if wanted and (
                    not item.status.conditions or item.status.conditions[-1].deployment_status not in wanted
                ):
                    continue
                if created_by_subject and not any(
                    c.actor.user.spec.email == created_by_subject or c.actor.user.id.subject == created_by_subject
                    for c in item.status.conditions
                ):
                    continue
                found.append(app)
            token = response.token
            if not token or not response.apps:
                break
        return found[:limit]

    # -- writing ------------------------------------------------------------------------------

    @syncify_classmethod
    @classmethod
    async def create(cls, app: app_definition_pb2.App) -> App:
        """Deploy a new app from its ``App`` message.

        Raises:
            flyte.errors.ControlPlaneError: the control plane refused it (``ALREADY_EXISTS`` among others).
        """
        from connectrpc.errors import ConnectError
        from flyteidl2.app import app_payload_pb2

        identifier = app.metadata.id
        try:
            response = await get_clients().app_service.create(app_payload_pb2.CreateRequest(app=app))
        except ConnectError as error:
            raise control_plane_error(
                error, f"deploying app {identifier.name!r} to {identifier.project}/{identifier.domain}", explain=True
            ) from error
        return cls(response.app)

    @syncify_classmethod
    @classmethod
    async def update(cls, updated_app_proto: app_definition_pb2.App, reason: str) -> App:
        """Replace a deployed app's spec with that of ``updated_app_proto`` (its revision must be current).

        Raises:
            flyte.errors.NotFoundError: there is no such app.
        """
        from connectrpc.errors import ConnectError
        from flyteidl2.app import app_payload_pb2

        identifier = updated_app_proto.metadata.id
        try:
            response = await get_clients().app_service.update(
                app_payload_pb2.UpdateRequest(app=updated_app_proto, reason=reason)
            )
        except ConnectError as error:
            raise control_plane_error(
                error, f"app {identifier.name!r} in {identifier.project}/{identifier.domain}", explain=True
            ) from error
        return cls(response.app)

    @syncify_classmethod
    @classmethod
    async def replace(
        cls,
        name: str,
        updated_app_spec: app_definition_pb2.Spec,
        reason: str,
        labels: Mapping[str, str] | None = None,
        project: str | None = None,
        domain: str | None = None,
    ) -> App:
        """Give the deployed app ``name`` a new spec (and labels)."""
        current = await cls.get.aio(name, project=project, domain=domain)
        updated = type(current.pb2)()
        updated.CopyFrom(current.pb2)
        updated.ClearField("status")
        updated.spec.CopyFrom(updated_app_spec)
        if labels is not None:
            updated.metadata.labels.clear()
            updated.metadata.labels.update(dict(labels))
        return await cls.update.aio(updated, reason)

    async def _set_state(self, desired: int, reason: str, wait_for: WaitFor | None) -> App:
        current = await type(self).get.aio(
            self.name, project=self.pb2.metadata.id.project, domain=self.pb2.metadata.id.domain
        )
        updated = type(current.pb2)()
        updated.CopyFrom(current.pb2)
        updated.ClearField("status")
        updated.spec.desired_state = desired  # type: ignore[assignment]
        app = await type(self).update.aio(updated, reason)
        self.pb2 = app.pb2
        if wait_for is not None:
            return await self.watch.aio(wait_for=wait_for)
        return self

    @syncify_method
    async def activate(self, wait: bool = False) -> App:
        """Start the app (``wait``: until it is active)."""
        from flyteidl2.app import app_definition_pb2

        return await self._set_state(
            app_definition_pb2.Spec.DESIRED_STATE_ACTIVE, "activated", "activated" if wait else None
        )

    @syncify_method
    async def deactivate(self, wait: bool = False) -> App:
        """Stop the app; it stays deployed (``wait``: until it is stopped)."""
        from flyteidl2.app import app_definition_pb2

        return await self._set_state(
            app_definition_pb2.Spec.DESIRED_STATE_STOPPED, "deactivated", "deactivated" if wait else None
        )

    @syncify_method
    async def watch(self, wait_for: WaitFor = "activated", timeout: float = 600.0) -> App:
        """Wait until the app is active (or, with ``"deactivated"``, stopped) and return it.

        Raises:
            flyte.errors.DeploymentError: the app failed to start.
            TimeoutError: it did not get there within ``timeout`` seconds.
        """
        from flyte.errors import DeploymentError

        if wait_for not in ("activated", "deactivated"):
            raise ValueError(f"wait_for must be 'activated' or 'deactivated', got {wait_for!r}")
        deadline = time.monotonic() + timeout
        identifier = self.pb2.metadata.id
        while True:
            app = await type(self).get.aio(self.name, project=identifier.project, domain=identifier.domain)
            self.pb2 = app.pb2
            if wait_for == "activated" and app.is_active():
                return self
            if wait_for == "deactivated" and app.is_deactivated():
                return self
            if wait_for == "activated" and app.deployment_status == "failed":
                raise DeploymentError(f"app {self.name!r} failed: {app.message or 'no reason given'}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"app {self.name!r} is still {app.deployment_status} after {timeout:.0f} s")
            await asyncio.sleep(_WATCH_INTERVAL_S)

    async def _log_lines(self, replica_name: str | None = None, idle_s: float | None = None) -> AsyncIterator[str]:
        """The app's log lines as the control plane tails them; ends after ``idle_s`` without one
        (``None``: follows until the stream ends)."""
        from flyteidl2.app import app_logs_payload_pb2

        request = app_logs_payload_pb2.TailLogsRequest(app_id=self.pb2.metadata.id)
        stream = get_clients().app_logs_service.tail_logs(request).__aiter__()
        try:
            while True:
                try:
                    if idle_s is None:
                        response = await stream.__anext__()
                    else:
                        response = await asyncio.wait_for(stream.__anext__(), idle_s)
                except (StopAsyncIteration, asyncio.TimeoutError):
                    return
                kind = response.WhichOneof("resp")
                if kind == "batches":
                    groups = list(response.batches.logs)
                elif kind == "log_lines":
                    groups = [response.log_lines]
                else:
                    continue
                for group in groups:
                    if replica_name and group.replica_id.name and group.replica_id.name != replica_name:
                        continue
                    for line in group.lines:
                        yield str(line)
        finally:
            close = getattr(stream, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()

    @syncify_method
    async def show_logs(
        self,
        max_lines: int = 30,
        show_ts: bool = False,
        raw: bool = False,
        filter_system: bool = False,
        replica_name: str | None = None,
    ) -> None:
        """Print the app's latest ``max_lines`` log lines (those the control plane has now).

        Raises:
            flyte.errors.NotFoundError: there is no such app.
        """
        from connectrpc.errors import ConnectError

        del show_ts, raw, filter_system  # the lines come as the app wrote them
        identifier = self.pb2.metadata.id
        lines: list[str] = []
        try:
            async for line in self._log_lines(replica_name, idle_s=_LOGS_IDLE_S):
                lines.append(line)
        except ConnectError as error:
            what = f"logs of app {self.name!r} in {identifier.project}/{identifier.domain}"
            raise control_plane_error(error, what) from error
        for line in lines[-max_lines:] if max_lines > 0 else lines:
            print(line.rstrip("\n"))

    @syncify_classmethod
    @classmethod
    async def delete(cls, name: str, project: str | None = None, domain: str | None = None) -> None:
        """Delete the app (stopping it first).

        Raises:
            flyte.errors.NotFoundError: there is no such app.
        """
        from connectrpc.errors import ConnectError
        from flyteidl2.app import app_payload_pb2

        project, domain = scope(project, domain)
        try:
            await get_clients().app_service.delete(
                app_payload_pb2.DeleteRequest(app_id=_identifier(name, project, domain))
            )
        except ConnectError as error:
            raise control_plane_error(error, f"app {name!r} in {project}/{domain}") from error

    @asynccontextmanager
    async def ephemeral_ctx(self) -> AsyncGenerator[None, None]:
        """Activate the app for the block and deactivate it after."""
        await self.activate.aio(wait=True)
        try:
            yield
        finally:
            await self.deactivate.aio(wait=True)

    @contextmanager
    def ephemeral_ctx_sync(self) -> Generator[None, None, None]:
        """:meth:`ephemeral_ctx` for synchronous code."""
        self.activate(wait=True)
        try:
            yield
        finally:
            self.deactivate(wait=True)

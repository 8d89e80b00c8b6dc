"""``AppService`` and ``AppLogsService``: deploy, inspect, update, list, watch and delete apps; tail their logs.

Apps are stored (metadata and spec, see :mod:`flyte_server.store.apps`); their status is live,
from the :class:`~flyte_server.apps.supervisor.AppSupervisor` that runs them. An app's public
URL is ``<server>/apps/<name>/`` (names are unique per server, whatever the project and domain).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from flyteidl2.app import app_definition_pb2 as definition
from flyteidl2.app import app_logs_payload_pb2 as logs_pb
from flyteidl2.app import app_logs_service_connect, app_service_connect, replica_definition_pb2
from flyteidl2.app import app_payload_pb2 as pb
from flyteidl2.app.app_logs_service_connect import AppLogsServiceASGIApplication
from flyteidl2.app.app_service_connect import AppServiceASGIApplication

from flyte_server.admin._common import invalid_argument, not_found, page_size, timestamp
from flyte_server.admin.identity_service import local_identity
from flyte_server.apps.proxy import APPS_PREFIX
from flyte_server.apps.supervisor import AppKey, AppSupervisor
from flyte_server.store import apps as store
from flyte_server.store.db import Database
from flyte_server.store.models.apps import AppRow
from flyte_server.store.projects import DOMAINS, project_exists

__all__ = ["AppService", "AppsHub", "app_apps"]

APP_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
"""An app name: a DNS label (it is a path segment of the app's URL and a host name on Flyte)."""

_LOG_POLL = 0.3
_LOG_BATCH = 200


def _micros_timestamp(us: int) -> Any:
    from datetime import datetime, timezone

    return timestamp(datetime.fromtimestamp(us / 1e6, tz=timezone.utc))


class AppsHub:
    """The supervisor, the store and everyone watching: composes an app's live ``App`` message."""

    def __init__(self, database: Database, supervisor: AppSupervisor, base_url: str) -> None:
        self.database = database
        self.supervisor = supervisor
        self.base_url = base_url.rstrip("/")
        self._watchers: set[asyncio.Queue[pb.WatchResponse]] = set()
        self._stamps: dict[AppKey, tuple[int, int]] = {}
        supervisor.on_change = self._changed

    def public_url(self, name: str) -> str:
        return f"{self.base_url}{APPS_PREFIX}{name}/"

    def live(self, app: definition.App, created_us: int = 0, updated_us: int = 0) -> definition.App:
        """``app`` with its status as it is now."""
        ident = app.metadata.id
        key: AppKey = (ident.project, ident.domain, ident.name)
        if created_us:
            self._stamps[key] = (created_us, updated_us)
        created_us, updated_us = self._stamps.get(key, (created_us, updated_us))
        deployment, substate, replicas, message = self.supervisor.status(key)
        result = definition.App()
        result.CopyFrom(app)
        status = result.status
        status.assigned_cluster = "local"
        status.current_replicas = replicas
        status.ingress.public_url = self.public_url(ident.name)
        if created_us:
            status.created_at.CopyFrom(_micros_timestamp(created_us))
            status.last_updated_at.CopyFrom(_micros_timestamp(updated_us))
        condition = status.conditions.add()
        condition.deployment_status = deployment  # type: ignore[assignment]
        condition.substate = substate  # type: ignore[assignment]
        condition.message = message
        condition.revision = app.metadata.revision
        condition.last_transition_time.GetCurrentTime()
        return result

    def of_row(self, row: AppRow) -> definition.App:
        return self.live(store.app_of(row), row.created_us, row.updated_us)

    def _changed(self, key: AppKey) -> None:
        runtime = self.supervisor.get(key)
        if runtime is None:
            return
        app = definition.App()
        app.CopyFrom(runtime.app)
        app.metadata.revision = runtime.revision
        self.publish(pb.WatchResponse(update_event=pb.UpdateEvent(updated_app=self.live(app))))

    def publish(self, event: pb.WatchResponse) -> None:
        for queue in list(self._watchers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(event)

    @contextlib.contextmanager
    def subscribe(self) -> Any:
        queue: asyncio.Queue[pb.WatchResponse] = asyncio.Queue(maxsize=1000)
        self._watchers.add(queue)
        try:
            yield queue
        finally:
            self._watchers.discard(queue)

    async def start(self) -> None:
        """Run every stored app (the server starts), after stopping any a killed server left behind."""
        await self.supervisor.reap_orphans()
        async with self.database.session() as session:
            rows = await store.all_apps(session)
        for row in rows:
            self._stamps[(row.project, row.domain, row.name)] = (row.created_us, row.updated_us)
            await self.supervisor.deploy(store.app_of(row), row.revision)

    async def stop(self) -> None:
        await self.supervisor.stop()


def _check_name(name: str) -> None:
    if not name:
        raise invalid_argument("the app has no name; set metadata.id.name")
    if not APP_NAME.match(name):
        raise invalid_argument(
            f"invalid app name {name[:70]!r}: use at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )


def _key_of(ident: definition.Identifier) -> AppKey:
    _check_name(ident.name)
    if not ident.project:
        raise invalid_argument("the app id has no project")
    if ident.domain not in DOMAINS:
        raise invalid_argument(f"unknown domain {ident.domain!r}; use one of {', '.join(DOMAINS)}")
    return ident.project, ident.domain, ident.name


def _check_spec(spec: definition.Spec) -> None:
    if not spec.HasField("container"):
        if spec.HasField("pod"):
            raise invalid_argument("apps with a pod spec are not supported by this server; use a container")
        raise invalid_argument("the app spec has no container (command and args to run)")
    if not (spec.container.command or spec.container.args):
        raise invalid_argument("the app's container has neither a command nor args")
    replicas = spec.autoscaling.replicas
    if replicas.min < 0 or replicas.max < 0:
        raise invalid_argument("replicas must not be negative")
    if replicas.max and replicas.min > replicas.max:
        raise invalid_argument(f"min replicas ({replicas.min}) exceed max replicas ({replicas.max})")
    if replicas.max > 64:
        raise invalid_argument(f"at most 64 replicas per app on this server, not {replicas.max}")


class AppService(app_service_connect.AppService):  # type: ignore[misc]  # the generated stubs are untyped
    """Apps in the store, run by the supervisor."""

    def __init__(self, hub: AppsHub) -> None:
        self.hub = hub
        self._database = hub.database
        self._lock = asyncio.Lock()

    async def create(self, request: pb.CreateRequest, ctx: RequestContext[Any, Any]) -> pb.CreateResponse:
        app = definition.App()
        app.CopyFrom(request.app)
        project, domain, name = _key_of(app.metadata.id)
        _check_spec(app.spec)
        if not app.spec.HasField("creator"):
            app.spec.creator.CopyFrom(local_identity())
        async with self._lock:
            async with self._database.session() as session:
                if not await project_exists(session, project):
                    raise not_found(f"project {project!r} does not exist")
                existing = await store.get_app_by_name(session, name)
                if existing is not None:
                    where = (
                        ""
                        if (existing.project, existing.domain) == (project, domain)
                        else (f" in {existing.project}/{existing.domain} (app names are unique on this server)")
                    )
                    raise ConnectError(Code.ALREADY_EXISTS, f"app {name!r} already exists{where}")
                row = await store.create_app(session, app)
                stored = store.app_of(row)
                created, updated = row.created_us, row.updated_us
            await self.hub.supervisor.deploy(stored, row.revision)
        live = self.hub.live(stored, created, updated)
        self.hub.publish(pb.WatchResponse(create_event=pb.CreateEvent(app=live)))
        return pb.CreateResponse(app=live)

    async def get(self, request: pb.GetRequest, ctx: RequestContext[Any, Any]) -> pb.GetResponse:
        if request.WhichOneof("identifier") == "ingress":
            url = request.ingress.public_url.rstrip("/")
            name = url.rsplit("/", 1)[-1]
            async with self._database.session() as session:
                row = await store.get_app_by_name(session, name) if APP_NAME.match(name) else None
            if row is None:
                raise not_found(f"no app serves {request.ingress.public_url[:200]!r}")
            return pb.GetResponse(app=self.hub.of_row(row))
        project, domain, name = _key_of(request.app_id)
        async with self._database.session() as session:
            row = await store.get_app(session, project, domain, name)
        if row is None:
            raise not_found(f"app {name!r} does not exist in {project}/{domain}")
        return pb.GetResponse(app=self.hub.of_row(row))

    async def update(self, request: pb.UpdateRequest, ctx: RequestContext[Any, Any]) -> pb.UpdateResponse:
        app = definition.App()
        app.CopyFrom(request.app)
        project, domain, name = _key_of(app.metadata.id)
        _check_spec(app.spec)
        async with self._lock:
            async with self._database.session() as session:
                row = await store.get_app(session, project, domain, name)
                if row is None:
                    raise not_found(f"app {name!r} does not exist in {project}/{domain}")
                given = app.metadata.revision
                if given and given != row.revision:
                    raise ConnectError(
                        Code.ABORTED,
                        f"app {name!r} is at revision {row.revision}, not {given}: get it again and retry",
                    )
                old = self.hub.of_row(row)
                if not app.spec.HasField("creator"):
                    app.spec.creator.CopyFrom(old.spec.creator)
                row = await store.update_app(session, row, app)
                stored = store.app_of(row)
                created, updated = row.created_us, row.updated_us
            await self.hub.supervisor.deploy(stored, row.revision)
        live = self.hub.live(stored, created, updated)
        self.hub.publish(pb.WatchResponse(update_event=pb.UpdateEvent(updated_app=live, old_app=old)))
        return pb.UpdateResponse(app=live)

    async def update_status(
        self, request: pb.UpdateStatusRequest, ctx: RequestContext[Any, Any]
    ) -> pb.UpdateStatusResponse:
        # This server runs the apps itself and knows their status; a reported status is not taken.
        project, domain, name = _key_of(request.app.metadata.id)
        async with self._database.session() as session:
            row = await store.get_app(session, project, domain, name)
        if row is None:
            raise not_found(f"app {name!r} does not exist in {project}/{domain}")
        return pb.UpdateStatusResponse(app=self.hub.of_row(row))

    async def delete(self, request: pb.DeleteRequest, ctx: RequestContext[Any, Any]) -> pb.DeleteResponse:
        project, domain, name = _key_of(request.app_id)
        async with self._lock:
            async with self._database.session() as session:
                row = await store.get_app(session, project, domain, name)
                if row is None:
                    raise not_found(f"app {name!r} does not exist in {project}/{domain}")
                last = store.app_of(row)
                await store.delete_app(session, project, domain, name)
            await self.hub.supervisor.remove((project, domain, name))
        self.hub.publish(pb.WatchResponse(delete_event=pb.DeleteEvent(app=self.hub.live(last))))
        return pb.DeleteResponse()

    async def list(self, request: pb.ListRequest, ctx: RequestContext[Any, Any]) -> pb.ListResponse:
        project = request.project.name if request.HasField("project") else None
        domain = request.project.domain if request.HasField("project") else None
        if domain and domain not in DOMAINS:
            raise invalid_argument(f"unknown domain {domain!r}; use one of {', '.join(DOMAINS)}")
        token = request.request.token
        if token and not APP_NAME.match(token):
            raise invalid_argument(f"invalid page token {token[:40]!r}; pass the token of the previous page")
        limit = page_size(request.request.limit)
        async with self._database.session() as session:
            rows = await store.list_apps(session, project=project, domain=domain, after=token, limit=limit + 1)
            total = 0
            if request.include_total_count:
                total = len(await store.list_apps(session, project=project, domain=domain, after="", limit=100_000))
        more = len(rows) > limit
        rows = rows[:limit]
        return pb.ListResponse(
            apps=[self.hub.of_row(row) for row in rows],
            token=rows[-1].name if more and rows else "",
            total_count=total,
        )

    def _matches(self, request: pb.WatchRequest, app: definition.App) -> bool:
        ident = app.metadata.id
        if request.HasField("app_id"):
            want = request.app_id
            return (ident.project, ident.domain, ident.name) == (want.project, want.domain, want.name)
        if request.HasField("project"):
            if request.project.name and ident.project != request.project.name:
                return False
            if request.project.domain and ident.domain != request.project.domain:
                return False
        return True

    async def watch(self, request: pb.WatchRequest, ctx: RequestContext[Any, Any]) -> AsyncIterator[pb.WatchResponse]:
        if request.HasField("app_id"):
            _key_of(request.app_id)
        with self.hub.subscribe() as queue:
            async with self._database.session() as session:
                if request.HasField("app_id"):
                    ident = request.app_id
                    row = await store.get_app(session, ident.project, ident.domain, ident.name)
                    if row is None:
                        raise not_found(f"app {ident.name!r} does not exist in {ident.project}/{ident.domain}")
                    rows = [row]
                else:
                    rows = await store.list_apps(
                        session,
                        project=request.project.name or None if request.HasField("project") else None,
                        domain=request.project.domain or None if request.HasField("project") else None,
                        after="",
                        limit=10_000,
                    )
            for row in rows:
                yield pb.WatchResponse(update_event=pb.UpdateEvent(updated_app=self.hub.of_row(row)))
            while True:
                event = await queue.get()
                kind = event.WhichOneof("event")
                app = {
                    "create_event": event.create_event.app,
                    "update_event": event.update_event.updated_app,
                    "delete_event": event.delete_event.app,
                }.get(kind or "")
                if app is not None and self._matches(request, app):
                    yield event

    async def lease(self, request: pb.LeaseRequest, ctx: RequestContext[Any, Any]) -> AsyncIterator[pb.LeaseResponse]:
        # Apps are not leased to other clusters: this server runs them. The lease lists them once.
        async with self._database.session() as session:
            rows = await store.all_apps(session)
        yield pb.LeaseResponse(apps=[self.hub.of_row(row) for row in rows])


class AppLogsService(app_logs_service_connect.AppLogsService):  # type: ignore[misc]
    """Streams the log files of an app's replicas: what is there, then new lines as they come."""

    def __init__(self, hub: AppsHub, *, follow_seconds: float = 3600.0) -> None:
        self.hub = hub
        self.follow_seconds = follow_seconds

    async def tail_logs(
        self, request: logs_pb.TailLogsRequest, ctx: RequestContext[Any, Any]
    ) -> AsyncIterator[logs_pb.TailLogsResponse]:
        ident = request.app_id if request.HasField("app_id") else request.replica_id.app_id
        key = _key_of(ident)
        async with self.hub.database.session() as session:
            if await store.get_app(session, *key) is None:
                raise not_found(f"app {key[2]!r} does not exist in {key[0]}/{key[1]}")
        wanted = request.replica_id.name if request.HasField("replica_id") else ""
        offsets: dict[Path, int] = {}
        announced: set[str] = set()
        deadline = time.monotonic() + self.follow_seconds
        while time.monotonic() < deadline:
            files = [f for f in self.hub.supervisor.log_files(key) if not wanted or f.stem == wanted]
            new = [f.stem for f in files if f.stem not in announced]
            if new:
                announced.update(new)
                yield logs_pb.TailLogsResponse(
                    replicas=logs_pb.ReplicaIdentifierList(
                        replicas=[replica_definition_pb2.ReplicaIdentifier(app_id=ident, name=n) for n in new]
                    )
                )
            batch = logs_pb.LogLinesBatch()
            for path in files:
                lines, offsets[path] = await asyncio.to_thread(_read_from, path, offsets.get(path, 0))
                for start in range(0, len(lines), _LOG_BATCH):
                    batch.logs.add(
                        lines=lines[start : start + _LOG_BATCH],
                        replica_id=replica_definition_pb2.ReplicaIdentifier(app_id=ident, name=path.stem),
                    )
            if batch.logs:
                yield logs_pb.TailLogsResponse(batches=batch)
            if self.hub.supervisor.get(key) is None:
                return
            await asyncio.sleep(_LOG_POLL)


def _read_from(path: Path, offset: int) -> tuple[list[str], int]:
    """Complete lines of ``path`` after ``offset``, and the offset after them."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            data = handle.read(4 * 1024 * 1024)
    except OSError:
        return [], offset
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    text = data[: end + 1].decode("utf-8", errors="replace")
    return text.splitlines(), offset + end + 1


def app_apps(hub: AppsHub, *, interceptors: Any = (), read_max_bytes: int | None = None) -> list[Any]:
    """The Connect applications of the App and AppLogs services."""
    return [
        AppServiceASGIApplication(AppService(hub), interceptors=interceptors, read_max_bytes=read_max_bytes),
        AppLogsServiceASGIApplication(AppLogsService(hub), interceptors=interceptors, read_max_bytes=read_max_bytes),
    ]

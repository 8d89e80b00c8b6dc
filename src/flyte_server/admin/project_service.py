"""``ProjectService``: create, get, list and update projects; every project has the three default domains."""

from __future__ import annotations

import re
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from flyteidl2.common import list_pb2
from flyteidl2.project import project_service_connect
from flyteidl2.project import project_service_pb2 as pb
from flyteidl2.project.project_service_connect import ProjectServiceASGIApplication
from flyteidl2.task import run_pb2
from sqlalchemy.exc import IntegrityError

from flyte_server.admin._common import invalid_argument, not_found, page_size, parse_int_token
from flyte_server.store.db import Database
from flyte_server.store.models.projects import ProjectRow
from flyte_server.store.projects import DOMAINS, create_project, get_project, list_projects

__all__ = ["ProjectService", "project_app"]

_PROJECT_ID = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_SORT_KEYS = {"identifier": "identifier", "id": "identifier", "name": "name", "created_at": "created_at"}
_FILTER = re.compile(r"^\s*(eq|ne)\s*\(\s*(\w+)\s*,\s*([^)]*?)\s*\)\s*$")


def _project(row: ProjectRow) -> pb.Project:
    project = pb.Project(
        id=row.identifier,
        name=row.name,
        description=row.description,
        state=row.state,
        domains=[pb.Domain(id=domain, name=domain) for domain in DOMAINS],
    )
    if row.labels:
        project.labels.CopyFrom(run_pb2.Labels.FromString(row.labels))
    return project


def _states_filter(filters: str) -> tuple[int, ...] | None:
    """The project states a ``filters`` string allows (``eq(state,0)``, ``ne(state,1)``, joined by ``+``)."""
    allowed: set[int] | None = None
    every = set(pb.ProjectState.values())
    for part in filter(None, (piece.strip() for piece in filters.split("+"))):
        match = _FILTER.match(part)
        if match is None:
            raise invalid_argument(f"unsupported project filter {part!r}; use eq(state,N) or ne(state,N)")
        function, field, value = match.groups()
        if field != "state":
            continue  # other fields do not narrow projects further on this server
        if not value.strip("'\"").isdigit():
            raise invalid_argument(f"project filter {part!r} needs a numeric state")
        state = int(value.strip("'\""))
        chosen = {state} if function == "eq" else every - {state}
        allowed = chosen if allowed is None else allowed & chosen
    return None if allowed is None else tuple(sorted(allowed))


class ProjectService(project_service_connect.ProjectService):  # type: ignore[misc]  # the generated stubs are untyped
    """Projects live in the store; the default project ``flytesnacks`` is seeded on first start."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def create_project(
        self, request: pb.CreateProjectRequest, ctx: RequestContext[Any, Any]
    ) -> pb.CreateProjectResponse:
        project = request.project
        if not _PROJECT_ID.match(project.id):
            raise invalid_argument(
                f"invalid project id {project.id!r}: use 1-63 lower-case letters, digits and '-', "
                "starting and ending with a letter or digit"
            )
        try:
            async with self._database.session() as session:
                created = await create_project(
                    session,
                    identifier=project.id,
                    name=project.name or project.id,
                    description=project.description,
                    labels=project.labels.SerializeToString(deterministic=True) if project.HasField("labels") else b"",
                    state=project.state,
                )
        except IntegrityError:
            created = False
        if not created:
            raise ConnectError(Code.ALREADY_EXISTS, f"project {project.id!r} already exists")
        return pb.CreateProjectResponse()

    async def update_project(
        self, request: pb.UpdateProjectRequest, ctx: RequestContext[Any, Any]
    ) -> pb.UpdateProjectResponse:
        project = request.project
        if not project.id:
            raise invalid_argument("project.id is required")
        async with self._database.session() as session:
            row = await get_project(session, project.id)
            if row is None:
                raise not_found(f"project {project.id!r} does not exist")
            row.name = project.name or row.name
            row.description = project.description
            row.labels = project.labels.SerializeToString(deterministic=True) if project.HasField("labels") else b""
            row.state = project.state
        return pb.UpdateProjectResponse()

    async def get_project(self, request: pb.GetProjectRequest, ctx: RequestContext[Any, Any]) -> pb.GetProjectResponse:
        if not request.id:
            raise invalid_argument("id is required: the project to get")
        async with self._database.session() as session:
            row = await get_project(session, request.id)
        if row is None:
            raise not_found(f"project {request.id!r} does not exist")
        return pb.GetProjectResponse(project=_project(row))

    async def list_projects(
        self, request: pb.ListProjectsRequest, ctx: RequestContext[Any, Any]
    ) -> pb.ListProjectsResponse:
        limit = page_size(request.limit)
        offset = parse_int_token(request.token)
        states = _states_filter(request.filters)
        key = _SORT_KEYS.get(request.sort_by.key or "identifier")
        if key is None:
            raise invalid_argument(
                f"cannot sort projects by {request.sort_by.key!r}; use one of {', '.join(_SORT_KEYS)}"
            )
        descending = request.HasField("sort_by") and request.sort_by.direction == list_pb2.Sort.DESCENDING
        async with self._database.session() as session:
            rows = await list_projects(
                session, limit=limit + 1, offset=offset, states=states, sort_by=key, descending=descending
            )
        token = str(offset + limit) if len(rows) > limit else ""
        projects = [_project(row) for row in rows[:limit]]
        return pb.ListProjectsResponse(projects=pb.Projects(projects=projects, token=token))


def project_app(
    database: Database, *, interceptors: Any = (), read_max_bytes: int | None = None
) -> ProjectServiceASGIApplication:
    """The Connect application serving :class:`ProjectService`."""
    return ProjectServiceASGIApplication(
        ProjectService(database), interceptors=interceptors, read_max_bytes=read_max_bytes
    )

"""``flyte.remote.Project``: projects of the control plane (runs and tasks live in a project + domain)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from flyte._internal.syncify import syncify_classmethod, syncify_method
from flyte.remote._common import ToDict, control_plane_error, get_clients, org

__all__ = ["Project"]


@dataclass(frozen=True)
class Project(ToDict):
    """A project.

    Example:
        >>> flyte.remote.Project.create("ml", description="Models")  # doctest: +SKIP
        >>> [p.id for p in flyte.remote.Project.listall()]  # doctest: +SKIP
        ['flytesnacks', 'ml']
    """

    id: str
    """The project's identifier (used in ``flyte.init(project=...)``)."""
    name: str = ""
    """Its display name."""
    description: str = ""
    """What it is for."""
    domains: tuple[str, ...] = ()
    """Its domains (``development``, ``staging``, ``production``)."""
    labels: dict[str, str] = field(default_factory=dict)
    """Its labels."""
    archived: bool = False
    """Whether it is archived."""

    @classmethod
    def _from_proto(cls, project: object) -> Project:
        from flyteidl2.project import project_service_pb2

        assert isinstance(project, project_service_pb2.Project)
        return cls(
            id=project.id,
            name=project.name,
            description=project.description,
            domains=tuple(domain.id for domain in project.domains),
            labels=dict(project.labels.values),
            archived=project.state == project_service_pb2.PROJECT_STATE_ARCHIVED,
        )

    @syncify_classmethod
    @classmethod
    async def get(cls, name: str) -> Project:
        """The project ``name``.

        Raises:
            flyte.errors.NotFoundError: there is no such project.
        """
        from connectrpc.errors import ConnectError
        from flyteidl2.project import project_service_pb2

        try:
            response = await get_clients().project_service.get_project(
                project_service_pb2.GetProjectRequest(id=name, org=org())
            )
        except ConnectError as error:
            raise control_plane_error(error, f"project {name!r}") from error
        return cls._from_proto(response.project)

    @syncify_classmethod
    @classmethod
    async def listall(cls, *, limit: int = 100, archived: bool = False) -> list[Project]:
        """Projects (active ones unless ``archived``), sorted by id."""
        from connectrpc.errors import ConnectError
        from flyteidl2.project import project_service_pb2

        found: list[Project] = []
        token = ""
        while len(found) < limit:
            request = project_service_pb2.ListProjectsRequest(
                limit=min(100, limit - len(found)), token=token, org=org()
            )
            try:
                response = await get_clients().project_service.list_projects(request)
            except ConnectError as error:
                raise control_plane_error(error, "listing projects") from error
            found.extend(cls._from_proto(project) for project in response.projects.projects)
            token = response.projects.token
            if not token or not response.projects.projects:
                break
        return [project for project in found if project.archived == archived][:limit]

    @syncify_classmethod
    @classmethod
    async def create(
        cls, id: str, *, name: str | None = None, description: str = "", labels: dict[str, str] | None = None
    ) -> Project:
        """Create a project and return it.

        Raises:
            flyte.errors.ControlPlaneError: the id is taken (code ``ALREADY_EXISTS``) or invalid.
        """
        from connectrpc.errors import ConnectError
        from flyteidl2.project import project_service_pb2
        from flyteidl2.task import run_pb2

        project = project_service_pb2.Project(
            id=id, name=name or id, description=description, labels=run_pb2.Labels(values=dict(labels or {})), org=org()
        )
        try:
            await get_clients().project_service.create_project(
                project_service_pb2.CreateProjectRequest(project=project)
            )
        except ConnectError as error:
            raise control_plane_error(error, f"creating project {id!r}") from error
        return await cls.get.aio(id)

    @syncify_classmethod
    @classmethod
    async def update(
        cls,
        id: str,
        name: str | None = None,
        description: str | None = None,
        labels: dict[str, str] | None = None,
        state: Literal["archived", "active"] | None = None,
    ) -> Project:
        """Change a project and return it; what is left ``None`` keeps its current value.

        Args:
            id: the project to change.
            name: its new display name.
            description: its new description.
            labels: its new labels (they replace the current ones).
            state: ``"archived"`` or ``"active"``.

        Raises:
            flyte.errors.NotFoundError: there is no such project.

        Example:
            >>> flyte.remote.Project.update("ml", description="Models", state="archived")  # doctest: +SKIP
        """
        from connectrpc.errors import ConnectError
        from flyteidl2.project import project_service_pb2
        from flyteidl2.task import run_pb2

        if state not in (None, "archived", "active"):
            raise ValueError(f"state must be 'archived' or 'active', not {state!r}")
        current = await cls.get.aio(id)
        archived = current.archived if state is None else state == "archived"
        project = project_service_pb2.Project(
            id=id,
            name=current.name if name is None else name,
            description=current.description if description is None else description,
            labels=run_pb2.Labels(values=dict(current.labels if labels is None else labels)),
            state=project_service_pb2.PROJECT_STATE_ARCHIVED if archived else project_service_pb2.PROJECT_STATE_ACTIVE,
            org=org(),
        )
        try:
            await get_clients().project_service.update_project(
                project_service_pb2.UpdateProjectRequest(project=project)
            )
        except ConnectError as error:
            raise control_plane_error(error, f"updating project {id!r}") from error
        return await cls.get.aio(id)

    @syncify_method
    async def archive(self) -> Project:
        """Archive this project (its runs and tasks stay); returns the updated project."""
        return await Project.update.aio(self.id, state="archived")

    @syncify_method
    async def unarchive(self) -> Project:
        """Make this archived project active again; returns the updated project."""
        return await Project.update.aio(self.id, state="active")

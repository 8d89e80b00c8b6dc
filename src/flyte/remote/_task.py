"""``flyte.remote.Task``: tasks deployed to the control plane (``flyte.deploy``), to inspect and run.

``Task.get(name, version=...)`` (or ``auto_version="latest"``) is a lazy reference: nothing is
fetched until it is run or :meth:`Task.fetch` is called, so it can be created at import time.

Example:
    >>> square = flyte.remote.Task.get("demo.square", auto_version="latest")  # doctest: +SKIP
    >>> flyte.run(square, x=3).outputs().o0  # doctest: +SKIP
    9
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from flyte._internal.syncify import syncify_method
from flyte.errors import RemoteTaskNotFoundError, RemoteTaskUsageError
from flyte.remote._common import ToDict, control_plane_error, get_clients, org, scope, to_datetime
from flyte.remote._listing import syncify_listing
from flyte.remote._task_override import MAX_INLINE_IO_BYTES, TaskDetailsExtras

if TYPE_CHECKING:
    from flyteidl2.task import task_definition_pb2

    from flyte.types._interface import NativeInterface

__all__ = ["Task", "TaskDetails"]

AutoVersion = Literal["latest"]


def _type_name(python_type: Any) -> str:
    from flyte.types._type_engine import type_name

    return type_name(python_type)


def _output_order(name: str) -> tuple[int, str]:
    return (int(name[1:]), name) if name.startswith("o") and name[1:].isdigit() else (1 << 30, name)


@dataclass(frozen=True)
class TaskDetails(TaskDetailsExtras, ToDict):
    """Everything about one deployed task version; what ``Task.fetch()`` returns (and runnable)."""

    name: str
    """``env.function``."""
    version: str
    """The deployed version."""
    project: str
    """Its project."""
    domain: str
    """Its domain."""
    short_name: str = ""
    """The function's name."""
    environment: str = ""
    """The ``TaskEnvironment`` it belongs to."""
    task_type: str = "python"
    """The task type."""
    inputs: dict[str, str] = field(default_factory=dict)
    """Input name → type, e.g. ``{"x": "int"}``."""
    outputs: dict[str, str] = field(default_factory=dict)
    """Output name → type (``o0``, ``o1``, ...)."""
    defaults: dict[str, Any] = field(default_factory=dict)
    """Default values of the inputs that have one."""
    retries: int = 0
    """How often a failed attempt is retried."""
    timeout: timedelta | None = None
    """The longest an attempt may run."""
    cache_enabled: bool = False
    """Whether outputs are cached."""
    cache_version: str = ""
    """The cache version."""
    image: str = ""
    """The container image."""
    env_vars: dict[str, str] = field(default_factory=dict)
    """Environment variables of the task."""
    description: str = ""
    """The short description (the docstring's first paragraph)."""
    overridden: bool = False
    """Whether :meth:`override` changed this spec (a run then sends the spec, not the task's id)."""
    overriden_queue: str | None = None
    """The queue :meth:`override` chose (Flyte 2's spelling)."""
    max_inline_io_bytes: int = MAX_INLINE_IO_BYTES
    """The largest inputs/outputs passed inline rather than offloaded."""
    _spec: task_definition_pb2.TaskSpec | None = field(default=None, repr=False, compare=False)
    _interface: NativeInterface | None = field(default=None, repr=False, compare=False)

    @property
    def required_inputs(self) -> tuple[str, ...]:
        """The inputs without a default."""
        return tuple(name for name in self.inputs if name not in self.defaults)

    @property
    def interface(self) -> NativeInterface:
        """The task's interface with Python types read from the deployed one (for ``flyte.run``)."""
        assert self._interface is not None
        return self._interface

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RemoteTaskUsageError(
            f"Deployed task {self.name} cannot be called from a task yet; start it with flyte.run(task, ...)"
        )

    @classmethod
    async def _from_proto(cls, details: task_definition_pb2.TaskDetails) -> TaskDetails:
        from flyte.types import TypeEngine
        from flyte.types._interface import NativeInterface

        spec = details.spec
        template = spec.task_template
        input_types = {
            entry.key: TypeEngine.guess_python_type(entry.value.type) for entry in template.interface.inputs.variables
        }
        output_types = {
            entry.key: TypeEngine.guess_python_type(entry.value.type)
            for entry in sorted(template.interface.outputs.variables, key=lambda e: _output_order(e.key))
        }
        defaults: dict[str, Any] = {}
        for parameter in spec.default_inputs:
            if parameter.name in input_types and parameter.parameter.HasField("default"):
                defaults[parameter.name] = await TypeEngine.to_python_value(
                    parameter.parameter.default, input_types[parameter.name]
                )
        interface = NativeInterface.from_types(
            {name: (t, defaults.get(name, inspect.Parameter.empty)) for name, t in input_types.items()}, output_types
        )
        metadata = template.metadata
        timeout = (
            timedelta(seconds=metadata.timeout.seconds, microseconds=metadata.timeout.nanos // 1000)
            if metadata.HasField("timeout") and (metadata.timeout.seconds or metadata.timeout.nanos)
            else None
        )
        return cls(
            name=details.task_id.name,
            version=details.task_id.version,
            project=details.task_id.project,
            domain=details.task_id.domain,
            short_name=spec.short_name,
            environment=spec.environment.name,
            task_type=template.type,
            inputs={name: _type_name(t) for name, t in input_types.items()},
            outputs={name: _type_name(t) for name, t in output_types.items()},
            defaults=defaults,
            retries=int(metadata.retries.retries),
            timeout=timeout,
            cache_enabled=metadata.discoverable,
            cache_version=metadata.discovery_version,
            image=template.container.image,
            env_vars={pair.key: pair.value for pair in template.container.env},
            description=spec.documentation.short_description,
            _spec=spec,
            _interface=interface,
        )

    def _task_id(self) -> task_definition_pb2.TaskIdentifier:
        from flyteidl2.task import task_definition_pb2

        return task_definition_pb2.TaskIdentifier(
            org=org(), project=self.project, domain=self.domain, name=self.name, version=self.version
        )


@dataclass
class Task(ToDict):
    """A deployed task: a lazy reference from :meth:`get`, or a listing entry from :meth:`listall`."""

    name: str
    """``env.function``."""
    version: str | None = None
    """The version (``None`` with ``auto_version``)."""
    project: str | None = None
    """Its project (``None``: ``flyte.init``'s)."""
    domain: str | None = None
    """Its domain (``None``: ``flyte.init``'s)."""
    auto_version: AutoVersion | None = None
    """``"latest"``: the most recently deployed version, resolved when fetched."""
    short_name: str | None = None
    """The function's name (listings)."""
    environment: str | None = None
    """The environment (listings)."""
    deployed_at: datetime | None = None
    """When this version was deployed (listings)."""
    _details: TaskDetails | None = field(default=None, repr=False, compare=False)

    @classmethod
    def get(
        cls,
        name: str,
        *,
        project: str | None = None,
        domain: str | None = None,
        version: str | None = None,
        auto_version: AutoVersion | None = None,
    ) -> Task:
        """A reference to a deployed task; give ``version`` or ``auto_version="latest"``.

        Nothing is fetched here (see :meth:`fetch`).

        Raises:
            ValueError: neither or both of ``version`` and ``auto_version`` were given.
        """
        if (version is None) == (auto_version is None):
            raise ValueError("Task.get needs exactly one of version=... and auto_version='latest'")
        if auto_version is not None and auto_version != "latest":
            raise ValueError(f"auto_version must be 'latest', got {auto_version!r}")
        return cls(name=name, version=version, project=project, domain=domain, auto_version=auto_version)

    @syncify_method
    async def fetch(self) -> TaskDetails:
        """The deployed task's details (fetched once, then kept).

        Raises:
            flyte.errors.RemoteTaskNotFoundError: no such task or version.
        """
        if self._details is None:
            from connectrpc.errors import ConnectError
            from flyteidl2.task import task_definition_pb2, task_service_pb2

            project, domain = scope(self.project, self.domain)
            version = self.version or await _latest_version(self.name, project, domain)
            task_id = task_definition_pb2.TaskIdentifier(
                org=org(), project=project, domain=domain, name=self.name, version=version
            )
            try:
                response = await get_clients().task_service.get_task_details(
                    task_service_pb2.GetTaskDetailsRequest(task_id=task_id)
                )
            except ConnectError as error:
                raise control_plane_error(
                    error,
                    f"task {self.name!r} version {version!r} in {project}/{domain}",
                    not_found=RemoteTaskNotFoundError,
                ) from error
            self._details = await TaskDetails._from_proto(response.details)
        return self._details

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RemoteTaskUsageError(
            f"Deployed task {self.name} cannot be called from a task yet; start it with flyte.run(task, ...)"
        )

    @syncify_listing
    @classmethod
    async def listall(
        cls,
        *,
        by_task_name: str | None = None,
        by_task_env: str | None = None,
        entrypoint: bool | None = None,
        project: str | None = None,
        domain: str | None = None,
        sort_by: tuple[str, Literal["asc", "desc"]] = ("created_at", "desc"),
        limit: int = 100,
    ) -> list[Task]:
        """Deployed task versions of a project and domain, newest first by default.

        Args:
            by_task_name: only versions of this task.
            by_task_env: only tasks of this environment.
            entrypoint: only entrypoint tasks (``True``) or only the others (``False``).
            project: default: ``flyte.init``'s.
            domain: default: ``flyte.init``'s.
            sort_by: ``(field, "asc" | "desc")``.
            limit: at most this many.
        """
        from flyteidl2.common import list_pb2

        project, domain = scope(project, domain)
        filters = []
        if by_task_name:
            filters.append(list_pb2.Filter(field="name", function=list_pb2.Filter.EQUAL, values=[by_task_name]))
        if by_task_env:
            filters.append(
                list_pb2.Filter(field="environment_name", function=list_pb2.Filter.EQUAL, values=[by_task_env])
            )
        if entrypoint is not None:
            filters.append(
                list_pb2.Filter(
                    field="is_entrypoint", function=list_pb2.Filter.EQUAL, values=["true" if entrypoint else "false"]
                )
            )
        rows = await _list_tasks(project, domain, filters, sort_by, limit)
        return [
            cls(
                name=row.task_id.name,
                version=row.task_id.version,
                project=row.task_id.project,
                domain=row.task_id.domain,
                short_name=row.metadata.short_name or None,
                environment=row.metadata.environment_name or None,
                deployed_at=to_datetime(row.metadata.deployed_at) if row.metadata.HasField("deployed_at") else None,
            )
            for row in rows
        ]


async def _list_tasks(
    project: str, domain: str, filters: list[Any], sort_by: tuple[str, str], limit: int
) -> list[task_definition_pb2.Task]:
    from connectrpc.errors import ConnectError
    from flyteidl2.common import identifier_pb2, list_pb2
    from flyteidl2.task import task_service_pb2

    direction = list_pb2.Sort.ASCENDING if sort_by[1] == "asc" else list_pb2.Sort.DESCENDING
    found: list[task_definition_pb2.Task] = []
    token = ""
    while len(found) < limit:
        request = task_service_pb2.ListTasksRequest(
            project_id=identifier_pb2.ProjectIdentifier(name=project, domain=domain, organization=org()),
            request=list_pb2.ListRequest(
                limit=min(100, limit - len(found)),
                token=token,
                filters=filters,
                sort_by=list_pb2.Sort(key=sort_by[0], direction=direction),
            ),
        )
        try:
            response = await get_clients().task_service.list_tasks(request)
        except ConnectError as error:
            raise control_plane_error(error, f"listing tasks of {project}/{domain}") from error
        found.extend(response.tasks)
        token = response.token
        if not token or not response.tasks:
            break
    return found[:limit]


async def _latest_version(name: str, project: str, domain: str) -> str:
    from flyteidl2.common import list_pb2

    rows = await _list_tasks(
        project,
        domain,
        [list_pb2.Filter(field="name", function=list_pb2.Filter.EQUAL, values=[name])],
        ("created_at", "desc"),
        1,
    )
    if not rows:
        raise RemoteTaskNotFoundError(
            f"No deployed task named {name!r} in {project}/{domain}; deploy it with flyte deploy"
        )
    return str(rows[0].task_id.version)

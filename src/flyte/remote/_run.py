"""``flyte.remote.Run``: a run on the control plane — what ``flyte.run`` returns in remote mode.

A run is its root action ``a0``; most methods delegate to that :class:`~flyte.remote.Action`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from flyte._internal.decoding import preserve_original_types
from flyte._internal.syncify import syncify_classmethod, syncify_iterator_method, syncify_method
from flyte._run import ActionInputs, ActionOutputs
from flyte._run import Run as BaseRun
from flyte.errors import ActionNotFoundError
from flyte.models import ActionPhase
from flyte.remote._action import Action, WaitFor, run_id
from flyte.remote._common import (
    TimeFilter,
    ToDict,
    console_url,
    control_plane_error,
    get_clients,
    phase_to_proto,
    scope,
)
from flyte.remote._listing import syncify_listing
from flyte.remote._run_extras import RunDetailsExtras, RunExtras

if TYPE_CHECKING:
    from flyteidl2.workflow import run_definition_pb2

    from flyte.types._interface import NativeInterface

__all__ = ["Run", "RunDetails"]


@dataclass(frozen=True)
class RunDetails(RunDetailsExtras, ToDict):
    """A run's settings and its root action with every attempt (from :meth:`Run.details`)."""

    name: str
    """The run's name."""
    action: Action
    """The root action (``a0``), with its attempts."""
    labels: dict[str, str] = field(default_factory=dict)
    """The run's labels."""
    annotations: dict[str, str] = field(default_factory=dict)
    """The run's annotations."""
    env_vars: dict[str, str] = field(default_factory=dict)
    """Environment variables every action of the run sees."""
    overwrite_cache: bool = False
    """Whether cached tasks run again."""
    queue: str | None = None
    """The queue of the run's actions."""
    max_action_concurrency: int | None = None
    """How many actions may run at once."""

    @property
    def phase(self) -> ActionPhase:
        """The root action's phase."""
        return self.action.phase

    @property
    def task_name(self) -> str | None:
        """The root task."""
        return self.action.task_name

    @classmethod
    def _from_proto(cls, details: run_definition_pb2.RunDetails) -> RunDetails:
        spec = details.run_spec
        action = Action._from_details(details.action)
        return cls(
            name=action.run_name,
            action=action,
            labels=dict(spec.labels.values),
            annotations=dict(spec.annotations.values),
            env_vars={pair.key: pair.value for pair in spec.envs.values},
            overwrite_cache=spec.overwrite_cache,
            queue=spec.queue or None,
            max_action_concurrency=spec.max_action_concurrency or None,
        )


class Run(RunExtras, BaseRun, ToDict):
    """A run on the control plane.

    Example:
        >>> run = flyte.run(main, n=3)  # remote when flyte.init got an endpoint  # doctest: +SKIP
        >>> run.wait()  # doctest: +SKIP
        >>> run.outputs().o0  # doctest: +SKIP
        >>> flyte.remote.Run.get(run.name).phase  # doctest: +SKIP
        'SUCCEEDED'
    """

    def __init__(
        self, action: Action, *, labels: dict[str, str] | None = None, interface: NativeInterface | None = None
    ) -> None:
        self.action = action
        """The root action (``a0``)."""
        self.labels = dict(labels or {})
        """The run's labels."""
        self._preserve_original_types = False
        if interface is not None:
            action._native_interface = interface

    @classmethod
    def _from_proto(cls, run: run_definition_pb2.Run, *, interface: NativeInterface | None = None) -> Run:
        return cls(Action._from_proto(run.action), labels=dict(run.labels), interface=interface)

    # --- plain attributes -----------------------------------------------------------------

    @property
    def name(self) -> str:  # type: ignore[override]  # read-only here
        """The run's name."""
        return self.action.run_name

    @property
    def project(self) -> str:
        """The run's project."""
        return self.action.project

    @property
    def domain(self) -> str:
        """The run's domain."""
        return self.action.domain

    @property
    def url(self) -> str:  # type: ignore[override]  # read-only here
        """The run's page in the console."""
        return console_url(get_clients().endpoint, self.project, self.domain, self.name)

    @property
    def phase(self) -> str:
        """The root action's phase, e.g. ``"RUNNING"`` or ``"SUCCEEDED"`` (as of the last update)."""
        return self.action.phase.name

    @property
    def task_name(self) -> str | None:
        """The root task."""
        return self.action.task_name

    @property
    def start_time(self) -> datetime | None:
        """When the run started."""
        return self.action.start_time

    @property
    def end_time(self) -> datetime | None:
        """When the run ended."""
        return self.action.end_time

    def done(self) -> bool:
        """Whether the run has ended (as of the last update)."""
        return self.action.done()

    def to_dict(self) -> dict[str, Any]:
        """The run as plain values (name, phase, url, root action, labels)."""
        return {
            "name": self.name,
            "project": self.project,
            "domain": self.domain,
            "phase": self.phase,
            "url": self.url,
            "task_name": self.task_name,
            "labels": dict(self.labels),
            "action": self.action.to_dict(),
        }

    def __repr__(self) -> str:
        return f"Run(name={self.name!r}, phase={self.phase!r}, project={self.project!r}, domain={self.domain!r})"

    # --- lookups --------------------------------------------------------------------------

    @syncify_classmethod
    @classmethod
    async def get(cls, name: str, *, project: str | None = None, domain: str | None = None) -> Run:
        """The run named ``name``.

        Raises:
            flyte.errors.ActionNotFoundError: there is no such run.
        """
        project, domain = scope(project, domain)
        details = await _run_details(project, domain, name)
        return cls(Action._from_details(details.action), labels=dict(details.run_spec.labels.values))

    @syncify_listing
    @classmethod
    async def listall(
        cls,
        in_phase: tuple[ActionPhase | str, ...] | None = None,
        task_name: str | None = None,
        task_version: str | None = None,
        created_by_subject: str | None = None,
        sort_by: tuple[str, Literal["asc", "desc"]] | None = ("created_at", "desc"),
        limit: int = 100,
        project: str | None = None,
        domain: str | None = None,
        created_at: TimeFilter | None = None,
        updated_at: TimeFilter | None = None,
        with_labels: dict[str, str] | None = None,
        with_label_keys: list[str] | tuple[str, ...] | None = None,
        paused_actions_only: bool = False,
        *,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        updated_after: datetime | None = None,
        updated_before: datetime | None = None,
    ) -> list[Run]:
        """Runs of a project and domain, newest first by default.

        Args:
            in_phase: only runs whose root action is in one of these phases.
            task_name: only runs of this task.
            task_version: only runs of this task version.
            created_by_subject: only runs started by this subject (servers that record it).
            created_at: only runs created in this window (``TimeFilter(after=..., before=...)``).
            updated_at: only runs last updated in this window.
            paused_actions_only: only runs with an action waiting on a condition.
            created_after: only runs created at or after this time.
            created_before: only runs created before this time.
            updated_after: only runs last updated at or after this time.
            updated_before: only runs last updated before this time.
            with_labels: only runs that carry all of these labels.
            with_label_keys: only runs that carry a label with each of these keys (any value).
            sort_by: ``(field, "asc" | "desc")``.
            limit: at most this many runs.
            project: default: ``flyte.init``'s.
            domain: default: ``flyte.init``'s.
        """
        from connectrpc.errors import ConnectError
        from flyteidl2.common import identifier_pb2, list_pb2
        from flyteidl2.workflow import run_service_pb2

        from flyte.remote._common import org

        project, domain = scope(project, domain)
        sort_by = sort_by or ("created_at", "desc")
        equal, value_in = list_pb2.Filter.EQUAL, list_pb2.Filter.VALUE_IN
        filters = []
        if in_phase:
            filters.append(
                list_pb2.Filter(field="phase", function=value_in, values=[str(phase_to_proto(p)) for p in in_phase])
            )
        if task_name:
            filters.append(list_pb2.Filter(field="task_name", function=equal, values=[task_name]))
        if task_version:
            filters.append(list_pb2.Filter(field="task_version", function=equal, values=[task_version]))
        for field_name, after, before in (
            ("created_at", created_after, created_before),
            ("updated_at", updated_after, updated_before),
        ):
            if after is not None:
                filters.append(
                    list_pb2.Filter(
                        field=field_name, function=list_pb2.Filter.GREATER_THAN_OR_EQUAL, values=[after.isoformat()]
                    )
                )
            if before is not None:
                filters.append(
                    list_pb2.Filter(field=field_name, function=list_pb2.Filter.LESS_THAN, values=[before.isoformat()])
                )
        if created_by_subject:
            filters.append(list_pb2.Filter(field="created_by", function=equal, values=[created_by_subject]))
        for field_name, window in (("created_at", created_at), ("updated_at", updated_at)):
            if window is not None:
                filters.extend(window.to_filters(field_name))
        for key, value in (with_labels or {}).items():
            filters.append(list_pb2.Filter(field=f"labels.{key}", function=equal, values=[value]))
        for key in with_label_keys or ():
            filters.append(list_pb2.Filter(field=f"labels.{key}", function=list_pb2.Filter.EXISTS))
        direction = list_pb2.Sort.ASCENDING if sort_by[1] == "asc" else list_pb2.Sort.DESCENDING
        runs: list[Run] = []
        token = ""
        while len(runs) < limit:
            request = run_service_pb2.ListRunsRequest(
                project_id=identifier_pb2.ProjectIdentifier(name=project, domain=domain, organization=org()),
                paused_actions_only=paused_actions_only,
                request=list_pb2.ListRequest(
                    limit=min(100, limit - len(runs)),
                    token=token,
                    filters=filters,
                    sort_by=list_pb2.Sort(key=sort_by[0], direction=direction),
                ),
            )
            try:
                response = await get_clients().run_service.list_runs(request)
            except ConnectError as error:
                raise control_plane_error(error, f"listing runs of {project}/{domain}") from error
            runs.extend(cls._from_proto(run) for run in response.runs)
            token = response.token
            if not token or not response.runs:
                break
        return runs[:limit]

    @syncify_method
    async def details(self) -> RunDetails:
        """The run's settings and root action with every attempt (refreshes this handle too)."""
        details = RunDetails._from_proto(await _run_details(self.project, self.domain, self.name))
        self.action._merge(details.action)
        return details

    @syncify_method
    async def sync(self) -> Run:
        """Refresh this handle from the control plane and return it."""
        await self.action.details.aio()
        return self

    @syncify_method
    async def actions(self) -> list[Action]:
        """Every action of the run (the root first)."""
        return await Action.listall.aio(self.name, project=self.project, domain=self.domain)

    # --- following ------------------------------------------------------------------------

    @syncify_method
    async def wait(self, quiet: bool = False, wait_for: WaitFor = "terminal") -> None:  # type: ignore[override]
        """Block until the run ends (``wait_for="running"``: until it starts running).

        On a terminal (stderr), unless ``quiet``, a live line shows the phase, attempt and time.
        A failure is not raised here: see :meth:`raise_for_status` (``outputs()`` raises it too).
        """
        await self.action.wait.aio(quiet=quiet, wait_for=wait_for)

    @syncify_iterator_method
    async def watch(self, cache_data_on_done: bool = False) -> AsyncIterator[Action]:
        """Snapshots of the root action as it changes, until the run ends (``cache_data_on_done``:
        then fetch its inputs and outputs too)."""
        async for snapshot in self.action.watch.aio(cache_data_on_done):
            yield snapshot

    @syncify_method
    async def raise_for_status(self) -> None:
        """Raise the run's error if it failed, timed out or was aborted.

        Raises:
            flyte.errors.RuntimeUserError: the task failed (``code`` is its exception class name).
            flyte.errors.RuntimeSystemError: the platform failed to run it.
            flyte.errors.TaskTimeoutError: it timed out.
            flyte.errors.ActionAbortedError: it was aborted.
        """
        await self.action.raise_for_status.aio()

    @syncify_method
    async def abort(self, reason: str = "Manually aborted from the SDK api.") -> None:
        """Abort the run and every action it started (a finished run is left alone)."""
        await self.action.abort.aio(reason)

    # --- data and logs --------------------------------------------------------------------

    @syncify_method
    async def outputs(self) -> ActionOutputs:
        """The root task's outputs (waits for the run to end).

        Raises:
            flyte.errors.BaseRuntimeError: the run failed, timed out or was aborted.
        """
        with preserve_original_types(self._preserve_original_types):
            return await self.action.outputs.aio()

    @syncify_method
    async def inputs(self) -> ActionInputs:
        """The root task's inputs by name."""
        with preserve_original_types(self._preserve_original_types):
            return await self.action.inputs.aio()

    @syncify_method
    async def get_logs(
        self, attempt: int | None = None, filter_system: bool = False, show_ts: bool = False
    ) -> list[str]:
        """The root action's log lines (see :meth:`flyte.remote.Action.get_logs`)."""
        return await self.action.get_logs.aio(attempt, filter_system, show_ts)

    @syncify_method
    async def show_logs(
        self,
        attempt: int | None = None,
        max_lines: int | None = 100,
        show_ts: bool = False,
        raw: bool = False,
        filter_system: bool = False,
    ) -> None:
        """Print the root action's log to stdout: its last ``max_lines`` lines (``None``: all)."""
        await self.action.show_logs.aio(attempt, max_lines, show_ts, raw, filter_system)

    @syncify_iterator_method
    async def tail_logs(
        self, attempt: int | None = None, filter_system: bool = False, show_ts: bool = False
    ) -> AsyncIterator[str]:
        """The root action's log lines as they are written (see :meth:`flyte.remote.Action.tail_logs`)."""
        async for line in self.action.tail_logs.aio(attempt, filter_system, show_ts):
            yield line


async def _run_details(project: str, domain: str, name: str) -> run_definition_pb2.RunDetails:
    from connectrpc.errors import ConnectError
    from flyteidl2.workflow import run_service_pb2

    try:
        response = await get_clients().run_service.get_run_details(
            run_service_pb2.GetRunDetailsRequest(run_id=run_id(project, domain, name))
        )
    except ConnectError as error:
        raise control_plane_error(
            error, f"run {name!r} in {project}/{domain}", not_found=ActionNotFoundError
        ) from error
    return response.details

"""``flyte.remote.Action``: one action of a run on the control plane (the root is ``a0``).

Everything here is one async core (``*.aio``) with a sync facade; the watch stream behind
:meth:`Action.wait` is ``RunService.WatchActionDetails`` (resubscribed when it ends early or
drops), inputs and outputs come from ``DataProxy.GetActionData`` decoded with the task's
interface, logs from ``DataProxy.TailLogs``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal

from flyte._internal.syncify import syncify_classmethod, syncify_iterator_method, syncify_method
from flyte._run import ActionInputs, ActionOutputs
from flyte.errors import (
    ActionAbortedError,
    ActionNotFoundError,
    BaseRuntimeError,
    LogsNotYetAvailableError,
    TaskTimeoutError,
)
from flyte.models import ActionPhase
from flyte.remote._action_extras import ActionExtras, code_bundle_of, details_from
from flyte.remote._common import (
    TimeFilter,
    ToDict,
    control_plane_error,
    dataproxy_for,
    get_clients,
    phase_from_proto,
    phase_to_proto,
    scope,
    to_datetime,
)
from flyte.remote._listing import syncify_listing

if TYPE_CHECKING:
    from flyteidl2.common import identifier_pb2
    from flyteidl2.core import interface_pb2, literals_pb2
    from flyteidl2.workflow import run_definition_pb2

    from flyte._internal.serde import CodeBundle
    from flyte.remote._action_details import ActionDetails
    from flyte.types._interface import NativeInterface

__all__ = ["Action", "ActionAttempt", "ActionError", "PhaseTransitionInfo", "WaitFor"]

logger = logging.getLogger("flyte")

WaitFor = Literal["terminal", "running", "logs-ready"]
_WATCH_RETRIES = 5
_LOG_RETRIES = 5
_LOG_RETRY_DELAY_S = 2.0
_SYSTEM_ORIGINATOR = 2  # flyteidl2.logs.dataplane LogLineOriginator.SYSTEM: Flyte wrote the line


@dataclass(frozen=True)
class ActionError(ToDict):
    """Why an action failed."""

    code: str
    """The error code: the original exception's class name (``"ValueError"``) or a Flyte code."""
    message: str
    """The error message."""
    kind: str
    """Who is to blame: ``"user"``, ``"system"`` or ``"unknown"``."""

    def to_exception(self, *, worker: str | None = None) -> BaseRuntimeError:
        """The exception ``flyte.run`` raises locally for the same failure (``RuntimeUserError``, ...)."""
        from flyteidl2.core import execution_pb2

        from flyte._internal.serde import exception_from_execution_error

        kinds = {"user": execution_pb2.ExecutionError.USER, "system": execution_pb2.ExecutionError.SYSTEM}
        proto = execution_pb2.ExecutionError(
            code=self.code, message=self.message, kind=kinds.get(self.kind, execution_pb2.ExecutionError.UNKNOWN)
        )
        return exception_from_execution_error(proto, worker=worker)


@dataclass(frozen=True)
class ActionAttempt(ToDict):
    """One attempt of an action (retries make more)."""

    attempt: int
    """The attempt number, from 1."""
    phase: ActionPhase
    """The attempt's phase."""
    start_time: datetime | None = None
    """When it started."""
    end_time: datetime | None = None
    """When it ended."""
    error: ActionError | None = None
    """Why it failed."""
    logs_available: bool = False
    """Whether :meth:`Action.get_logs` can read its logs."""
    cache_status: str = ""
    """``CACHE_HIT``, ``CACHE_POPULATED``, ``CACHE_DISABLED``, ..."""
    outputs_uri: str = ""
    """Where its outputs were written."""
    phase_transitions: tuple[PhaseTransitionInfo, ...] = ()
    """The phases it went through, with their times (queued, initializing, running, ...)."""


@dataclass(frozen=True)
class PhaseTransitionInfo(ToDict):
    """One phase an attempt went through, and how long it stayed there."""

    phase: ActionPhase
    """The phase."""
    start_time: datetime
    """When the attempt entered it."""
    end_time: datetime | None = None
    """When it left it (``None`` while it is still there)."""

    @property
    def duration(self) -> timedelta:
        """How long it stayed (so far, when it has not left)."""
        return (self.end_time or datetime.now(timezone.utc)) - self.start_time


def _error(info: run_definition_pb2.ErrorInfo) -> ActionError | None:
    if not info.message and not info.code:
        return None
    kind = {1: "user", 2: "system"}.get(int(info.kind), "unknown")
    return ActionError(code=info.code, message=info.message, kind=kind)


def _cache_status(value: int) -> str:
    from flyteidl2.core import catalog_pb2

    try:
        return str(catalog_pb2.CatalogCacheStatus.Name(value))
    except ValueError:
        return ""


@dataclass
class Action(ActionExtras, ToDict):
    """An action of a run: a task call, a trace, or the root task (``a0``).

    Example:
        >>> action = flyte.remote.Action.get("r1a2b3", "a0")  # doctest: +SKIP
        >>> action.phase, action.attempts  # doctest: +SKIP
        (<ActionPhase.SUCCEEDED: 'succeeded'>, 1)
    """

    project: str
    """The run's project."""
    domain: str
    """The run's domain."""
    run_name: str
    """The run the action belongs to."""
    name: str
    """The action's name (``a0`` for the root)."""
    phase: ActionPhase
    """Where the action is in its lifecycle."""
    parent: str | None = None
    """The parent action's name (``None`` for the root)."""
    group: str | None = None
    """The ``flyte.group`` it ran in."""
    kind: str = "task"
    """``"task"``, ``"trace"`` or ``"condition"``."""
    task_name: str | None = None
    """The task it runs (``env.function``)."""
    task_version: str | None = None
    """The task's version."""
    environment: str | None = None
    """The task's environment."""
    start_time: datetime | None = None
    """When it started."""
    end_time: datetime | None = None
    """When it ended."""
    attempts: int = 0
    """How many attempts it has made."""
    cache_status: str = ""
    """``CACHE_HIT``, ``CACHE_POPULATED``, ``CACHE_DISABLED``, ..."""
    error: ActionError | None = None
    """Why it failed (failed and timed-out actions)."""
    abort_reason: str | None = None
    """Why it was aborted."""
    attempt_history: tuple[ActionAttempt, ...] = ()
    """Every attempt (filled in by :meth:`details`, :meth:`get` and :meth:`wait`)."""
    _typed_interface: interface_pb2.TypedInterface | None = field(default=None, repr=False, compare=False)
    _native_interface: NativeInterface | None = field(default=None, repr=False, compare=False)
    _data: tuple[dict[str, literals_pb2.Literal], dict[str, literals_pb2.Literal]] | None = field(
        default=None, repr=False, compare=False
    )
    _code_bundle: CodeBundle | None = field(default=None, repr=False, compare=False)

    # --- conversion -----------------------------------------------------------------------

    @classmethod
    def _from_proto(cls, action: run_definition_pb2.Action) -> Action:
        metadata, status = action.metadata, action.status
        run = action.id.run
        kind = {2: "trace", 3: "condition"}.get(int(metadata.action_type), "task")
        task_name = metadata.task.id.name if metadata.HasField("task") else None
        if kind == "trace" and metadata.HasField("trace"):
            task_name = metadata.trace.name or task_name
        return cls(
            project=run.project,
            domain=run.domain,
            run_name=run.name,
            name=action.id.name,
            phase=phase_from_proto(status.phase),
            parent=metadata.parent or None,
            group=metadata.group or None,
            kind=kind,
            task_name=task_name or None,
            task_version=(metadata.task.id.version or None) if metadata.HasField("task") else None,
            environment=metadata.environment_name or None,
            start_time=to_datetime(status.start_time) if status.HasField("start_time") else None,
            end_time=to_datetime(status.end_time) if status.HasField("end_time") else None,
            attempts=int(status.attempts),
            cache_status=_cache_status(status.cache_status),
        )

    @classmethod
    def _from_details(cls, details: run_definition_pb2.ActionDetails) -> Action:
        from flyteidl2.workflow import run_definition_pb2

        base = cls._from_proto(
            run_definition_pb2.Action(id=details.id, metadata=details.metadata, status=details.status)
        )
        attempts = tuple(
            ActionAttempt(
                attempt=int(attempt.attempt),
                phase=phase_from_proto(attempt.phase),
                start_time=to_datetime(attempt.start_time) if attempt.HasField("start_time") else None,
                end_time=to_datetime(attempt.end_time) if attempt.HasField("end_time") else None,
                error=_error(attempt.error_info) if attempt.HasField("error_info") else None,
                logs_available=attempt.logs_available,
                cache_status=_cache_status(attempt.cache_status),
                outputs_uri=attempt.outputs.output_uri,
                phase_transitions=tuple(
                    PhaseTransitionInfo(
                        phase=phase_from_proto(item.phase),
                        start_time=to_datetime(item.start_time) or datetime.fromtimestamp(0, timezone.utc),
                        end_time=to_datetime(item.end_time) if item.HasField("end_time") else None,
                    )
                    for item in attempt.phase_transitions
                ),
            )
            for attempt in details.attempts
        )
        which = details.WhichOneof("spec")
        interface = None
        bundle = None
        if which == "task":
            interface = details.task.task_template.interface
            bundle = code_bundle_of(details.task)
        elif which == "trace":
            interface = details.trace.interface
        return replace(
            base,
            error=_error(details.error_info) if details.HasField("error_info") else None,
            abort_reason=(details.abort_info.reason or "aborted") if details.HasField("abort_info") else None,
            attempt_history=attempts,
            _typed_interface=interface,
            _code_bundle=bundle,
        )

    def _merge(self, newer: Action) -> None:
        """Take the state of a fresher snapshot, keeping what only this object knows."""
        native, data = self._native_interface, self._data
        typed = newer._typed_interface if newer._typed_interface is not None else self._typed_interface
        bundle = newer._code_bundle if newer._code_bundle is not None else self._code_bundle
        for item in newer.__dataclass_fields__:
            setattr(self, item, getattr(newer, item))
        self._native_interface, self._data, self._typed_interface = native, data, typed
        self._code_bundle = bundle

    def _proto_id(self) -> identifier_pb2.ActionIdentifier:
        return action_id(self.project, self.domain, self.run_name, self.name)

    def _describe(self) -> str:
        what = "run" if self.name == "a0" else f"action {self.name!r} of run"
        return f"{what} {self.run_name!r} in {self.project}/{self.domain}"

    # --- status ---------------------------------------------------------------------------

    @property
    def duration(self) -> timedelta | None:
        """How long it ran (so far, while it runs)."""
        if self.start_time is None:
            return None
        from datetime import timezone

        end = self.end_time or datetime.now(timezone.utc)
        return end - self.start_time

    def done(self) -> bool:
        """Whether the action has finished (succeeded, failed, aborted or timed out)."""
        return self.phase.is_terminal

    def exception(self) -> BaseRuntimeError | None:
        """The exception that describes a failed, timed-out or aborted action (``None`` otherwise)."""
        worker = f"{self.run_name}/{self.name}"
        if self.phase == ActionPhase.ABORTED:
            return ActionAbortedError(self.abort_reason or f"{self._describe()} was aborted", worker=worker)
        if self.phase not in (ActionPhase.FAILED, ActionPhase.TIMED_OUT):
            return None
        if self.error is not None:
            return self.error.to_exception(worker=worker)
        if self.phase == ActionPhase.TIMED_OUT:
            return TaskTimeoutError(f"{self._describe()} timed out", worker=worker)
        return BaseRuntimeError("ActionFailed", "unknown", f"{self._describe()} failed", worker)

    # --- lookups --------------------------------------------------------------------------

    @syncify_classmethod
    @classmethod
    async def get(
        cls, run_name: str, name: str = "a0", *, project: str | None = None, domain: str | None = None
    ) -> Action:
        """The action ``name`` of run ``run_name``, with its attempts.

        Raises:
            flyte.errors.ActionNotFoundError: there is no such action.
        """
        project, domain = scope(project, domain)
        return cls._from_details(await fetch_details(project, domain, run_name, name))

    @syncify_listing
    @classmethod
    async def listall(
        cls,
        for_run_name: str,
        *,
        in_phase: tuple[ActionPhase | str, ...] | None = None,
        parent_name: str | None = None,
        sort_by: tuple[str, Literal["asc", "desc"]] | None = None,
        created_at: TimeFilter | None = None,
        updated_at: TimeFilter | None = None,
        project: str | None = None,
        domain: str | None = None,
        limit: int = 1000,
    ) -> list[Action]:
        """The actions of a run, oldest first.

        Args:
            for_run_name: the run.
            in_phase: only actions in one of these phases.
            parent_name: only direct children of this action (``"a0"``: the root's children).
            sort_by: ``(field, "asc" | "desc")``; default: oldest first.
            created_at: only actions created in this window.
            updated_at: only actions last updated in this window.
            project: the run's project (default: ``flyte.init``'s).
            domain: the run's domain.
            limit: at most this many.

        Raises:
            flyte.errors.ActionNotFoundError: there is no such run.
        """
        from connectrpc.errors import ConnectError
        from flyteidl2.common import list_pb2
        from flyteidl2.workflow import run_service_pb2

        project, domain = scope(project, domain)
        filters = []
        if in_phase:
            filters.append(
                list_pb2.Filter(
                    field="phase",
                    function=list_pb2.Filter.VALUE_IN,
                    values=[str(phase_to_proto(phase)) for phase in in_phase],
                )
            )
        if parent_name:
            filters.append(list_pb2.Filter(field="parent", function=list_pb2.Filter.EQUAL, values=[parent_name]))
        if created_at is not None:
            filters.extend(created_at.to_filters("created_at"))
        if updated_at is not None:
            filters.extend(updated_at.to_filters("updated_at"))
        key, order = sort_by or ("created_at", "asc")
        direction = list_pb2.Sort.ASCENDING if order == "asc" else list_pb2.Sort.DESCENDING
        run = run_id(project, domain, for_run_name)
        found: list[Action] = []
        token = ""
        clients = get_clients()
        while len(found) < limit:
            request = run_service_pb2.ListActionsRequest(
                run_id=run,
                request=list_pb2.ListRequest(
                    limit=min(100, limit - len(found)),
                    token=token,
                    filters=filters,
                    sort_by=list_pb2.Sort(key=key, direction=direction),
                ),
            )
            try:
                response = await clients.run_service.list_actions(request)
            except ConnectError as error:
                raise control_plane_error(
                    error, f"run {for_run_name!r} in {project}/{domain}", not_found=ActionNotFoundError
                ) from error
            found.extend(cls._from_proto(action) for action in response.actions)
            token = response.token
            if not token or not response.actions:
                break
        return found[:limit]

    @syncify_method
    async def details(self) -> ActionDetails:
        """A fresh snapshot of this action, with its attempts (this object is updated too)."""
        fresh = Action._from_details(await fetch_details(self.project, self.domain, self.run_name, self.name))
        self._merge(fresh)
        details: ActionDetails = details_from(self)
        return details

    @syncify_method
    async def sync(self) -> Action:
        """Refresh this object from the control plane and return it."""
        return await self.details.aio()

    # --- following ------------------------------------------------------------------------

    @syncify_iterator_method
    async def watch(self, cache_data_on_done: bool = False, wait_for: WaitFor = "terminal") -> AsyncIterator[Action]:
        """Snapshots of the action as it changes, until it ends (this object follows along).

        Args:
            cache_data_on_done: once it has ended, fetch its inputs and outputs too (kept here).
            wait_for: stop at ``"terminal"`` (the end), ``"running"`` or ``"logs-ready"``.

        Example:
            >>> for snapshot in action.watch():  # doctest: +SKIP
            ...     print(snapshot.phase)
        """
        async for details in watch_details(self.project, self.domain, self.run_name, self.name):
            self._merge(Action._from_details(details))
            yield replace(self)
            if self._reached(wait_for):
                break
        if cache_data_on_done and self.done():
            await self._literals()

    @syncify_method
    async def wait(self, quiet: bool = False, wait_for: WaitFor = "terminal") -> None:
        """Block until the action ends (or, with ``wait_for="running"``, starts running).

        On a terminal, with ``quiet=False``, a live line on stderr shows the phase and the time;
        elsewhere nothing is printed. A failure is not raised here: see :meth:`raise_for_status`.
        """
        from flyte.remote._progress import WaitDisplay

        if self._reached(wait_for):
            return
        with WaitDisplay(self._describe(), quiet=quiet) as display:
            async for snapshot in self.watch.aio():
                display.update(snapshot)
                if self._reached(wait_for):
                    break

    def _reached(self, wait_for: WaitFor) -> bool:
        if self.phase.is_terminal:
            return True
        if wait_for == "running":
            return self.phase == ActionPhase.RUNNING
        if wait_for == "logs-ready":
            return any(attempt.logs_available for attempt in self.attempt_history)
        return False

    @syncify_method
    async def raise_for_status(self) -> None:
        """Raise the action's error (``RuntimeUserError`` with the task's code and message, ...) if it failed.

        Raises:
            flyte.errors.BaseRuntimeError: the action failed, timed out or was aborted.
        """
        if self.phase.is_terminal and (self.error is not None or self.phase.is_success):
            error = self.exception()
        else:
            error = (await self.details.aio()).exception()
        if error is not None:
            raise error

    @syncify_method
    async def abort(self, reason: str = "Manually aborted from the SDK.") -> None:
        """Abort the action and everything it started (a finished or vanished action is left alone)."""
        from connectrpc.code import Code
        from connectrpc.errors import ConnectError
        from flyteidl2.workflow import run_service_pb2

        clients = get_clients()
        try:
            if self.name == "a0":
                await clients.run_service.abort_run(
                    run_service_pb2.AbortRunRequest(
                        run_id=run_id(self.project, self.domain, self.run_name), reason=reason
                    )
                )
            else:
                await clients.run_service.abort_action(
                    run_service_pb2.AbortActionRequest(action_id=self._proto_id(), reason=reason)
                )
        except ConnectError as error:
            if error.code != Code.NOT_FOUND:
                raise control_plane_error(error, f"aborting {self._describe()}") from error

    # --- data -----------------------------------------------------------------------------

    async def _literals(self) -> tuple[dict[str, literals_pb2.Literal], dict[str, literals_pb2.Literal]]:
        if self._data is None:
            from connectrpc.errors import ConnectError
            from flyteidl2.dataproxy import dataproxy_service_pb2

            client = await dataproxy_for("OPERATION_GET_ACTION_DATA", self.project, self.domain)
            try:
                response = await client.get_action_data(
                    dataproxy_service_pb2.GetActionDataRequest(action_id=self._proto_id())
                )
            except ConnectError as error:
                raise control_plane_error(
                    error, f"the data of {self._describe()}", not_found=ActionNotFoundError
                ) from error
            inputs = {named.name: named.value for named in response.inputs.literals}
            outputs = {named.name: named.value for named in response.outputs.literals}
            data = (inputs, outputs)
            if not self.done():
                return data
            self._data = data
        return self._data

    async def _types(self, which: Literal["inputs", "outputs"]) -> dict[str, Any]:
        if self._native_interface is not None:
            from flyte.types._registration import reader_type

            if which == "outputs":
                return {name: reader_type(t) for name, t in self._native_interface.outputs.items()}
            return {name: reader_type(t) for name, (t, _) in self._native_interface.inputs.items()}
        if self._typed_interface is None:
            await self.details.aio()
        from flyte.types import TypeEngine

        interface = self._typed_interface
        if interface is None:
            return {}
        variables = interface.outputs.variables if which == "outputs" else interface.inputs.variables
        return {entry.key: TypeEngine.guess_python_type(entry.value.type) for entry in variables}

    @syncify_method
    async def inputs(self) -> ActionInputs:
        """The action's inputs by name, as Python values."""
        literals, _ = await self._literals()
        types = await self._types("inputs")
        return ActionInputs(await _decode(literals, types, f"input of {self._describe()}"))

    @syncify_method
    async def outputs(self) -> ActionOutputs:
        """The action's outputs (waits for the action to end first).

        Raises:
            flyte.errors.BaseRuntimeError: the action failed, timed out or was aborted.
        """
        if not self.done():
            await self.wait.aio(quiet=True)
        await self.raise_for_status.aio()
        _, literals = await self._literals()
        types = await self._types("outputs")
        values = await _decode(literals, types, f"output of {self._describe()}")
        if not values and not types:
            return ActionOutputs((None,))  # a task that returns nothing: (None,), as locally and in Flyte 2
        ordered = sorted(values, key=lambda name: list(types).index(name) if name in types else len(types))
        return ActionOutputs(tuple(values[name] for name in ordered))

    # --- logs -----------------------------------------------------------------------------

    @syncify_iterator_method
    async def tail_logs(
        self, attempt: int | None = None, filter_system: bool = False, show_ts: bool = False
    ) -> AsyncIterator[str]:
        """The lines of an attempt's log (default: the latest), following it while it runs.

        Args:
            attempt: the attempt (from 1); default: the latest.
            filter_system: leave out the lines Flyte itself wrote (keep the task's).
            show_ts: start each line with its UTC timestamp (``2025-01-02T03:04:05.678Z``).

        Raises:
            flyte.errors.LogsNotYetAvailableError: the attempt has not started after several tries.
        """
        async for line in _tail(self, attempt, filter_system=filter_system, show_ts=show_ts):
            yield line

    @syncify_method
    async def get_logs(
        self, attempt: int | None = None, filter_system: bool = False, show_ts: bool = False
    ) -> list[str]:
        """Every line of an attempt's log (default: the latest); waits for a running attempt to end.

        ``filter_system`` and ``show_ts`` as for :meth:`tail_logs`.
        """
        return [line async for line in _tail(self, attempt, filter_system=filter_system, show_ts=show_ts)]

    @syncify_method
    async def show_logs(
        self,
        attempt: int | None = None,
        max_lines: int | None = 30,
        show_ts: bool = False,
        raw: bool = False,
        filter_system: bool = False,
    ) -> None:
        """Print an attempt's log to stdout: its last ``max_lines`` lines (``None``: all).

        ``raw`` is accepted for Flyte 2's callers; lines are always printed as plain text here.
        """
        import sys

        lines = [line async for line in _tail(self, attempt, filter_system=filter_system, show_ts=show_ts)]
        for line in lines[-max_lines:] if max_lines else lines:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()


# --- shared plumbing (also used by flyte.remote.Run) -----------------------------------------


def run_id(project: str, domain: str, name: str) -> identifier_pb2.RunIdentifier:
    """``RunIdentifier`` (org left empty, as Flyte 2 sends it to a local control plane)."""
    from flyteidl2.common import identifier_pb2

    from flyte.remote._common import org

    return identifier_pb2.RunIdentifier(org=org(), project=project, domain=domain, name=name)


def action_id(project: str, domain: str, run: str, name: str) -> identifier_pb2.ActionIdentifier:
    """``ActionIdentifier`` of an action."""
    from flyteidl2.common import identifier_pb2

    return identifier_pb2.ActionIdentifier(run=run_id(project, domain, run), name=name)


async def fetch_details(project: str, domain: str, run: str, name: str) -> run_definition_pb2.ActionDetails:
    """``GetActionDetails`` with one-line errors."""
    from connectrpc.errors import ConnectError
    from flyteidl2.workflow import run_service_pb2

    request = run_service_pb2.GetActionDetailsRequest(action_id=action_id(project, domain, run, name))
    try:
        response = await get_clients().run_service.get_action_details(request)
    except ConnectError as error:
        what = f"run {run!r}" if name == "a0" else f"action {name!r} of run {run!r}"
        raise control_plane_error(error, f"{what} in {project}/{domain}", not_found=ActionNotFoundError) from error
    return response.details


async def watch_details(
    project: str, domain: str, run: str, name: str
) -> AsyncIterator[run_definition_pb2.ActionDetails]:
    """``WatchActionDetails`` until a terminal phase: resubscribes when the stream ends early or drops."""
    from connectrpc.code import Code
    from connectrpc.errors import ConnectError
    from flyteidl2.workflow import run_service_pb2

    request = run_service_pb2.WatchActionDetailsRequest(action_id=action_id(project, domain, run, name))
    failures = 0
    while True:
        try:
            async with contextlib.aclosing(get_clients().run_service.watch_action_details(request)) as stream:
                async for response in stream:
                    failures = 0
                    yield response.details
                    if phase_from_proto(response.details.status.phase).is_terminal:
                        return
        except ConnectError as error:
            transient = error.code in (Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.CANCELED, Code.INTERNAL)
            failures += 1
            if not transient or failures > _WATCH_RETRIES:
                what = f"run {run!r}" if name == "a0" else f"action {name!r} of run {run!r}"
                raise control_plane_error(
                    error, f"watching {what} in {project}/{domain}", not_found=ActionNotFoundError
                ) from error
            await asyncio.sleep(min(0.5 * 2**failures, 5.0))
            continue
        await asyncio.sleep(0.5)  # the stream ended before the action did: subscribe again


async def _decode(literals: dict[str, literals_pb2.Literal], types: dict[str, Any], what: str) -> dict[str, Any]:
    from flyte.errors import RuntimeDataValidationError
    from flyte.types import TypeEngine, TypeTransformerFailedError

    values: dict[str, Any] = {}
    for name, literal in literals.items():
        python_type = types.get(name)
        try:
            if python_type is None:
                values[name] = _primitive(literal)
            else:
                values[name] = await TypeEngine.to_python_value(literal, python_type)
        except (TypeTransformerFailedError, TypeError, ValueError, AttributeError) as error:
            raise RuntimeDataValidationError(name, f"Cannot read {name!r}, an {what}: {error}") from error
    return values


def _primitive(literal: literals_pb2.Literal) -> Any:
    """A value whose type the interface does not name: only primitives can be read."""
    primitive = literal.scalar.primitive
    which = primitive.WhichOneof("value") if literal.HasField("scalar") else None
    if which is None:
        raise TypeError("its type is not in the task's interface")
    return getattr(primitive, which)


async def _tail(
    action: Action, attempt: int | None, *, filter_system: bool = False, show_ts: bool = False
) -> AsyncIterator[str]:
    from connectrpc.code import Code
    from connectrpc.errors import ConnectError
    from flyteidl2.dataproxy import dataproxy_service_pb2

    client = await dataproxy_for("OPERATION_TAIL_LOGS", action.project, action.domain)
    for tries in range(_LOG_RETRIES + 1):
        number = attempt or max(action.attempts, 1)
        request = dataproxy_service_pb2.TailLogsRequest(action_id=action._proto_id(), attempt=number)
        try:
            async for response in client.tail_logs(request):
                for logs in response.logs:
                    for line in logs.lines:
                        if filter_system and int(line.originator) == _SYSTEM_ORIGINATOR:
                            continue
                        if show_ts and line.HasField("timestamp"):
                            stamp = line.timestamp.ToDatetime(timezone.utc)
                            yield f"{stamp.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z {line.message}"
                        else:
                            yield line.message
            return
        except ConnectError as error:
            if error.code != Code.NOT_FOUND:
                raise control_plane_error(error, f"the logs of {action._describe()}") from error
            if tries == _LOG_RETRIES or (action.done() and tries > 0):
                raise LogsNotYetAvailableError(
                    f"The logs of {action._describe()} (attempt {number}) are not available: {error.message}"
                ) from error
        await asyncio.sleep(_LOG_RETRY_DELAY_S)
        await action.details.aio()

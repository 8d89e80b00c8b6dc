"""The local controller: runs every action of a run in this process.

Async tasks run as coroutines on the run's event loop, sync tasks on daemon threads. Each call
inside a task becomes a child action with the same deterministic name remote mode would give it,
and gets the same treatment: input validation, cache lookup, retries with backoff, timeouts and
error conversion. Finished actions are remembered by name, so a retried parent re-uses the
children (and traces) that already succeeded instead of running them again.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from flyte._context import CallCounter, ExecutionState, current_state, reset_state, set_state
from flyte._internal.controllers import TraceCall, TraceRecord
from flyte.errors import (
    ActionAbortedError,
    BaseRuntimeError,
    NonRecoverableError,
    RuntimeSystemError,
    RuntimeUserError,
    TaskTimeoutError,
)
from flyte.models import ActionID, ActionPhase, CheckpointPaths, GroupData, RawDataPath, TaskContext

if TYPE_CHECKING:
    from flyteidl2.core.literals_pb2 import Literal

    from flyte._internal.local_cache import LocalCache
    from flyte._task import AsyncFunctionTaskTemplate
    from flyte.types._interface import NativeInterface

__all__ = ["ActionRecord", "LocalController", "RunSettings"]


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """The per-run options of ``flyte.with_runcontext`` that the local controller honours."""

    run_name: str
    """The run's name."""
    run_base_dir: str
    """Where the run's action directories (reports, trace data) go."""
    raw_data_path: str
    """Where offloaded data goes."""
    overwrite_cache: bool = False
    """Run cached tasks again and replace their cache entries."""
    disable_run_cache: bool = False
    """Neither read nor write the cache in this run."""
    custom_context: dict[str, str] = field(default_factory=dict)
    """Key/values visible to every action through ``flyte.ctx().custom_context``."""
    project: str | None = None
    """Project recorded in action ids."""
    domain: str | None = None
    """Domain recorded in action ids."""
    version: str = "local"
    """The code version reported by ``flyte.ctx().version``."""
    max_action_concurrency: int | None = None
    """At most this many actions run at once; a parent waiting on its children does not count."""
    run_start_time: datetime | None = None
    """The start time the run reports (``flyte.ctx().run_start_time``); default: now."""
    cache_lookup_scope: str = "global"
    """``"project-domain"`` keeps cache entries apart per project and domain; ``"global"`` shares them."""


@dataclass
class ActionRecord:
    """What happened to one action of a local run (shown by ``Run.actions()``)."""

    action_id: ActionID
    task_name: str
    parent: str | None
    group: str | None
    phase: ActionPhase = ActionPhase.QUEUED
    attempts: int = 0
    cache_status: str = "CACHE_DISABLED"
    start_time: datetime | None = None
    end_time: datetime | None = None
    error: BaseRuntimeError | None = None
    kind: str = "task"


@dataclass
class _TaskFacts:
    """What is computed once per task and reused by every call: interface, cache version, ..."""

    interface: NativeInterface
    positional_names: tuple[str, ...]
    typed_interface: Any = None
    cache_version: str = ""


_task_facts: weakref.WeakKeyDictionary[Any, _TaskFacts] = weakref.WeakKeyDictionary()


def _facts_for(task: AsyncFunctionTaskTemplate[Any, Any]) -> _TaskFacts:
    facts = _task_facts.get(task)
    if facts is None:
        interface = task.interface
        facts = _TaskFacts(interface=interface, positional_names=tuple(interface.inputs))
        _task_facts[task] = facts
    return facts


def _cache_facts(task: AsyncFunctionTaskTemplate[Any, Any], facts: _TaskFacts) -> _TaskFacts:
    if facts.typed_interface is None:
        from flyte._cache import VersionParameters

        unknown = sorted(set(task.cache.ignored_inputs) - set(facts.interface.inputs))
        if unknown:
            raise ValueError(
                f"Cache of task {task.name} ignores input(s) {', '.join(unknown)}, which the task does not have; "
                f"its inputs are: {', '.join(facts.interface.inputs) or 'none'}"
            )
        facts.cache_version = task.cache.get_version(VersionParameters(func=task.func, image=None))
        facts.typed_interface = facts.interface.to_typed_interface()
    return facts


def bind_inputs(
    task: AsyncFunctionTaskTemplate[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Match a call's arguments to the task's inputs, filling defaults; a bad call is a TypeError."""
    facts = _facts_for(task)
    names = facts.positional_names
    if len(args) > len(names):
        raise TypeError(f"{task.name}() takes {len(names)} input(s) but {len(args)} positional argument(s) were given")
    bound = dict(zip(names, args, strict=False))
    for key, value in kwargs.items():
        if key not in facts.interface.inputs:
            raise TypeError(
                f"{task.name}() got an unexpected input {key!r}; its inputs are: {', '.join(names) or 'none'}"
            )
        if key in bound:
            raise TypeError(f"{task.name}() got multiple values for input {key!r}")
        bound[key] = value
    if len(bound) < len(names):
        missing = []
        for name in names:
            if name not in bound:
                default = facts.interface.inputs[name][1]
                if default is inspect.Parameter.empty:
                    missing.append(name)
                else:
                    bound[name] = default
        if missing:
            raise TypeError(f"{task.name}() is missing required input(s): {', '.join(missing)}")
    return bound


def to_runtime_error(error: BaseException, worker: str) -> BaseRuntimeError:
    """The error a caller sees when an action fails, as it would arrive from a remote action.

    Only the code (the original class name, or a Flyte code), the kind and the message cross a
    task boundary: user errors arrive as ``RuntimeUserError``, system errors as
    ``RuntimeSystemError``; timeouts and aborts keep their specific classes, because remote mode
    rebuilds those from their codes too.
    """
    if type(error) in _BOUNDARY_ERRORS:
        return error  # type: ignore[return-value]
    if isinstance(error, BaseRuntimeError):
        boundary: type[BaseRuntimeError] = RuntimeSystemError if error.kind == "system" else RuntimeUserError
        converted = boundary._from_parts(str(error), code=error.code, worker=error.worker or worker)
    else:
        converted = RuntimeUserError(type(error).__name__, str(error), worker)
    converted.__cause__ = error
    return converted


_BOUNDARY_ERRORS: frozenset[type[BaseException]] = frozenset(
    {RuntimeUserError, RuntimeSystemError, TaskTimeoutError, ActionAbortedError}
)


class LocalController:
    """Runs the actions of one local run (see the module docstring).

    Example:
        >>> controller = LocalController(settings, cache)  # doctest: +SKIP
        >>> outputs = await controller.run_root(task, args, kwargs)  # doctest: +SKIP
    """

    supports_inline_traces = True

    def __init__(self, settings: RunSettings, cache: LocalCache | None) -> None:
        self.settings = settings
        self.cache = cache
        self.records: dict[str, ActionRecord] = {}
        self._finished: dict[str, Any] = {}
        self._serialized_keys: dict[str, asyncio.Lock] = {}
        self._run_start = settings.run_start_time or datetime.now(timezone.utc)
        # Slots for max_action_concurrency, and which attempts (by id of their call counter) hold one
        # or wait on children: a parent gives its slot up while it waits, so nesting cannot deadlock.
        self._slots: asyncio.Semaphore | None = None
        self._holding: set[int] = set()
        self._waiting_children: dict[int, int] = {}
        self._root = ActionID(name="a0", run_name=settings.run_name, project=settings.project, domain=settings.domain)

    # --- entry points -----------------------------------------------------------------------

    async def run_root(
        self, task: AsyncFunctionTaskTemplate[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Run ``task`` as the root action ``a0`` of the run."""
        inputs, literals = await self._validate_inputs(task, bind_inputs(task, args, kwargs))
        return await self._run_action(task, self._root, inputs, literals, parent=None, group=None)

    async def submit(
        self, task: AsyncFunctionTaskTemplate[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Run ``task`` as a child of the action that is running now."""
        from flyte.types._hashing import hash_inputs

        state = current_state()
        assert state is not None, "submit() is only called from inside a task"
        inputs, literals = await self._validate_inputs(task, bind_inputs(task, args, kwargs))
        inputs_hash = hash_inputs(literals)
        group = state.group.name if state.group else None
        sequence = state.calls.next(f"{task.name}:{inputs_hash}:{group or ''}")
        parent = state.task_context.action
        action_id = parent.new_sub_action(
            inputs_hash=inputs_hash, task_identity=task.name, sequence=sequence, group=group
        )
        if action_id.name in self._finished:
            return self._finished[action_id.name]
        await self._parent_waits(id(state.calls))
        try:
            return await self._run_action(
                task, action_id, inputs, literals, parent=parent.name, group=group, inputs_hash=inputs_hash
            )
        finally:
            await self._parent_resumes(id(state.calls))

    # --- one action -------------------------------------------------------------------------

    async def _validate_inputs(
        self, task: AsyncFunctionTaskTemplate[Any, Any], inputs: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Literal]]:
        """The inputs as the task receives them (coerced values read back) and their literals."""
        from flyte.types._interface import coerced_inputs, convert_inputs_to_literals

        interface = _facts_for(task).interface
        literals = await convert_inputs_to_literals(interface, inputs, task_name=task.name)
        return await coerced_inputs(interface, inputs, literals, task_name=task.name), literals

    async def _run_action(
        self,
        task: AsyncFunctionTaskTemplate[Any, Any],
        action_id: ActionID,
        inputs: dict[str, Any],
        literals: dict[str, Literal],
        *,
        parent: str | None,
        group: str | None,
        inputs_hash: str | None = None,
    ) -> Any:
        record = ActionRecord(action_id=action_id, task_name=task.name, parent=parent, group=group)
        record.start_time = datetime.now(timezone.utc)
        self.records[action_id.name] = record
        try:
            if task.cache.is_enabled() and not self.settings.disable_run_cache:
                result = await self._run_cached(task, action_id, inputs, literals, record, group)
            else:
                result = await self._checked_outputs(
                    task, await self._run_attempts(task, action_id, inputs, record, group)
                )
        except BaseRuntimeError as error:
            record.error = error
            record.phase = _failure_phase(error)
            raise
        except asyncio.CancelledError:
            record.phase = ActionPhase.ABORTED
            raise
        finally:
            record.end_time = datetime.now(timezone.utc)
        if record.phase is not ActionPhase.SUCCEEDED:
            record.phase = ActionPhase.SUCCEEDED
        self._finished[action_id.name] = result
        return result

    async def _run_cached(
        self,
        task: AsyncFunctionTaskTemplate[Any, Any],
        action_id: ActionID,
        inputs: dict[str, Any],
        literals: dict[str, Literal],
        record: ActionRecord,
        group: str | None,
    ) -> Any:
        from flyte.types._hashing import cache_key, hash_inputs

        assert self.cache is not None
        facts = _cache_facts(task, _facts_for(task))
        ignored = task.cache.ignored_inputs
        kept = {name: literal for name, literal in literals.items() if name not in ignored} if ignored else literals
        key = cache_key(hash_inputs(kept), task.name, facts.typed_interface, facts.cache_version)
        if self.settings.cache_lookup_scope == "project-domain":
            key = f"{self.settings.project or ''}/{self.settings.domain or ''}/{key}"
        if not task.cache.serialize:
            return await self._lookup_or_run(task, action_id, inputs, record, group, key)
        lock = self._serialized_keys.setdefault(key, asyncio.Lock())
        async with lock:
            return await self._lookup_or_run(task, action_id, inputs, record, group, key)

    async def _lookup_or_run(
        self,
        task: AsyncFunctionTaskTemplate[Any, Any],
        action_id: ActionID,
        inputs: dict[str, Any],
        record: ActionRecord,
        group: str | None,
        key: str,
    ) -> Any:
        from flyteidl2.task.common_pb2 import NamedLiteral, Outputs

        from flyte.types._interface import convert_literals_to_outputs, convert_outputs_for_caller

        assert self.cache is not None
        interface = _facts_for(task).interface
        if not self.settings.overwrite_cache:
            stored = self.cache.get(key, max_age_seconds=task.cache.max_age_seconds)
            if stored is not None:
                outputs = Outputs.FromString(stored)
                record.cache_status = "CACHE_HIT"
                record.phase = ActionPhase.SUCCEEDED
                return await convert_literals_to_outputs(interface, {n.name: n.value for n in outputs.literals})
        result = await self._run_attempts(task, action_id, inputs, record, group)
        result, output_literals = await convert_outputs_for_caller(interface, result, task_name=task.name)
        blob = Outputs(literals=[NamedLiteral(name=name, value=value) for name, value in output_literals.items()])
        self.cache.put(key, blob.SerializeToString(deterministic=True), task_name=task.name)
        record.cache_status = "CACHE_POPULATED"
        return result

    async def _checked_outputs(self, task: AsyncFunctionTaskTemplate[Any, Any], result: Any) -> Any:
        """The task's result as its caller receives it: checked against the declared outputs, and
        read back from its literals where a transformer coerced it, as a remote run would."""
        from flyte.types._interface import check_outputs

        return await check_outputs(_facts_for(task).interface, result, task_name=task.name)

    async def _run_attempts(
        self,
        task: AsyncFunctionTaskTemplate[Any, Any],
        action_id: ActionID,
        inputs: dict[str, Any],
        record: ActionRecord,
        group: str | None,
    ) -> Any:
        timeout = task.timeout.max_runtime_seconds if task.timeout is not None else None
        deadline = task.timeout.deadline_seconds if task.timeout is not None else None
        started = time.monotonic()
        attempt = 0
        while True:
            record.attempts = attempt + 1
            record.phase = ActionPhase.RUNNING
            limit = timeout
            if deadline is not None:
                remaining = deadline - (time.monotonic() - started)
                limit = remaining if limit is None else min(limit, remaining)
            try:
                return await self._run_attempt(task, action_id, inputs, attempt, group, limit)
            except asyncio.CancelledError:
                raise
            except Exception as raw:
                error = self._classify(task, action_id, raw, limit, timeout)
                final = isinstance(raw, NonRecoverableError) or type(error) in (TaskTimeoutError, ActionAbortedError)
                if final or attempt >= task.retries.count:
                    if error is raw:
                        raise
                    raise error from raw
                attempt += 1
                delay = task.retries.delay_for(attempt)
                if delay > 0:
                    await asyncio.sleep(delay)

    def _classify(
        self,
        task: AsyncFunctionTaskTemplate[Any, Any],
        action_id: ActionID,
        raw: Exception,
        limit: float | None,
        timeout: float | None,
    ) -> BaseRuntimeError:
        if isinstance(raw, asyncio.TimeoutError) and limit is not None and not isinstance(raw, BaseRuntimeError):
            which = "timeout" if timeout is not None and limit >= timeout else "deadline"
            return TaskTimeoutError(
                f"Task {task.name} (action {action_id.name}) exceeded its {which} of {limit:g}s.",
                worker=action_id.name,
            )
        return to_runtime_error(raw, action_id.name)

    async def _run_attempt(
        self,
        task: AsyncFunctionTaskTemplate[Any, Any],
        action_id: ActionID,
        inputs: dict[str, Any],
        attempt: int,
        group: str | None,
        limit: float | None,
    ) -> Any:
        from flyte._custom_context import get_custom_context
        from flyte.report import Report

        settings = self.settings
        output_path = f"{settings.run_base_dir}/{action_id.name}/{attempt + 1}"
        task_context = TaskContext(
            action=action_id,
            version=settings.version,
            raw_data_path=RawDataPath(settings.raw_data_path),
            output_path=output_path,
            run_base_dir=settings.run_base_dir,
            report=Report(name=action_id.name),
            mode="local",
            attempt_number=attempt,
            group_data=GroupData(group) if group else None,
            custom_context={**settings.custom_context, **get_custom_context()},
            run_start_time=self._run_start,
            task_name=task.name,
            # Each attempt saves under its own output directory and resumes from the previous one's.
            checkpoint_paths=CheckpointPaths(
                f"{settings.run_base_dir}/{action_id.name}/{attempt}/_flytecheckpoints" if attempt > 0 else None,
                f"{output_path}/_flytecheckpoints",
            ),
        )
        if os.environ.get("FLYTE_LOCAL_IMAGE_VENVS") == "1":
            from flyte._internal.venvs import use_in_process

            await asyncio.to_thread(use_in_process, task.image)
        if task.env_vars:
            os.environ.update(task.env_vars)
        state = ExecutionState(
            task_context=task_context, controller=self, loop=asyncio.get_running_loop(), calls=CallCounter()
        )
        holder = id(state.calls)
        await self._take_slot(holder)
        token = set_state(state)
        try:
            if limit is None:
                result = await task.execute(**inputs)
            else:
                if limit <= 0:
                    raise asyncio.TimeoutError
                result = await asyncio.wait_for(task.execute(**inputs), limit)
        finally:
            reset_state(token)
            self._give_slot(holder)
            self._waiting_children.pop(holder, None)
            if task.report:
                task_context.report.write_to(output_path)
        return result

    # --- max_action_concurrency ---------------------------------------------------------------

    async def _take_slot(self, holder: int) -> None:
        limit = self.settings.max_action_concurrency
        if not limit:
            return
        if self._slots is None:
            self._slots = asyncio.Semaphore(limit)
        await self._slots.acquire()
        self._holding.add(holder)

    def _give_slot(self, holder: int) -> None:
        if self._slots is not None and holder in self._holding:
            self._holding.discard(holder)
            self._slots.release()

    async def _parent_waits(self, holder: int) -> None:
        waiting = self._waiting_children.get(holder, 0)
        self._waiting_children[holder] = waiting + 1
        if waiting == 0:
            self._give_slot(holder)

    async def _parent_resumes(self, holder: int) -> None:
        waiting = self._waiting_children.get(holder, 1) - 1
        self._waiting_children[holder] = waiting
        if waiting == 0 and self._slots is not None:
            await self._slots.acquire()
            self._holding.add(holder)

    # --- traces -----------------------------------------------------------------------------

    async def replay_or_record_trace(self, state: ExecutionState, call: TraceCall) -> TraceRecord:
        """The id a trace call gets, whether it already ran in this run, and its recorded result."""
        group = state.group.name if state.group else None
        sequence = state.calls.next(f"{call.identity}:{call.inputs_key}:{group or ''}")
        action_id = state.task_context.action.new_sub_action(
            inputs_hash=call.inputs_key, task_identity=call.identity, sequence=sequence, group=group
        )
        if action_id.name in self._finished:
            return TraceRecord(action_id=action_id, replayed=True, value=self._finished[action_id.name])
        started = datetime.now(timezone.utc)
        self.records[action_id.name] = ActionRecord(
            action_id=action_id,
            task_name=call.identity,
            parent=state.task_context.action.name,
            group=group,
            phase=ActionPhase.RUNNING,
            attempts=1,
            start_time=started,
            kind="trace",
        )
        return TraceRecord(action_id=action_id, replayed=False, started_at=started)

    async def finish_trace(
        self, record: TraceRecord, *, result: Any = None, error: BaseException | None = None
    ) -> None:
        """Record the outcome of a trace call (a successful one is replayed on a parent retry)."""
        action_id = record.action_id
        action = self.records[action_id.name]
        action.end_time = datetime.now(timezone.utc)
        if error is None:
            action.phase = ActionPhase.SUCCEEDED
            self._finished[action_id.name] = result
        else:
            action.phase = ActionPhase.FAILED
            action.error = to_runtime_error(error, action_id.name) if isinstance(error, Exception) else None

    async def close(self) -> None:
        """Flush what the run wrote to the cache."""
        if self.cache is not None:
            self.cache.flush()


def _failure_phase(error: BaseRuntimeError) -> ActionPhase:
    if isinstance(error, TaskTimeoutError):
        return ActionPhase.TIMED_OUT
    if isinstance(error, ActionAbortedError):
        return ActionPhase.ABORTED
    return ActionPhase.FAILED


def callable_name(func: Callable[..., Any]) -> str:
    """``module.qualname`` of a function, the identity traces are named by."""
    return f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', repr(func))}"

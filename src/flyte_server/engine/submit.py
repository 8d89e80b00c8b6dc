"""New work: runs (``CreateRun``), child and trace actions (``EnqueueAction`` / ``Enqueue``), aborts.

Requests are validated before anything changes; every error is a ``ConnectError`` with the code
the SDK branches on (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, ABORTED, FAILED_PRECONDITION).
Enqueue is idempotent: an action that exists is not created or launched again, and its current
state is published once more so a waiting controller hears about it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.common import identifier_pb2
from flyteidl2.task import common_pb2, run_pb2, task_definition_pb2
from flyteidl2.workflow import run_definition_pb2, run_service_pb2
from google.protobuf.message import DecodeError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from flyte_server.engine.cache import root_cache_key
from flyte_server.engine.details import error_from_bytes, run_from_row, timestamp
from flyte_server.engine.locations import check_location
from flyte_server.engine.model import (
    ABORTED,
    CACHE_DISABLED,
    QUEUED,
    ROOT_ACTION,
    SUCCEEDED,
    TASK,
    TRACE,
    ActionKey,
    ActionState,
    RunState,
    is_terminal,
    now_us,
)
from flyte_server.engine.recovered import recovering, reuse_recovered
from flyte_server.engine.watch import ActionEvent
from flyte_server.engine.writer import Statements, WriteOp
from flyte_server.store import runs as store
from flyte_server.store import tasks as task_store
from flyte_server.store.projects import project_exists

if TYPE_CHECKING:
    from flyte_server.engine import Engine

logger = logging.getLogger(__name__)

__all__ = ["SubmitService", "check_name"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}$")
_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$")
_RUN_NAME_ALPHABET = string.ascii_lowercase + string.digits


def check_name(value: str, what: str, *, pattern: re.Pattern[str] = _NAME) -> str:
    """``value`` when it is a usable name (it becomes a path component), else INVALID_ARGUMENT."""
    if not value:
        raise ConnectError(Code.INVALID_ARGUMENT, f"{what} is required")
    if not pattern.match(value) or ".." in value:
        raise ConnectError(
            Code.INVALID_ARGUMENT,
            f"{what} {value!r} is not valid: use letters, digits, '-', '_' and '.', starting with a letter or digit",
        )
    return value


def new_run_name() -> str:
    """``r`` + 19 random lowercase letters and digits, as Flyte names runs."""
    return "r" + "".join(secrets.choice(_RUN_NAME_ALPHABET) for _ in range(19))


def _check_task_spec(spec: task_definition_pb2.TaskSpec, what: str) -> None:
    template = spec.task_template
    if not spec.HasField("task_template") or not template.id.name:
        raise ConnectError(Code.INVALID_ARGUMENT, f"{what} has no task template (with an id)")
    if not template.HasField("container"):
        raise ConnectError(
            Code.INVALID_ARGUMENT, f"{what}: task {template.id.name!r} has no container; only container tasks can run"
        )


def _task_columns(spec: task_definition_pb2.TaskSpec) -> dict[str, Any]:
    template = spec.task_template
    return {
        "task_project": template.id.project,
        "task_domain": template.id.domain,
        "task_name": template.id.name,
        "task_version": template.id.version,
        "task_type": template.type,
        "short_name": spec.short_name or template.id.name.rsplit(".", 1)[-1],
        "environment_name": spec.environment.name,
        "function_name": template.id.name.rsplit(".", 1)[-1],
    }


@dataclass
class _ResolvedTask:
    spec: task_definition_pb2.TaskSpec
    trigger_name: str = ""
    trigger_inputs: common_pb2.Inputs | None = None
    trigger_offloaded: str = ""
    trigger_run_spec: run_pb2.RunSpec | None = None


class SubmitService:
    """CreateRun, Enqueue and Abort on top of the engine's state machine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ runs

    async def create_run(self, request: run_service_pb2.CreateRunRequest) -> run_definition_pb2.Run:
        engine = self.engine
        which = request.WhichOneof("id")
        if which == "run_id":
            project, domain = request.run_id.project, request.run_id.domain
            name = check_name(request.run_id.name, "run_id.name", pattern=_RUN_NAME)
        elif which == "project_id":
            project, domain = request.project_id.name, request.project_id.domain
            name = new_run_name()
        else:
            raise ConnectError(Code.INVALID_ARGUMENT, "CreateRun needs run_id or project_id")
        check_name(project, "project")
        check_name(domain, "domain")
        async with engine.database.session() as session:
            if not await project_exists(session, project, domain):
                raise ConnectError(Code.NOT_FOUND, f"project {project!r} (domain {domain!r}) does not exist")
            resolved = await self._resolve_task(session, request, project, domain)
            if await store.get_action(session, ActionKey(project, domain, name, ROOT_ACTION)) is not None:
                raise ConnectError(Code.ALREADY_EXISTS, f"run {name!r} already exists in {project}/{domain}")
        _check_task_spec(resolved.spec, "the task")

        run_spec = run_pb2.RunSpec()
        if request.HasField("run_spec"):
            run_spec.CopyFrom(request.run_spec)
        elif resolved.trigger_run_spec is not None:
            run_spec.CopyFrom(resolved.trigger_run_spec)
        start = now_us()
        if request.HasField("run_start_time"):
            start = request.run_start_time.seconds * 1_000_000 + request.run_start_time.nanos // 1000
        elif run_spec.HasField("run_start_time"):
            start = run_spec.run_start_time.seconds * 1_000_000 + run_spec.run_start_time.nanos // 1000
        start -= start % 1_000_000
        run_spec.run_start_time.CopyFrom(timestamp(start))

        base = engine.run_output_base(project, domain, name, run_spec)
        input_uri, inputs_hash = await self._root_inputs(request, resolved, spec=resolved.spec, base=base)
        template = resolved.spec.task_template
        cache_key = ""
        if template.metadata.discoverable:
            cache_key = root_cache_key(resolved.spec, inputs_hash)
        key = ActionKey(project, domain, name, ROOT_ACTION)
        if key in engine.machine.creating or key.run_key in engine.machine.runs:
            raise ConnectError(Code.ALREADY_EXISTS, f"run {name!r} already exists in {project}/{domain}")
        stamp = now_us()
        run = RunState(project=project, domain=domain, name=name, run_spec=run_spec, start_us=start)
        a = ActionState(
            key=key,
            run=run,
            parent="",
            group="",
            kind=TASK,
            phase=QUEUED,
            attempt=1,
            spec=resolved.spec,
            spec_digest="",
            input_uri=input_uri,
            run_output_base=base,
            env={pair.key: pair.value for pair in run_spec.envs.values},
            created_us=stamp,
            queued_us=stamp,
            cache_key=cache_key,
            cache_status=CACHE_DISABLED,
        )
        spec_bytes = resolved.spec.SerializeToString(deterministic=True)
        a.spec_digest = store.spec_digest(spec_bytes)
        values = self._row_values(a)
        values.update(
            run_spec=run_spec.SerializeToString(),
            run_start_us=start,
            source=int(request.source),
            trigger_name=resolved.trigger_name,
        )
        labels = dict(run_spec.labels.values)

        async def op(session: AsyncSession) -> None:
            await store.put_task_spec(session, spec_bytes)
            await store.insert_action(session, values)
            if labels:
                await store.set_run_labels(session, project, domain, name, labels)
            if engine.replicas is not None:
                await engine.replicas.claim(session, run.key)

        engine.machine.creating.add(key)
        try:
            engine.machine.runs[run.key] = run
            engine.machine.register(a)
            try:
                await engine.writer.write(op, [_event(a)])
            except IntegrityError as error:
                engine.machine.finish_registration_failed(a)
                raise ConnectError(Code.ALREADY_EXISTS, f"run {name!r} already exists in {project}/{domain}") from error
        finally:
            engine.machine.creating.discard(key)
        engine.scheduler.submit(a)
        async with engine.database.session() as session:
            row = await store.get_action(session, key)
        assert row is not None
        return run_from_row(row, labels)

    async def _resolve_task(
        self, session: AsyncSession, request: run_service_pb2.CreateRunRequest, project: str, domain: str
    ) -> _ResolvedTask:
        which = request.WhichOneof("task")
        if which == "task_spec":
            return _ResolvedTask(spec=request.task_spec)
        if which == "task_id":
            return _ResolvedTask(spec=await self.deployed_spec(session, request.task_id, project, domain))
        if which == "trigger_name":
            return await self._resolve_trigger(session, request.trigger_name, project, domain)
        raise ConnectError(Code.INVALID_ARGUMENT, "CreateRun needs task_spec, task_id or trigger_name")

    async def deployed_spec(
        self, session: AsyncSession, task_id: task_definition_pb2.TaskIdentifier, project: str, domain: str
    ) -> task_definition_pb2.TaskSpec:
        """The TaskSpec of a deployed task version (NOT_FOUND when there is none)."""
        if not task_id.name or not task_id.version:
            raise ConnectError(Code.INVALID_ARGUMENT, "task_id needs a name and a version")
        key = task_store.TaskKey(task_id.project or project, task_id.domain or domain, task_id.name, task_id.version)
        row = await task_store.get_task(session, key)
        if row is None:
            raise ConnectError(
                Code.NOT_FOUND,
                f"task {key.name!r} version {key.version!r} is not deployed in {key.project}/{key.domain}",
            )
        return task_definition_pb2.TaskSpec.FromString(row.spec)

    async def _resolve_trigger(
        self, session: AsyncSession, trigger: identifier_pb2.TriggerName, project: str, domain: str
    ) -> _ResolvedTask:
        from flyte_server.store.triggers import TriggerNotFoundError, resolve_trigger

        if not trigger.name:
            raise ConnectError(Code.INVALID_ARGUMENT, "trigger_name.name is required")
        try:
            task_id, spec = await resolve_trigger(session, project, domain, trigger)
        except TriggerNotFoundError as error:
            raise ConnectError(Code.NOT_FOUND, str(error)) from error
        resolved = _ResolvedTask(
            spec=await self.deployed_spec(session, task_id, project, domain), trigger_name=trigger.name
        )
        if spec.HasField("inputs"):
            resolved.trigger_inputs = spec.inputs
        elif spec.HasField("offloaded_input_data"):
            resolved.trigger_offloaded = spec.offloaded_input_data.uri
        if spec.HasField("run_spec"):
            resolved.trigger_run_spec = spec.run_spec
        return resolved

    async def _root_inputs(
        self,
        request: run_service_pb2.CreateRunRequest,
        resolved: _ResolvedTask,
        *,
        spec: task_definition_pb2.TaskSpec,
        base: str,
    ) -> tuple[str, str]:
        """The root's inputs.pb URI and inputs hash (writing inline inputs under the run's base)."""
        engine = self.engine
        which = request.WhichOneof("input_wrapper")
        if which == "offloaded_input_data":
            offloaded = request.offloaded_input_data
            if not offloaded.uri:
                raise ConnectError(Code.INVALID_ARGUMENT, "offloaded_input_data.uri is required")
            project_prefix = request_project(request)
            check_location(engine.blobs, offloaded.uri, prefix=project_prefix, what="offloaded_input_data.uri")
            uri = offloaded.uri.rstrip("/") + "/inputs.pb"
            if offloaded.inputs_hash:
                return uri, offloaded.inputs_hash
            data = await engine.data.read(uri)
            if data is None:
                raise ConnectError(Code.INVALID_ARGUMENT, f"the offloaded inputs {uri} do not exist")
            return uri, engine.inputs_hash(_parse_inputs(data), spec)
        if which == "inputs":
            inputs = request.inputs
        elif resolved.trigger_offloaded:
            project_prefix = request_project(request)
            check_location(engine.blobs, resolved.trigger_offloaded, prefix=project_prefix, what="the trigger's inputs")
            uri = resolved.trigger_offloaded.rstrip("/") + "/inputs.pb"
            data = await engine.data.read(uri)
            if data is None:
                raise ConnectError(Code.FAILED_PRECONDITION, f"the trigger's inputs {uri} are missing")
            return uri, engine.inputs_hash(_parse_inputs(data), spec)
        elif resolved.trigger_inputs is not None:
            inputs = resolved.trigger_inputs
        else:
            inputs = common_pb2.Inputs()
        uri = f"{base}/inputs/inputs.pb"
        await engine.data.write(uri, inputs.SerializeToString(deterministic=True))
        return uri, engine.inputs_hash(inputs, spec)

    # ------------------------------------------------------------------ actions

    @staticmethod
    def _row_values(a: ActionState) -> dict[str, Any]:
        values: dict[str, Any] = {
            "project": a.key.project,
            "domain": a.key.domain,
            "run_name": a.key.run,
            "name": a.key.name,
            "parent_name": a.parent,
            "group_name": a.group,
            "action_type": a.kind,
            "phase": a.phase,
            "attempts": a.attempt,
            "cache_status": a.cache_status,
            "cache_key": a.cache_key,
            "spec_digest": a.spec_digest,
            "input_uri": a.input_uri,
            "run_output_base": a.run_output_base,
            "env": a.env_json(),
            "run_start_us": a.run.start_us,
            "created_us": a.created_us,
            "updated_us": a.created_us,
            "queued_us": a.queued_us,
        }
        if a.spec is not None:
            values.update(_task_columns(a.spec))
        return values

    async def enqueue(
        self,
        *,
        action_id: identifier_pb2.ActionIdentifier,
        parent_name: str,
        input_uri: str,
        run_output_base: str,
        group: str,
        spec_kind: str | None,
        task: run_definition_pb2.TaskAction | None = None,
        trace: run_definition_pb2.TraceAction | None = None,
        condition: run_definition_pb2.ConditionAction | None = None,
    ) -> None:
        """Record a child (task, trace or condition) of a running action; launch it if it is a task."""
        engine = self.engine
        machine = engine.machine
        run_id = action_id.run
        check_name(run_id.project, "action_id.run.project")
        check_name(run_id.domain, "action_id.run.domain")
        check_name(run_id.name, "action_id.run.name")
        check_name(action_id.name, "action_id.name")
        if spec_kind not in ("task", "trace", "condition"):
            raise ConnectError(Code.INVALID_ARGUMENT, "the action needs a task, a trace or a condition")
        if not parent_name:
            raise ConnectError(Code.INVALID_ARGUMENT, "parent_action_name is required for a child action")
        key = ActionKey(run_id.project, run_id.domain, run_id.name, action_id.name)
        if key.name == ROOT_ACTION:
            raise ConnectError(Code.INVALID_ARGUMENT, "a0 is the root action; it is created by CreateRun")
        run = machine.runs.get(key.run_key)
        # A run another replica drives: its row goes to the store and its owner picks it up.
        remote = await engine.replicas.elsewhere(key, parent_name) if run is None and engine.replicas else None
        owner = ""
        if remote is not None:
            owner, run, parent, exists = remote
            if exists:
                await self._republish(key)
                return
            if spec_kind == "condition":
                raise ConnectError(
                    Code.UNAVAILABLE, f"send condition actions of run {key.run!r} to the replica that runs it"
                )
        elif run is None:
            await self._reject_inactive_run(key)
            raise AssertionError("unreachable")
        elif key.name in run.known or key in machine.creating:
            await self._republish(key)
            return
        else:
            found = machine.actions.get(ActionKey(*key.run_key, parent_name))
            if found is None:
                raise ConnectError(
                    Code.FAILED_PRECONDITION if parent_name in run.known else Code.NOT_FOUND,
                    f"parent action {parent_name!r} of run {key.run!r} is not running",
                )
            parent = found
        if spec_kind == "trace":
            assert trace is not None
            await self._record_trace(key, run, parent, trace, group=group, input_uri=input_uri, owner=owner)
            return
        if spec_kind == "condition":
            assert condition is not None
            await engine.conditions.enqueue(key, run, parent, condition, group=group, input_uri=input_uri)
            return
        assert task is not None
        _check_task_spec(task.spec, f"action {key.name}")
        run_prefix = f"{key.project}/{key.domain}/{key.run}"
        check_location(engine.blobs, input_uri, prefix=run_prefix, what="input_uri", inline=True, required=True)
        check_location(engine.blobs, run_output_base, prefix=run_prefix, what="run_output_base")
        stamp = now_us()
        a = ActionState(
            key=key,
            run=run,
            parent=parent_name,
            group=group,
            kind=TASK,
            phase=QUEUED,
            attempt=1,
            spec=task.spec,
            spec_digest="",
            input_uri=input_uri,
            run_output_base=run_output_base or parent.run_output_base,
            env=dict(parent.env),
            created_us=stamp,
            queued_us=stamp,
            cache_key=task.cache_key.value if task.HasField("cache_key") else "",
        )
        spec_bytes = task.spec.SerializeToString(deterministic=True)
        a.spec_digest = store.spec_digest(spec_bytes)
        values = self._row_values(a)
        if task.id.name:
            values.update(
                task_project=task.id.project,
                task_domain=task.id.domain,
                task_name=task.id.name,
                task_version=task.id.version,
            )
        if not owner and recovering(run):
            reused = await reuse_recovered(
                engine, key, run, parent, task, group=group, input_uri=input_uri, values=values
            )
            if reused:
                return
        known_spec = engine.known_specs
        op: WriteOp
        if owner:
            try:
                await engine.writer.write(self._for_owner(owner, key, spec_bytes, values), [_event(a)])
            except IntegrityError:
                await self._republish(key)
            return
        if a.spec_digest in known_spec:
            op = Statements([store.action_insert(values)])
        else:

            async def op(session: AsyncSession) -> None:
                if a.spec_digest not in known_spec:
                    await store.put_task_spec(session, spec_bytes)
                await store.insert_action(session, values)

        machine.creating.add(key)
        try:
            machine.register(a)
            try:
                await engine.writer.write(op, [_event(a)])
            except IntegrityError:
                machine.finish_registration_failed(a)
                await self._republish(key)
                return
        finally:
            machine.creating.discard(key)
        known_spec.add(a.spec_digest)
        if machine.is_current(a):
            engine.scheduler.submit(a)

    def _for_owner(self, owner: str, key: ActionKey, spec: bytes | None, values: dict[str, Any]) -> WriteOp:
        """The write of a new action of a run that replica ``owner`` drives (it is told through its inbox)."""
        replicas = self.engine.replicas
        assert replicas is not None

        async def op(session: AsyncSession) -> None:
            if spec is not None:
                await store.put_task_spec(session, spec)
            await store.insert_action(session, values)
            await replicas.hand_over(session, owner, key)

        return op

    async def _record_trace(
        self,
        key: ActionKey,
        run: RunState,
        parent: ActionState,
        trace: run_definition_pb2.TraceAction,
        *,
        group: str,
        input_uri: str,
        owner: str = "",
    ) -> None:
        engine = self.engine
        run_prefix = f"{key.project}/{key.domain}/{key.run}"
        check_location(engine.blobs, input_uri, prefix=run_prefix, what="input_uri", inline=True)
        outputs = trace.outputs
        check_location(engine.blobs, outputs.output_uri, prefix=run_prefix, what="outputs.output_uri", inline=True)
        check_location(engine.blobs, trace.outputs.report_uri, prefix=run_prefix, what="outputs.report_uri")
        stamp = now_us()
        phase = int(trace.phase) or SUCCEEDED
        start = (
            trace.start_time.seconds * 1_000_000 + trace.start_time.nanos // 1000
            if trace.HasField("start_time")
            else stamp
        )
        end = trace.end_time.seconds * 1_000_000 + trace.end_time.nanos // 1000 if trace.HasField("end_time") else stamp
        values: dict[str, Any] = {
            "project": key.project,
            "domain": key.domain,
            "run_name": key.run,
            "name": key.name,
            "parent_name": parent.key.name,
            "group_name": group,
            "action_type": TRACE,
            "phase": phase,
            "attempts": 1,
            "function_name": trace.name,
            "short_name": trace.name,
            "trace_spec": trace.spec.SerializeToString(),
            "input_uri": input_uri,
            "run_output_base": parent.run_output_base,
            "output_uri": trace.outputs.output_uri,
            "report_uri": trace.outputs.report_uri,
            "env": "{}",
            "run_start_us": run.start_us,
            "created_us": start,
            "updated_us": stamp,
            "queued_us": start,
            "ended_us": end if is_terminal(phase) else 0,
        }
        event = ActionEvent(
            key=key,
            parent=parent.key.name,
            phase=phase,
            attempt=1,
            action_type=TRACE,
            output_uri=trace.outputs.output_uri,
        )

        async def op(session: AsyncSession) -> None:
            await store.insert_action(session, values)

        if owner:
            try:
                await engine.writer.write(self._for_owner(owner, key, None, values), [event])
            except IntegrityError:
                await self._republish(key)
            return
        run.known.add(key.name)
        engine.machine.creating.add(key)
        try:
            await engine.writer.write(op, [event])
        except IntegrityError:
            await self._republish(key)
        finally:
            engine.machine.creating.discard(key)

    async def _republish(self, key: ActionKey) -> None:
        """Tell the parent's watchers the current state of an existing action once more."""
        engine = self.engine
        a = engine.machine.actions.get(key)
        if a is not None:
            if key not in engine.machine.creating:
                engine.hub.publish(_event(a))
            return
        async with engine.database.session() as session:
            row = await store.get_action(session, key)
        if row is not None:
            error = error_from_bytes(row.error_info) if row.phase != ABORTED else None
            engine.hub.publish(
                ActionEvent(
                    key=key,
                    parent=row.parent_name,
                    phase=row.phase,
                    attempt=row.attempts,
                    action_type=row.action_type,
                    output_uri=row.output_uri,
                    error=error,
                    cache_status=row.cache_status,
                )
            )

    async def _reject_inactive_run(self, key: ActionKey) -> None:
        async with self.engine.database.session() as session:
            root = await store.get_action(session, ActionKey(*key.run_key, ROOT_ACTION))
            existing = await store.get_action(session, key)
        if root is None:
            raise ConnectError(Code.NOT_FOUND, f"run {key.run!r} does not exist in {key.project}/{key.domain}")
        if existing is not None:
            await self._republish(key)
            raise ConnectError(Code.ALREADY_EXISTS, f"action {key.name!r} already exists")
        if root.abort_requested:
            raise ConnectError(Code.ABORTED, f"run {key.run!r} was aborted")
        raise ConnectError(Code.FAILED_PRECONDITION, f"run {key.run!r} has already finished")

    # ------------------------------------------------------------------ aborts

    async def abort(self, key: ActionKey, reason: str) -> None:
        """Abort an action and its descendants (nothing when it already ended)."""
        engine = self.engine
        a = engine.machine.actions.get(key)
        if a is not None:
            aborting = asyncio.ensure_future(engine.machine.abort(a, reason or "aborted"))
            while not aborting.done():
                await asyncio.wait({aborting}, timeout=_ABORT_CHECK_SECONDS)
                if not aborting.done() and engine.machine.writer.stalled:
                    # In effect now (its processes are stopped); the store takes it once it has space.
                    engine.machine.spawn(_settle(aborting), name=f"abort-{key}")
                    return
            aborting.result()
            return
        async with engine.database.session() as session:
            row = await store.get_action(session, key)
        if row is None:
            raise ConnectError(Code.NOT_FOUND, f"action {key.name!r} of run {key.run!r} does not exist")
        if engine.replicas is not None and not is_terminal(row.phase):
            # Another replica drives the run: record the abort for it to carry out.
            owner = await engine.replicas.owner_elsewhere(key.run_key)
            if owner is not None:
                await engine.replicas.request_abort(key, owner, reason or "aborted")


_ABORT_CHECK_SECONDS = 1.0
"""How often an abort that waits for its commit checks whether the store is full."""


async def _settle(task: asyncio.Future[None]) -> None:
    try:
        await task
    except Exception as error:  # nobody waits for it any more: say what became of it
        logger.error("a queued abort could not be written: %s", error)


def _parse_inputs(data: bytes) -> common_pb2.Inputs:
    try:
        return common_pb2.Inputs.FromString(data)
    except DecodeError as error:
        raise ConnectError(Code.INVALID_ARGUMENT, "the inputs are not a flyteidl2.task.Inputs message") from error


def _event(a: ActionState) -> ActionEvent:
    return ActionEvent(
        key=a.key,
        parent=a.parent,
        phase=a.phase,
        attempt=a.attempt,
        action_type=a.kind,
        output_uri=a.output_dir() if a.kind == TASK else "",
        cache_status=a.cache_status,
    )


def request_project(request: run_service_pb2.CreateRunRequest) -> str:
    """``<project>/<domain>`` of a CreateRun request (checked by the caller already)."""
    if request.WhichOneof("id") == "run_id":
        return f"{request.run_id.project}/{request.run_id.domain}"
    return f"{request.project_id.name}/{request.project_id.domain}"

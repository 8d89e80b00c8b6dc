"""The remote controller: inside a task process, every task call becomes an action on the backend.

For a call ``await child(x)`` (PROTOCOL.md §3.c, "Nested actions"):

1. the child's name is derived as in local mode (parent, inputs hash, task, call sequence, group),
   so a retried parent computes the same names;
2. if the parent's watch snapshot already holds that child (an earlier attempt launched it), its
   outcome is reused; otherwise the controller writes ``{run base}/{child}/inputs.pb`` and
   enqueues the child with its full ``TaskSpec`` (and cache key when the task is cached). A backend
   that sets ``_F_INLINE_INPUTS_MAX`` (``flyte start server``) takes inputs up to that size inline,
   as a ``data:`` URI in ``input_uri``: no file per child;
3. it waits for the child's terminal update and returns its outputs or raises its error;
4. a cancelled wait aborts the child.

``@flyte.trace`` calls run in the parent; their inputs and outputs are written under the run base
and recorded as trace actions, which a retried parent replays instead of calling again.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError

from flyte._context import ExecutionState, current_state
from flyte._internal import parking
from flyte._internal.controllers import TraceCall, TraceRecord
from flyte._internal.controllers.remote._informer import Informer
from flyte._internal.runtime import storage
from flyte.errors import BaseRuntimeError, RuntimeDataValidationError, RuntimeSystemError

if TYPE_CHECKING:
    from flyteidl2.common import identifier_pb2
    from flyteidl2.core import literals_pb2
    from flyteidl2.task import task_definition_pb2
    from flyteidl2.workflow import state_service_pb2

    from flyte._internal.controllers.remote._service import ActionService
    from flyte._internal.serde import CodeBundle, SerializationContext
    from flyte._task import AsyncFunctionTaskTemplate
    from flyte.models import ActionID
    from flyte.types._interface import NativeInterface

__all__ = ["RemoteController"]

logger = logging.getLogger("flyte")

_SUCCEEDED, _FAILED, _ABORTED, _TIMED_OUT, _RECOVERED = 5, 6, 7, 8, 10


def action_id_to_proto(action: ActionID) -> identifier_pb2.ActionIdentifier:
    """The wire id of an action."""
    from flyteidl2.common import identifier_pb2

    return identifier_pb2.ActionIdentifier(
        run=identifier_pb2.RunIdentifier(
            org=action.org or "", project=action.project or "", domain=action.domain or "", name=action.run_name or ""
        ),
        name=action.name,
    )


_SUBMITS_IN_FLIGHT = 32
"""Child calls of one action that prepare and enqueue at once (the rest wait their turn)."""
_ENQUEUE_ATTEMPTS = 5
"""How often an enqueue that timed out is sent (it is idempotent)."""


@dataclass
class _PendingTrace:
    parent: ActionID
    group: str
    name: str
    interface: NativeInterface | None
    input_literals: dict[str, literals_pb2.Literal]


class RemoteController:
    """Submits the children of the action running in this process to the control plane.

    Args:
        service: the backend path (``QueueStateService`` or ``ActionsServiceAdapter``).
        serialization: version, code bundle and images of the running action; children are
            serialised with them.
        run_base_dir: the run's output base (``_U_RUN_BASE``); child inputs and trace data go there.
        trace_echo_timeout: how long to wait for the backend to echo a recorded trace.

    Example:
        >>> service = QueueStateService(clients)  # doctest: +SKIP
        >>> controller = RemoteController(service, serialization=ctx, run_base_dir=base)  # doctest: +SKIP
    """

    supports_inline_traces = False

    def __init__(
        self,
        service: ActionService,
        *,
        serialization: SerializationContext,
        run_base_dir: str | None,
        sentinel_timeout: float = 5.0,
        trace_echo_timeout: float = 60.0,
    ) -> None:
        self.service = service
        self.serialization = serialization
        self.run_base_dir = run_base_dir
        self.sentinel_timeout = sentinel_timeout
        self.trace_echo_timeout = trace_echo_timeout
        self._informers: dict[tuple[str, str], Informer] = {}
        self._specs: weakref.WeakKeyDictionary[Any, task_definition_pb2.TaskSpec] = weakref.WeakKeyDictionary()
        self._submitting = asyncio.Semaphore(_SUBMITS_IN_FLIGHT)

    # --- plumbing -------------------------------------------------------------------------

    def _base(self) -> str:
        if not self.run_base_dir:
            raise RuntimeSystemError(
                "MissingRunBase",
                "This task calls other tasks, but its run output base is unknown; the backend must set _U_RUN_BASE",
            )
        return self.run_base_dir

    async def _informer(self, parent: ActionID) -> Informer:
        key = (parent.run_name or "", parent.name)
        informer = self._informers.get(key)
        if informer is None:
            informer = Informer(self.service, action_id_to_proto(parent), sentinel_timeout=self.sentinel_timeout)
            self._informers[key] = informer
        await informer.start()
        return informer

    async def _enqueue(self, child: ActionID, **fields: Any) -> None:
        # Enqueueing is idempotent (the name is deterministic and an existing action counts as
        # enqueued), so a call that timed out on a busy server is simply sent again: failing here
        # would fail the parent attempt, and its retry would find the children it had started.
        delay = 1.0
        for attempt in range(_ENQUEUE_ATTEMPTS):
            try:
                await self.service.enqueue(action_id=action_id_to_proto(child), **fields)
                return
            except ConnectError as error:
                if error.code != Code.DEADLINE_EXCEEDED or attempt == _ENQUEUE_ATTEMPTS - 1:
                    raise RuntimeSystemError(
                        "EnqueueFailed", f"Could not enqueue action {child.name}: {error}"
                    ) from error
                logger.warning("Enqueueing action %s timed out; sending it again", child.name)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _spec(self, task: AsyncFunctionTaskTemplate[Any, Any]) -> task_definition_pb2.TaskSpec:
        spec = self._specs.get(task)
        if spec is None:
            from dataclasses import replace

            from flyte._internal.serde import task_to_spec

            context = self.serialization
            bundle = context.code_bundle
            if bundle is not None and bundle.pkl is not None:
                context = replace(context, code_bundle=await self._pickle_bundle(task, bundle.destination))
            spec = await task_to_spec(task, context)
            self._specs[task] = spec
        return spec

    async def _pickle_bundle(self, task: AsyncFunctionTaskTemplate[Any, Any], destination: str) -> CodeBundle:
        """Interactive runs ship each called task as its own gzipped cloudpickle under the run base."""
        import gzip
        import hashlib

        import cloudpickle

        from flyte._internal.serde import CodeBundle

        data = gzip.compress(cloudpickle.dumps(task), mtime=0)
        digest = hashlib.sha256(data).hexdigest()[:32]
        uri = storage.join(self._base(), f"{digest}.pkl.gz")
        await storage.write_bytes(uri, data)
        return CodeBundle(pkl=uri, destination=destination, computed_version=digest)

    # --- tasks ----------------------------------------------------------------------------

    async def submit(
        self, task: AsyncFunctionTaskTemplate[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Run ``task`` as a child action of the running action and return its outputs."""
        from flyteidl2.workflow import run_definition_pb2
        from google.protobuf import wrappers_pb2

        from flyte._custom_context import get_custom_context
        from flyte._internal.controllers.local import bind_inputs
        from flyte._internal.serde import inputs_to_proto
        from flyte.remote._client._clientset import cancel_requests
        from flyte.types._hashing import cache_key, hash_inputs
        from flyte.types._interface import convert_inputs_to_literals

        state = current_state()
        assert state is not None, "submit() is only called from inside a task"
        inputs = bind_inputs(task, args, kwargs)
        literals = await convert_inputs_to_literals(task.interface, inputs, task_name=task.name)
        inputs_hash = hash_inputs(literals)
        group = state.group.name if state.group else None
        sequence = state.calls.next(f"{task.name}:{inputs_hash}:{group or ''}")
        parent = state.task_context.action
        child = parent.new_sub_action(inputs_hash=inputs_hash, task_identity=task.name, sequence=sequence, group=group)
        # A fan-out enqueues in waves: each call serialises and sends while earlier ones are on the
        # wire, instead of all of them serialising before the first request leaves.
        async with self._submitting:
            informer = await self._informer(parent)
            reason = f"The parent action {parent.name} stopped waiting for it"
            if informer.get(child.name) is None:
                base = self._base()
                from flyte.storage._offload import offload_literals

                # Hashes and cache keys above use the literals themselves; only the file holds references.
                inline = await offload_literals(literals, task.max_inline_io_bytes)
                data = inputs_to_proto(inline, get_custom_context()).SerializeToString()
                limit = storage.inline_limit()
                if limit and len(data) <= limit:
                    # The backend takes small inputs in the request itself: no file to create and read back.
                    input_uri = storage.inline_uri(data)
                else:
                    input_uri = storage.join(base, child.name, "inputs.pb")
                    await storage.write_bytes(input_uri, data)
                spec = await self._spec(task)
                template = spec.task_template
                action = run_definition_pb2.TaskAction(id=_task_id(template), spec=spec, queue=task.queue or "")
                if template.metadata.discoverable:
                    ignored = set(template.metadata.cache_ignore_input_vars)
                    kept = {name: value for name, value in literals.items() if name not in ignored}
                    key = cache_key(
                        hash_inputs(kept), task.name, template.interface, template.metadata.discovery_version
                    )
                    action.cache_key.CopyFrom(wrappers_pb2.StringValue(value=key))
                cancels = cancel_requests()
                try:
                    await self._enqueue(
                        child,
                        parent_action_name=parent.name,
                        input_uri=input_uri,
                        run_output_base=base,
                        group=group or "",
                        task=action,
                    )
                except asyncio.CancelledError:
                    # The server may have taken the child before the cancellation arrived: stop it.
                    await self._abort(state, child, reason)
                    raise
                if cancel_requests() > cancels:
                    # Cancelled while the enqueue was in flight, and the transport finished it anyway.
                    await self._abort(state, child, reason)
                    raise asyncio.CancelledError()
        try:
            update = await informer.wait(child.name)
        except asyncio.CancelledError:
            await self._abort(state, child, reason)
            raise
        return await self._outcome(task, child, update)

    async def _abort(self, state: ExecutionState, child: ActionID, reason: str) -> None:
        """Abort a child the task's own code stopped waiting for.

        Not while the attempt is being torn down after its task function ended: a retry of the
        parent re-attaches to its children, and a parent that ends for good takes them with it.
        """
        if state.attempt.over:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self.service.abort(action_id_to_proto(child), reason)), 5.0)
        except (ConnectError, asyncio.TimeoutError) as error:
            logger.warning("Could not abort action %s: %s", child.name, error)

    async def _outcome(
        self, task: AsyncFunctionTaskTemplate[Any, Any], child: ActionID, update: state_service_pb2.ActionUpdate
    ) -> Any:
        from flyteidl2.task import common_pb2

        from flyte._internal.serde import (
            aborted_error,
            exception_from_execution_error,
            outputs_from_proto,
            timeout_error_from_code,
        )
        from flyte.types._interface import convert_literals_to_outputs

        phase = update.phase
        if phase in (_SUCCEEDED, _RECOVERED):
            if not task.interface.outputs:
                return None
            uri = _outputs_file(update.output_uri)
            try:
                outputs = common_pb2.Outputs.FromString(await storage.read_bytes(uri))
            except FileNotFoundError as error:
                raise RuntimeSystemError(
                    "OutputsNotFound", f"Action {child.name} succeeded but its outputs are missing at {uri}"
                ) from error
            return await convert_literals_to_outputs(task.interface, outputs_from_proto(outputs), task_name=task.name)
        failure: BaseRuntimeError
        if phase == _FAILED:
            if update.HasField("error"):
                failure = exception_from_execution_error(update.error, worker=child.name)
            else:
                failure = await self._error_from_file(child, update.output_uri)
        elif phase == _ABORTED:
            failure = aborted_error(update.error.message if update.HasField("error") else "", worker=child.name)
        elif phase == _TIMED_OUT:
            failure = timeout_error_from_code(update.error.code, update.error.message, worker=child.name)
        else:
            failure = RuntimeSystemError(
                "UnexpectedPhase", f"Action {child.name} ended in unexpected phase {phase}", child.name
            )
        raise failure

    async def _error_from_file(self, child: ActionID, output_uri: str) -> BaseRuntimeError:
        """The error of a failed child whose update carried none: its attempt's ``error.pb``."""
        from flyteidl2.core import execution_pb2

        from flyte._internal.serde import exception_from_error_document

        directory = output_uri or storage.join(self._base(), child.name, "1")
        uri = storage.join(directory, "error.pb")
        try:
            document = execution_pb2.ErrorDocument.FromString(await storage.read_bytes(uri))
        except FileNotFoundError:
            return RuntimeSystemError(
                "MissingErrorDocument", f"Action {child.name} failed without an error document", child.name
            )
        return exception_from_error_document(document, worker=child.name)

    # --- conditions -----------------------------------------------------------------------

    async def register_condition(self, state: ExecutionState, condition: Any) -> None:
        """Enqueue a condition action under the running action (``flyte.new_condition``)."""
        from datetime import timedelta

        from flyteidl2.core import types_pb2
        from flyteidl2.workflow import run_definition_pb2

        parent = state.task_context.action
        group = state.group.name if state.group else None
        sequence = state.calls.next(f"condition:{condition.name}:{group or ''}")
        child = parent.new_sub_action(
            inputs_hash=condition.name, task_identity=condition.name, sequence=sequence, group=group
        )
        simple = {
            bool: types_pb2.BOOLEAN,
            int: types_pb2.INTEGER,
            float: types_pb2.FLOAT,
            str: types_pb2.STRING,
        }[condition.data_type]
        spec = run_definition_pb2.ConditionAction(
            name=condition.name,
            type=types_pb2.LiteralType(simple=simple),
            prompt=condition.prompt,
            description=condition.description,
            prompt_type=(
                run_definition_pb2.CONDITION_PROMPT_TYPE_MARKDOWN
                if condition.prompt_type == "markdown"
                else run_definition_pb2.CONDITION_PROMPT_TYPE_TEXT
            ),
        )
        if condition._timeout_seconds:
            spec.timeout.FromTimedelta(timedelta(seconds=condition._timeout_seconds))
        if condition.webhook is not None:
            spec.webhook.url = condition.webhook.url
            if condition.webhook.payload:
                spec.webhook.payload.update(condition.webhook.payload)
        informer = await self._informer(parent)
        condition._action_name = child.name
        if informer.get(child.name) is None:
            base = self._base()
            await self._enqueue(
                child,
                parent_action_name=parent.name,
                input_uri=storage.join(base, child.name, "inputs.pb"),
                run_output_base=base,
                group=group or "",
                condition=spec,
            )

    async def wait_for_condition(self, state: ExecutionState, condition: Any) -> Any:
        """Wait for the condition's action to end; its value arrives inline in the update."""
        from flyte.errors import ActionAbortedError, ConditionFailedError, ConditionTimedoutError

        if condition._action_name is None:
            raise RuntimeError(f"Condition '{condition.name}' was not registered: create it with flyte.new_condition")
        informer = await self._informer(state.task_context.action)
        grace = None if state.in_trace else parking.park_after()
        if grace is None:
            update = await informer.wait(condition._action_name)
        else:
            try:
                update = await asyncio.wait_for(informer.wait(condition._action_name), timeout=grace)
            except asyncio.TimeoutError:
                raise parking.Parked(conditions=(condition._action_name,)) from None
        message = update.error.message if update.HasField("error") else ""
        if update.phase == _ABORTED:
            raise ActionAbortedError(f"Condition '{condition.name}' was aborted" + (f": {message}" if message else ""))
        if update.phase == _TIMED_OUT:
            raise ConditionTimedoutError(message or f"Condition '{condition.name}' was not signalled in time")
        if update.phase not in (_SUCCEEDED, _RECOVERED):
            raise ConditionFailedError(message or f"Condition '{condition.name}' failed")
        primitive = update.value.scalar.primitive
        kind = primitive.WhichOneof("value")
        value = getattr(primitive, kind) if kind else None
        return condition.data_type(value) if value is not None else None

    # --- traces ---------------------------------------------------------------------------

    async def replay_or_record_trace(self, state: ExecutionState, call: TraceCall) -> TraceRecord:
        """Name the trace call; replay it when an earlier attempt of the parent recorded its success."""
        from flyte.types._hashing import hash_inputs

        interface, literals = await _trace_inputs(call)
        inputs_hash = hash_inputs(literals) if literals is not None else call.inputs_key
        group = state.group.name if state.group else None
        sequence = state.calls.next(f"{call.identity}:{inputs_hash}:{group or ''}")
        parent = state.task_context.action
        child = parent.new_sub_action(
            inputs_hash=inputs_hash, task_identity=call.identity, sequence=sequence, group=group
        )
        informer = await self._informer(parent)
        update = informer.get(child.name)
        if update is not None and update.phase == _SUCCEEDED and update.output_uri and interface is not None:
            try:
                value = await _read_trace_outputs(update.output_uri, interface, call)
            except (FileNotFoundError, RuntimeDataValidationError) as error:
                logger.warning("Cannot replay trace %s (%s); calling it again", child.name, error)
            else:
                return TraceRecord(action_id=child, replayed=True, value=value)
        return TraceRecord(
            action_id=child,
            replayed=False,
            started_at=datetime.now(timezone.utc),
            private=_PendingTrace(
                parent=parent,
                group=group or "",
                name=getattr(call.func, "__name__", call.identity),
                interface=interface,
                input_literals=literals or {},
            ),
        )

    async def finish_trace(
        self, record: TraceRecord, *, result: Any = None, error: BaseException | None = None
    ) -> None:
        """Write the trace's data under the run base, enqueue the trace action and wait for its echo."""
        from flyteidl2.task import common_pb2, task_definition_pb2
        from flyteidl2.workflow import run_definition_pb2
        from google.protobuf import timestamp_pb2

        from flyte._internal.serde import error_document_from_exception, inputs_to_proto, outputs_to_proto
        from flyte.types._interface import convert_outputs_to_literals

        pending = record.private
        if not isinstance(pending, _PendingTrace) or pending.interface is None:
            return
        if error is not None and not isinstance(error, Exception):
            return  # cancelled or interrupted: nothing to record
        child = record.action_id
        base = storage.join(self._base(), child.name)
        if error is None:
            try:
                literals = await convert_outputs_to_literals(pending.interface, result, task_name=pending.name)
            except RuntimeDataValidationError as problem:
                logger.warning("Trace %s is not recorded: its result cannot be stored (%s)", pending.name, problem)
                return
            output_uri = storage.join(base, "outputs.pb")
            payload = outputs_to_proto(literals).SerializeToString()
            phase = _SUCCEEDED
        else:
            output_uri = storage.join(base, "error.pb")
            payload = error_document_from_exception(error).SerializeToString()
            phase = _FAILED
        input_uri = storage.join(base, "inputs.pb")
        await storage.write_bytes(input_uri, inputs_to_proto(pending.input_literals).SerializeToString())
        await storage.write_bytes(output_uri, payload)
        start, end = timestamp_pb2.Timestamp(), timestamp_pb2.Timestamp()
        start.FromDatetime(record.started_at or datetime.now(timezone.utc))
        end.FromDatetime(datetime.now(timezone.utc))
        trace = run_definition_pb2.TraceAction(
            name=pending.name,
            phase=phase,  # type: ignore[arg-type]
            start_time=start,
            end_time=end,
            outputs=common_pb2.OutputReferences(output_uri=output_uri),
            spec=task_definition_pb2.TraceSpec(interface=pending.interface.to_typed_interface()),
        )
        await self._enqueue(
            child,
            parent_action_name=pending.parent.name,
            input_uri=input_uri,
            run_output_base=self._base(),
            group=pending.group,
            trace=trace,
        )
        informer = await self._informer(pending.parent)
        try:
            await asyncio.wait_for(informer.wait(child.name), self.trace_echo_timeout)
        except asyncio.TimeoutError:
            logger.warning("The backend did not confirm trace %s within %gs", child.name, self.trace_echo_timeout)

    async def close(self) -> None:
        """Stop every watch stream."""
        informers, self._informers = self._informers, {}
        for informer in informers.values():
            await informer.stop()


def _task_id(template: Any) -> task_definition_pb2.TaskIdentifier:
    from flyteidl2.task import task_definition_pb2

    identifier = template.id
    return task_definition_pb2.TaskIdentifier(
        org=identifier.org,
        project=identifier.project,
        domain=identifier.domain,
        name=identifier.name,
        version=identifier.version,
    )


def _outputs_file(output_uri: str) -> str:
    """A task's ``output_uri`` is its attempt directory; a recovered one may name the file itself, and
    ``flyte start server`` may send small outputs inline as a ``data:`` URI."""
    if output_uri.startswith("data:") or output_uri.endswith(".pb"):
        return output_uri
    return storage.join(output_uri, "outputs.pb")


def _trace_interface(call: TraceCall) -> NativeInterface | None:
    import inspect

    from flyte.types._interface import NativeInterface

    try:
        native = NativeInterface.from_callable(call.func)
    except TypeError:
        try:
            parameters = inspect.signature(call.func).parameters.values()
        except (TypeError, ValueError):
            return None
        if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters):
            return None
        native = NativeInterface.from_types({p.name: (Any, p.default) for p in parameters}, {"o0": Any})
    if call.generator:
        native = NativeInterface.from_types(native.inputs, {"o0": Any})
    return native


async def _trace_inputs(call: TraceCall) -> tuple[NativeInterface | None, dict[str, literals_pb2.Literal] | None]:
    from flyte.types._interface import convert_inputs_to_literals

    interface = _trace_interface(call)
    if interface is None:
        return None, None
    try:
        bound = interface.convert_to_kwargs(*call.args, **call.kwargs)
        return interface, await convert_inputs_to_literals(interface, bound, task_name=call.identity)
    except (TypeError, RuntimeDataValidationError) as error:
        logger.debug("Trace %s inputs are not stored: %s", call.identity, error)
        return interface, None


async def _read_trace_outputs(output_uri: str, interface: NativeInterface, call: TraceCall) -> Any:
    from flyteidl2.task import common_pb2

    from flyte._internal.serde import outputs_from_proto
    from flyte.types._interface import convert_literals_to_outputs

    outputs = common_pb2.Outputs.FromString(await storage.read_bytes(output_uri))
    return await convert_literals_to_outputs(interface, outputs_from_proto(outputs), task_name=call.identity)

"""The remote controller in this process against the fake control plane's real Connect services.

Outcomes of children are scripted on the plane (no worker processes), so every phase and error
shape the backend can report is covered quickly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import runtime_tasks as rt
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from fake_plane import FakeAction, FakePlane, Scripted
from flyteidl2.common import identifier_pb2
from flyteidl2.core import execution_pb2
from flyteidl2.task import common_pb2
from flyteidl2.workflow import state_service_pb2
from runtime_helpers import serialization

import flyte
from flyte._context import CallCounter, ExecutionState, reset_state, set_state
from flyte._internal.controllers.remote import Informer, QueueStateService, RemoteController
from flyte._internal.serde import outputs_to_proto
from flyte.errors import (
    ActionAbortedError,
    MaxRuntimeExceededError,
    OOMError,
    RuntimeSystemError,
    RuntimeUserError,
)
from flyte.models import ActionID, RawDataPath, TaskContext
from flyte.remote._client import ClientSet
from flyte.report import Report
from flyte.types._hashing import cache_key, hash_inputs
from flyte.types._interface import convert_inputs_to_literals, convert_outputs_to_literals

SUCCEEDED, FAILED, ABORTED, TIMED_OUT = 5, 6, 7, 8
Error = execution_pb2.ExecutionError
USER, SYSTEM = Error.USER, Error.SYSTEM

cached_env = flyte.TaskEnvironment(name="cached")


@cached_env.task(cache=flyte.Cache("override", version_override="v3", ignored_inputs=("note",)))
async def cached_square(x: int, note: str = "") -> int:
    return x * x


@flyte.trace
async def traced_fails(x: int) -> int:
    raise KeyError(f"missing {x}")


@contextmanager
def in_task(controller: RemoteController, run: str = "r1") -> Iterator[None]:
    action = ActionID(name="a0", run_name=run, project="p", domain="d", org="local")
    task_context = TaskContext(
        action=action,
        version="v1",
        raw_data_path=RawDataPath("/tmp/raw"),
        output_path="/tmp/out",
        run_base_dir=controller.run_base_dir or "",
        report=Report(name="a0"),
        mode="remote",
    )
    state = ExecutionState(
        task_context=task_context, controller=controller, loop=asyncio.get_running_loop(), calls=CallCounter()
    )
    token = set_state(state)
    try:
        yield
    finally:
        reset_state(token)


@asynccontextmanager
async def remote_controller(plane: FakePlane, bundle: str, **options: Any) -> AsyncIterator[RemoteController]:
    clients = ClientSet.for_endpoint(plane.endpoint, insecure=True)
    controller = RemoteController(
        QueueStateService(clients), serialization=serialization(bundle), run_base_dir=plane.run_base("r1"), **options
    )
    try:
        yield controller
    finally:
        await controller.close()
        await clients.close()


async def outputs(task: Any, value: Any) -> common_pb2.Outputs:
    return outputs_to_proto(await convert_outputs_to_literals(task.interface, value))


async def test_success_reads_the_outputs_of_the_attempt(plane: FakePlane, bundle: str):
    plane.scripted["rt.square"] = Scripted(phase=SUCCEEDED, outputs=await outputs(rt.square, 81))
    async with remote_controller(plane, bundle) as controller:
        with in_task(controller):
            assert await rt.square(9) == 81
    (request,) = plane.requests("EnqueueAction")
    assert request.parent_action_name == "a0"
    assert request.action_id.run.org == "local"
    assert request.task.spec.task_template.container.args[0] == "a0"
    assert not request.task.HasField("cache_key")
    assert Path(request.input_uri).exists()


@pytest.mark.parametrize(
    ("phase", "error", "expected", "code"),
    [
        (FAILED, Error(code="ValueError", message="bad", kind=USER), RuntimeUserError, "ValueError"),
        (FAILED, Error(code="OOM", message="killed", kind=USER), OOMError, "OOM"),
        (FAILED, Error(code="Lost", message="node died", kind=SYSTEM), RuntimeSystemError, "Lost"),
        (
            TIMED_OUT,
            Error(code="MAX_RUNTIME_EXCEEDED", message="too slow", kind=USER),
            MaxRuntimeExceededError,
            "MAX_RUNTIME_EXCEEDED",
        ),
        (ABORTED, Error(message="user aborted"), ActionAbortedError, "ActionAbortedError"),
    ],
)
async def test_terminal_failures_become_flyte_errors(
    plane: FakePlane, bundle: str, phase: int, error: execution_pb2.ExecutionError, expected: type, code: str
):
    plane.scripted["rt.square"] = Scripted(phase=phase, error=error)
    async with remote_controller(plane, bundle) as controller:
        with in_task(controller), pytest.raises(expected) as raised:
            await rt.square(2)
    assert type(raised.value) is expected
    assert raised.value.code == code
    assert str(raised.value) == error.message


async def test_a_failure_without_error_details_reads_error_pb(plane: FakePlane, bundle: str):
    document = execution_pb2.ErrorDocument(
        error=execution_pb2.ContainerError(code="KeyError", message="'k'", origin=USER)
    )
    plane.scripted["rt.square"] = Scripted(phase=FAILED, error_document=document)
    async with remote_controller(plane, bundle) as controller:
        with in_task(controller), pytest.raises(RuntimeUserError) as raised:
            await rt.square(2)
    assert (raised.value.code, str(raised.value)) == ("KeyError", "'k'")


async def test_cached_tasks_carry_the_cache_key_without_ignored_inputs(plane: FakePlane, bundle: str):
    plane.scripted["cached.cached_square"] = Scripted(phase=SUCCEEDED, outputs=await outputs(cached_square, 4))
    async with remote_controller(plane, bundle) as controller:
        with in_task(controller):
            assert await cached_square(2, note="ignored") == 4
    (request,) = plane.requests("EnqueueAction")
    literals = await convert_inputs_to_literals(cached_square.interface, {"x": 2})
    del literals["note"]
    interface = cached_square.interface.to_typed_interface()
    assert request.task.cache_key.value == cache_key(hash_inputs(literals), "cached.cached_square", interface, "v3")
    assert request.task.spec.task_template.metadata.discovery_version == "v3"


async def test_children_finished_by_an_earlier_attempt_are_not_enqueued_again(plane: FakePlane, bundle: str):
    literals = await convert_inputs_to_literals(rt.square.interface, {"x": 6})
    parent = ActionID(name="a0", run_name="r1", project="p", domain="d", org="local")
    child = parent.new_sub_action(inputs_hash=hash_inputs(literals), task_identity="rt.square", sequence=0, group=None)
    out_dir = Path(plane.run_base("r1"), child.name, "1")
    out_dir.mkdir(parents=True)
    (out_dir / "outputs.pb").write_bytes((await outputs(rt.square, 36)).SerializeToString())
    plane.actions[("r1", child.name)] = FakeAction(
        run="r1",
        name=child.name,
        parent="a0",
        group="",
        input_uri="",
        run_output_base=plane.run_base("r1"),
        phase=SUCCEEDED,
        output_uri=str(out_dir),
    )
    async with remote_controller(plane, bundle) as controller:
        with in_task(controller):
            assert await rt.square(6) == 36
    assert plane.requests("EnqueueAction") == []


async def test_cancelling_the_wait_aborts_the_child(plane: FakePlane, bundle: str):
    plane.scripted["rt.square"] = Scripted(phase=SUCCEEDED, delay=30)
    async with remote_controller(plane, bundle) as controller:
        with in_task(controller):
            call = asyncio.ensure_future(rt.square(3))
            while not plane.requests("EnqueueAction"):
                await asyncio.sleep(0.01)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
    (abort,) = plane.requests("AbortQueuedAction")
    assert abort.action_id.name == plane.requests("EnqueueAction")[0].action_id.name
    assert plane.actions[("r1", abort.action_id.name)].phase == ABORTED


async def test_cancelling_during_the_enqueue_aborts_the_child(plane: FakePlane, bundle: str):
    """The server took the child but had not answered yet: the cancellation must still stop it."""
    plane.scripted["rt.square"] = Scripted(phase=SUCCEEDED, delay=30)
    plane.enqueue_reply_delay = 3.0
    async with remote_controller(plane, bundle) as controller:
        with in_task(controller):
            call = asyncio.ensure_future(rt.square(4))
            while not plane.requests("EnqueueAction"):
                await asyncio.sleep(0.01)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(call, 10)
    (abort,) = plane.requests("AbortQueuedAction")
    assert abort.action_id.name == plane.requests("EnqueueAction")[0].action_id.name
    assert plane.actions[("r1", abort.action_id.name)].phase == ABORTED


async def test_a_failed_trace_is_recorded_and_its_error_raised_unchanged(plane: FakePlane, bundle: str):
    async with remote_controller(plane, bundle) as controller:
        with in_task(controller), pytest.raises(KeyError):
            await traced_fails(1)
    (request,) = plane.requests("EnqueueAction")
    assert request.trace.name == "traced_fails"
    assert request.trace.phase == FAILED
    assert request.trace.outputs.output_uri.endswith("/error.pb")
    document = execution_pb2.ErrorDocument.FromString(Path(request.trace.outputs.output_uri).read_bytes())
    assert document.error.code == "KeyError"
    assert [v.key for v in request.trace.spec.interface.inputs.variables] == ["x"]


async def test_a_late_sentinel_is_logged_and_the_call_still_completes(
    tmp_path: Path, bundle: str, caplog: pytest.LogCaptureFixture
):
    async with FakePlane(tmp_path / "plane", sentinel_delay=1.0) as plane:
        plane.scripted["rt.square"] = Scripted(phase=SUCCEEDED, outputs=await outputs(rt.square, 1))
        async with remote_controller(plane, bundle, sentinel_timeout=0.1) as controller:
            with in_task(controller), caplog.at_level(logging.ERROR, logger="flyte"):
                assert await rt.square(1) == 1
    assert "sent no sentinel" in caplog.text


async def test_nested_calls_need_the_run_base(plane: FakePlane, bundle: str):
    clients = ClientSet.for_endpoint(plane.endpoint, insecure=True)
    controller = RemoteController(QueueStateService(clients), serialization=serialization(bundle), run_base_dir=None)
    with in_task(controller), pytest.raises(RuntimeSystemError, match="_U_RUN_BASE"):
        await rt.square(1)
    await controller.close()


class _FlakyWatch:
    """An ActionService whose first watch breaks after the sentinel; the second delivers the result."""

    def __init__(self) -> None:
        self.subscriptions = 0

    async def enqueue(self, **fields: Any) -> None:
        raise AssertionError("not used")

    async def abort(self, action_id: identifier_pb2.ActionIdentifier, reason: str) -> None:
        raise AssertionError("not used")

    async def watch(
        self, parent_action_id: identifier_pb2.ActionIdentifier
    ) -> AsyncIterator[state_service_pb2.ActionUpdate | None]:
        self.subscriptions += 1
        yield state_service_pb2.ActionUpdate(action_id=identifier_pb2.ActionIdentifier(name="c1"), phase=4)
        yield None
        if self.subscriptions == 1:
            raise ConnectError(Code.UNAVAILABLE, "server restarted")
        yield state_service_pb2.ActionUpdate(action_id=identifier_pb2.ActionIdentifier(name="c1"), phase=SUCCEEDED)
        await asyncio.Event().wait()


async def test_the_informer_resubscribes_after_a_broken_stream():
    service = _FlakyWatch()
    informer = Informer(service, identifier_pb2.ActionIdentifier(name="a0"), first_backoff=0.01)
    await informer.start()
    assert informer.get("c1") is not None and informer.get("c1").phase == 4  # type: ignore[union-attr]
    update = await asyncio.wait_for(informer.wait("c1"), 5)
    assert update.phase == SUCCEEDED
    assert service.subscriptions == 2
    await informer.stop()


async def test_the_informer_gives_up_after_repeated_failures():
    class Broken(_FlakyWatch):
        async def watch(
            self, parent_action_id: identifier_pb2.ActionIdentifier
        ) -> AsyncIterator[state_service_pb2.ActionUpdate | None]:
            raise ConnectError(Code.UNAVAILABLE, "down")
            yield None

    informer = Informer(Broken(), identifier_pb2.ActionIdentifier(name="a0"), first_backoff=0.001, max_failures=3)
    with pytest.raises(RuntimeSystemError, match="Lost the watch"):
        await informer.start()
        await asyncio.wait_for(informer.wait("c1"), 5)
    await informer.stop()


@flyte.trace
async def traced_items(n: int):  # type: ignore[no-untyped-def]
    for index in range(n):
        yield index * 10


@flyte.trace
def traced_sync(x: int) -> int:
    return x + 1


async def test_traced_generators_and_sync_traces(plane: FakePlane, bundle: str, caplog: pytest.LogCaptureFixture):
    async with remote_controller(plane, bundle) as controller:
        with in_task(controller):
            assert [item async for item in traced_items(3)] == [0, 10, 20]
            with caplog.at_level(logging.WARNING, logger="flyte"):
                assert traced_sync(1) == 2  # on the loop's thread: runs, but is not recorded
    (request,) = plane.requests("EnqueueAction")
    assert request.trace.name == "traced_items"
    assert request.trace.phase == SUCCEEDED
    assert "runs without being recorded" in caplog.text


def test_both_controllers_implement_the_protocol():
    from flyte._internal.controllers import Controller
    from flyte._internal.controllers.local import LocalController

    members = [name for name in vars(Controller) if not name.startswith("_")]
    assert set(members) >= {"submit", "replay_or_record_trace", "finish_trace", "close"}
    for implementation in (LocalController, RemoteController):
        for name in members:
            assert hasattr(implementation, name), f"{implementation.__name__} lacks {name}"


async def test_a_parent_keeps_no_state_per_finished_child(plane: FakePlane, bundle: str):
    # A parent with a million children must not hold a million updates: once a call has its
    # child's result, the informer forgets the child (the memory bound of issue 14).
    async with remote_controller(plane, bundle) as controller:
        with in_task(controller):
            results = await asyncio.gather(*(rt.square(i) for i in range(50)))
        informers = list(controller._informers.values())
    assert results == [i * i for i in range(50)]
    assert len(informers) == 1 and informers[0]._updates == {} and informers[0]._waiters == {}

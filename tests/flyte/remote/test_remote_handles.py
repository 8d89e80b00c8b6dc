"""Remote handles without a server: what they make of control-plane messages, and their errors.

(End to end against the real server: ``tests/e2e/test_sdk_remote.py``.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.common import identifier_pb2, phase_pb2
from flyteidl2.workflow import run_definition_pb2

import flyte
import flyte.errors
import flyte.remote
from flyte.models import ActionPhase
from flyte.remote._common import control_plane_error, phase_from_proto, phase_to_proto


def _details(phase: int, **fields: object) -> run_definition_pb2.ActionDetails:
    details = run_definition_pb2.ActionDetails(
        id=identifier_pb2.ActionIdentifier(
            run=identifier_pb2.RunIdentifier(project="p", domain="d", name="r1"), name="a0"
        ),
        status=run_definition_pb2.ActionStatus(phase=phase, attempts=2),  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )
    details.status.start_time.FromDatetime(datetime(2026, 1, 1, tzinfo=timezone.utc))
    details.metadata.task.id.name = "env.main"
    return details


def test_a_failed_action_raises_what_a_local_run_raises() -> None:
    failed = flyte.remote.Action._from_details(
        _details(
            phase_pb2.ACTION_PHASE_FAILED,
            error_info=run_definition_pb2.ErrorInfo(
                code="ValueError", message="bad 3", kind=run_definition_pb2.ErrorInfo.KIND_USER
            ),
        )
    )
    assert (failed.phase, failed.task_name, failed.attempts) == (ActionPhase.FAILED, "env.main", 2)
    assert failed.error == flyte.remote.ActionError(code="ValueError", message="bad 3", kind="user")
    error = failed.exception()
    assert type(error) is flyte.errors.RuntimeUserError and error.code == "ValueError" and str(error) == "bad 3"

    system = flyte.remote.Action._from_details(
        _details(
            phase_pb2.ACTION_PHASE_FAILED,
            error_info=run_definition_pb2.ErrorInfo(
                code="WorkerLost", message="gone", kind=run_definition_pb2.ErrorInfo.KIND_SYSTEM
            ),
        )
    )
    assert isinstance(system.exception(), flyte.errors.RuntimeSystemError)
    timed_out = flyte.remote.Action._from_details(
        _details(phase_pb2.ACTION_PHASE_TIMED_OUT, error_info=run_definition_pb2.ErrorInfo(code="MAX_RUNTIME_EXCEEDED"))
    )
    assert isinstance(timed_out.exception(), flyte.errors.MaxRuntimeExceededError)
    aborted = flyte.remote.Action._from_details(
        _details(phase_pb2.ACTION_PHASE_ABORTED, abort_info=run_definition_pb2.AbortInfo(reason="by me"))
    )
    assert isinstance(aborted.exception(), flyte.errors.ActionAbortedError) and aborted.abort_reason == "by me"
    assert flyte.remote.Action._from_details(_details(phase_pb2.ACTION_PHASE_SUCCEEDED)).exception() is None


def test_handles_are_plain_values() -> None:
    action = flyte.remote.Action._from_details(_details(phase_pb2.ACTION_PHASE_RUNNING))
    document = action.to_dict()
    assert document["phase"] == "RUNNING" and document["start_time"] == "2026-01-01T00:00:00+00:00"
    assert not any(key.startswith("_") for key in document)
    json.dumps(document)


def test_phases_by_name() -> None:
    assert phase_to_proto("succeeded") == phase_pb2.ACTION_PHASE_SUCCEEDED
    assert phase_to_proto(ActionPhase.TIMED_OUT) == phase_pb2.ACTION_PHASE_TIMED_OUT
    assert phase_from_proto(phase_pb2.ACTION_PHASE_UNSPECIFIED) is ActionPhase.QUEUED
    with pytest.raises(ValueError, match="Unknown phase 'done'; use one of queued"):
        phase_to_proto("done")


def test_control_plane_errors_become_sdk_errors() -> None:
    missing = control_plane_error(ConnectError(Code.NOT_FOUND, "nope"), "run 'r1' in p/d")
    assert isinstance(missing, flyte.errors.NotFoundError) and str(missing) == "Run 'r1' in p/d was not found"
    unreachable = control_plane_error(
        ConnectError(Code.UNAVAILABLE, "Cannot reach the Flyte control plane at http://h:1 (refused); check"), "x"
    )
    assert isinstance(unreachable, flyte.errors.ControlPlaneError) and unreachable.code == "UNAVAILABLE"
    assert str(unreachable).startswith("Cannot reach the Flyte control plane at http://h:1")
    invalid = control_plane_error(ConnectError(Code.INVALID_ARGUMENT, "bad name\ndetails"), "starting task t")
    assert str(invalid) == "The control plane failed on starting task t: bad name"
    assert invalid.code == "INVALID_ARGUMENT"  # type: ignore[attr-defined]


def test_remote_calls_need_an_endpoint() -> None:
    flyte.init(project="p", domain="d")
    with pytest.raises(flyte.errors.InitializationError, match="No Flyte endpoint is configured"):
        flyte.remote.Run.get("r1")
    env = flyte.TaskEnvironment(name="needs_endpoint")

    @env.task
    async def noop() -> None:
        return None

    with pytest.raises(flyte.errors.InitializationError, match="Run mode 'remote' needs a control plane"):
        flyte.with_runcontext(mode="remote").run(noop)
    flyte.init(endpoint="localhost:1", insecure=True)
    with pytest.raises(flyte.errors.InitializationError, match="No project is configured"):
        flyte.remote.Run.get("r1")


def test_a_deployed_task_reference_needs_a_version_choice() -> None:
    with pytest.raises(ValueError, match="exactly one of version"):
        flyte.remote.Task.get("env.main")
    reference = flyte.remote.Task.get("env.main", auto_version="latest")
    assert (reference.name, reference.version, reference.auto_version) == ("env.main", None, "latest")
    with pytest.raises(flyte.errors.RemoteTaskUsageError, match="cannot be called from a task yet"):
        reference(1)


def test_importing_flyte_remote_stays_cheap() -> None:
    heavy = "('connectrpc', 'rich', 'httpx', 'flyteidl2')"
    probe = f"import sys, flyte, flyte.remote; print(sorted(m for m in sys.modules if m.startswith({heavy})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

"""Store rows → the ``flyteidl2.workflow`` messages the services return (Run, Action, ActionDetails, ...)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from flyteidl2.common import identifier_pb2
from flyteidl2.core import execution_pb2
from flyteidl2.task import common_pb2, run_pb2, task_definition_pb2
from flyteidl2.workflow import run_definition_pb2, state_service_pb2
from google.protobuf import timestamp_pb2
from google.protobuf.message import DecodeError
from sqlalchemy.ext.asyncio import AsyncSession

from flyte_server.engine.conditions import CONDITION, literal_of_uri
from flyte_server.engine.model import ABORTED, TASK, TRACE, execution_error, is_terminal
from flyte_server.engine.watch import ActionEvent
from flyte_server.store import runs as store
from flyte_server.store.models.runs import ActionRow, AttemptRow
from flyte_server.store.runs import ActionKey

__all__ = [
    "action_details",
    "action_from_row",
    "action_id",
    "error_from_bytes",
    "key_of_row",
    "outputs_file",
    "run_details",
    "run_from_row",
    "timestamp",
    "update_from_event",
    "update_from_row",
]


def timestamp(us: int) -> timestamp_pb2.Timestamp:
    """A protobuf Timestamp from microseconds since the epoch."""
    return timestamp_pb2.Timestamp(seconds=us // 1_000_000, nanos=(us % 1_000_000) * 1000)


def key_of_row(row: ActionRow) -> ActionKey:
    return ActionKey(row.project, row.domain, row.run_name, row.name)


def action_id(key: ActionKey) -> identifier_pb2.ActionIdentifier:
    return identifier_pb2.ActionIdentifier(
        run=identifier_pb2.RunIdentifier(project=key.project, domain=key.domain, name=key.run), name=key.name
    )


def error_from_bytes(data: bytes) -> run_definition_pb2.ErrorInfo | None:
    """A stored ``ErrorInfo`` (``None`` when there is none or it cannot be read)."""
    if not data:
        return None
    try:
        return run_definition_pb2.ErrorInfo.FromString(data)
    except DecodeError:
        return None


def _metadata(row: ActionRow) -> run_definition_pb2.ActionMetadata:
    metadata = run_definition_pb2.ActionMetadata(
        parent=row.parent_name,
        group=row.group_name,
        action_type=row.action_type,  # type: ignore[arg-type]
        environment_name=row.environment_name,
        funtion_name=row.function_name,
        trigger_name=row.trigger_name,
        source=row.source,  # type: ignore[arg-type]
    )
    if row.action_type == TRACE:
        metadata.trace.name = row.function_name or row.name
    elif row.action_type == CONDITION:
        metadata.condition.name = row.function_name or row.name
        spec = _condition_spec(row)
        if spec is not None and spec.HasField("type"):
            metadata.condition.type.CopyFrom(spec.type)
    elif row.action_type == TASK:
        metadata.task.id.CopyFrom(
            task_definition_pb2.TaskIdentifier(
                project=row.task_project, domain=row.task_domain, name=row.task_name, version=row.task_version
            )
        )
        metadata.task.task_type = row.task_type
        metadata.task.short_name = row.short_name
    return metadata


def _status(row: ActionRow) -> run_definition_pb2.ActionStatus:
    status = run_definition_pb2.ActionStatus(
        phase=row.phase,  # type: ignore[arg-type]
        attempts=row.attempts,
        cache_status=row.cache_status,  # type: ignore[arg-type]
    )
    status.start_time.CopyFrom(timestamp(row.created_us))
    if row.ended_us and is_terminal(row.phase):
        status.end_time.CopyFrom(timestamp(row.ended_us))
        status.duration_ms = max(0, (row.ended_us - row.created_us) // 1000)
    return status


def action_from_row(row: ActionRow) -> run_definition_pb2.Action:
    """The ``Action`` (id, metadata, status) of a row."""
    return run_definition_pb2.Action(id=action_id(key_of_row(row)), metadata=_metadata(row), status=_status(row))


def run_from_row(row: ActionRow, labels: dict[str, str] | None = None) -> run_definition_pb2.Run:
    """The ``Run`` of a root action row."""
    run = run_definition_pb2.Run(action=action_from_row(row))
    if labels:
        run.labels.update(labels)
    return run


def _attempt(row: AttemptRow) -> run_definition_pb2.ActionAttempt:
    attempt = run_definition_pb2.ActionAttempt(
        attempt=row.attempt,
        phase=row.phase,  # type: ignore[arg-type]
        cache_status=row.cache_status,  # type: ignore[arg-type]
        cluster="local",
    )
    attempt.start_time.CopyFrom(timestamp(row.started_us))
    if row.ended_us:
        attempt.end_time.CopyFrom(timestamp(row.ended_us))
    error = error_from_bytes(row.error_info)
    if error is not None:
        attempt.error_info.CopyFrom(error)
    if row.output_uri and is_terminal(row.phase) and not error:
        attempt.outputs.output_uri = outputs_file(row.output_uri)
    if row.log_path:
        available = Path(row.log_path).is_file()
        attempt.logs_available = available
        attempt.log_info.append(execution_pb2.TaskLog(name="Worker log", uri=f"file://{row.log_path}", ready=available))
    for phase, start, end in json.loads(row.transitions or "[]"):
        transition = attempt.phase_transitions.add(phase=phase)
        if start:
            transition.start_time.CopyFrom(timestamp(start))
        if end:
            transition.end_time.CopyFrom(timestamp(end))
    return attempt


async def action_details(session: AsyncSession, row: ActionRow) -> run_definition_pb2.ActionDetails:
    """The full ``ActionDetails`` of a row: spec, result, attempts."""
    details = run_definition_pb2.ActionDetails(
        id=action_id(key_of_row(row)), metadata=_metadata(row), status=_status(row)
    )
    error = error_from_bytes(row.error_info)
    if row.phase == ABORTED:
        details.abort_info.reason = row.abort_reason or "aborted"
    elif error is not None:
        details.error_info.CopyFrom(error)
    if row.action_type == TASK:
        spec = await store.get_task_spec(session, row.spec_digest)
        if spec is not None:
            details.task.ParseFromString(spec)
    elif row.action_type == TRACE and row.trace_spec:
        details.trace.ParseFromString(row.trace_spec)
    elif row.action_type == CONDITION:
        spec = _condition_spec(row)
        if spec is not None:
            details.condition.CopyFrom(spec)
        value = literal_of_uri(row.output_uri) if row.output_uri else None
        if value is not None and row.phase != ABORTED and error is None:
            details.signal_info.output.CopyFrom(value)
    attempts: Sequence[AttemptRow] = await store.get_attempts(session, key_of_row(row))
    for attempt_row in attempts:
        attempt = _attempt(attempt_row)
        if row.report_uri and attempt_row.attempt == row.attempts:
            attempt.outputs.report_uri = row.report_uri
        details.attempts.append(attempt)
    return details


async def run_details(session: AsyncSession, row: ActionRow) -> run_definition_pb2.RunDetails:
    """``RunDetails`` (run spec + root action details) of a root row."""
    details = run_definition_pb2.RunDetails(action=await action_details(session, row))
    if row.run_spec:
        details.run_spec.CopyFrom(run_pb2.RunSpec.FromString(row.run_spec))
    return details


def _condition_spec(row: ActionRow) -> run_definition_pb2.ConditionAction | None:
    if not row.trace_spec:
        return None
    try:
        return run_definition_pb2.ConditionAction.FromString(row.trace_spec)
    except DecodeError:
        return None


def outputs_file(output_uri: str) -> str:
    """Where the outputs of an attempt directory are (an inline ``data:`` URI is the outputs itself)."""
    return output_uri if output_uri.startswith("data:") else f"{output_uri}/outputs.pb"


def update_from_row(row: ActionRow) -> state_service_pb2.ActionUpdate:
    """The ``ActionUpdate`` watch streams send for a row (snapshots)."""
    update = state_service_pb2.ActionUpdate(action_id=action_id(key_of_row(row)), phase=row.phase)  # type: ignore[arg-type]
    if row.action_type == CONDITION:
        value = literal_of_uri(row.output_uri) if row.output_uri else None
        if value is not None:
            update.value.CopyFrom(value)  # a condition's value travels inline (no output_uri)
    elif row.output_uri:
        update.output_uri = row.output_uri
    elif row.action_type == TASK:
        update.output_uri = f"{row.run_output_base.rstrip('/')}/{row.name}/{max(1, row.attempts)}"
    error = execution_error(error_from_bytes(row.error_info))
    if error is not None and row.phase != ABORTED:
        update.error.CopyFrom(error)
    return update


def update_from_event(event: ActionEvent) -> state_service_pb2.ActionUpdate:
    """The ``ActionUpdate`` for a published change."""
    update = state_service_pb2.ActionUpdate(action_id=action_id(event.key), phase=event.phase)  # type: ignore[arg-type]
    if event.action_type == CONDITION:
        value = literal_of_uri(event.output_uri) if event.output_uri else None
        if value is not None:
            update.value.CopyFrom(value)
    elif event.output_uri:
        update.output_uri = event.output_uri
    error = execution_error(event.error)
    if error is not None:
        update.error.CopyFrom(error)
    return update


def outputs_message(data: bytes | None) -> common_pb2.Outputs:
    """``task.Outputs`` from outputs.pb bytes (empty when missing or unreadable)."""
    if not data:
        return common_pb2.Outputs()
    try:
        return common_pb2.Outputs.FromString(data)
    except DecodeError:
        return common_pb2.Outputs()


def inputs_message(data: bytes | None) -> common_pb2.Inputs:
    """``task.Inputs`` from inputs.pb bytes (empty when missing or unreadable)."""
    if not data:
        return common_pb2.Inputs()
    try:
        return common_pb2.Inputs.FromString(data)
    except DecodeError:
        return common_pb2.Inputs()

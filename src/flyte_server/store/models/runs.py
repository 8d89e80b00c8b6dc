"""Runs and actions: a run is its root action ``a0``; every action has one row per attempt.

Protobuf messages are stored as serialized bytes; times are integer microseconds since the epoch
(the same on SQLite and PostgreSQL, exact, and cheap to compare and sort).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from flyte_server.store.db import Base

__all__ = ["ActionRow", "AttemptRow", "RunLabelRow", "TaskSpecRow"]


class ActionRow(Base):
    """One action of a run, keyed by (project, domain, run name, action name); the root is ``a0``."""

    __tablename__ = "actions"

    project: Mapped[str] = mapped_column(String(63), primary_key=True)
    domain: Mapped[str] = mapped_column(String(63), primary_key=True)
    run_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    # Empty for the root action.
    parent_name: Mapped[str] = mapped_column(String(255), default="")
    group_name: Mapped[str] = mapped_column(String(255), default="")
    # flyteidl2.workflow.ActionType value.
    action_type: Mapped[int] = mapped_column(Integer)
    # flyteidl2.common.ActionPhase value.
    phase: Mapped[int] = mapped_column(Integer)
    # The number of the current (or last) attempt, 1-based; 0 before the first launch.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Failures counted against the task's retry budget and against the system-failure budget.
    user_failures: Mapped[int] = mapped_column(Integer, default=0)
    system_failures: Mapped[int] = mapped_column(Integer, default=0)
    # flyteidl2.core.CatalogCacheStatus value.
    cache_status: Mapped[int] = mapped_column(Integer, default=0)
    cache_key: Mapped[str] = mapped_column(Text, default="")
    task_project: Mapped[str] = mapped_column(String(63), default="")
    task_domain: Mapped[str] = mapped_column(String(63), default="")
    task_name: Mapped[str] = mapped_column(String(255), default="")
    task_version: Mapped[str] = mapped_column(String(255), default="")
    task_type: Mapped[str] = mapped_column(String(63), default="")
    short_name: Mapped[str] = mapped_column(String(255), default="")
    environment_name: Mapped[str] = mapped_column(String(255), default="")
    function_name: Mapped[str] = mapped_column(String(255), default="")
    # sha256 hex of the serialized TaskSpec in ``task_specs`` (task actions only).
    spec_digest: Mapped[str] = mapped_column(String(64), default="")
    # Serialized flyteidl2.task.TraceSpec (trace actions only).
    trace_spec: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    # Serialized flyteidl2.task.RunSpec (root actions only).
    run_spec: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    input_uri: Mapped[str] = mapped_column(Text, default="")
    run_output_base: Mapped[str] = mapped_column(Text, default="")
    # JSON object: the environment variables the action's processes get (inherited by children).
    env: Mapped[str] = mapped_column(Text, default="{}")
    # Task actions: the output directory of the successful attempt; traces: the outputs file.
    output_uri: Mapped[str] = mapped_column(Text, default="")
    report_uri: Mapped[str] = mapped_column(Text, default="")
    # Serialized flyteidl2.workflow.ErrorInfo of the final failure.
    error_info: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    abort_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    abort_reason: Mapped[str] = mapped_column(Text, default="")
    # flyteidl2.workflow.RunSource value (root actions).
    source: Mapped[int] = mapped_column(Integer, default=0)
    trigger_name: Mapped[str] = mapped_column(String(255), default="")
    run_start_us: Mapped[int] = mapped_column(BigInteger, default=0)
    created_us: Mapped[int] = mapped_column(BigInteger)
    updated_us: Mapped[int] = mapped_column(BigInteger)
    # When the current attempt was queued (for queued timeouts) and when it may start (backoff).
    queued_us: Mapped[int] = mapped_column(BigInteger, default=0)
    not_before_us: Mapped[int] = mapped_column(BigInteger, default=0)
    ended_us: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (
        Index("ix_actions_parent", "project", "domain", "run_name", "parent_name"),
        Index("ix_actions_phase", "phase"),
        Index("ix_actions_runs", "project", "domain", "name", "created_us"),
    )


class AttemptRow(Base):
    """One attempt of a task action: its process, log, outputs and phase history."""

    __tablename__ = "attempts"

    project: Mapped[str] = mapped_column(String(63), primary_key=True)
    domain: Mapped[str] = mapped_column(String(63), primary_key=True)
    run_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    action_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    phase: Mapped[int] = mapped_column(Integer)
    cache_status: Mapped[int] = mapped_column(Integer, default=0)
    # The attempt's output directory (outputs.pb, error.pb, report.html).
    output_uri: Mapped[str] = mapped_column(Text, default="")
    log_path: Mapped[str] = mapped_column(Text, default="")
    work_dir: Mapped[str] = mapped_column(Text, default="")
    # Serialized flyteidl2.workflow.ErrorInfo when the attempt failed.
    error_info: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    # JSON list of [phase, start_us, end_us] (end 0 while in that phase).
    transitions: Mapped[str] = mapped_column(Text, default="[]")
    # The executor's handle id of the attempt (opaque, "<executor>:..."; see flyte_server.executors).
    handle: Mapped[str] = mapped_column(Text, default="", server_default="")
    started_us: Mapped[int] = mapped_column(BigInteger)
    ended_us: Mapped[int] = mapped_column(BigInteger, default=0)


class RunLabelRow(Base):
    """A label of a run (``RunSpec.labels``), for ListRuns filters."""

    __tablename__ = "run_labels"

    project: Mapped[str] = mapped_column(String(63), primary_key=True)
    domain: Mapped[str] = mapped_column(String(63), primary_key=True)
    run_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


class TaskSpecRow(Base):
    """A serialized TaskSpec, shared by every action that runs it (a fan-out stores it once)."""

    __tablename__ = "task_specs"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    spec: Mapped[bytes] = mapped_column(LargeBinary)

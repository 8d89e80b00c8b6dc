"""Plain data objects that describe runs, actions and the context a task runs in.

These are public and protobuf-free: conversion to and from ``flyteidl2`` messages lives in
``flyte._internal.serde``.
"""

from __future__ import annotations

import base64
import enum
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from flyte.report import Report

__all__ = [
    "ActionID",
    "ActionPhase",
    "GroupData",
    "RawDataPath",
    "TaskContext",
]

_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(number: int) -> str:
    digits = []
    while number:
        number, remainder = divmod(number, 36)
        digits.append(_BASE36[remainder])
    return "".join(reversed(digits)) or "0"


class ActionPhase(str, enum.Enum):
    """The lifecycle of an action, as Flyte 2 reports it (``flyteidl2.common.ActionPhase``)."""

    QUEUED = "queued"
    WAITING_FOR_RESOURCES = "waiting_for_resources"
    INITIALIZING = "initializing"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABORTED = "aborted"
    TIMED_OUT = "timed_out"
    PAUSED = "paused"
    RECOVERED = "recovered"

    @property
    def is_terminal(self) -> bool:
        """Whether the action has finished and will not change again."""
        return self in _TERMINAL_PHASES

    @property
    def is_success(self) -> bool:
        """Whether the action produced outputs."""
        return self in (ActionPhase.SUCCEEDED, ActionPhase.RECOVERED)


_TERMINAL_PHASES = frozenset(
    {ActionPhase.SUCCEEDED, ActionPhase.FAILED, ActionPhase.ABORTED, ActionPhase.TIMED_OUT, ActionPhase.RECOVERED}
)


@dataclass(frozen=True)
class ActionID:
    """Identifies one action of a run: ``(project, domain, run name, action name)``.

    The root action of every run is named ``a0``; children get deterministic names (see
    :meth:`new_sub_action`) so that a retried parent finds the children it already ran.
    """

    name: str
    """The action's name, unique within its run."""
    run_name: str | None = None
    """The run the action belongs to."""
    project: str | None = None
    """The project of the run (``None`` in local mode)."""
    domain: str | None = None
    """The domain of the run (``None`` in local mode)."""
    org: str | None = None
    """The organisation (ignored by our control plane, kept for Flyte 2 compatibility)."""

    def new_sub_action(self, *, inputs_hash: str, task_identity: str, sequence: int, group: str | None) -> ActionID:
        """The deterministic id of a child action called from this one.

        The name is the base36 md5 of ``{parent}-{inputs hash}-{task}-{sequence}[-{group}]``,
        25 characters long, as Flyte 2 computes it.

        Example:
            >>> ActionID(name="a0", run_name="r1").new_sub_action(
            ...     inputs_hash="h", task_identity="env.t", sequence=0, group=None).name
            '...'  # doctest: +SKIP
        """
        seed = f"{self.name}-{inputs_hash}-{task_identity}-{sequence}"
        if group:
            seed = f"{seed}-{group}"
        digest = int.from_bytes(hashlib.md5(seed.encode(), usedforsecurity=False).digest(), "big")
        name = _base36(digest)[:25].rjust(25, "0")
        return ActionID(name=name, run_name=self.run_name, project=self.project, domain=self.domain, org=self.org)

    def unique_id(self) -> str:
        """A short string identifying this action across runs."""
        raw = f"{self.project}/{self.domain}/{self.run_name}/{self.name}".encode()
        return base64.b32encode(hashlib.sha1(raw, usedforsecurity=False).digest()[:10]).decode().lower()


@dataclass(frozen=True)
class RawDataPath:
    """Where a run writes offloaded data (files, directories, dataframes)."""

    path: str
    """A local path or an object-store URI prefix."""

    def get_random_remote_path(self, file_name: str | None = None) -> str:
        """A fresh, unique location under :attr:`path`, optionally ending with ``file_name``."""
        import uuid

        base = f"{self.path.rstrip('/')}/{uuid.uuid4().hex}"
        return f"{base}/{file_name}" if file_name else base


@dataclass(frozen=True)
class GroupData:
    """The :func:`flyte.group` a call is made in."""

    name: str
    """The group's name, as shown in the console."""


@dataclass
class TaskContext:
    """What a running task knows about itself; returned by :func:`flyte.ctx`.

    Example:
        >>> import flyte
        >>> env = flyte.TaskEnvironment(name="docs")
        >>> @env.task
        ... async def who_am_i() -> str:
        ...     return flyte.ctx().action.name
    """

    action: ActionID
    """The id of the running action."""
    version: str
    """The code version the task runs at."""
    raw_data_path: RawDataPath
    """Where offloaded data of this run goes."""
    output_path: str
    """The directory this attempt writes its outputs (and report) to."""
    run_base_dir: str
    """The directory (or URI prefix) of the whole run."""
    report: Report
    """The HTML report of this action (see :mod:`flyte.report`)."""
    mode: Literal["local", "remote", "hybrid"] = "local"
    """Where the task runs."""
    attempt_number: int = 0
    """0 on the first attempt, 1 on the first retry, ..."""
    group_data: GroupData | None = None
    """The group the action was called in, if any."""
    custom_context: dict[str, str] = field(default_factory=dict)
    """Key/values propagated from the run to every action (see :func:`flyte.custom_context`)."""
    data: dict[str, Any] = field(default_factory=dict)
    """Free-form per-action data for plugins."""
    run_start_time: datetime | None = None
    """When the run started (UTC)."""
    task_name: str = ""
    """The full name of the running task (``env.function``)."""

    def is_in_cluster(self) -> bool:
        """Whether the task runs on a control plane rather than in local mode."""
        return self.mode == "remote"

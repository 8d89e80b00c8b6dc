"""The engine's in-memory view of active runs and actions.

Only non-terminal work lives here (plus the names of each active run's actions, for idempotent
enqueues); the store holds everything else. Memory is released when a run has no active actions.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from flyteidl2.common import phase_pb2
from flyteidl2.core import catalog_pb2, execution_pb2
from flyteidl2.task import run_pb2, task_definition_pb2
from flyteidl2.workflow import run_definition_pb2

from flyte_server.store.runs import ROOT_ACTION, TERMINAL_PHASES, ActionKey

__all__ = [
    "ABORTED",
    "FAILED",
    "INITIALIZING",
    "QUEUED",
    "ROOT_ACTION",
    "RUNNING",
    "SUCCEEDED",
    "TERMINAL_PHASES",
    "TIMED_OUT",
    "WAITING",
    "ActionKey",
    "ActionState",
    "RunState",
    "error_info",
    "execution_error",
    "is_terminal",
    "now_us",
    "phase_name",
]

QUEUED = phase_pb2.ACTION_PHASE_QUEUED
WAITING = phase_pb2.ACTION_PHASE_WAITING_FOR_RESOURCES
INITIALIZING = phase_pb2.ACTION_PHASE_INITIALIZING
RUNNING = phase_pb2.ACTION_PHASE_RUNNING
SUCCEEDED = phase_pb2.ACTION_PHASE_SUCCEEDED
FAILED = phase_pb2.ACTION_PHASE_FAILED
ABORTED = phase_pb2.ACTION_PHASE_ABORTED
TIMED_OUT = phase_pb2.ACTION_PHASE_TIMED_OUT
PAUSED = phase_pb2.ACTION_PHASE_PAUSED

TASK = run_definition_pb2.ACTION_TYPE_TASK
TRACE = run_definition_pb2.ACTION_TYPE_TRACE

CACHE_DISABLED = catalog_pb2.CACHE_DISABLED
CACHE_MISS = catalog_pb2.CACHE_MISS
CACHE_HIT = catalog_pb2.CACHE_HIT
CACHE_POPULATED = catalog_pb2.CACHE_POPULATED
CACHE_PUT_FAILURE = catalog_pb2.CACHE_PUT_FAILURE


def now_us() -> int:
    """The current time in microseconds since the epoch (the store's time unit)."""
    return time.time_ns() // 1000


def is_terminal(phase: int) -> bool:
    """Whether an action in ``phase`` is finished for good."""
    return phase in TERMINAL_PHASES


def phase_name(phase: int) -> str:
    """``SUCCEEDED`` for ACTION_PHASE_SUCCEEDED, and so on."""
    return str(phase_pb2.ActionPhase.Name(phase)).removeprefix("ACTION_PHASE_")  # type: ignore[arg-type]


def error_info(code: str, message: str, *, system: bool) -> run_definition_pb2.ErrorInfo:
    """An ``ErrorInfo`` of the user or system kind."""
    kind = run_definition_pb2.ErrorInfo.KIND_SYSTEM if system else run_definition_pb2.ErrorInfo.KIND_USER
    return run_definition_pb2.ErrorInfo(code=code, message=message, kind=kind)


def execution_error(info: run_definition_pb2.ErrorInfo | None) -> execution_pb2.ExecutionError | None:
    """The ``ExecutionError`` an ``ActionUpdate`` carries for an ``ErrorInfo``."""
    if info is None:
        return None
    kind = {
        run_definition_pb2.ErrorInfo.KIND_USER: execution_pb2.ExecutionError.USER,
        run_definition_pb2.ErrorInfo.KIND_SYSTEM: execution_pb2.ExecutionError.SYSTEM,
    }.get(info.kind, execution_pb2.ExecutionError.UNKNOWN)
    return execution_pb2.ExecutionError(code=info.code, message=info.message, kind=kind)


@dataclass(eq=False)
class RunState:
    """An active run: settings every action of it shares, and its concurrency accounting."""

    project: str
    domain: str
    name: str
    run_spec: run_pb2.RunSpec
    start_us: int
    """The run's start time, substituted as ``{{.runStartTime}}`` (stable across attempts)."""
    known: set[str] = field(default_factory=set)
    """Names of every action of the run in the store, finished ones included (idempotent enqueues)."""
    active: int = 0
    """Actions of the run that are not terminal."""
    running: int = 0
    """Actions of the run holding a worker slot."""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.project, self.domain, self.name)

    @property
    def max_concurrency(self) -> int:
        """``RunSpec.max_action_concurrency`` (0: unlimited)."""
        return max(0, int(self.run_spec.max_action_concurrency))

    @property
    def overwrite_cache(self) -> bool:
        return bool(self.run_spec.overwrite_cache or self.run_spec.cache_config.overwrite_cache)

    @property
    def cache_scope(self) -> str:
        """Where cache entries are looked up: per project/domain, unless the run asks for global."""
        if self.run_spec.cache_config.cache_lookup_scope == run_pb2.CACHE_LOOKUP_SCOPE_GLOBAL:
            return "*"
        return f"{self.project}/{self.domain}"


@dataclass(eq=False)
class ActionState:
    """An action that is not terminal yet, as the engine drives it."""

    key: ActionKey
    run: RunState
    parent: str
    group: str
    kind: int
    phase: int
    attempt: int
    """The current attempt number (1-based); bumped when a failure is retried."""
    spec: task_definition_pb2.TaskSpec | None
    spec_digest: str
    input_uri: str
    run_output_base: str
    env: dict[str, str]
    created_us: int
    queued_us: int
    cache_key: str = ""
    cache_status: int = CACHE_DISABLED
    user_failures: int = 0
    system_failures: int = 0
    not_before_us: int = 0
    children: set[str] = field(default_factory=set)
    """Names of non-terminal children."""
    holds_slot: bool = False
    """Whether a worker process of this action is running (it then holds a worker slot)."""
    counted: bool = False
    """Whether it counts against the slot limits now (a parent waiting on children does not)."""
    waiting_marked: bool = False
    waiting_since_us: int = 0
    process: Any = None
    """The running attempt's ``AttemptHandle`` (``flyte_server.executors``)."""
    runner: asyncio.Task[None] | None = None
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    attempt_started_us: int = 0
    attempt_row: bool = False
    """Whether the current attempt has a row in the store."""
    transitions: list[list[int]] = field(default_factory=list)
    """The current attempt's phase history: [phase, start µs, end µs (0: ongoing)]."""
    reattach: Any = None
    """An attempt handle found at start-up, to wait on instead of launching."""
    parked_on: frozenset[str] | None = None
    """While parked (no attempt runs, see :mod:`flyte._internal.parking`): the conditions whose end relaunches it."""

    @property
    def is_root(self) -> bool:
        return self.key.name == ROOT_ACTION

    @property
    def template(self) -> Any:
        """The task template (``None`` for traces)."""
        return self.spec.task_template if self.spec is not None else None

    @property
    def retries(self) -> int:
        """The user retry budget: ``metadata.retries.retries``."""
        return int(self.spec.task_template.metadata.retries.retries) if self.spec is not None else 0

    @property
    def cacheable(self) -> bool:
        return bool(self.spec is not None and self.spec.task_template.metadata.discoverable and self.cache_key)

    def env_json(self) -> str:
        return json.dumps(self.env, sort_keys=True)

    def output_dir(self, attempt: int | None = None) -> str:
        """The output directory of an attempt: ``<run output base>/<action>/<attempt>``."""
        return f"{self.run_output_base.rstrip('/')}/{self.key.name}/{attempt or self.attempt}"

    def cancel_timers(self) -> None:
        for handle in self.timers.values():
            handle.cancel()
        self.timers.clear()

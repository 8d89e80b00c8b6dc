"""The action state machine: every phase change of every action goes through here.

```
QUEUED ─► WAITING_FOR_RESOURCES ─► RUNNING ─► SUCCEEDED | FAILED | TIMED_OUT
   ▲        (slots, a cache owner)     │
   └──── retryable failure, attempt+1 ─┘        any non-terminal ─► ABORTED
```

Each change is applied to the in-memory state at once (so concurrent requests see it), committed
through the :class:`StoreWriter`, and published to watchers after the commit. A retryable failure
goes back to QUEUED with the next attempt number and never shows a terminal phase. When an action
ends, its non-terminal descendants are aborted and their processes stopped.

Slots: an action holds a worker slot while its process runs, except while it waits on children
of its own (otherwise a chain of nested calls deeper than the slot count would deadlock).

Parking: an attempt that only waits (for a condition, or a long ``flyte.durable.sleep``) may end
with ``parked.json`` instead (:mod:`flyte._internal.parking`). Its row closes PAUSED, the action
stays RUNNING with no process and no slot, and it goes back to QUEUED (same attempt number, no
failure counted: ``attempt_number`` in the task stays what it was) once a condition it named ends
or its wake time passes; the relaunch replays the task to where the parked run of it stopped.
Abort, deadline and runtime timeout apply while parked as while the process waited.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from flyteidl2.workflow import run_definition_pb2
from google.protobuf import duration_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from flyte_server.engine.model import (
    ABORTED,
    FAILED,
    INITIALIZING,
    PAUSED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    TASK,
    TIMED_OUT,
    WAITING,
    ActionKey,
    ActionState,
    RunState,
    error_info,
    is_terminal,
    now_us,
)
from flyte_server.engine.watch import ActionEvent
from flyte_server.engine.writer import Statements, StoreWriter
from flyte_server.store import runs as store

__all__ = ["ActionMachine", "EnginePolicy"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class EnginePolicy:
    """Knobs of the engine that ``ServerConfig`` does not carry."""

    system_retries: int = 3
    """How often an attempt that failed for a system reason (crash, non-zero exit, lost worker) is retried."""
    system_retry_delay: float = 0.5
    """Seconds before a system retry (times the failure count)."""
    kill_grace: float = 3.0
    """Seconds between SIGTERM and SIGKILL when stopping a worker."""


def _duration(value: Any) -> float:
    return float(value.seconds) + float(value.nanos) / 1e9


def _event(a: ActionState, *, output_uri: str = "", error: run_definition_pb2.ErrorInfo | None = None) -> ActionEvent:
    if not output_uri and a.kind == TASK:
        output_uri = a.output_dir()  # where the attempt writes; the SDK expects it on every update
    return ActionEvent(
        key=a.key,
        parent=a.parent,
        phase=a.phase,
        attempt=a.attempt,
        action_type=a.kind,
        output_uri=output_uri,
        error=error,
        cache_status=a.cache_status,
    )


class ActionMachine:
    """Active runs and actions, and the transitions between their phases."""

    def __init__(
        self,
        *,
        writer: StoreWriter,
        policy: EnginePolicy,
        workers: int,
        on_ready: Callable[[ActionState], None],
        on_gone: Callable[[ActionState], None],
        on_slots_freed: Callable[[], None],
    ) -> None:
        self.writer = writer
        self.policy = policy
        self.workers = max(1, workers)
        self.runs: dict[tuple[str, str, str], RunState] = {}
        self.actions: dict[ActionKey, ActionState] = {}
        self.creating: set[ActionKey] = set()
        self.slots_used = 0
        self._on_ready = on_ready
        self._on_gone = on_gone
        self._on_slots_freed = on_slots_freed
        self._kills: set[asyncio.Task[None]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.on_wake: Callable[[ActionState], Awaitable[None]] | None = None
        """Called before a parked action is queued again (the scheduler removes its ``parked.json``)."""

    # ------------------------------------------------------------------ slots

    def recount(self, a: ActionState) -> None:
        """Update the slot counters after ``a``'s process or children changed."""
        counted = a.holds_slot and not a.children
        if counted == a.counted:
            return
        a.counted = counted
        delta = 1 if counted else -1
        self.slots_used += delta
        a.run.running += delta
        if not counted:
            self._on_slots_freed()

    def has_slot(self, run: RunState) -> bool:
        """Whether an action of ``run`` may start now."""
        if self.slots_used >= self.workers:
            return False
        return not run.max_concurrency or run.running < run.max_concurrency

    def take_slot(self, a: ActionState) -> None:
        a.holds_slot = True
        self.recount(a)

    def release_slot(self, a: ActionState) -> None:
        a.holds_slot = False
        self.recount(a)

    # ------------------------------------------------------------------ registry

    def register(self, a: ActionState) -> None:
        """Track a new non-terminal action (its row is being inserted)."""
        self.actions[a.key] = a
        a.run.known.add(a.key.name)
        a.run.active += 1
        parent = self.actions.get(ActionKey(*a.run.key, a.parent)) if a.parent else None
        if parent is not None:
            parent.children.add(a.key.name)
            self.recount(parent)
        self._arm_deadline(a)
        if a.phase in (QUEUED, WAITING):
            self._arm_queued_timeout(a)

    def _forget(self, a: ActionState) -> None:
        a.cancel_timers()
        self.actions.pop(a.key, None)
        a.run.active -= 1
        parent = self.actions.get(ActionKey(*a.run.key, a.parent)) if a.parent else None
        if parent is not None:
            parent.children.discard(a.key.name)
            self.recount(parent)
            if parent.parked_on is not None and a.key.name in parent.parked_on:
                self.spawn(self.wake(parent), name=f"wake-{parent.key}")
        if a.run.active <= 0:
            self.runs.pop(a.run.key, None)

    def finish_registration_failed(self, a: ActionState) -> None:
        """Undo :meth:`register` when the row could not be inserted."""
        self._forget(a)
        a.run.known.discard(a.key.name)

    def descendants(self, a: ActionState) -> Iterator[ActionState]:
        """Non-terminal descendants of ``a``, deepest first."""
        for name in list(a.children):
            child = self.actions.get(ActionKey(*a.run.key, name))
            if child is not None:
                yield from self.descendants(child)
                yield child

    def spawn(self, coroutine: Any, name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ timers

    def _later(self, a: ActionState, label: str, seconds: float, callback: Callable[[], None]) -> None:
        old = a.timers.pop(label, None)
        if old is not None:
            old.cancel()
        a.timers[label] = asyncio.get_running_loop().call_later(max(0.0, seconds), callback)

    def _arm_limit(self, a: ActionState, timer: str, limit: duration_pb2.Duration, since_us: int, code: str) -> None:
        """Time ``a`` out with ``code`` once ``limit`` has passed since ``since_us`` (zero: no limit)."""
        seconds = _duration(limit)
        if seconds <= 0:
            return
        remaining = seconds - (now_us() - since_us) / 1e6
        self._later(a, timer, remaining, lambda: self._time_out(a, code, seconds))

    def _arm_deadline(self, a: ActionState) -> None:
        template = a.template
        if template is not None and template.metadata.timeouts.HasField("deadline"):
            self._arm_limit(a, "deadline", template.metadata.timeouts.deadline, a.created_us, "DEADLINE_EXCEEDED")

    def _arm_queued_timeout(self, a: ActionState) -> None:
        template = a.template
        if template is not None and template.metadata.timeouts.HasField("queued_timeout"):
            timeouts = template.metadata.timeouts
            self._arm_limit(a, "queued", timeouts.queued_timeout, a.queued_us, "QUEUED_TIMEOUT_EXCEEDED")

    def arm_runtime_timeout(self, a: ActionState) -> None:
        """Start the per-attempt runtime limit (``metadata.timeout``) of a running attempt."""
        queued = a.timers.pop("queued", None)
        if queued is not None:
            queued.cancel()
        template = a.template
        if template is not None and template.metadata.HasField("timeout"):
            self._arm_limit(a, "runtime", template.metadata.timeout, a.attempt_started_us, "MAX_RUNTIME_EXCEEDED")

    def _time_out(self, a: ActionState, code: str, limit: float) -> None:
        if is_terminal(a.phase) or self.actions.get(a.key) is not a:
            return
        if code == "QUEUED_TIMEOUT_EXCEEDED" and a.phase not in (QUEUED, WAITING):
            return
        what = {
            "MAX_RUNTIME_EXCEEDED": "ran longer than its timeout",
            "QUEUED_TIMEOUT_EXCEEDED": "waited in the queue longer than its queued timeout",
            "DEADLINE_EXCEEDED": "did not finish before its deadline",
        }[code]
        error = error_info(code, f"action {a.key.name} {what} of {limit:g}s", system=False)
        self.spawn(self.finish(a, TIMED_OUT, error=error), name=f"timeout-{a.key}")

    # ------------------------------------------------------------------ transitions

    async def mark_waiting(self, actions: list[ActionState]) -> None:
        """QUEUED → WAITING_FOR_RESOURCES for actions that cannot get a slot (or a cache owner) now."""
        changed = [a for a in actions if a.phase == QUEUED and self.actions.get(a.key) is a]
        if not changed:
            return
        stamp = now_us()
        for a in changed:
            a.phase = WAITING
            a.waiting_marked = True
            a.waiting_since_us = stamp

        op = Statements()
        for a in changed:
            op.add(*store.action_update(a.key, {"phase": WAITING, "updated_us": stamp}))
        await self.writer.write(op, [_event(a) for a in changed])

    def mark_running(
        self, a: ActionState, *, handle: str, log_path: str, work_dir: str
    ) -> asyncio.Future[None]:
        """The attempt started (``handle``: its executor's handle id): go RUNNING and record the attempt row.

        The write is queued (ahead of anything that happens to the action later) and returned as
        a future: the runner need not wait for it, since an attempt without its row is found again
        by its labels after a crash (``Executor.find_attempts``).
        """
        stamp = now_us()
        a.attempt_started_us = stamp
        transitions: list[list[int]] = [[QUEUED, a.queued_us, a.waiting_since_us or stamp]]
        if a.waiting_since_us:
            transitions.append([WAITING, a.waiting_since_us, stamp])
        transitions += [[INITIALIZING, stamp, stamp], [RUNNING, stamp, 0]]
        a.transitions = transitions
        a.phase = RUNNING
        a.waiting_marked = False
        self.arm_runtime_timeout(a)
        attempt = {
            "project": a.key.project,
            "domain": a.key.domain,
            "run_name": a.key.run,
            "action_name": a.key.name,
            "attempt": a.attempt,
            "phase": RUNNING,
            "cache_status": a.cache_status,
            "output_uri": a.output_dir(),
            "log_path": log_path,
            "work_dir": work_dir,
            "transitions": json.dumps(transitions),
            "handle": handle,
            "started_us": stamp,
        }
        exists = a.attempt_row
        a.attempt_row = True
        op = Statements()
        op.add(*(store.attempt_update(a.key, a.attempt, attempt) if exists else store.attempt_insert(attempt)))
        op.add(*store.action_update(a.key, {"phase": RUNNING, "updated_us": stamp}))
        return self.writer.enqueue(op, [_event(a)])

    async def record_cached_attempt(self, a: ActionState, *, output_uri: str) -> None:
        """Record the attempt that a cache hit stands for (no process ran)."""
        stamp = now_us()
        attempt = {
            "project": a.key.project,
            "domain": a.key.domain,
            "run_name": a.key.run,
            "action_name": a.key.name,
            "attempt": a.attempt,
            "phase": SUCCEEDED,
            "cache_status": a.cache_status,
            "output_uri": output_uri,
            "transitions": json.dumps([[QUEUED, a.queued_us, stamp], [SUCCEEDED, stamp, stamp]]),
            "started_us": stamp,
            "ended_us": stamp,
        }
        exists = a.attempt_row
        a.attempt_row = True

        async def op(session: AsyncSession) -> None:
            if exists:
                await store.update_attempt(session, a.key, attempt["attempt"], attempt)
            else:
                await store.insert_attempt(session, attempt)

        await self.writer.write(op)

    def _close_attempt_op(
        self,
        a: ActionState,
        phase: int,
        stamp: int,
        error: run_definition_pb2.ErrorInfo | None,
        output_uri: str,
    ) -> store.Statement | None:
        """The write that ends the current attempt's row (``None`` when it has no row)."""
        if not a.attempt_row:
            return None
        number = a.attempt
        transitions = [list(item) for item in a.transitions]
        if transitions and not transitions[-1][2]:
            transitions[-1][2] = stamp
        transitions.append([phase, stamp, stamp])
        values: dict[str, Any] = {
            "phase": phase,
            "ended_us": stamp,
            "error_info": error.SerializeToString() if error is not None else b"",
            "transitions": json.dumps(transitions),
            "cache_status": a.cache_status,
        }
        if output_uri:
            values["output_uri"] = output_uri

        return store.attempt_update(a.key, number, values)

    async def finish(
        self,
        a: ActionState,
        phase: int,
        *,
        error: run_definition_pb2.ErrorInfo | None = None,
        output_uri: str = "",
        report_uri: str = "",
        abort_reason: str = "",
        cascade_reason: str | None = None,
    ) -> None:
        """End ``a`` in a terminal phase; abort its non-terminal descendants; stop its process."""
        if is_terminal(a.phase) or self.actions.get(a.key) is not a:
            return
        stamp = now_us()
        victims = list(self.descendants(a))
        reason = cascade_reason or f"parent action {a.key.name} ended"
        for node in [*victims, a]:
            node.phase = ABORTED if node is not a else phase
            self._stop_process(node)
            self._forget(node)
            self._on_gone(node)
        rows: list[tuple[ActionState, int, run_definition_pb2.ErrorInfo | None, str, str]] = [
            (node, ABORTED, None, "", reason) for node in victims
        ]
        rows.append((a, phase, error, output_uri, abort_reason))
        action_updates: list[tuple[ActionKey, dict[str, Any]]] = []
        attempt_updates: list[store.Statement] = []
        events = []
        for node, node_phase, node_error, node_output, node_reason in rows:
            values: dict[str, Any] = {
                "phase": node_phase,
                "updated_us": stamp,
                "ended_us": stamp,
                "attempts": node.attempt,
                "user_failures": node.user_failures,
                "system_failures": node.system_failures,
                "cache_status": node.cache_status,
            }
            if node_error is not None:
                values["error_info"] = node_error.SerializeToString()
            if node_output:
                values["output_uri"] = node_output
            if report_uri and node is a:
                values["report_uri"] = report_uri
            if node_phase == ABORTED:
                values["abort_requested"] = True
                values["abort_reason"] = node_reason
            action_updates.append((node.key, values))
            close = self._close_attempt_op(node, node_phase, stamp, node_error, node_output)
            if close is not None:
                attempt_updates.append(close)
            events.append(_event(node, output_uri=node_output, error=node_error))

        op = Statements()
        for target, values in action_updates:
            op.add(*store.action_update(target, values))
        for close in attempt_updates:
            op.add(*close)

        await self.writer.write(op, events)

    def _stop_process(self, a: ActionState) -> None:
        process = a.process
        if process is None or process.done():
            return
        task = asyncio.create_task(process.terminate(self.policy.kill_grace), name=f"stop-{a.key}")
        self._kills.add(task)
        task.add_done_callback(self._kills.discard)

    async def wait_for_kills(self) -> None:
        """Wait until every stop requested so far is done."""
        while self._kills:
            await asyncio.gather(*list(self._kills), return_exceptions=True)

    async def retry(self, a: ActionState, error: run_definition_pb2.ErrorInfo, *, system: bool) -> None:
        """A retryable failure: close the attempt, go back to QUEUED with attempt + 1."""
        stamp = now_us()
        close = self._close_attempt_op(a, FAILED, stamp, error, "")
        if system:
            a.system_failures += 1
            delay = self.policy.system_retry_delay * a.system_failures
        else:
            a.user_failures += 1
            delay = self._backoff(a)
        a.attempt += 1
        a.attempt_row = False
        self._back_to_queue(a, stamp, not_before_us=stamp + int(delay * 1e6))
        values = {
            "phase": QUEUED,
            "attempts": a.attempt,
            "user_failures": a.user_failures,
            "system_failures": a.system_failures,
            "queued_us": stamp,
            "not_before_us": a.not_before_us,
            "updated_us": stamp,
        }

        op = Statements()
        if close is not None:
            op.add(*close)
        op.add(*store.action_update(a.key, values))

        logger.info("retrying %s as attempt %d: %s", a.key, a.attempt, error.message.splitlines()[:1])
        await self.writer.write(op, [_event(a)])
        if self.actions.get(a.key) is a and a.phase == QUEUED:
            self._on_ready(a)

    async def park(self, a: ActionState, *, conditions: tuple[str, ...], wake_us: int) -> None:
        """The attempt parked: close its row PAUSED; relaunch once a condition ends or at ``wake_us``."""
        stamp = now_us()
        close = self._close_attempt_op(a, PAUSED, stamp, None, "")
        a.process = None
        a.parked_on = frozenset(conditions)
        if close is not None:
            op = Statements()
            op.add(*close)
            await self.writer.write(op, [])
        if not self.is_current(a) or a.parked_on is None:
            return
        run_key = a.run.key
        ended = [name for name in conditions if ActionKey(*run_key, name) not in self.actions]
        if ended or (not conditions and wake_us <= stamp):
            await self.wake(a)
        elif wake_us:
            self._later(a, "wake", (wake_us - now_us()) / 1e6, lambda: self.spawn(self.wake(a), name=f"wake-{a.key}"))
        logger.info("%s parked (attempt %d) until %s", a.key, a.attempt, ", ".join(conditions) or f"{wake_us} µs")

    async def wake(self, a: ActionState) -> None:
        """Relaunch a parked action: the same attempt again (a replay, not a retry: its number stays)."""
        if a.parked_on is None or not self.is_current(a):
            return
        a.parked_on = None
        timer = a.timers.pop("wake", None)
        if timer is not None:
            timer.cancel()
        if self.on_wake is not None:
            await self.on_wake(a)  # the parked.json goes before the action is queued again
        if not self.is_current(a):
            return
        stamp = now_us()
        self._back_to_queue(a, stamp, not_before_us=0)
        values = {"phase": QUEUED, "queued_us": stamp, "not_before_us": 0, "updated_us": stamp}
        op = Statements()
        op.add(*store.action_update(a.key, values))
        await self.writer.write(op, [_event(a)])
        if self.actions.get(a.key) is a and a.phase == QUEUED:
            self._on_ready(a)

    def _back_to_queue(self, a: ActionState, stamp: int, *, not_before_us: int) -> None:
        """Make ``a`` QUEUED for its next launch (a retry's next attempt, or a parked attempt again)."""
        a.phase = QUEUED
        a.queued_us = stamp
        a.waiting_since_us = 0
        a.waiting_marked = False
        a.attempt_started_us = 0
        a.process = None
        a.transitions = []
        a.not_before_us = not_before_us
        self._arm_queued_timeout(a)

    def _backoff(self, a: ActionState) -> float:
        template = a.template
        if template is None or not template.metadata.retries.HasField("backoff"):
            return 0.0
        backoff = template.metadata.retries.backoff
        base = _duration(backoff.base)
        factor = backoff.factor or 1.0
        delay = base * factor ** max(0, a.user_failures - 1)
        if backoff.HasField("cap"):
            delay = min(delay, _duration(backoff.cap))
        return max(0.0, delay)

    async def requeue(self, a: ActionState) -> None:
        """Put an action waiting on something (a cache owner) back in the queue."""
        if self.actions.get(a.key) is a and not is_terminal(a.phase):
            self._on_ready(a)

    async def abort(self, a: ActionState, reason: str) -> None:
        """Abort ``a`` and every non-terminal descendant."""
        await self.finish(a, ABORTED, abort_reason=reason, cascade_reason=reason)

    async def succeed(
        self, a: ActionState, *, output_uri: str, report_uri: str = "", cache_status: int | None = None
    ) -> None:
        """End ``a`` in SUCCEEDED with its outputs in ``output_uri``."""
        if cache_status is not None:
            a.cache_status = cache_status
        await self.finish(a, SUCCEEDED, output_uri=output_uri, report_uri=report_uri)

    async def fail(self, a: ActionState, error: run_definition_pb2.ErrorInfo) -> None:
        """End ``a`` in FAILED."""
        await self.finish(a, FAILED, error=error)

    def is_current(self, a: ActionState) -> bool:
        """Whether ``a`` is still the live, non-terminal state of its action."""
        return self.actions.get(a.key) is a and not is_terminal(a.phase)

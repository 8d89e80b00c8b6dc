"""Resuming from the store after a restart (or a crash) of the server.

The store is the source of truth. On start every non-terminal action is loaded back:

* QUEUED / WAITING_FOR_RESOURCES actions are queued again;
* a RUNNING attempt that is still running (its stored handle id, which the executor turns back
  into a handle, or found by the labels the executor launched it with) is re-attached: the engine
  waits for it and classifies its files as usual;
* a RUNNING attempt that is gone is classified from the files it left: ``outputs.pb``
  means it succeeded while the server was down, ``error.pb`` is handled as usual, and no file at
  all is a system failure, so the action is launched again as a new attempt (within the
  system-retry budget);
* actions with an abort requested, or whose parent already ended, are aborted;
* live attempts that belong to no current action (an abort the crash interrupted) are stopped.

A child that already succeeded is never run again: its row is terminal and the SDK finds it in the
snapshot of its parent's watch (names are deterministic), so it re-attaches to the result.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from typing import TYPE_CHECKING

from flyteidl2.task import run_pb2, task_definition_pb2
from sqlalchemy import select

from flyte_server.engine.conditions import CONDITION
from flyte_server.engine.model import (
    INITIALIZING,
    PAUSED,
    QUEUED,
    ROOT_ACTION,
    RUNNING,
    TASK,
    WAITING,
    ActionKey,
    ActionState,
    RunState,
)
from flyte_server.executors import AttemptHandle, AttemptKey, FinishedAttempt
from flyte_server.store import runs as store
from flyte_server.store.models.runs import ActionRow

if TYPE_CHECKING:
    from flyte_server.engine import Engine

__all__ = ["recover"]

logger = logging.getLogger(__name__)


async def recover(
    engine: Engine, *, owner: str | None = None, runs: list[tuple[str, str, str]] | None = None
) -> int:
    """Load and resume every non-terminal action; returns how many were resumed.

    ``owner``: only the runs that replica drives; ``runs``: only these runs (adopted from a replica
    that is gone). Live attempts of runs driven elsewhere, or already active here, are left alone.
    """
    machine = engine.machine
    active_before = set(machine.runs)
    async with engine.database.session() as session:
        rows = list(await store.non_terminal_actions(session, owner=owner, runs=runs))
        run_keys = sorted({(row.project, row.domain, row.run_name) for row in rows})
        roots: dict[tuple[str, str, str], ActionRow | None] = {}
        names: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        specs: dict[str, task_definition_pb2.TaskSpec] = {}
        for project, domain, run in run_keys:
            roots[(project, domain, run)] = await store.get_action(
                session, ActionKey(project, domain, run, ROOT_ACTION)
            )
            result = await session.execute(
                select(ActionRow.name).where(
                    ActionRow.project == project, ActionRow.domain == domain, ActionRow.run_name == run
                )
            )
            names[(project, domain, run)] = {name for (name,) in result.all()}
        for row in rows:
            if row.spec_digest and row.spec_digest not in specs:
                data = await store.get_task_spec(session, row.spec_digest)
                if data is not None:
                    specs[row.spec_digest] = task_definition_pb2.TaskSpec.FromString(data)
        attempts = {}
        for row in rows:
            if row.phase in (INITIALIZING, RUNNING):
                attempt = await store.get_attempt(
                    session, ActionKey(row.project, row.domain, row.run_name, row.name), row.attempts
                )
                if attempt is not None:
                    attempts[(row.project, row.domain, row.run_name, row.name)] = attempt

    live: dict[AttemptKey, AttemptHandle] = await engine.executor.find_attempts()

    states: list[tuple[ActionState, ActionRow]] = []
    for row in rows:
        run_key = (row.project, row.domain, row.run_name)
        root = roots.get(run_key)
        run_state = machine.runs.get(run_key)
        if run_state is None:
            run_spec = (
                run_pb2.RunSpec.FromString(root.run_spec) if root is not None and root.run_spec else run_pb2.RunSpec()
            )
            run_state = RunState(
                project=row.project,
                domain=row.domain,
                name=row.run_name,
                run_spec=run_spec,
                start_us=(root.run_start_us if root is not None else row.run_start_us) or row.created_us,
                known=set(names[run_key]),
            )
            machine.runs[run_key] = run_state
        if row.action_type == CONDITION:
            engine.conditions.restore(row, run_state)
            continue
        if row.action_type != TASK:
            continue
        a = ActionState(
            key=ActionKey(row.project, row.domain, row.run_name, row.name),
            run=run_state,
            parent=row.parent_name,
            group=row.group_name,
            kind=row.action_type,
            phase=row.phase,
            attempt=max(1, row.attempts),
            spec=specs.get(row.spec_digest),
            spec_digest=row.spec_digest,
            input_uri=row.input_uri,
            run_output_base=row.run_output_base,
            env=json.loads(row.env or "{}"),
            created_us=row.created_us,
            queued_us=row.queued_us or row.created_us,
            cache_key=row.cache_key,
            cache_status=row.cache_status,
            user_failures=row.user_failures,
            system_failures=row.system_failures,
            not_before_us=row.not_before_us,
        )
        machine.register(a)
        states.append((a, row))

    resumed = 0
    claimed: set[AttemptKey] = set()
    resumed_groups: set[str] = set()
    for a, row in states:
        if not machine.is_current(a):
            continue  # aborted with an ancestor below
        identity = AttemptKey(*a.key, a.attempt)
        parent_gone = bool(a.parent) and ActionKey(*a.run.key, a.parent) not in machine.actions
        if row.abort_requested or parent_gone or a.spec is None:
            reason = row.abort_reason or (
                f"parent action {a.parent} ended" if parent_gone else "the task spec of this action is missing"
            )
            await machine.abort(a, reason)
            continue
        resumed += 1
        if a.phase in (QUEUED, WAITING):
            found = live.get(identity)
            if found is None:
                engine.scheduler.submit(a)
                continue
            claimed.add(identity)
            await machine.mark_running(
                a,
                handle=found.id,
                log_path=str(engine.launcher.log_path(a)),
                work_dir=str(engine.launcher.work_dir(a)),
            )
            engine.scheduler.resume(a, found)
            continue
        attempt = attempts.get(a.key)
        process: AttemptHandle | None = None
        if attempt is not None:
            a.attempt_started_us = attempt.started_us
            a.attempt_row = True
            a.transitions = json.loads(attempt.transitions or "[]")
            if attempt.phase != PAUSED:  # a parked attempt is over: its parked.json decides
                process = await engine.executor.reattach(attempt.handle) if attempt.handle else None
        if process is None and (attempt is None or attempt.phase != PAUSED):
            process = live.get(identity)
        if process is not None:
            claimed.add(identity)
            resumed_groups.add(process.group)
            logger.info("re-attached to the attempt of %s (%s)", a.key, process.id)
            engine.scheduler.resume(a, process)
        else:
            logger.info("the attempt of %s is gone; deciding from its files", a.key)
            engine.scheduler.resume(a, FinishedAttempt(attempt.handle if attempt is not None else ""))
        a.phase = RUNNING

    # A reused worker stands for every attempt it took: stop it only when none of them is current.
    busy = {worker.group for identity, worker in live.items() if identity in claimed} | resumed_groups
    elsewhere = active_before | (await engine.replicas.foreign_runs() if engine.replicas is not None else set())
    for identity, stale in live.items():
        if (identity.project, identity.domain, identity.run) in elsewhere:
            continue
        if identity not in claimed and stale.group not in busy and not stale.done():
            logger.info("stopping a worker that belongs to no current attempt: %s", "/".join(map(str, identity)))
            machine.spawn(stale.terminate(machine.policy.kill_grace), name="stop-stale-worker")
    logger.info("recovered %d active actions in %d runs", resumed, len(run_keys))
    return resumed

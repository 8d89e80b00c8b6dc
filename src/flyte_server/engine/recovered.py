"""Recover: a new run that reuses what succeeded in a failed one (``flyte rerun RUN --recover``).

The SDK creates the run with ``RunSpec.relation = {related_to: RUN, relation_type: RECOVER}``
(and, optionally, ``RunSpec.recover.force_rerun_actions``). Its root runs again; child action
names are deterministic (parent, inputs hash, task, call number), so when the new root enqueues a
child whose name succeeded (or was itself recovered) in the source run, the engine records the
child at once in phase RECOVERED with the source's ``output_uri`` and launches nothing. The
parent reads the outputs from there, as for a success. Everything else runs.

Only a source run in the same project and domain is read. Actions named in
``force_rerun_actions`` run again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flyteidl2.common import phase_pb2
from flyteidl2.common import run_pb2 as common_run_pb2
from flyteidl2.workflow import run_definition_pb2

from flyte_server.engine.model import ActionKey, ActionState, RunState, now_us
from flyte_server.engine.watch import ActionEvent
from flyte_server.store import runs as store

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from flyte_server.engine import Engine

__all__ = ["RECOVERED", "recovering", "reuse_recovered"]

RECOVERED = phase_pb2.ACTION_PHASE_RECOVERED
_REUSABLE = (phase_pb2.ACTION_PHASE_SUCCEEDED, RECOVERED)


def recovering(run: RunState) -> bool:
    """Whether ``run`` recovers another run."""
    relation = run.run_spec.relation
    return bool(relation.relation_type == common_run_pb2.RELATION_TYPE_RECOVER and relation.related_to.name)


async def reuse_recovered(
    engine: Engine,
    key: ActionKey,
    run: RunState,
    parent: ActionState,
    task: run_definition_pb2.TaskAction,
    *,
    group: str,
    input_uri: str,
    values: dict[str, Any],
) -> bool:
    """Record ``key`` as RECOVERED when the source run has a success by that name; ``True`` if so.

    ``values`` are the row values the child would have been inserted with.
    """
    source = run.run_spec.relation.related_to
    if (source.project, source.domain) != (key.project, key.domain):
        return False
    if key.name in set(run.run_spec.recover.force_rerun_actions):
        return False
    async with engine.database.session() as session:
        row = await store.get_action(session, ActionKey(key.project, key.domain, source.name, key.name))
    if row is None or row.phase not in _REUSABLE or row.action_type != run_definition_pb2.ACTION_TYPE_TASK:
        return False
    if not row.output_uri:
        return False
    stamp = now_us()
    spec_bytes = task.spec.SerializeToString(deterministic=True)
    recovered = dict(values)
    recovered.update(
        phase=RECOVERED,
        attempts=1,
        output_uri=row.output_uri,
        cache_status=row.cache_status,
        input_uri=input_uri,
        updated_us=stamp,
        ended_us=stamp,
    )
    event = ActionEvent(
        key=key,
        parent=parent.key.name,
        phase=RECOVERED,
        attempt=1,
        action_type=run_definition_pb2.ACTION_TYPE_TASK,
        output_uri=row.output_uri,
        cache_status=row.cache_status,
    )

    async def op(session: AsyncSession) -> None:
        await store.put_task_spec(session, spec_bytes)
        await store.insert_action(session, recovered)

    from sqlalchemy.exc import IntegrityError

    run.known.add(key.name)
    engine.machine.creating.add(key)
    try:
        await engine.writer.write(op, [event])
    except IntegrityError:
        await engine.submit._republish(key)
    finally:
        engine.machine.creating.discard(key)
    del group
    return True

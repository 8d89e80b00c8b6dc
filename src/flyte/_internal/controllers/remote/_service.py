"""The two backend paths for nested actions, behind one protocol.

* :class:`QueueStateService` — ``QueueService.EnqueueAction`` / ``AbortQueuedAction`` and
  ``StateService.Watch`` (the default inside a task);
* :class:`ActionsServiceAdapter` — ``ActionsService.Enqueue`` / ``Abort`` / ``WatchForUpdates``
  (when the task's environment has ``_U_USE_ACTIONS=1``), with the ``x-actions-*`` headers.

Both answer ``watch`` with the parent's children as ``ActionUpdate`` messages and ``None`` for
the sentinel that ends the initial snapshot.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import TYPE_CHECKING, Protocol

from connectrpc.code import Code
from connectrpc.errors import ConnectError

if TYPE_CHECKING:
    from flyteidl2.actions import actions_service_pb2
    from flyteidl2.common import identifier_pb2
    from flyteidl2.workflow import run_definition_pb2, state_service_pb2

    from flyte.remote._client import ClientSet

__all__ = ["ENQUEUE_TIMEOUT_MS", "ActionService", "ActionsServiceAdapter", "QueueStateService", "service_for"]

ENQUEUE_TIMEOUT_MS = 5000
"""Enqueue must be answered within 5 s (PROTOCOL.md §7.4)."""

_TOLERATED_ABORT_CODES = (Code.NOT_FOUND, Code.FAILED_PRECONDITION)


@contextlib.contextmanager
def _tolerating(*codes: Code) -> Iterator[None]:
    """Swallow a ``ConnectError`` with one of ``codes``: the outcome the caller wants already holds."""
    try:
        yield
    except ConnectError as error:
        if error.code not in codes:
            raise


async def _updates(
    responses: AsyncIterator[state_service_pb2.WatchResponse | actions_service_pb2.WatchForUpdatesResponse],
) -> AsyncGenerator[state_service_pb2.ActionUpdate | None, None]:
    """The action updates of a watch stream, with ``None`` for the sentinel that ends the snapshot."""
    async for response in responses:
        if response.HasField("control_message"):
            if response.control_message.sentinel:
                yield None
        elif response.HasField("action_update"):
            yield response.action_update


class ActionService(Protocol):
    """Enqueue, watch and abort the children of an action."""

    async def enqueue(
        self,
        *,
        action_id: identifier_pb2.ActionIdentifier,
        parent_action_name: str,
        input_uri: str,
        run_output_base: str,
        group: str,
        task: run_definition_pb2.TaskAction | None = None,
        trace: run_definition_pb2.TraceAction | None = None,
        condition: run_definition_pb2.ConditionAction | None = None,
    ) -> None:
        """Create the child action; an action that already exists counts as enqueued."""
        ...

    def watch(
        self, parent_action_id: identifier_pb2.ActionIdentifier
    ) -> AsyncIterator[state_service_pb2.ActionUpdate | None]:
        """The parent's children (snapshot, ``None`` as the sentinel, then live updates)."""
        ...

    async def abort(self, action_id: identifier_pb2.ActionIdentifier, reason: str) -> None:
        """Abort a child (a vanished or finished one is not an error)."""
        ...


class QueueStateService:
    """The QueueService + StateService path."""

    def __init__(self, clients: ClientSet) -> None:
        self.clients = clients

    async def enqueue(
        self,
        *,
        action_id: identifier_pb2.ActionIdentifier,
        parent_action_name: str,
        input_uri: str,
        run_output_base: str,
        group: str,
        task: run_definition_pb2.TaskAction | None = None,
        trace: run_definition_pb2.TraceAction | None = None,
        condition: run_definition_pb2.ConditionAction | None = None,
    ) -> None:
        from flyteidl2.workflow import queue_service_pb2

        request = queue_service_pb2.EnqueueActionRequest(
            action_id=action_id,
            parent_action_name=parent_action_name,
            input_uri=input_uri,
            run_output_base=run_output_base,
            group=group,
            task=task,
            trace=trace,
            condition=condition,
        )
        with _tolerating(Code.ALREADY_EXISTS):
            await self.clients.queue_service.enqueue_action(request, timeout_ms=ENQUEUE_TIMEOUT_MS)

    async def watch(
        self, parent_action_id: identifier_pb2.ActionIdentifier
    ) -> AsyncIterator[state_service_pb2.ActionUpdate | None]:
        from flyteidl2.workflow import state_service_pb2

        request = state_service_pb2.WatchRequest(parent_action_id=parent_action_id)
        async with contextlib.aclosing(_updates(self.clients.state_service.watch(request))) as updates:
            async for update in updates:
                yield update

    async def abort(self, action_id: identifier_pb2.ActionIdentifier, reason: str) -> None:
        from flyteidl2.workflow import queue_service_pb2

        request = queue_service_pb2.AbortQueuedActionRequest(action_id=action_id, reason=reason)
        with _tolerating(*_TOLERATED_ABORT_CODES):
            await self.clients.queue_service.abort_queued_action(request)


def _actions_headers(action_id: identifier_pb2.ActionIdentifier, parent: str | None) -> dict[str, str]:
    headers = {
        "x-actions-project": action_id.run.project,
        "x-actions-domain": action_id.run.domain,
        "x-actions-run": action_id.run.name,
    }
    if parent is not None:
        headers["x-actions-parent-action"] = parent
    return headers


class ActionsServiceAdapter:
    """The ActionsService path."""

    def __init__(self, clients: ClientSet) -> None:
        self.clients = clients

    async def enqueue(
        self,
        *,
        action_id: identifier_pb2.ActionIdentifier,
        parent_action_name: str,
        input_uri: str,
        run_output_base: str,
        group: str,
        task: run_definition_pb2.TaskAction | None = None,
        trace: run_definition_pb2.TraceAction | None = None,
        condition: run_definition_pb2.ConditionAction | None = None,
    ) -> None:
        from flyteidl2.actions import actions_service_pb2

        request = actions_service_pb2.EnqueueRequest(
            action=actions_service_pb2.Action(
                action_id=action_id,
                parent_action_name=parent_action_name,
                input_uri=input_uri,
                run_output_base=run_output_base,
                group=group,
                task=task,
                trace=trace,
                condition=condition,
            )
        )
        with _tolerating(Code.ALREADY_EXISTS):
            await self.clients.actions_service.enqueue(
                request, headers=_actions_headers(action_id, parent_action_name), timeout_ms=ENQUEUE_TIMEOUT_MS
            )

    async def watch(
        self, parent_action_id: identifier_pb2.ActionIdentifier
    ) -> AsyncIterator[state_service_pb2.ActionUpdate | None]:
        from flyteidl2.actions import actions_service_pb2

        request = actions_service_pb2.WatchForUpdatesRequest(parent_action_id=parent_action_id)
        headers = _actions_headers(parent_action_id, parent_action_id.name)
        stream = self.clients.actions_service.watch_for_updates(request, headers=headers)
        async with contextlib.aclosing(_updates(stream)) as updates:
            async for update in updates:
                yield update

    async def abort(self, action_id: identifier_pb2.ActionIdentifier, reason: str) -> None:
        from flyteidl2.actions import actions_service_pb2

        request = actions_service_pb2.AbortRequest(action_id=action_id, reason=reason)
        with _tolerating(*_TOLERATED_ABORT_CODES):
            await self.clients.actions_service.abort(request, headers=_actions_headers(action_id, None))


def service_for(clients: ClientSet, *, use_actions: bool) -> ActionService:
    """The path a task's environment asks for (``_U_USE_ACTIONS=1`` → ActionsService)."""
    if use_actions:
        return ActionsServiceAdapter(clients)
    return QueueStateService(clients)

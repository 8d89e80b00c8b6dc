"""``QueueService``: the in-task controller enqueues child and trace actions here (default path)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from connectrpc.request import RequestContext
from flyteidl2.workflow import queue_service_connect
from flyteidl2.workflow import queue_service_pb2 as pb
from flyteidl2.workflow.queue_service_connect import QueueServiceASGIApplication

from flyte_server.admin.run_service import action_key, run_key

if TYPE_CHECKING:
    from flyteidl2.actions import actions_service_pb2
    from flyteidl2.common import identifier_pb2

    from flyte_server.engine import Engine

__all__ = ["QueueService", "abort_child", "enqueue_child", "queue_app"]


async def enqueue_child(engine: Engine, action: pb.EnqueueActionRequest | actions_service_pb2.Action) -> None:
    """Enqueue a child, trace or condition action; QueueService and ActionsService carry the same fields."""
    kind = action.WhichOneof("spec")
    await engine.submit.enqueue(
        action_id=action.action_id,
        parent_name=action.parent_action_name,
        input_uri=action.input_uri,
        run_output_base=action.run_output_base,
        group=action.group,
        spec_kind=kind,
        task=action.task if kind == "task" else None,
        trace=action.trace if kind == "trace" else None,
        condition=action.condition if kind == "condition" else None,
    )


async def abort_child(engine: Engine, action_id: identifier_pb2.ActionIdentifier, reason: str) -> None:
    """Abort a child action at its parent's request."""
    await engine.abort(action_key(action_id), reason or "aborted by its parent")


class QueueService(queue_service_connect.QueueService):  # type: ignore[misc]  # the generated stubs are untyped
    """``flyteidl2.workflow.QueueService`` on the engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def enqueue_action(
        self, request: pb.EnqueueActionRequest, ctx: RequestContext[Any, Any]
    ) -> pb.EnqueueActionResponse:
        await enqueue_child(self.engine, request)
        return pb.EnqueueActionResponse()

    async def abort_queued_action(
        self, request: pb.AbortQueuedActionRequest, ctx: RequestContext[Any, Any]
    ) -> pb.AbortQueuedActionResponse:
        await abort_child(self.engine, request.action_id, request.reason)
        return pb.AbortQueuedActionResponse()

    async def abort_queued_run(
        self, request: pb.AbortQueuedRunRequest, ctx: RequestContext[Any, Any]
    ) -> pb.AbortQueuedRunResponse:
        await self.engine.abort(run_key(request.run_id), request.reason or "aborted")
        return pb.AbortQueuedRunResponse()


def queue_app(engine: Engine, *, interceptors: Sequence[Any] = (), read_max_bytes: int | None = None) -> Any:
    """The ASGI application of QueueService."""
    return QueueServiceASGIApplication(QueueService(engine), interceptors=interceptors, read_max_bytes=read_max_bytes)

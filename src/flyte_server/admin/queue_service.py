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
    from flyte_server.engine import Engine

__all__ = ["QueueService", "queue_app"]


class QueueService(queue_service_connect.QueueService):  # type: ignore[misc]  # the generated stubs are untyped
    """``flyteidl2.workflow.QueueService`` on the engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def enqueue_action(
        self, request: pb.EnqueueActionRequest, ctx: RequestContext[Any, Any]
    ) -> pb.EnqueueActionResponse:
        kind = request.WhichOneof("spec")
        await self.engine.submit.enqueue(
            action_id=request.action_id,
            parent_name=request.parent_action_name,
            input_uri=request.input_uri,
            run_output_base=request.run_output_base,
            group=request.group,
            spec_kind=kind,
            task=request.task if kind == "task" else None,
            trace=request.trace if kind == "trace" else None,
        )
        return pb.EnqueueActionResponse()

    async def abort_queued_action(
        self, request: pb.AbortQueuedActionRequest, ctx: RequestContext[Any, Any]
    ) -> pb.AbortQueuedActionResponse:
        await self.engine.abort(action_key(request.action_id), request.reason or "aborted by its parent")
        return pb.AbortQueuedActionResponse()

    async def abort_queued_run(
        self, request: pb.AbortQueuedRunRequest, ctx: RequestContext[Any, Any]
    ) -> pb.AbortQueuedRunResponse:
        await self.engine.abort(run_key(request.run_id), request.reason or "aborted")
        return pb.AbortQueuedRunResponse()


def queue_app(engine: Engine, *, interceptors: Sequence[Any] = (), read_max_bytes: int | None = None) -> Any:
    """The ASGI application of QueueService."""
    return QueueServiceASGIApplication(QueueService(engine), interceptors=interceptors, read_max_bytes=read_max_bytes)

"""``ActionsService``: the unified controller path (``_U_USE_ACTIONS=1``) on the same engine as Queue/State."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from connectrpc.request import RequestContext
from flyteidl2.actions import actions_service_connect
from flyteidl2.actions import actions_service_pb2 as pb
from flyteidl2.actions.actions_service_connect import ActionsServiceASGIApplication
from flyteidl2.workflow import state_service_pb2

from flyte_server.admin.queue_service import abort_child, enqueue_child
from flyte_server.admin.run_service import action_key

if TYPE_CHECKING:
    from flyte_server.engine import Engine

__all__ = ["ActionsService", "actions_app"]


class ActionsService(actions_service_connect.ActionsService):  # type: ignore[misc]  # the generated stubs are untyped
    """``flyteidl2.actions.ActionsService``: Enqueue, WatchForUpdates, Abort."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def enqueue(self, request: pb.EnqueueRequest, ctx: RequestContext[Any, Any]) -> pb.EnqueueResponse:
        await enqueue_child(self.engine, request.action)
        return pb.EnqueueResponse()

    async def watch_for_updates(
        self, request: pb.WatchForUpdatesRequest, ctx: RequestContext[Any, Any]
    ) -> AsyncIterator[pb.WatchForUpdatesResponse]:
        parent = action_key(request.parent_action_id, "parent_action_id")
        async for update in self.engine.queries.watch_children(parent):
            if update is None:
                yield pb.WatchForUpdatesResponse(control_message=state_service_pb2.ControlMessage(sentinel=True))
            else:
                yield pb.WatchForUpdatesResponse(action_update=update)

    async def abort(self, request: pb.AbortRequest, ctx: RequestContext[Any, Any]) -> pb.AbortResponse:
        await abort_child(self.engine, request.action_id, request.reason)
        return pb.AbortResponse()


def actions_app(engine: Engine, *, interceptors: Sequence[Any] = (), read_max_bytes: int | None = None) -> Any:
    """The ASGI application of ActionsService."""
    return ActionsServiceASGIApplication(
        ActionsService(engine), interceptors=interceptors, read_max_bytes=read_max_bytes
    )

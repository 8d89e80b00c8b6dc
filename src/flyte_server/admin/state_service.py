"""``StateService.Watch``: the children of one action — snapshot, sentinel, then live updates."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from connectrpc.request import RequestContext
from flyteidl2.workflow import state_service_connect
from flyteidl2.workflow import state_service_pb2 as pb
from flyteidl2.workflow.state_service_connect import StateServiceASGIApplication

from flyte_server.admin.run_service import action_key

if TYPE_CHECKING:
    from flyte_server.engine import Engine

__all__ = ["StateService", "state_app"]


class StateService(state_service_connect.StateService):  # type: ignore[misc]  # the generated stubs are untyped
    """``flyteidl2.workflow.StateService``: only ``Watch`` is used by the SDK."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def watch(self, request: pb.WatchRequest, ctx: RequestContext[Any, Any]) -> AsyncIterator[pb.WatchResponse]:
        parent = action_key(request.parent_action_id, "parent_action_id")
        async for update in self.engine.queries.watch_children(parent):
            if update is None:
                yield pb.WatchResponse(control_message=pb.ControlMessage(sentinel=True))
            else:
                yield pb.WatchResponse(action_update=update)


def state_app(engine: Engine, *, interceptors: Sequence[Any] = (), read_max_bytes: int | None = None) -> Any:
    """The ASGI application of StateService."""
    return StateServiceASGIApplication(StateService(engine), interceptors=interceptors, read_max_bytes=read_max_bytes)

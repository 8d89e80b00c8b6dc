"""``RunService``: create runs, read their details, watch them, list, abort.

Thin: validate identifiers, then call the engine (writes) or its queries (reads).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from flyteidl2.common import identifier_pb2
from flyteidl2.workflow import run_service_connect
from flyteidl2.workflow import run_service_pb2 as pb
from flyteidl2.workflow.run_service_connect import RunServiceASGIApplication

from flyte_server.engine.model import ROOT_ACTION, ActionKey

if TYPE_CHECKING:
    from flyte_server.engine import Engine

__all__ = ["RunService", "action_key", "run_app", "run_key"]


def run_key(run_id: identifier_pb2.RunIdentifier, field: str = "run_id") -> ActionKey:
    """The key of a run's root action; INVALID_ARGUMENT when the id is incomplete."""
    for part, value in (("project", run_id.project), ("domain", run_id.domain), ("name", run_id.name)):
        if not value:
            raise ConnectError(Code.INVALID_ARGUMENT, f"{field}.{part} is required")
    return ActionKey(run_id.project, run_id.domain, run_id.name, ROOT_ACTION)


def action_key(action_id: identifier_pb2.ActionIdentifier, field: str = "action_id") -> ActionKey:
    """The key of an action; INVALID_ARGUMENT when the id is incomplete."""
    key = run_key(action_id.run, f"{field}.run")
    if not action_id.name:
        raise ConnectError(Code.INVALID_ARGUMENT, f"{field}.name is required")
    return key._replace(name=action_id.name)


class RunService(run_service_connect.RunService):  # type: ignore[misc]  # the generated stubs are untyped
    """``flyteidl2.workflow.RunService`` on the engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.queries = engine.queries

    async def create_run(self, request: pb.CreateRunRequest, ctx: RequestContext[Any, Any]) -> pb.CreateRunResponse:
        return pb.CreateRunResponse(run=await self.engine.create_run(request))

    async def abort_run(self, request: pb.AbortRunRequest, ctx: RequestContext[Any, Any]) -> pb.AbortRunResponse:
        await self.engine.abort(run_key(request.run_id), request.reason or "aborted by the user")
        return pb.AbortRunResponse()

    async def abort_action(
        self, request: pb.AbortActionRequest, ctx: RequestContext[Any, Any]
    ) -> pb.AbortActionResponse:
        key = action_key(request.action_id)
        # Aborting a waiting condition rejects it: the waiting task sees ConditionFailedError.
        if not await self.engine.conditions.reject(key, request.reason):
            await self.engine.abort(key, request.reason or "aborted by the user")
        return pb.AbortActionResponse()

    async def signal_event(
        self, request: pb.SignalEventRequest, ctx: RequestContext[Any, Any]
    ) -> pb.SignalEventResponse:
        """Resolve a waiting condition action with the payload (engine/conditions.py)."""
        await self.engine.conditions.signal(action_key(request.action_id), request.payload, request.parent_action_name)
        return pb.SignalEventResponse()

    async def get_run_details(
        self, request: pb.GetRunDetailsRequest, ctx: RequestContext[Any, Any]
    ) -> pb.GetRunDetailsResponse:
        return pb.GetRunDetailsResponse(details=await self.queries.run_details(run_key(request.run_id)))

    async def watch_run_details(
        self, request: pb.WatchRunDetailsRequest, ctx: RequestContext[Any, Any]
    ) -> AsyncIterator[pb.WatchRunDetailsResponse]:
        key = run_key(request.run_id)
        async for details in self.queries.watch_run_details(key):
            yield pb.WatchRunDetailsResponse(details=details)

    async def get_action_details(
        self, request: pb.GetActionDetailsRequest, ctx: RequestContext[Any, Any]
    ) -> pb.GetActionDetailsResponse:
        return pb.GetActionDetailsResponse(details=await self.queries.action_details(action_key(request.action_id)))

    async def watch_action_details(
        self, request: pb.WatchActionDetailsRequest, ctx: RequestContext[Any, Any]
    ) -> AsyncIterator[pb.WatchActionDetailsResponse]:
        key = action_key(request.action_id)
        async for details in self.queries.watch_action_details(key):
            yield pb.WatchActionDetailsResponse(details=details)

    async def get_action_data(
        self, request: pb.GetActionDataRequest, ctx: RequestContext[Any, Any]
    ) -> pb.GetActionDataResponse:
        inputs, outputs, _, _ = await self.queries.action_data(action_key(request.action_id))
        return pb.GetActionDataResponse(inputs=inputs, outputs=outputs)

    async def get_action_data_u_r_is(
        self, request: pb.GetActionDataURIsRequest, ctx: RequestContext[Any, Any]
    ) -> pb.GetActionDataURIsResponse:
        _, _, inputs_uri, outputs_uri = await self.queries.action_data(action_key(request.action_id))
        return pb.GetActionDataURIsResponse(inputs_uri=inputs_uri, outputs_uri=outputs_uri)

    async def list_runs(self, request: pb.ListRunsRequest, ctx: RequestContext[Any, Any]) -> pb.ListRunsResponse:
        scope = request.WhichOneof("scope_by")
        project: str | None = None
        domain: str | None = None
        task: tuple[str, str, str, str] | None = None
        trigger: str | None = None
        if scope == "project_id":
            project, domain = request.project_id.name or None, request.project_id.domain or None
            if project is None:
                raise ConnectError(Code.INVALID_ARGUMENT, "project_id.name is required")
        elif scope == "task_id":
            tid = request.task_id
            project, domain, task = tid.project, tid.domain, (tid.project, tid.domain, tid.name, tid.version)
        elif scope == "task_name":
            name = request.task_name
            project, domain, task = name.project, name.domain, (name.project, name.domain, name.name, "")
        elif scope == "trigger_name":
            project, domain, trigger = (
                request.trigger_name.project,
                request.trigger_name.domain,
                request.trigger_name.name,
            )
        runs, token = await self.queries.list_runs(
            request.request,
            project=project,
            domain=domain,
            task=task,
            trigger_name=trigger,
            paused_only=request.paused_actions_only,
        )
        return pb.ListRunsResponse(runs=runs, token=token)

    async def watch_runs(
        self, request: pb.WatchRunsRequest, ctx: RequestContext[Any, Any]
    ) -> AsyncIterator[pb.WatchRunsResponse]:
        if request.WhichOneof("target") != "project_id" or not request.project_id.name:
            raise ConnectError(Code.INVALID_ARGUMENT, "WatchRuns needs a project_id (name and domain)")
        async for runs in self.queries.watch_runs(request.project_id.name, request.project_id.domain):
            yield pb.WatchRunsResponse(runs=runs)

    async def list_actions(
        self, request: pb.ListActionsRequest, ctx: RequestContext[Any, Any]
    ) -> pb.ListActionsResponse:
        actions, token = await self.queries.list_actions(request.request, run_key(request.run_id))
        return pb.ListActionsResponse(actions=actions, token=token)

    async def watch_actions(
        self, request: pb.WatchActionsRequest, ctx: RequestContext[Any, Any]
    ) -> AsyncIterator[pb.WatchActionsResponse]:
        async for actions in self.queries.watch_actions(run_key(request.run_id)):
            yield pb.WatchActionsResponse(enriched_actions=actions)


def run_app(engine: Engine, *, interceptors: Sequence[Any] = (), read_max_bytes: int | None = None) -> Any:
    """The ASGI application of RunService."""
    return RunServiceASGIApplication(
        RunService(engine),
        interceptors=interceptors,
        read_max_bytes=read_max_bytes,  # type: ignore[arg-type]
    )

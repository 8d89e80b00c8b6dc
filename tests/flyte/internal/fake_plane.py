"""A small fake Flyte 2 control plane for tests: real Connect services under uvicorn on loopback.

It implements just enough of the protocol (PROTOCOL.md §2-§4) for the task runtime and its
controller: ClusterService, DataProxyService (upload locations with a signed-PUT endpoint,
UploadInputs), TaskService (deploy and lookup), RunService.CreateRun, QueueService + StateService
and ActionsService (enqueue, watch with snapshot + sentinel, abort). Every request is recorded.

Enqueued task actions run as real worker processes: the ``a0`` of the templated container args is
replaced by ``worker_command`` and the templates are substituted as a backend would. An outcome
can also be scripted per task name (``plane.scripted[...]``) so controller tests need no process.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import socket
import sys
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from flyteidl2.actions import actions_service_connect, actions_service_pb2
from flyteidl2.cluster import payload_pb2, service_connect
from flyteidl2.common import identifier_pb2, phase_pb2
from flyteidl2.common import run_pb2 as common_run_pb2
from flyteidl2.core import execution_pb2
from flyteidl2.dataproxy import dataproxy_service_connect, dataproxy_service_pb2
from flyteidl2.task import common_pb2, task_definition_pb2, task_service_connect, task_service_pb2
from flyteidl2.workflow import (
    queue_service_connect,
    queue_service_pb2,
    run_definition_pb2,
    run_service_connect,
    run_service_pb2,
    state_service_connect,
    state_service_pb2,
)
from google.protobuf.message import Message

TERMINAL = {
    phase_pb2.ACTION_PHASE_SUCCEEDED,
    phase_pb2.ACTION_PHASE_FAILED,
    phase_pb2.ACTION_PHASE_ABORTED,
    phase_pb2.ACTION_PHASE_TIMED_OUT,
    phase_pb2.ACTION_PHASE_RECOVERED,
}

OUR_A0 = [sys.executable, "-m", "flyte._internal.runtime.entrypoint"]


@dataclass
class Scripted:
    """A canned outcome for every action of one task (no process is started)."""

    phase: int
    error: execution_pb2.ExecutionError | None = None
    outputs: common_pb2.Outputs | None = None
    error_document: execution_pb2.ErrorDocument | None = None
    delay: float = 0.0


@dataclass
class FakeAction:
    run: str
    name: str
    parent: str
    group: str
    input_uri: str
    run_output_base: str
    spec: task_definition_pb2.TaskSpec | None = None
    trace: run_definition_pb2.TraceAction | None = None
    cache_key: str | None = None
    phase: int = phase_pb2.ACTION_PHASE_QUEUED
    attempt: int = 0
    output_uri: str = ""
    error: execution_pb2.ExecutionError | None = None
    env: dict[str, str] = field(default_factory=dict)
    process: asyncio.subprocess.Process | None = None
    runner: asyncio.Task[None] | None = None
    logs: list[str] = field(default_factory=list)

    def update(self) -> state_service_pb2.ActionUpdate:
        update = state_service_pb2.ActionUpdate(
            action_id=identifier_pb2.ActionIdentifier(
                run=identifier_pb2.RunIdentifier(org="local", project="p", domain="d", name=self.run), name=self.name
            ),
            phase=self.phase,  # type: ignore[arg-type]
            output_uri=self.output_uri,
        )
        if self.error is not None:
            update.error.CopyFrom(self.error)
        return update


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakePlane:
    """Start with ``async with FakePlane(root) as plane:``; ``plane.endpoint`` is ``127.0.0.1:<port>``."""

    def __init__(
        self,
        root: Path,
        *,
        worker_command: list[str] | None = None,
        worker_env: dict[str, str] | None = None,
        use_actions: bool = False,
        sentinel_delay: float = 0.0,
    ) -> None:
        self.root = root
        self.worker_command = worker_command or OUR_A0
        self.worker_env = dict(worker_env or {})
        self.use_actions = use_actions
        self.sentinel_delay = sentinel_delay
        self.enqueue_reply_delay = 0.0
        """Seconds EnqueueAction waits, after taking the action, before it answers."""
        self.launch_runs = False
        self.port = _free_port()
        self.endpoint = f"127.0.0.1:{self.port}"
        self.records: list[tuple[str, Message]] = []
        self.actions: dict[tuple[str, str], FakeAction] = {}
        self.tasks: dict[tuple[str, str], task_definition_pb2.TaskSpec] = {}
        self.scripted: dict[str, Scripted] = {}
        self.run_start_time = "2026-01-02T03:04:05Z"
        self._watchers: dict[tuple[str, str], list[asyncio.Queue[state_service_pb2.ActionUpdate | None]]] = defaultdict(
            list
        )
        self._server: uvicorn.Server | None = None
        self._serve: asyncio.Task[None] | None = None

    # --- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> FakePlane:
        apps: list[Any] = [
            service_connect.ClusterServiceASGIApplication(_ClusterService(self)),
            dataproxy_service_connect.DataProxyServiceASGIApplication(_DataProxyService(self)),
            task_service_connect.TaskServiceASGIApplication(_TaskService(self)),
            run_service_connect.RunServiceASGIApplication(_RunService(self)),
            queue_service_connect.QueueServiceASGIApplication(_QueueService(self)),
            state_service_connect.StateServiceASGIApplication(_StateService(self)),
            actions_service_connect.ActionsServiceASGIApplication(_ActionsService(self)),
        ]
        by_path = {app.path: app for app in apps}

        async def router(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return
            path: str = scope["path"]
            if path.startswith("/__upload/"):
                await self._upload(path[len("/__upload/") :], receive, send)
                return
            app = by_path.get(path.rsplit("/", 1)[0])
            if app is None:
                await send({"type": "http.response.start", "status": 404, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
            await app(scope, receive, send)

        config = uvicorn.Config(
            router,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            ws="none",
            http="h11",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._serve = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._serve.done():
                self._serve.result()
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for action in self.actions.values():
            if action.runner is not None and not action.runner.done():
                action.runner.cancel()
            with contextlib.suppress(ProcessLookupError):
                if action.process is not None and action.process.returncode is None:
                    action.process.kill()
        runners = [a.runner for a in self.actions.values() if a.runner is not None]
        if runners:
            await asyncio.gather(*runners, return_exceptions=True)
        for queues in self._watchers.values():
            for queue in queues:
                queue.put_nowait(None)
        assert self._server is not None and self._serve is not None
        self._server.should_exit = True
        await self._serve

    # --- helpers for tests ----------------------------------------------------------------

    def requests(self, method: str) -> list[Any]:
        return [message for name, message in self.records if name == method]

    def run_base(self, run: str) -> str:
        return str(self.root / "runs" / run)

    def worker_environment(self, run: str, name: str, attempt: int) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST", "_U_", "FLYTE_"))}
        env.update(
            {
                "ACTION_NAME": name,
                "RUN_NAME": run,
                "_U_RUN_BASE": self.run_base(run),
                "_U_ORG_NAME": "local",
                "FLYTE_INTERNAL_EXECUTION_PROJECT": "p",
                "FLYTE_INTERNAL_EXECUTION_DOMAIN": "d",
                "FLYTE_INTERNAL_EXECUTION_ID": run,
                "FLYTE_ATTEMPT_NUMBER": str(attempt - 1),
                "_U_EP_OVERRIDE": self.endpoint,
                "_U_INSECURE": "true",
                "FSSPEC_FILE_AUTO_MKDIR": "true",
            }
        )
        if self.use_actions:
            env["_U_USE_ACTIONS"] = "1"
        env.update(self.worker_env)
        return env

    def start_root(
        self, run: str, spec: task_definition_pb2.TaskSpec, inputs: common_pb2.Inputs, env: dict[str, str] | None = None
    ) -> FakeAction:
        """Launch the root action ``a0`` of a new run with ``inputs`` (as CreateRun would)."""
        base = self.run_base(run)
        input_uri = f"{base}/inputs/inputs.pb"
        Path(input_uri).parent.mkdir(parents=True, exist_ok=True)
        Path(input_uri).write_bytes(inputs.SerializeToString())
        action = FakeAction(
            run=run, name="a0", parent="", group="", input_uri=input_uri, run_output_base=base, spec=spec
        )
        action.env = dict(env or {})
        self.actions[(run, "a0")] = action
        action.runner = asyncio.create_task(self._execute(action))
        return action

    async def wait(self, run: str, name: str = "a0", timeout: float = 60) -> FakeAction:
        action = self.actions[(run, name)]
        assert action.runner is not None
        try:
            await asyncio.wait_for(asyncio.shield(action.runner), timeout)
        except asyncio.TimeoutError:
            for child in self.actions.values():
                if child.process is not None and child.process.returncode is None:
                    child.process.terminate()
            await asyncio.sleep(0.5)
            raise AssertionError(f"action {run}/{name} did not finish in {timeout}s:\n{self.dump()}") from None
        return action

    def dump(self) -> str:
        """Every action with its phase and logs (for assertion messages)."""
        lines = []
        for (run, name), action in self.actions.items():
            lines.append(f"{run}/{name} parent={action.parent} phase={action.phase} error={action.error}")
            lines.extend(action.logs)
        return "\n".join(lines)

    def children(self, run: str, parent: str) -> list[FakeAction]:
        return [a for (r, _), a in self.actions.items() if r == run and a.parent == parent]

    # --- actions --------------------------------------------------------------------------

    def enqueue(
        self,
        *,
        action_id: identifier_pb2.ActionIdentifier,
        parent: str,
        input_uri: str,
        run_output_base: str,
        group: str,
        task: run_definition_pb2.TaskAction | None,
        trace: run_definition_pb2.TraceAction | None,
    ) -> None:
        run = action_id.run.name
        key = (run, action_id.name)
        if key in self.actions:
            return  # idempotent
        action = FakeAction(
            run=run,
            name=action_id.name,
            parent=parent,
            group=group,
            input_uri=input_uri,
            run_output_base=run_output_base,
        )
        parent_action = self.actions.get((run, parent))
        action.env = dict(parent_action.env) if parent_action else {}
        self.actions[key] = action
        if trace is not None:
            action.trace = trace
            action.phase = trace.phase
            action.output_uri = trace.outputs.output_uri
            self._emit(action)
            return
        assert task is not None
        action.spec = task.spec
        action.cache_key = task.cache_key.value if task.HasField("cache_key") else None
        self._emit(action)
        action.runner = asyncio.create_task(self._execute(action))

    def abort(self, run: str, name: str) -> None:
        action = self.actions.get((run, name))
        if action is None:
            raise ConnectError(Code.NOT_FOUND, f"no action {name} in run {run}")
        if action.phase in TERMINAL:
            return
        if action.runner is not None:
            action.runner.cancel()
        if action.process is not None and action.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                action.process.kill()
        action.phase = phase_pb2.ACTION_PHASE_ABORTED
        self._emit(action)

    def _emit(self, action: FakeAction) -> None:
        for queue in self._watchers.get((action.run, action.parent), []):
            queue.put_nowait(action.update())

    async def watch(self, run: str, parent: str) -> AsyncIterator[state_service_pb2.ActionUpdate | None]:
        queue: asyncio.Queue[state_service_pb2.ActionUpdate | None] = asyncio.Queue()
        self._watchers[(run, parent)].append(queue)
        try:
            for action in list(self.actions.values()):
                if action.run == run and action.parent == parent:
                    yield action.update()
            if self.sentinel_delay:
                await asyncio.sleep(self.sentinel_delay)
            yield None  # the sentinel
            while True:
                update = await queue.get()
                if update is None:
                    return
                yield update
        finally:
            self._watchers[(run, parent)].remove(queue)

    async def _execute(self, action: FakeAction) -> None:
        assert action.spec is not None
        template = action.spec.task_template
        scripted = self.scripted.get(template.id.name)
        try:
            if scripted is not None:
                await self._script(action, scripted)
                return
            retries = template.metadata.retries.retries
            while True:
                action.attempt += 1
                action.phase = phase_pb2.ACTION_PHASE_RUNNING
                self._emit(action)
                outcome = await self._launch(action)
                if outcome == "retry" and action.attempt <= retries:
                    action.phase = phase_pb2.ACTION_PHASE_QUEUED
                    action.error = None
                    self._emit(action)
                    continue
                self._emit(action)
                return
        except asyncio.CancelledError:
            if action.process is not None and action.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    action.process.kill()
            raise

    async def _script(self, action: FakeAction, scripted: Scripted) -> None:
        action.attempt = 1
        action.phase = phase_pb2.ACTION_PHASE_RUNNING
        self._emit(action)
        if scripted.delay:
            await asyncio.sleep(scripted.delay)
        out_dir = f"{action.run_output_base}/{action.name}/1"
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        if scripted.outputs is not None:
            Path(out_dir, "outputs.pb").write_bytes(scripted.outputs.SerializeToString())
        if scripted.error_document is not None:
            Path(out_dir, "error.pb").write_bytes(scripted.error_document.SerializeToString())
        action.output_uri = out_dir
        action.phase = scripted.phase
        action.error = scripted.error
        self._emit(action)

    async def _launch(self, action: FakeAction) -> str:
        assert action.spec is not None
        out_dir = f"{action.run_output_base}/{action.name}/{action.attempt}"
        prev = f"{action.run_output_base}/{action.name}/{action.attempt - 1}/_flytecheckpoints"
        values = {
            "input": action.input_uri,
            "outputprefix": out_dir,
            "rawoutputdataprefix": out_dir,
            "checkpointoutputprefix": f"{out_dir}/_flytecheckpoints",
            "prevcheckpointprefix": prev if action.attempt > 1 else '""',
            "runname": action.run,
            "actionname": action.name,
            "runstarttime": self.run_start_time,
        }
        args = [_substitute(arg, values) for arg in action.spec.task_template.container.args]
        assert args[0] == "a0", args
        command = [*self.worker_command, *args[1:]]
        workdir = self.root / "work" / action.run / action.name / str(action.attempt)
        workdir.mkdir(parents=True, exist_ok=True)
        env = self.worker_environment(action.run, action.name, action.attempt)
        env.update(action.env)
        for pair in action.spec.task_template.container.env:
            env[pair.key] = pair.value
        action.process = await asyncio.create_subprocess_exec(
            *command, cwd=workdir, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        stdout, _ = await action.process.communicate()
        action.logs.append(stdout.decode(errors="replace"))
        rc = action.process.returncode
        error_pb = Path(out_dir, "error.pb")
        action.output_uri = out_dir
        if error_pb.exists():
            document = execution_pb2.ErrorDocument.FromString(error_pb.read_bytes())
            kind = (
                execution_pb2.ExecutionError.SYSTEM
                if document.error.origin == execution_pb2.ExecutionError.SYSTEM
                else execution_pb2.ExecutionError.USER
            )
            action.error = execution_pb2.ExecutionError(
                code=document.error.code, message=document.error.message, kind=kind
            )
            action.phase = phase_pb2.ACTION_PHASE_FAILED
            return "retry" if document.error.kind == execution_pb2.ContainerError.RECOVERABLE else "final"
        if rc != 0:
            tail = stdout.decode(errors="replace")[-2000:]
            action.error = execution_pb2.ExecutionError(
                code="SystemError", message=f"worker exited with {rc}: {tail}", kind=execution_pb2.ExecutionError.SYSTEM
            )
            action.phase = phase_pb2.ACTION_PHASE_FAILED
            return "final"
        action.phase = phase_pb2.ACTION_PHASE_SUCCEEDED
        return "final"

    # --- uploads --------------------------------------------------------------------------

    def upload_path(self, key: str) -> Path:
        return self.root / "uploads" / key

    async def _upload(self, key: str, receive: Callable[[], Any], send: Callable[[Any], Any]) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        target = self.upload_path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def _substitute(arg: str, values: dict[str, str]) -> str:
    import re

    return re.sub(r"\{\{\s*\.(\w+)\s*\}\}", lambda m: values.get(m.group(1).lower(), m.group(0)), arg)


class _Base:
    def __init__(self, plane: FakePlane) -> None:
        self.plane = plane

    def _record(self, name: str, request: Message) -> None:
        self.plane.records.append((name, request))


class _ClusterService(_Base, service_connect.ClusterService):
    async def select_cluster(
        self, request: payload_pb2.SelectClusterRequest, ctx: RequestContext[Any, Any]
    ) -> payload_pb2.SelectClusterResponse:
        self._record("SelectCluster", request)
        return payload_pb2.SelectClusterResponse()


class _DataProxyService(_Base, dataproxy_service_connect.DataProxyService):
    async def create_upload_location(
        self, request: dataproxy_service_pb2.CreateUploadLocationRequest, ctx: RequestContext[Any, Any]
    ) -> dataproxy_service_pb2.CreateUploadLocationResponse:
        self._record("CreateUploadLocation", request)
        digest = base64.b32encode(request.content_md5).decode().rstrip("=").lower()
        key = f"{request.project}/{request.domain}/{request.filename_root or digest}/{request.filename}"
        return dataproxy_service_pb2.CreateUploadLocationResponse(
            signed_url=f"http://{self.plane.endpoint}/__upload/{key}", native_url=str(self.plane.upload_path(key))
        )

    async def upload_inputs(
        self, request: dataproxy_service_pb2.UploadInputsRequest, ctx: RequestContext[Any, Any]
    ) -> dataproxy_service_pb2.UploadInputsResponse:
        self._record("UploadInputs", request)
        data = request.inputs.SerializeToString(deterministic=True)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()[:8]).decode().rstrip("=")
        directory = self.plane.root / "offloaded" / digest
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "inputs.pb").write_bytes(request.inputs.SerializeToString())
        return dataproxy_service_pb2.UploadInputsResponse(
            offloaded_input_data=common_run_pb2.OffloadedInputData(uri=str(directory), inputs_hash=digest)
        )


class _TaskService(_Base, task_service_connect.TaskService):
    async def deploy_task(
        self, request: task_service_pb2.DeployTaskRequest, ctx: RequestContext[Any, Any]
    ) -> task_service_pb2.DeployTaskResponse:
        self._record("DeployTask", request)
        self.plane.tasks[(request.task_id.name, request.task_id.version)] = request.spec
        return task_service_pb2.DeployTaskResponse()

    async def get_task_details(
        self, request: task_service_pb2.GetTaskDetailsRequest, ctx: RequestContext[Any, Any]
    ) -> task_service_pb2.GetTaskDetailsResponse:
        self._record("GetTaskDetails", request)
        spec = self.plane.tasks.get((request.task_id.name, request.task_id.version))
        if spec is None:
            raise ConnectError(Code.NOT_FOUND, f"task {request.task_id.name} not found")
        return task_service_pb2.GetTaskDetailsResponse(
            details=task_definition_pb2.TaskDetails(task_id=request.task_id, spec=spec)
        )


class _RunService(_Base, run_service_connect.RunService):
    async def create_run(
        self, request: run_service_pb2.CreateRunRequest, ctx: RequestContext[Any, Any]
    ) -> run_service_pb2.CreateRunResponse:
        self._record("CreateRun", request)
        name = request.run_id.name or f"r{len(self.plane.requests('CreateRun'))}"
        project = request.run_id.project or request.project_id.name
        domain = request.run_id.domain or request.project_id.domain
        run_id = identifier_pb2.RunIdentifier(project=project, domain=domain, name=name)
        if self.plane.launch_runs:
            if request.HasField("task_spec"):
                spec = request.task_spec
            else:
                spec = self.plane.tasks[(request.task_id.name, request.task_id.version)]
            inputs_path = Path(request.offloaded_input_data.uri) / "inputs.pb"
            inputs = common_pb2.Inputs.FromString(inputs_path.read_bytes())
            envs = {pair.key: pair.value for pair in request.run_spec.envs.values}
            self.plane.start_root(name, spec, inputs, envs)
        return run_service_pb2.CreateRunResponse(
            run=run_definition_pb2.Run(
                action=run_definition_pb2.Action(
                    id=identifier_pb2.ActionIdentifier(run=run_id, name="a0"),
                    status=run_definition_pb2.ActionStatus(phase=phase_pb2.ACTION_PHASE_QUEUED),
                )
            )
        )


class _QueueService(_Base, queue_service_connect.QueueService):
    async def enqueue_action(
        self, request: queue_service_pb2.EnqueueActionRequest, ctx: RequestContext[Any, Any]
    ) -> queue_service_pb2.EnqueueActionResponse:
        self._record("EnqueueAction", request)
        self.plane.enqueue(
            action_id=request.action_id,
            parent=request.parent_action_name,
            input_uri=request.input_uri,
            run_output_base=request.run_output_base,
            group=request.group,
            task=request.task if request.HasField("task") else None,
            trace=request.trace if request.HasField("trace") else None,
        )
        if self.plane.enqueue_reply_delay:
            await asyncio.sleep(self.plane.enqueue_reply_delay)
        return queue_service_pb2.EnqueueActionResponse()

    async def abort_queued_action(
        self, request: queue_service_pb2.AbortQueuedActionRequest, ctx: RequestContext[Any, Any]
    ) -> queue_service_pb2.AbortQueuedActionResponse:
        self._record("AbortQueuedAction", request)
        self.plane.abort(request.action_id.run.name, request.action_id.name)
        return queue_service_pb2.AbortQueuedActionResponse()


class _StateService(_Base, state_service_connect.StateService):
    async def watch(
        self, request: state_service_pb2.WatchRequest, ctx: RequestContext[Any, Any]
    ) -> AsyncIterator[state_service_pb2.WatchResponse]:
        self._record("Watch", request)
        parent = request.parent_action_id
        async for update in self.plane.watch(parent.run.name, parent.name):
            if update is None:
                yield state_service_pb2.WatchResponse(control_message=state_service_pb2.ControlMessage(sentinel=True))
            else:
                yield state_service_pb2.WatchResponse(action_update=update)


class _ActionsService(_Base, actions_service_connect.ActionsService):
    async def enqueue(
        self, request: actions_service_pb2.EnqueueRequest, ctx: RequestContext[Any, Any]
    ) -> actions_service_pb2.EnqueueResponse:
        self._record("Enqueue", request)
        action = request.action
        self.plane.enqueue(
            action_id=action.action_id,
            parent=action.parent_action_name,
            input_uri=action.input_uri,
            run_output_base=action.run_output_base,
            group=action.group,
            task=action.task if action.HasField("task") else None,
            trace=action.trace if action.HasField("trace") else None,
        )
        return actions_service_pb2.EnqueueResponse()

    async def watch_for_updates(
        self, request: actions_service_pb2.WatchForUpdatesRequest, ctx: RequestContext[Any, Any]
    ) -> AsyncIterator[actions_service_pb2.WatchForUpdatesResponse]:
        self._record("WatchForUpdates", request)
        parent = request.parent_action_id
        async for update in self.plane.watch(parent.run.name, parent.name):
            if update is None:
                yield actions_service_pb2.WatchForUpdatesResponse(
                    control_message=state_service_pb2.ControlMessage(sentinel=True)
                )
            else:
                yield actions_service_pb2.WatchForUpdatesResponse(action_update=update)

    async def abort(
        self, request: actions_service_pb2.AbortRequest, ctx: RequestContext[Any, Any]
    ) -> actions_service_pb2.AbortResponse:
        self._record("Abort", request)
        self.plane.abort(request.action_id.run.name, request.action_id.name)
        return actions_service_pb2.AbortResponse()

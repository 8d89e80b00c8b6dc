"""How the server composes the engine: constructor arguments, interceptors, scheduler wiring, lifecycle.

The engine here is a small stand-in with the engine's interface (``flyte_server.server.EngineFactory``);
its DeployTask stores triggers the way the real one does, through ``upsert_task_triggers``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.core import security_pb2, tasks_pb2
from flyteidl2.secret import definition_pb2, payload_pb2
from flyteidl2.secret.secret_connect import SecretServiceClient
from flyteidl2.task import common_pb2, task_definition_pb2, task_service_connect, task_service_pb2
from flyteidl2.workflow import run_definition_pb2, run_service_pb2

from flyte_server.config import ServerConfig
from flyte_server.scheduler import scheduled_run_name
from flyte_server.store.db import Database
from flyte_server.store.triggers import upsert_task_triggers

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import RunningServer


class _TaskService(task_service_connect.TaskService):  # type: ignore[misc]
    def __init__(self, database: Database) -> None:
        self._database = database

    async def deploy_task(
        self, request: task_service_pb2.DeployTaskRequest, ctx: Any
    ) -> task_service_pb2.DeployTaskResponse:
        async with self._database.session() as session:
            await upsert_task_triggers(session, request.task_id, request.triggers)
        return task_service_pb2.DeployTaskResponse()


class StandInEngine:
    """Records what the server does with its engine."""

    built: list[StandInEngine] = []

    def __init__(self, *, config: ServerConfig, database: Database, blobs: Any, base_url: str, secret_resolver: Any):
        self.config, self.database, self.blobs, self.base_url = config, database, blobs, base_url
        self.secret_resolver = secret_resolver
        self.events: list[str] = []
        self.runs: list[run_service_pb2.CreateRunRequest] = []
        self.interceptors: tuple[Any, ...] = ()
        StandInEngine.built.append(self)

    async def start(self) -> None:
        self.events.append("start")

    async def stop(self) -> None:
        self.events.append("stop")

    async def create_run(self, request: run_service_pb2.CreateRunRequest) -> run_definition_pb2.Run:
        if request.run_id.name in [run.run_id.name for run in self.runs]:
            raise ConnectError(Code.ALREADY_EXISTS, "exists")
        self.runs.append(request)
        return run_definition_pb2.Run()

    def connect_apps(self, interceptors: Any = ()) -> list[Any]:
        self.interceptors = tuple(interceptors)
        return [task_service_connect.TaskServiceASGIApplication(_TaskService(self.database), interceptors=interceptors)]


@pytest.fixture
def engine_server(tmp_path: Path, launch_server: Callable[..., RunningServer]) -> tuple[RunningServer, StandInEngine]:
    StandInEngine.built.clear()
    server = launch_server(ServerConfig(port=0, data_dir=tmp_path), with_engine=True, engine_factory=StandInEngine)
    (engine,) = StandInEngine.built
    return server, engine


def _deploy_request(first_fire: datetime) -> task_service_pb2.DeployTaskRequest:
    rate = common_pb2.FixedRate(value=60, unit=common_pb2.FIXED_RATE_UNIT_MINUTE)
    rate.start_time.FromDatetime(first_fire.replace(tzinfo=None))
    return task_service_pb2.DeployTaskRequest(
        task_id=task_definition_pb2.TaskIdentifier(
            project="flytesnacks", domain="development", name="wf.hourly", version="v1"
        ),
        spec=task_definition_pb2.TaskSpec(short_name="hourly", task_template=tasks_pb2.TaskTemplate(type="python")),
        triggers=[
            task_definition_pb2.TaskTrigger(
                name="every-hour",
                spec=task_definition_pb2.TaskTriggerSpec(active=True, inputs=common_pb2.Inputs()),
                automation_spec=common_pb2.TriggerAutomationSpec(
                    type=common_pb2.TYPE_SCHEDULE, schedule=common_pb2.Schedule(rate=rate)
                ),
            )
        ],
    )


async def test_engine_gets_the_server_parts_and_is_started_and_stopped(
    engine_server: tuple[RunningServer, StandInEngine],
) -> None:
    server, engine = engine_server
    assert engine.base_url == server.url
    assert engine.config.port == server.info.port
    assert engine.events == ["start"]
    assert any(type(interceptor).__name__ == "ValidationInterceptor" for interceptor in engine.interceptors)
    server.stop()
    assert engine.events == ["start", "stop"]


async def test_engine_services_are_validated_and_deploys_wake_the_scheduler(
    engine_server: tuple[RunningServer, StandInEngine],
) -> None:
    server, engine = engine_server
    async with task_service_connect.TaskServiceClient(server.url) as tasks:
        with pytest.raises(ConnectError) as caught:
            await tasks.deploy_task(task_service_pb2.DeployTaskRequest())
        assert caught.value.code == Code.INVALID_ARGUMENT

        first_fire = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=2)
        await tasks.deploy_task(_deploy_request(first_fire))
    deadline = time.monotonic() + 10
    while not engine.runs and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert [run.run_id.name for run in engine.runs] == [
        scheduled_run_name("flytesnacks", "development", "wf.hourly", "every-hour", first_fire)
    ]
    assert engine.runs[0].trigger_name.task_name == "wf.hourly"


async def test_engine_resolves_secrets_created_over_the_api(
    engine_server: tuple[RunningServer, StandInEngine],
) -> None:
    server, engine = engine_server
    async with SecretServiceClient(server.url) as secrets:
        await secrets.create_secret(
            payload_pb2.CreateSecretRequest(
                id=definition_pb2.SecretIdentifier(name="openai", project="flytesnacks"),
                secret_spec=definition_pb2.SecretSpec(string_value="sk-123"),
            )
        )
    env = await _in_server_loop(
        server, engine.secret_resolver("flytesnacks", "development", [security_pb2.Secret(key="openai")])
    )
    assert env == {"OPENAI": "sk-123", "_UNION_OPENAI": "sk-123"}


async def _in_server_loop(server: RunningServer, coroutine: Any) -> Any:
    # The engine's database connections belong to the server's event loop.
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, server._loop))

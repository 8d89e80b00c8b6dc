"""Building blocks of the engine tests: an engine on a real store and blob store, fake tasks, waits.

Tasks run ``fake_task.py`` (see there) as real worker processes through the local executor.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from flyteidl2.common import identifier_pb2, phase_pb2
from flyteidl2.core import interface_pb2, literals_pb2, tasks_pb2, types_pb2
from flyteidl2.task import common_pb2, run_pb2, task_definition_pb2
from flyteidl2.workflow import run_definition_pb2, run_service_pb2
from google.protobuf import duration_pb2, wrappers_pb2

from flyte_server.blobs.local import LocalBlobStore
from flyte_server.config import ServerConfig
from flyte_server.engine import Engine, EnginePolicy
from flyte_server.engine.model import ActionKey, is_terminal
from flyte_server.store.db import Database
from flyte_server.store.projects import ensure_default_project

FAKE_TASK = str(Path(__file__).with_name("fake_task.py"))
PROJECT = "flytesnacks"
DOMAIN = "development"
FAST_POLICY = EnginePolicy(system_retries=2, system_retry_delay=0.05, kill_grace=1.0)


def seconds(value: float) -> duration_pb2.Duration:
    whole = int(value)
    return duration_pb2.Duration(seconds=whole, nanos=int((value - whole) * 1e9))


def task_spec(
    name: str,
    *args: str,
    retries: int = 0,
    timeout: float | None = None,
    queued_timeout: float | None = None,
    deadline: float | None = None,
    cache_version: str | None = None,
    serializable: bool = False,
) -> task_definition_pb2.TaskSpec:
    """A TaskSpec whose container runs ``fake_task.py <output dir> *args``."""
    metadata = tasks_pb2.TaskMetadata(retries=literals_pb2.RetryStrategy(retries=retries))
    if timeout is not None:
        metadata.timeout.CopyFrom(seconds(timeout))
    if queued_timeout is not None:
        metadata.timeouts.queued_timeout.CopyFrom(seconds(queued_timeout))
    if deadline is not None:
        metadata.timeouts.deadline.CopyFrom(seconds(deadline))
    if cache_version is not None:
        metadata.discoverable = True
        metadata.discovery_version = cache_version
        metadata.cache_serializable = serializable
    interface = interface_pb2.TypedInterface(
        outputs=interface_pb2.VariableMap(
            variables=[
                interface_pb2.VariableEntry(
                    key="o0", value=interface_pb2.Variable(type=types_pb2.LiteralType(simple=types_pb2.INTEGER))
                )
            ]
        )
    )
    template = tasks_pb2.TaskTemplate(
        type="python",
        metadata=metadata,
        interface=interface,
        container=tasks_pb2.Container(image="local", args=["python", FAKE_TASK, "{{.outputPrefix}}", *args]),
    )
    template.id.project, template.id.domain, template.id.name, template.id.version = PROJECT, DOMAIN, name, "v1"
    return task_definition_pb2.TaskSpec(task_template=template, short_name=name.rsplit(".", 1)[-1])


def int_inputs(**values: int) -> common_pb2.Inputs:
    return common_pb2.Inputs(
        literals=[
            common_pb2.NamedLiteral(
                name=key,
                value=literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value))),
            )
            for key, value in values.items()
        ]
    )


@asynccontextmanager
async def running_engine(
    data_dir: Path,
    *,
    database: Database | None = None,
    workers: int = 4,
    policy: EnginePolicy = FAST_POLICY,
    start: bool = True,
    worker_user: str | None = "root",
) -> AsyncIterator[Engine]:
    """An engine on ``data_dir`` (SQLite there unless ``database`` is given), started and stopped around the block.

    Its tasks run as the test's own user (they write markers into the test's directories) unless
    ``worker_user`` says otherwise (``None``: the server's default, see ``flyte_server.isolation``).
    """
    config = ServerConfig(
        port=0, data_dir=data_dir, workers=workers, worker_python=sys.executable, worker_user=worker_user
    )
    own_database = database is None
    db = database or Database(config.database_url)
    await db.migrate()
    async with db.session() as session:
        await ensure_default_project(session)
    blobs = LocalBlobStore(data_dir / "blobs", secret=b"test")
    engine = Engine(
        config=config, database=db, blobs=blobs, base_url="http://127.0.0.1:9", policy=policy, warm_workers=False
    )
    if start:
        await engine.start()
    try:
        yield engine
    finally:
        await engine.stop()
        if own_database:
            await db.close()


async def create_run(
    engine: Engine,
    spec: task_definition_pb2.TaskSpec,
    *,
    name: str | None = None,
    inputs: common_pb2.Inputs | None = None,
    run_spec: run_pb2.RunSpec | None = None,
) -> str:
    request = run_service_pb2.CreateRunRequest(task_spec=spec, inputs=inputs or common_pb2.Inputs())
    if name:
        request.run_id.CopyFrom(identifier_pb2.RunIdentifier(project=PROJECT, domain=DOMAIN, name=name))
    else:
        request.project_id.CopyFrom(identifier_pb2.ProjectIdentifier(name=PROJECT, domain=DOMAIN))
    if run_spec is not None:
        request.run_spec.CopyFrom(run_spec)
    run = await engine.create_run(request)
    return run.action.id.run.name


def key(run: str, name: str = "a0") -> ActionKey:
    return ActionKey(PROJECT, DOMAIN, run, name)


def action_id(run: str, name: str = "a0") -> identifier_pb2.ActionIdentifier:
    return identifier_pb2.ActionIdentifier(
        run=identifier_pb2.RunIdentifier(org="local", project=PROJECT, domain=DOMAIN, name=run), name=name
    )


async def enqueue_child(
    engine: Engine,
    run: str,
    name: str,
    spec: task_definition_pb2.TaskSpec,
    *,
    parent: str = "a0",
    cache_key: str = "",
    input_uri: str = "",
) -> None:
    """Enqueue a child as a parent's controller would (empty inputs in a file unless ``input_uri``)."""
    base = engine.run_output_base(PROJECT, DOMAIN, run, run_pb2.RunSpec())
    if not input_uri:
        input_uri = f"{base}/{name}/inputs.pb"
        await engine.data.write(input_uri, b"")
    task = run_definition_pb2.TaskAction(
        id=task_definition_pb2.TaskIdentifier(name=spec.task_template.id.name), spec=spec
    )
    if cache_key:
        task.cache_key.CopyFrom(wrappers_pb2.StringValue(value=cache_key))
    await engine.submit.enqueue(
        action_id=action_id(run, name),
        parent_name=parent,
        input_uri=input_uri,
        run_output_base=base,
        group="",
        spec_kind="task",
        task=task,
    )


async def wait_until(
    engine: Engine, run: str, name: str = "a0", *, timeout: float = 30, phase: int | None = None
) -> Any:
    """The action's details once it is terminal (or in ``phase``)."""

    async def follow() -> Any:
        async for details in engine.queries.watch_action_details(key(run, name)):
            if phase is not None and details.status.phase == phase:
                return details
            if phase is None and is_terminal(details.status.phase):
                return details
        return await engine.queries.action_details(key(run, name))

    return await asyncio.wait_for(follow(), timeout=timeout)


def phase_name(value: int) -> str:
    return str(phase_pb2.ActionPhase.Name(value)).removeprefix("ACTION_PHASE_")  # type: ignore[arg-type]

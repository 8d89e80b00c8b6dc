"""The engine's services called directly: deployed tasks, triggers, secrets, deadlines, UI watches, inputs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from engine_harness import (
    DOMAIN,
    PROJECT,
    create_run,
    int_inputs,
    key,
    phase_name,
    running_engine,
    task_spec,
    wait_until,
)
from flyteidl2.common import identifier_pb2, list_pb2, phase_pb2
from flyteidl2.core import literals_pb2, security_pb2
from flyteidl2.dataproxy import dataproxy_service_pb2
from flyteidl2.task import common_pb2, task_definition_pb2, task_service_pb2
from flyteidl2.workflow import run_service_pb2

from flyte.types._hashing import hash_inputs
from flyte_server.admin.dataproxy_service import DataProxyService
from flyte_server.admin.run_service import RunService
from flyte_server.admin.task_service import TaskService

P = phase_pb2
CTX: Any = None


def task_id(name: str, version: str = "v1") -> task_definition_pb2.TaskIdentifier:
    return task_definition_pb2.TaskIdentifier(project=PROJECT, domain=DOMAIN, name=name, version=version)


async def test_deploy_list_versions_and_run_by_task_id_and_trigger(tmp_path: Path) -> None:
    async with running_engine(tmp_path) as engine:
        tasks = TaskService(engine)
        runs = RunService(engine)
        trigger = task_definition_pb2.TaskTrigger(name="nightly")
        trigger.spec.active = True
        trigger.spec.inputs.CopyFrom(int_inputs(x=5))
        for version in ("v1", "v2"):
            await tasks.deploy_task(
                task_service_pb2.DeployTaskRequest(
                    task_id=task_id("t.deployed", version), spec=task_spec("t.deployed", "ok", "9"), triggers=[trigger]
                ),
                CTX,
            )
        versions = await tasks.list_versions(
            task_service_pb2.ListVersionsRequest(
                task_name=task_definition_pb2.TaskName(project=PROJECT, domain=DOMAIN, name="t.deployed")
            ),
            CTX,
        )
        assert [v.version for v in versions.versions] == ["v2", "v1"]

        by_id = await runs.create_run(
            run_service_pb2.CreateRunRequest(
                project_id=identifier_pb2.ProjectIdentifier(name=PROJECT, domain=DOMAIN), task_id=task_id("t.deployed")
            ),
            CTX,
        )
        name = by_id.run.action.id.run.name
        assert by_id.run.action.metadata.task.id.version == "v1"
        assert phase_name((await wait_until(engine, name)).status.phase) == "SUCCEEDED"
        uris = await runs.get_action_data_u_r_is(
            run_service_pb2.GetActionDataURIsRequest(action_id=by_id.run.action.id), CTX
        )
        assert uris.outputs_uri.endswith("/a0/1/outputs.pb") and uris.inputs_uri.endswith("inputs.pb")

        fired = await runs.create_run(
            run_service_pb2.CreateRunRequest(
                run_id=identifier_pb2.RunIdentifier(project=PROJECT, domain=DOMAIN, name="fired-1"),
                trigger_name=identifier_pb2.TriggerName(
                    project=PROJECT, domain=DOMAIN, name="nightly", task_name="t.deployed"
                ),
            ),
            CTX,
        )
        assert fired.run.action.metadata.trigger_name == "nightly"
        assert fired.run.action.metadata.task.id.version == "v2", "the trigger follows the latest deploy"
        await wait_until(engine, "fired-1")
        inputs, _, _, _ = await engine.queries.action_data(key("fired-1"))
        assert inputs.literals[0].value.scalar.primitive.integer == 5, "the trigger's inputs"
        listed = await runs.list_runs(
            run_service_pb2.ListRunsRequest(
                task_name=task_definition_pb2.TaskName(project=PROJECT, domain=DOMAIN, name="t.deployed"),
                request=list_pb2.ListRequest(limit=10),
            ),
            CTX,
        )
        assert {run.action.id.run.name for run in listed.runs} == {name, "fired-1"}
        paused = await runs.list_runs(
            run_service_pb2.ListRunsRequest(
                project_id=identifier_pb2.ProjectIdentifier(name=PROJECT, domain=DOMAIN), paused_actions_only=True
            ),
            CTX,
        )
        assert list(paused.runs) == [], "no run waits on a condition here"

        with pytest.raises(ConnectError) as error:
            await runs.create_run(
                run_service_pb2.CreateRunRequest(
                    project_id=identifier_pb2.ProjectIdentifier(name=PROJECT, domain=DOMAIN),
                    trigger_name=identifier_pb2.TriggerName(project=PROJECT, domain=DOMAIN, name="nope"),
                ),
                CTX,
            )
        assert error.value.code == Code.NOT_FOUND


async def test_secrets_reach_the_worker_and_missing_ones_fail(tmp_path: Path) -> None:
    async def resolver(project: str, domain: str, secrets: Any) -> dict[str, str]:
        found = {"token": "s3cr3t"}
        env = {}
        for secret in secrets:
            if secret.key not in found:
                raise LookupError(f"secret {secret.key!r} does not exist")
            env[secret.env_var or secret.key.upper()] = found[secret.key]
        return env

    async with running_engine(tmp_path) as engine:
        engine.launcher.secret_resolver = resolver
        spec = task_spec("t.secret", "env", "MY_TOKEN")
        spec.task_template.security_context.secrets.append(security_pb2.Secret(key="token", env_var="MY_TOKEN"))
        run = await create_run(engine, spec)
        assert phase_name((await wait_until(engine, run)).status.phase) == "SUCCEEDED"
        log = (engine.launcher.log_root / PROJECT / DOMAIN / run / "a0" / "1.log").read_text()
        assert "ENV MY_TOKEN=s3cr3t" in log

        missing = task_spec("t.secret", "ok")
        missing.task_template.security_context.secrets.append(security_pb2.Secret(key="other"))
        failed = await wait_until(engine, await create_run(engine, missing))
        assert phase_name(failed.status.phase) == "FAILED" and failed.error_info.code == "SecretNotFound"


async def test_deadline_covers_queueing_and_retries(tmp_path: Path) -> None:
    async with running_engine(tmp_path) as engine:
        run = await create_run(engine, task_spec("t.late", "sleep", "30", deadline=1.0, retries=3))
        details = await wait_until(engine, run)
        assert phase_name(details.status.phase) == "TIMED_OUT"
        assert details.error_info.code == "DEADLINE_EXCEEDED"


async def test_ui_watches_follow_a_run(tmp_path: Path) -> None:
    async with running_engine(tmp_path) as engine:
        runs_stream = engine.queries.watch_runs(PROJECT, DOMAIN)
        assert await anext(runs_stream) == []
        run = await create_run(engine, task_spec("t.ok", "ok", "1"))
        first = await asyncio.wait_for(anext(runs_stream), timeout=10)
        assert first[0].action.id.run.name == run
        phases = []
        async for details in engine.queries.watch_run_details(key(run)):
            phases.append(details.action.status.phase)
        assert phases[-1] == P.ACTION_PHASE_SUCCEEDED
        actions_stream = engine.queries.watch_actions(key(run))
        snapshot = await anext(actions_stream)
        assert [item.action.id.name for item in snapshot] == ["a0"]
        await actions_stream.aclose()
        await runs_stream.aclose()


async def test_upload_inputs_hash_ignores_what_the_cache_ignores(tmp_path: Path) -> None:
    async with running_engine(tmp_path) as engine:
        proxy = DataProxyService(engine)
        spec = task_spec("t.cached", "ok", cache_version="1")
        spec.task_template.metadata.cache_ignore_input_vars.append("noise")

        async def upload(noise: int) -> Any:
            request = dataproxy_service_pb2.UploadInputsRequest(
                project_id=identifier_pb2.ProjectIdentifier(name=PROJECT, domain=DOMAIN),
                task_spec=spec,
                inputs=int_inputs(x=1, noise=noise),
            )
            return (await proxy.upload_inputs(request, CTX)).offloaded_input_data

        first, second = await upload(1), await upload(2)
        assert first.inputs_hash == second.inputs_hash, "ignored inputs do not change the hash"
        assert first.uri != second.uri, "but the files hold every input"
        x = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=1)))
        assert first.inputs_hash == hash_inputs({"x": x})
        stored = await engine.data.read(first.uri + "/inputs.pb")
        assert stored is not None and len(common_pb2.Inputs.FromString(stored).literals) == 2

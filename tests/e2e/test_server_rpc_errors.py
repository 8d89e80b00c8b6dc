"""Malformed and hostile requests get the right Connect error (or HTTP 4xx) and change nothing."""

from __future__ import annotations

import asyncio
import base64
import hashlib

import httpx
import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.common import identifier_pb2, list_pb2
from flyteidl2.core import literals_pb2
from flyteidl2.dataproxy import dataproxy_service_pb2
from flyteidl2.task import common_pb2, task_definition_pb2, task_service_pb2
from flyteidl2.workflow import queue_service_pb2, run_definition_pb2, run_service_pb2
from google.protobuf import duration_pb2

from .helpers import DOMAIN, PROJECT, Rpc, ServerProcess

PROJECT_ID = identifier_pb2.ProjectIdentifier(name=PROJECT, domain=DOMAIN)


def tiny_spec() -> task_definition_pb2.TaskSpec:
    spec = task_definition_pb2.TaskSpec()
    template = spec.task_template
    template.id.name, template.id.version = "bad.task", "v1"
    template.container.args.extend(["python", "-c", "pass"])
    return spec


async def run_count(rpc: Rpc) -> int:
    listed = await rpc.runs.list_runs(
        run_service_pb2.ListRunsRequest(project_id=PROJECT_ID, request=list_pb2.ListRequest(limit=1000))
    )
    return len(listed.runs)


async def expect(code: Code, call: object) -> ConnectError:
    with pytest.raises(ConnectError) as error:
        await call  # type: ignore[misc]
    assert error.value.code == code, error.value
    return error.value


async def test_bad_create_runs_are_rejected_and_change_nothing(server: ServerProcess, rpc: Rpc) -> None:
    before = await run_count(rpc)
    create = rpc.runs.create_run
    await expect(Code.INVALID_ARGUMENT, create(run_service_pb2.CreateRunRequest(task_spec=tiny_spec())))
    await expect(
        Code.NOT_FOUND,
        create(
            run_service_pb2.CreateRunRequest(
                project_id=identifier_pb2.ProjectIdentifier(name="no-such-project", domain=DOMAIN),
                task_spec=tiny_spec(),
            )
        ),
    )
    unknown_task = task_definition_pb2.TaskIdentifier(project=PROJECT, domain=DOMAIN, name="nope", version="v0")
    await expect(Code.NOT_FOUND, create(run_service_pb2.CreateRunRequest(project_id=PROJECT_ID, task_id=unknown_task)))
    escape = identifier_pb2.RunIdentifier(project=PROJECT, domain=DOMAIN, name="../../etc")
    await expect(Code.INVALID_ARGUMENT, create(run_service_pb2.CreateRunRequest(run_id=escape, task_spec=tiny_spec())))
    no_container = task_definition_pb2.TaskSpec()
    no_container.task_template.id.name = "x"
    await expect(
        Code.INVALID_ARGUMENT, create(run_service_pb2.CreateRunRequest(project_id=PROJECT_ID, task_spec=no_container))
    )

    huge = common_pb2.Inputs(
        literals=[
            common_pb2.NamedLiteral(
                name="blob",
                value=literals_pb2.Literal(
                    scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value="x" * (65 * 1024 * 1024)))
                ),
            )
        ]
    )
    await expect(
        Code.RESOURCE_EXHAUSTED,
        create(run_service_pb2.CreateRunRequest(project_id=PROJECT_ID, task_spec=tiny_spec(), inputs=huge)),
    )
    assert await run_count(rpc) == before


async def test_duplicate_run_names_and_unknown_ids(server: ServerProcess, rpc: Rpc) -> None:
    name = identifier_pb2.RunIdentifier(project=PROJECT, domain=DOMAIN, name="dup-run")
    created = await rpc.runs.create_run(run_service_pb2.CreateRunRequest(run_id=name, task_spec=tiny_spec()))
    assert created.run.action.id.name == "a0" and created.run.action.id.run.name == "dup-run"
    await expect(
        Code.ALREADY_EXISTS, rpc.runs.create_run(run_service_pb2.CreateRunRequest(run_id=name, task_spec=tiny_spec()))
    )

    missing = identifier_pb2.RunIdentifier(project=PROJECT, domain=DOMAIN, name="never-was")
    await expect(Code.NOT_FOUND, rpc.runs.get_run_details(run_service_pb2.GetRunDetailsRequest(run_id=missing)))
    await expect(Code.INVALID_ARGUMENT, rpc.runs.get_run_details(run_service_pb2.GetRunDetailsRequest()))
    await expect(Code.NOT_FOUND, rpc.runs.abort_run(run_service_pb2.AbortRunRequest(run_id=missing)))
    action = identifier_pb2.ActionIdentifier(run=missing, name="a0")
    await expect(Code.NOT_FOUND, rpc.runs.get_action_details(run_service_pb2.GetActionDetailsRequest(action_id=action)))
    await expect(Code.NOT_FOUND, rpc.data.get_action_data(dataproxy_service_pb2.GetActionDataRequest(action_id=action)))

    async def tail() -> None:
        async for _ in rpc.data.tail_logs(dataproxy_service_pb2.TailLogsRequest(action_id=action, attempt=1)):
            pass

    await expect(Code.NOT_FOUND, tail())
    child = identifier_pb2.ActionIdentifier(run=missing, name="c1")
    enqueue = queue_service_pb2.EnqueueActionRequest(
        action_id=child,
        parent_action_name="a0",
        input_uri="/tmp/x",
        run_output_base="/tmp/base",
        task=run_definition_pb2.TaskAction(spec=tiny_spec()),
    )
    await expect(Code.NOT_FOUND, rpc.queue.enqueue_action(enqueue))
    bad_list = list_pb2.ListRequest(
        filters=[list_pb2.Filter(field="no_such_field", function=list_pb2.Filter.EQUAL, values=["1"])]
    )
    await expect(
        Code.INVALID_ARGUMENT,
        rpc.runs.list_runs(run_service_pb2.ListRunsRequest(project_id=PROJECT_ID, request=bad_list)),
    )


async def test_deploy_task_validation(server: ServerProcess, rpc: Rpc) -> None:
    incomplete = task_definition_pb2.TaskIdentifier(project=PROJECT, domain=DOMAIN, name="t")
    await expect(
        Code.INVALID_ARGUMENT,
        rpc.tasks.deploy_task(task_service_pb2.DeployTaskRequest(task_id=incomplete, spec=tiny_spec())),
    )
    elsewhere = task_definition_pb2.TaskIdentifier(project="no-such-project", domain=DOMAIN, name="t", version="1")
    await expect(
        Code.NOT_FOUND, rpc.tasks.deploy_task(task_service_pb2.DeployTaskRequest(task_id=elsewhere, spec=tiny_spec()))
    )
    good = task_definition_pb2.TaskIdentifier(project=PROJECT, domain=DOMAIN, name="bad.task", version="v1")
    await rpc.tasks.deploy_task(task_service_pb2.DeployTaskRequest(task_id=good, spec=tiny_spec()))
    await rpc.tasks.deploy_task(task_service_pb2.DeployTaskRequest(task_id=good, spec=tiny_spec()))  # upsert
    missing = task_definition_pb2.TaskIdentifier(project=PROJECT, domain=DOMAIN, name="bad.task", version="v2")
    await expect(Code.NOT_FOUND, rpc.tasks.get_task_details(task_service_pb2.GetTaskDetailsRequest(task_id=missing)))


async def test_garbage_bodies_are_invalid(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        response = await http.post(
            "/flyteidl2.workflow.RunService/GetRunDetails",
            content=b"\xff\xff\xff\xff not a protobuf",
            headers={"content-type": "application/proto", "connect-protocol-version": "1"},
        )
    assert 400 <= response.status_code < 500
    assert response.json()["code"] in ("invalid_argument", "internal") and response.json()["code"] == "invalid_argument"


async def test_upload_locations_and_signed_urls(server: ServerProcess, rpc: Rpc) -> None:
    body = b"bundle bytes"
    md5 = hashlib.md5(body).digest()

    def location(
        filename: str, content_md5: bytes = md5, **extra: object
    ) -> dataproxy_service_pb2.CreateUploadLocationRequest:
        return dataproxy_service_pb2.CreateUploadLocationRequest(
            project=PROJECT,
            domain=DOMAIN,
            filename=filename,
            content_md5=content_md5,
            **extra,  # type: ignore[arg-type]
        )

    for bad in ("../escape.tgz", "/etc/passwd", "a/../../b", ""):
        await expect(Code.INVALID_ARGUMENT, rpc.data.create_upload_location(location(bad)))
    await expect(Code.INVALID_ARGUMENT, rpc.data.create_upload_location(location("ok.tgz", filename_root="../up")))
    await expect(
        Code.NOT_FOUND,
        rpc.data.create_upload_location(
            dataproxy_service_pb2.CreateUploadLocationRequest(
                project="nope", domain=DOMAIN, filename="a", content_md5=md5
            )
        ),
    )

    signed = await rpc.data.create_upload_location(location("bundle.tgz"))
    assert signed.native_url.endswith(f"/uploads/{PROJECT}/{DOMAIN}/{md5.hex()}/bundle.tgz")
    headers = {**dict(signed.headers), "Content-MD5": base64.b64encode(md5).decode()}
    async with httpx.AsyncClient() as http:
        tampered = signed.signed_url.replace("signature=", "signature=x")
        assert (await http.put(tampered, content=body, headers=headers)).status_code == 403
        other_key = signed.signed_url.replace("bundle.tgz", "other.tgz")
        assert (await http.put(other_key, content=body, headers=headers)).status_code == 403
        wrong_body = await http.put(signed.signed_url, content=b"something else", headers=headers)
        assert wrong_body.status_code in (400, 403)
        assert (await http.put(signed.signed_url, content=body, headers=headers)).status_code in (200, 201, 204)

        again = await rpc.data.create_upload_location(location("bundle.tgz"))  # same content: fine
        assert again.native_url == signed.native_url
        other_md5 = hashlib.md5(b"different").digest()
        elsewhere = await rpc.data.create_upload_location(location("bundle.tgz", other_md5))
        assert elsewhere.native_url != signed.native_url, "content addressed by its MD5"

        in_root = await rpc.data.create_upload_location(location("file.txt", filename_root="my-dir"))
        assert in_root.native_url.endswith(f"/uploads/{PROJECT}/{DOMAIN}/my-dir/file.txt")
        assert (await http.put(in_root.signed_url, content=body, headers=headers)).status_code in (200, 201, 204)
        await rpc.data.create_upload_location(location("file.txt", filename_root="my-dir"))
        await expect(
            Code.ALREADY_EXISTS,
            rpc.data.create_upload_location(location("file.txt", other_md5, filename_root="my-dir")),
        )

        short = await rpc.data.create_upload_location(location("late.tgz", expires_in=duration_pb2.Duration(seconds=1)))
        await asyncio.sleep(2.1)
        expired = await http.put(short.signed_url, content=body, headers=headers)
        assert expired.status_code == 403

"""Inputs that used to give a 500 with the raw exception (and, on PostgreSQL, the SQL) now give a clean error.

Each case runs against a real server on SQLite and on PostgreSQL and must answer the same:
``INVALID_ARGUMENT`` for input out of range, and ``INTERNAL`` with a request id (no internals) for
a failure of the server itself, whose details are in the server log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.common import identifier_pb2, list_pb2
from flyteidl2.project import project_service_pb2
from flyteidl2.project.project_service_connect import ProjectServiceClient
from flyteidl2.secret import definition_pb2, payload_pb2
from flyteidl2.secret.secret_connect import SecretServiceClient
from flyteidl2.task import task_service_pb2
from flyteidl2.task.task_service_connect import TaskServiceClient
from flyteidl2.workflow import run_service_pb2
from flyteidl2.workflow.run_service_connect import RunServiceClient

from flyte_server.config import ServerConfig

if TYPE_CHECKING:
    from conftest import RunningServer

PROJECT = identifier_pb2.ProjectIdentifier(name="flytesnacks", domain="development")
HUGE_NUMBER = "9" * 30
INTERNALS = ("Traceback", "sqlalchemy", "asyncpg", "sqlite3", "SELECT ", "INSERT ", "[parameters", "Python int")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_server(
    request: pytest.FixtureRequest, tmp_path: Path, launch_server: Callable[..., RunningServer]
) -> RunningServer:
    """A server with the engine on a SQLite file or on a PostgreSQL database of its own."""
    db = None
    if request.param == "postgresql":
        db = request.getfixturevalue("empty_postgres_url")
    return launch_server(ServerConfig(port=0, data_dir=tmp_path / "server", db=db, workers=2), with_engine=True)


@pytest.fixture
async def runs(engine_server: RunningServer) -> AsyncIterator[RunServiceClient]:
    client = RunServiceClient(engine_server.url)
    yield client
    await client.close()


async def expect_invalid(call: Any) -> str:
    with pytest.raises(ConnectError) as caught:
        await call
    error = caught.value
    assert error.code == Code.INVALID_ARGUMENT, f"{error.code}: {error.message}"
    assert not any(marker in error.message for marker in INTERNALS), error.message
    assert len(error.message.splitlines()) == 1
    return str(error.message)


def list_runs(**request: Any) -> run_service_pb2.ListRunsRequest:
    return run_service_pb2.ListRunsRequest(project_id=PROJECT, request=list_pb2.ListRequest(**request))


async def test_oversized_page_tokens_are_invalid_argument(engine_server: RunningServer) -> None:
    async with (
        RunServiceClient(engine_server.url) as runs,
        TaskServiceClient(engine_server.url) as tasks,
        ProjectServiceClient(engine_server.url) as projects,
        SecretServiceClient(engine_server.url) as secrets,
    ):
        for token in (HUGE_NUMBER, "-1", "²", "1_0", " 5"):
            message = await expect_invalid(runs.list_runs(list_runs(token=token)))
            assert "page token" in message
        await expect_invalid(
            tasks.list_tasks(task_service_pb2.ListTasksRequest(request=list_pb2.ListRequest(token=HUGE_NUMBER)))
        )
        await expect_invalid(projects.list_projects(project_service_pb2.ListProjectsRequest(token=HUGE_NUMBER)))
        await expect_invalid(secrets.list_secrets(payload_pb2.ListSecretsRequest(token=HUGE_NUMBER)))
        # The largest token that fits 64 bits is an ordinary (empty) page, not an error.
        page = await runs.list_runs(list_runs(token=str(2**63 - 1)))
        assert list(page.runs) == []


async def test_filter_values_out_of_range_are_invalid_argument(runs: RunServiceClient) -> None:
    Function = list_pb2.Filter.Function
    for field, value in (("attempts", HUGE_NUMBER), ("created_at", HUGE_NUMBER), ("phase", HUGE_NUMBER)):
        flt = list_pb2.Filter(field=field, function=Function.GREATER_THAN, values=[value])
        await expect_invalid(runs.list_runs(list_runs(filters=[flt])))
    # attempts is a 32-bit column: the same bound on both databases, whose own limits differ.
    too_big = list_pb2.Filter(field="attempts", function=Function.LESS_THAN, values=[str(2**31)])
    await expect_invalid(runs.list_runs(list_runs(filters=[too_big])))
    fine = [
        list_pb2.Filter(field="attempts", function=Function.GREATER_THAN, values=[str(2**31 - 1)]),
        list_pb2.Filter(field="created_at", function=Function.GREATER_THAN, values=[str(2**63 - 1)]),
    ]
    assert list((await runs.list_runs(list_runs(filters=fine))).runs) == []


async def test_huge_value_in_lists_are_invalid_argument(runs: RunServiceClient) -> None:
    Function = list_pb2.Filter.Function
    names = [f"run-{i}" for i in range(40_000)]
    flt = list_pb2.Filter(field="name", function=Function.VALUE_IN, values=names)
    message = await expect_invalid(runs.list_runs(list_runs(filters=[flt])))
    assert "at most 1000 filter values" in message
    many = [list_pb2.Filter(field="name", function=Function.EQUAL, values=["x"]) for _ in range(60)]
    await expect_invalid(runs.list_runs(list_runs(filters=many)))
    allowed = list_pb2.Filter(field="name", function=Function.VALUE_IN, values=names[:1000])
    assert list((await runs.list_runs(list_runs(filters=[allowed]))).runs) == []


async def test_nul_bytes_in_strings_are_invalid_argument_everywhere(engine_server: RunningServer) -> None:
    async with (
        RunServiceClient(engine_server.url) as runs,
        ProjectServiceClient(engine_server.url) as projects,
        SecretServiceClient(engine_server.url) as secrets,
    ):
        flt = list_pb2.Filter(field="name", function=list_pb2.Filter.Function.CONTAINS, values=["a\x00b"])
        message = await expect_invalid(runs.list_runs(list_runs(filters=[flt])))
        assert "NUL" in message and "request.filters.values" in message
        await expect_invalid(
            projects.create_project(
                project_service_pb2.CreateProjectRequest(
                    project=project_service_pb2.Project(id="nul-project", name="x", description="bad\x00text")
                )
            )
        )
        await expect_invalid(
            secrets.create_secret(
                payload_pb2.CreateSecretRequest(
                    id=definition_pb2.SecretIdentifier(name="nul\x00secret"),
                    secret_spec=definition_pb2.SecretSpec(string_value="v"),
                )
            )
        )
        # Nothing was stored: the project does not exist.
        with pytest.raises(ConnectError) as missing:
            await projects.get_project(project_service_pb2.GetProjectRequest(id="nul-project"))
        assert missing.value.code == Code.NOT_FOUND


async def test_nul_escape_in_json_is_invalid_argument(engine_server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=engine_server.url) as http:
        response = await http.post(
            "/flyteidl2.project.ProjectService/CreateProject",
            content=b'{"project": {"id": "json-nul", "name": "x", "description": "a\\u0000b"}}',
            headers={"content-type": "application/json"},
        )
    assert (response.status_code, response.json()["code"]) == (400, "invalid_argument")


async def test_a_failing_database_gives_internal_with_a_request_id_and_no_sql(
    tmp_path: Path,
    launch_server: Callable[..., RunningServer],
    empty_postgres_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = launch_server(ServerConfig(port=0, data_dir=tmp_path / "server", db=empty_postgres_url))
    connection = await asyncpg.connect(empty_postgres_url)
    try:
        await connection.execute("DROP TABLE projects CASCADE")  # the server's table vanishes under it
    finally:
        await connection.close()
    caplog.set_level(logging.ERROR, logger="flyte_server.rpc_guard")
    async with ProjectServiceClient(server.url) as projects:
        with pytest.raises(ConnectError) as caught:
            await projects.list_projects(project_service_pb2.ListProjectsRequest())
    error = caught.value
    assert error.code == Code.INTERNAL
    assert "request id" in error.message
    assert not any(marker in error.message for marker in INTERNALS), error.message
    request_id = error.message.split("request id ")[1].split(")")[0]
    await asyncio.sleep(0.1)
    logged = [record for record in caplog.records if getattr(record, "request_id", None) == request_id]
    assert logged and logged[0].exc_info is not None, "the server log has no traceback under the request id"


async def test_a_failing_stream_ends_with_internal_and_no_sql(
    tmp_path: Path, launch_server: Callable[..., RunningServer], empty_postgres_url: str
) -> None:
    server = launch_server(
        ServerConfig(port=0, data_dir=tmp_path / "server", db=empty_postgres_url, workers=2), with_engine=True
    )
    connection = await asyncpg.connect(empty_postgres_url)
    try:
        await connection.execute("DROP TABLE actions CASCADE")
    finally:
        await connection.close()
    async with RunServiceClient(server.url) as runs:
        request = run_service_pb2.WatchRunsRequest(project_id=PROJECT)
        with pytest.raises(ConnectError) as caught:
            async for _ in runs.watch_runs(request):
                pass
    error = caught.value
    assert error.code == Code.INTERNAL, f"{error.code}: {error.message}"
    assert "request id" in error.message
    assert not any(marker in error.message for marker in INTERNALS), error.message
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/healthz")).status_code == 200

"""Apps on the control plane: deployed with the PyPI SDK, served through ``/apps/<name>/`` by a real server.

One server for the module (its worker Python is ours: its ``fserve`` starts the apps), and one
PyPI driver process that deploys three apps (``hello-ref`` always on, ``lazy-ref`` scaled to
zero with a 3 s idle timeout, ``greeter-ref`` reading a run's output) and runs the task whose
output the greeter serves.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.app import app_definition_pb2 as definition
from flyteidl2.app import app_logs_payload_pb2 as logs_pb
from flyteidl2.app import app_payload_pb2 as pb
from flyteidl2.app.app_logs_service_connect import AppLogsServiceClient
from flyteidl2.app.app_service_connect import AppServiceClient
from flyteidl2.common import identifier_pb2
from tests.e2e.helpers import ServerProcess

PROJECT = "flytesnacks"
DOMAIN = "development"
PROGRAMS = Path(__file__).parent / "programs"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("apps-server")
    process = ServerProcess(data_dir=root / "server", worker_python=sys.executable, workers=4)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def deployed(server: ServerProcess, reference_python: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the PyPI driver deployed: the three apps' endpoints and the greeting run."""
    root = tmp_path_factory.mktemp("apps-client")
    project = root / "project"
    shutil.copytree(PROGRAMS, project, ignore=shutil.ignore_patterns("__pycache__"))
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH" and not key.startswith("PYTEST_")}
    env["HOME"] = str(root / "home")
    request = {"endpoint": server.endpoint, "project": PROJECT, "domain": DOMAIN, "op": "setup", "who": "apps"}
    result = subprocess.run(
        [reference_python, "driver_ref.py", json.dumps(request)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        output = f"{result.stdout[-3000:]}\n{result.stderr[-4000:]}"
        raise AssertionError(f"the PyPI driver failed ({result.returncode}):\n{output}")
    parsed: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return parsed


def _app_id(name: str) -> definition.Identifier:
    return definition.Identifier(org="", project=PROJECT, domain=DOMAIN, name=name)


async def _get(server: ServerProcess, name: str) -> definition.App:
    async with AppServiceClient(server.base_url) as client:
        return (await client.get(pb.GetRequest(app_id=_app_id(name)))).app


def _wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"{what} within {timeout}s (last: {last!r})")


def test_pypi_app_answers_through_the_proxy(server: ServerProcess, deployed: dict[str, Any]) -> None:
    endpoint = deployed["hello"]
    assert endpoint == f"{server.base_url}/apps/hello-ref/"
    with httpx.Client(timeout=60) as http:
        answer = http.get(endpoint)
        assert answer.status_code == 200, answer.text
        assert answer.json()["hello"] == "world"
        assert http.post(f"{endpoint}echo", json={"a": [1, 2]}).json() == {"a": [1, 2]}
        with http.stream("GET", f"{endpoint}stream", params={"n": 4}) as streamed:
            assert b"".join(streamed.iter_raw()).decode().splitlines() == [f"chunk {i}" for i in range(4)]
        uploaded = http.post(f"{endpoint}upload", content=(b"x" * 65536 for _ in range(16)))  # chunked
        assert uploaded.json() == {"size": 16 * 65536}
        assert http.head(endpoint).status_code in (200, 405)
        redirect = http.get(endpoint.rstrip("/"))
        assert redirect.status_code == 307 and redirect.headers["location"] == "/apps/hello-ref/"

    async def websocket() -> str:
        from websockets.asyncio.client import connect

        async with connect(endpoint.replace("http://", "ws://") + "ws") as socket:
            await socket.send("ping")
            return str(await socket.recv())

    assert asyncio.run(websocket()) == "echo: ping"
    app = asyncio.run(_get(server, "hello-ref"))
    assert app.status.conditions[-1].deployment_status == definition.Status.DEPLOYMENT_STATUS_ACTIVE
    assert app.status.current_replicas == 1


def test_killed_app_process_is_restarted(server: ServerProcess, deployed: dict[str, Any]) -> None:
    endpoint = deployed["hello"]
    with httpx.Client(timeout=60) as http:
        first = http.get(endpoint).json()["pid"]
        os.kill(first, signal.SIGKILL)
        # The next request is held by the proxy until the restarted process answers.
        second = http.get(endpoint)
        assert second.status_code == 200, second.text
        assert second.json()["pid"] != first


def test_scaled_to_zero_app_starts_on_first_request_and_stops_when_idle(
    server: ServerProcess, deployed: dict[str, Any]
) -> None:
    app = asyncio.run(_get(server, "lazy-ref"))
    assert app.status.current_replicas == 0
    assert app.status.conditions[-1].substate == definition.Status.SCALED_TO_ZERO
    with httpx.Client(timeout=120) as http:
        answer = http.get(deployed["lazy"])  # held by the proxy until the cold replica answers
    assert answer.status_code == 200 and answer.json()["hello"] == "world"
    assert asyncio.run(_get(server, "lazy-ref")).status.current_replicas == 1
    _wait_for(
        lambda: asyncio.run(_get(server, "lazy-ref")).status.current_replicas == 0,
        60,
        "the app did not scale back to zero after its 3 s idle timeout",
    )


def test_app_serves_a_runs_output(server: ServerProcess, deployed: dict[str, Any]) -> None:
    assert deployed["outputs"] == ["hello apps"]
    with httpx.Client(timeout=120) as http:
        answer = http.get(f"{deployed['greeter']}greeting")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"greeting": "hello apps"}


def test_logs_list_and_bad_input(server: ServerProcess, deployed: dict[str, Any]) -> None:
    with httpx.Client(timeout=30) as http:
        missing = http.get(f"{server.base_url}/apps/no-such-app/")
        assert missing.status_code == 404 and "no app named 'no-such-app'" in missing.text
        bad = http.get(f"{server.base_url}/apps/Bad_Name/")
        assert bad.status_code == 400 and "invalid app name" in bad.text
        console = http.get(f"{server.base_url}/v2/domain/{DOMAIN}/project/{PROJECT}/apps/hello-ref")
        assert console.status_code == 200 and "/v2/static/apps.js" in console.text  # the SDK's console link

    async def rpcs() -> None:
        async with AppServiceClient(server.base_url) as client:
            listed = await client.list(
                pb.ListRequest(project=identifier_pb2.ProjectIdentifier(name=PROJECT, domain=DOMAIN))
            )
            assert {"hello-ref", "lazy-ref", "greeter-ref"} <= {a.metadata.id.name for a in listed.apps}
            with pytest.raises(ConnectError) as unknown:
                await client.get(pb.GetRequest(app_id=_app_id("no-such-app")))
            assert unknown.value.code == Code.NOT_FOUND
            spec = (await client.get(pb.GetRequest(app_id=_app_id("hello-ref")))).app.spec
            with pytest.raises(ConnectError) as bad_name:
                await client.create(
                    pb.CreateRequest(app=definition.App(metadata=definition.Meta(id=_app_id("Bad-Name")), spec=spec))
                )
            assert bad_name.value.code == Code.INVALID_ARGUMENT and "invalid app name" in bad_name.value.message
            with pytest.raises(ConnectError) as no_command:
                await client.create(
                    pb.CreateRequest(app=definition.App(metadata=definition.Meta(id=_app_id("empty")), spec={}))
                )
            assert no_command.value.code == Code.INVALID_ARGUMENT
            async for event in client.watch(pb.WatchRequest(app_id=_app_id("hello-ref"))):
                watched = event.update_event.updated_app
                assert watched.metadata.id.name == "hello-ref"
                assert watched.status.conditions[-1].deployment_status == definition.Status.DEPLOYMENT_STATUS_ACTIVE
                break
            stale = definition.App(metadata=definition.Meta(id=_app_id("hello-ref"), revision=99), spec=spec)
            with pytest.raises(ConnectError) as conflict:
                await client.update(pb.UpdateRequest(app=stale))
            assert conflict.value.code == Code.ABORTED
        async with AppLogsServiceClient(server.base_url) as logs:
            lines: list[str] = []
            async for response in logs.tail_logs(logs_pb.TailLogsRequest(app_id=_app_id("hello-ref"))):
                lines += [line for batch in response.batches.logs for line in batch.lines]
                if any("Uvicorn running" in line for line in lines):
                    break
            assert any("Uvicorn running" in line for line in lines)

    asyncio.run(asyncio.wait_for(rpcs(), timeout=60))


def test_request_timeout_is_a_504(server: ServerProcess, deployed: dict[str, Any]) -> None:
    async def create() -> None:
        async with AppServiceClient(server.base_url) as client:
            spec = (await client.get(pb.GetRequest(app_id=_app_id("hello-ref")))).app.spec
            spec.timeouts.request_timeout.FromSeconds(1)
            app = definition.App(metadata=definition.Meta(id=_app_id("slow-ref")), spec=spec)
            created = (await client.create(pb.CreateRequest(app=app))).app
            assert created.status.ingress.public_url == f"{server.base_url}/apps/slow-ref/"

    asyncio.run(create())
    with httpx.Client(timeout=120) as http:
        assert http.get(f"{server.base_url}/apps/slow-ref/slow", params={"seconds": 0}).status_code == 200
        late = http.get(f"{server.base_url}/apps/slow-ref/slow", params={"seconds": 10})
    assert late.status_code == 504 and "request timeout" in late.text


def test_requests_in_flight_scale_the_app_up_to_its_maximum(server: ServerProcess, deployed: dict[str, Any]) -> None:
    async def scenario() -> int:
        async with AppServiceClient(server.base_url) as client:
            spec = (await client.get(pb.GetRequest(app_id=_app_id("hello-ref")))).app.spec
            spec.autoscaling.replicas.min, spec.autoscaling.replicas.max = 1, 2
            app = definition.App(metadata=definition.Meta(id=_app_id("wide-ref")), spec=spec)
            await client.create(pb.CreateRequest(app=app))
            url = f"{server.base_url}/apps/wide-ref/slow"
            async with httpx.AsyncClient(timeout=120) as http:
                assert (await http.get(url, params={"seconds": 0})).status_code == 200
                slow = [asyncio.create_task(http.get(url, params={"seconds": 60})) for _ in range(2)]
                try:
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline:
                        replicas = (await client.get(pb.GetRequest(app_id=_app_id("wide-ref")))).app.status
                        if replicas.current_replicas == 2:
                            return 2
                        await asyncio.sleep(0.3)
                    return int(replicas.current_replicas)
                finally:
                    for task in slow:
                        task.cancel()
                    await asyncio.gather(*slow, return_exceptions=True)
                    await client.delete(pb.DeleteRequest(app_id=_app_id("wide-ref")))

    assert asyncio.run(scenario()) == 2, "two requests in flight did not start a second replica"


def test_deleted_app_stops_and_is_gone(server: ServerProcess, deployed: dict[str, Any]) -> None:
    async def delete() -> None:
        async with AppServiceClient(server.base_url) as client:
            await client.delete(pb.DeleteRequest(app_id=_app_id("greeter-ref")))
            with pytest.raises(ConnectError) as gone:
                await client.delete(pb.DeleteRequest(app_id=_app_id("greeter-ref")))
            assert gone.value.code == Code.NOT_FOUND

    asyncio.run(delete())
    with httpx.Client(timeout=30) as http:
        assert http.get(deployed["greeter"]).status_code == 404
    replica_dirs = server.data_dir / "apps" / PROJECT / DOMAIN / "greeter-ref"
    _wait_for(lambda: not server.worker_pids(under=f"apps/{PROJECT}/{DOMAIN}/greeter-ref"), 30, "the app kept running")
    assert replica_dirs.exists()


def test_apps_run_again_after_the_server_was_killed(server: ServerProcess, deployed: dict[str, Any]) -> None:
    with httpx.Client(timeout=60) as http:
        before = http.get(deployed["hello"]).json()["pid"]
    server.kill9()  # its app processes outlive it
    assert Path(f"/proc/{before}").exists()
    server.start()
    with httpx.Client(timeout=120) as http:
        after = http.get(deployed["hello"]).json()["pid"]
    assert after != before
    _wait_for(lambda: not Path(f"/proc/{before}").exists(), 30, "the old app process was left running")

"""Apps deployed with our SDK to ``flyte start server`` answer through ``/apps/<name>/``.

One server for the module. ``flyte.serve`` deploys a FastAPI app (its parameters reach it),
``flyte.deploy`` deploys one whose parameter is the output of the task's latest run
(``RunOutput``); ``flyte.remote.App`` and ``flyte get/update/delete app`` stop, start and delete
them; a local ``flyte.serve`` resolves a ``RunOutput`` of a run on the server.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from tests.e2e.helpers import ServerProcess, free_port

import flyte
import flyte.app
import flyte.remote
from flyte.cli.main import flyte_group
from flyte.errors import NotFoundError

PROJECT = "flytesnacks"
DOMAIN = "development"
PROGRAMS = Path(__file__).parent / "programs"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("sdk-apps-server")
    process = ServerProcess(data_dir=root / "server", worker_python=sys.executable, workers=4)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def project(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The programs, imported from a copy that is the code root; ``flyte.init`` against the server."""
    root = tmp_path_factory.mktemp("sdk-apps-client") / "project"
    shutil.copytree(PROGRAMS, root, ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, str(root))
    import importlib

    previous = os.environ.get("SDK_APP_PORT")
    os.environ["SDK_APP_PORT"] = str(free_port())  # the port it declares: where local serving listens
    module = importlib.import_module("sdk_apps")
    module.ROOT = root
    try:
        yield module
    finally:
        sys.path.remove(str(root))
        sys.modules.pop("sdk_apps", None)
        if previous is None:
            os.environ.pop("SDK_APP_PORT", None)
        else:
            os.environ["SDK_APP_PORT"] = previous


@pytest.fixture(autouse=True)
def connected(server: ServerProcess, project: Any, isolated_local_cache: Path) -> None:
    """``flyte.init`` against the server for each test (the suite's autouse fixture resets it)."""
    flyte.init(endpoint=server.endpoint, insecure=True, project=PROJECT, domain=DOMAIN, root_dir=project.ROOT)


def _cli(*args: str) -> Result:
    """``flyte ARGS --project --domain`` in this process (the endpoint is the one ``flyte.init`` has)."""
    from flyte._initialize import get_init_config

    endpoint = get_init_config().endpoint or ""
    command = ["--endpoint", endpoint, "--insecure", *args, "--project", PROJECT, "--domain", DOMAIN]
    return CliRunner().invoke(flyte_group, command, prog_name="flyte", catch_exceptions=False)


@pytest.fixture(scope="module")
def greeting_run(server: ServerProcess, project: Any) -> str:
    """A finished run of ``make_greeting(who="apps")`` on the server (its name)."""
    flyte.init(endpoint=server.endpoint, insecure=True, project=PROJECT, domain=DOMAIN, root_dir=project.ROOT)
    run = flyte.run(project.make_greeting, who="apps")
    run.wait()
    assert run.outputs()[0] == "hello apps"
    return str(run.name)


def _wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"{what} within {timeout}s (last: {last!r})")


def test_served_app_answers_through_the_proxy_with_its_parameters(
    server: ServerProcess, project: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    app = flyte.serve(project.web)
    assert isinstance(app, flyte.remote.App) and isinstance(app, flyte.AppHandle)
    assert app.is_active()
    assert app.endpoint == f"{server.base_url}/apps/sdk-web/"
    with httpx.Client(timeout=60) as http:
        root = http.get(app.endpoint)
        assert root.status_code == 200, root.text
        assert root.json()["app"] == "ours" and root.json()["mode"] == "remote"
        assert http.get(f"{app.endpoint}params").json() == {"greeting": "hi", "env": "hi", "label": "plain"}
    deployed = flyte.remote.App.get("sdk-web")
    assert deployed.pb2.spec.profile.type == "FastAPI"
    assert "sdk-web" in {a.name for a in flyte.remote.App.listall()}
    # Serving it again unchanged leaves it as it is (same revision).
    assert flyte.serve(project.web).revision == deployed.revision
    capsys.readouterr()
    deployed.show_logs(max_lines=100)
    assert "GET /params" in capsys.readouterr().out


def test_deployed_app_serves_the_latest_runs_output(server: ServerProcess, project: Any, greeting_run: str) -> None:
    [deployment] = flyte.deploy(project.greeter)
    [deployed] = deployment.apps
    app = deployed.deployed_app.watch(wait_for="activated", timeout=120)
    with httpx.Client(timeout=60) as http:
        answer = http.get(f"{app.endpoint}params")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"greeting": "hello apps", "env": "hello apps", "label": "from a run"}


def test_local_serve_resolves_a_run_output_and_an_app_endpoint_from_the_server(
    server: ServerProcess, project: Any, greeting_run: str
) -> None:
    port = project.web.get_port().port
    project.api.state.marker = "set here"
    handle = flyte.with_servecontext(
        mode="local",
        parameter_values={
            "sdk-web": {
                "greeting": flyte.app.RunOutput(run_name=greeting_run, type="string"),
                "label": flyte.app.AppEndpoint(app_name="sdk-web"),  # the deployed one's URL
            }
        },
    ).serve(project.web)
    try:
        assert handle.url == f"http://localhost:{port}" == project.web.endpoint
        answer = httpx.get(f"{handle.url}/params", timeout=30).json()
        label = f"{server.base_url}/apps/sdk-web/"
        assert answer == {"greeting": "hello apps", "env": "hello apps", "label": label}
        # Served on a thread of this process: what the program set up before serving is there.
        root = httpx.get(handle.url, timeout=30).json()
        assert root["mode"] == "local" and root["pid"] == os.getpid() and root["marker"] == "set here"
    finally:
        handle.deactivate()
    assert handle.is_deactivated()
    with pytest.raises(httpx.HTTPError):
        httpx.get(handle.url, timeout=5)


def test_cli_deploys_stops_starts_and_deletes_an_app(server: ServerProcess, project: Any, greeting_run: str) -> None:
    # flyte deploy FILE: the task environment and the three apps (two of them unchanged: left alone).
    deployed = _cli("deploy", "--root-dir", str(project.ROOT), str(project.ROOT / "sdk_apps.py"))
    assert deployed.exit_code == 0, deployed.output
    endpoint = f"{server.base_url}/apps/sdk-files/"
    assert f"App sdk-files: {endpoint}" in deployed.stdout
    flyte.remote.App.get("sdk-files").watch(wait_for="activated", timeout=120)
    assert httpx.get(endpoint, timeout=60).status_code == 200

    listed = _cli("get", "app")
    assert listed.exit_code == 0, listed.output
    assert "sdk-files" in listed.stdout

    stopped = _cli("update", "app", "sdk-files", "--deactivate", "--wait")
    assert stopped.exit_code == 0, stopped.output
    assert flyte.remote.App.get("sdk-files").is_deactivated()
    assert httpx.get(endpoint, timeout=60).status_code != 200

    started = _cli("update", "app", "sdk-files", "--activate", "--wait")
    assert started.exit_code == 0, started.output
    _wait_for(lambda: httpx.get(endpoint, timeout=60).status_code == 200, 60, "the reactivated app did not answer")

    deleted = _cli("delete", "app", "sdk-files")
    assert deleted.exit_code == 0, deleted.output
    with pytest.raises(NotFoundError):
        flyte.remote.App.get("sdk-files")

    missing = _cli("get", "app", "sdk-files")
    assert missing.exit_code == 3
    assert missing.stderr.strip().count("\n") == 0 and "sdk-files" in missing.stderr

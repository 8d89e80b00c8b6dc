"""Apps deployed with our SDK to ``flyte start server`` answer through ``/apps/<name>/``.

One server for the module. ``flyte.serve`` deploys a FastAPI app (its parameters reach it),
``flyte.deploy`` deploys one whose parameter is the output of the task's latest run
(``RunOutput``); ``flyte.remote.App`` and ``flyte get/update/delete app`` stop, start and delete
them; a local ``flyte.serve`` resolves a ``RunOutput`` of a run on the server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.helpers import ServerProcess, free_port

import flyte
import flyte.app
import flyte.remote
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


def _cli(server: ServerProcess, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "flyte", "--endpoint", server.endpoint, "--insecure", *args]
    command += ["--project", PROJECT, "--domain", DOMAIN]
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


def _wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"{what} within {timeout}s (last: {last!r})")


def test_served_app_answers_through_the_proxy_with_its_parameters(server: ServerProcess, project: Any) -> None:
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


def test_deployed_app_serves_the_latest_runs_output(server: ServerProcess, project: Any) -> None:
    run = flyte.run(project.make_greeting, who="apps")
    run.wait()
    assert run.outputs()[0] == "hello apps"
    [deployment] = flyte.deploy(project.greeter)
    [deployed] = deployment.apps
    app = deployed.deployed_app.watch(wait_for="activated", timeout=120)
    with httpx.Client(timeout=60) as http:
        answer = http.get(f"{app.endpoint}params")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"greeting": "hello apps", "env": "hello apps", "label": "from a run"}


def test_local_serve_resolves_a_run_output_from_the_server(server: ServerProcess, project: Any) -> None:
    run = flyte.run(project.make_greeting, who="local")
    run.wait()
    port = project.web.get_port().port
    handle = flyte.with_servecontext(
        mode="local",
        parameter_values={"sdk-web": {"greeting": flyte.app.RunOutput(run_name=run.name, type="string")}},
    ).serve(project.web)
    try:
        assert handle.url == f"http://localhost:{port}"
        answer = httpx.get(f"{handle.url}/params", timeout=30).json()
        assert answer == {"greeting": "hello local", "env": "hello local", "label": "plain"}
        assert httpx.get(handle.url, timeout=30).json()["mode"] == "local"
    finally:
        handle.deactivate()
    assert handle.is_deactivated()


def test_cli_stops_starts_and_deletes_an_app(server: ServerProcess, project: Any) -> None:
    flyte.serve(project.files)
    endpoint = f"{server.base_url}/apps/sdk-files/"
    assert httpx.get(endpoint, timeout=60).status_code == 200

    listed = _cli(server, "get", "app")
    assert listed.returncode == 0, listed.stderr
    assert "sdk-files" in listed.stdout

    stopped = _cli(server, "update", "app", "sdk-files", "--deactivate", "--wait")
    assert stopped.returncode == 0, stopped.stderr
    assert flyte.remote.App.get("sdk-files").is_deactivated()
    assert httpx.get(endpoint, timeout=60).status_code != 200

    started = _cli(server, "update", "app", "sdk-files", "--activate", "--wait")
    assert started.returncode == 0, started.stderr
    _wait_for(lambda: httpx.get(endpoint, timeout=60).status_code == 200, 60, "the reactivated app did not answer")

    deleted = _cli(server, "delete", "app", "sdk-files")
    assert deleted.returncode == 0, deleted.stderr
    with pytest.raises(NotFoundError):
        flyte.remote.App.get("sdk-files")

    missing = _cli(server, "get", "app", "sdk-files")
    assert missing.returncode == 3
    assert missing.stderr.strip().count("\n") == 0 and "sdk-files" in missing.stderr

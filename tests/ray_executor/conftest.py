"""The Ray executor's fixtures: one server with ``--executor ray`` on the session's two-node cluster.

Everything runs inside the loopback-only namespace of the cluster: moto (the S3 store of this
server: every Ray test is an S3 test too), the server, and the PyPI SDK clients. The test process
reaches the server through a relay (``infra.ray_cluster.forward_port``) and Ray through drivers
started inside the namespace (:func:`runner_status`).

This directory also collects the first wave's e2e tests it imports: they see these fixtures
(``server``, ``client``, ``rpc``) instead of tests/e2e's.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.helpers import WORKFLOWS, ReferenceClient, Rpc, ServerProcess, make_rpc
from e2e.test_s3_end_to_end import MotoServer

PROGRAMS = Path(__file__).parent / "programs"
HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.ray)
            if item.get_closest_marker("timeout") is None:
                # The first test of the session also waits for the cluster, moto and the server.
                item.add_marker(pytest.mark.timeout(300))


def namespace_of(data_dir: Path) -> str:
    """The Ray namespace of a server's runners (``RayExecutor`` derives it from its state directory)."""
    return "flyte-" + hashlib.sha256(str((data_dir / "executor").resolve()).encode()).hexdigest()[:12]


_STATUS = """
import json, sys, ray
namespace = sys.argv[1]
ray.init(namespace=namespace, logging_level="ERROR", log_to_driver=False)
found = {}
for entry in ray.util.list_named_actors(all_namespaces=True):
    if entry["namespace"] != namespace:
        continue
    try:
        found[entry["name"]] = ray.get(ray.get_actor(entry["name"], namespace=namespace).status.remote(), timeout=20)
    except Exception as error:
        found[entry["name"]] = {"error": repr(error)}
print("STATUS " + json.dumps(found))
"""


def runner_status(cluster: Any, data_dir: Path) -> dict[str, Any]:
    """Every runner of the server on ``data_dir``: ``{name: {"attempts": {id: code|None}, "pid", "node"}}``."""
    result = cluster.run_python(_STATUS, namespace_of(data_dir))
    lines = [line for line in result.stdout.splitlines() if line.startswith("STATUS ")]
    assert lines, f"cannot read the runners: {result.stderr[-3000:]}"
    parsed: dict[str, Any] = json.loads(lines[-1].removeprefix("STATUS "))
    return parsed


class RayServer(ServerProcess):
    """``flyte start server --executor ray`` inside the cluster's namespace, on a port relayed to this one."""

    cluster: Any = None

    def worker_pids(self, run: str | None = None, *, under: str = "work") -> list[int]:
        """Runner processes with an attempt of ``run`` still running (what an abort or timeout must end)."""
        pids = []
        for status in runner_status(self.cluster, self.data_dir).values():
            running = [key for key, code in status.get("attempts", {}).items() if code is None]
            if any(run is None or f"/{run}/" in key for key in running):
                pids.append(int(status["pid"]))
        return pids


@pytest.fixture(scope="session")
def ray_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ray-executor")


@pytest.fixture(scope="session")
def netns_moto(ray_cluster: Any, ray_root: Path) -> Iterator[MotoServer]:
    """moto's S3 server inside the cluster's namespace, on a port relayed here (same URL on both sides)."""
    from infra.ray_cluster import mirrored_port

    moto = MotoServer(ray_root / "moto.log", prefix=ray_cluster.prefix)
    moto.port, relay = mirrored_port(ray_cluster.netns)
    moto.endpoint = f"http://127.0.0.1:{moto.port}"
    try:
        moto.start()
        yield moto
    finally:
        moto.stop()
        relay.terminate()
        relay.wait()


@pytest.fixture(scope="session")
def ray_server(ray_cluster: Any, netns_moto: MotoServer, reference_python: str, ray_root: Path) -> Iterator[RayServer]:
    """The session's server on the Ray cluster, its storage a bucket of the namespace's moto."""
    from infra.ray_cluster import RAY_ENV, mirrored_port

    port, relay = mirrored_port(ray_cluster.netns)
    server = RayServer(
        data_dir=ray_root / "server",
        worker_python=reference_python,
        port=port,
        extra_env=dict(RAY_ENV),
        extra_args=["--executor", "ray", "--ray-address", ray_cluster.address, *netns_moto.server_args("ray")],
        command_prefix=ray_cluster.prefix,
    )
    server.cluster = ray_cluster
    try:
        server.start(timeout=120)
        yield server
    finally:
        server.stop()
        relay.terminate()
        relay.wait()


@pytest.fixture(scope="session")
def server(ray_server: RayServer) -> RayServer:
    """The imported e2e tests' server: the Ray one."""
    return ray_server


@pytest.fixture(scope="session")
def client(reference_python: str, ray_cluster: Any, ray_root: Path) -> ReferenceClient:
    """The PyPI SDK inside the namespace, with ``ray_wf.py`` next to the e2e workflows."""
    root = ray_root / "client"
    project = root / "project"
    shutil.copytree(WORKFLOWS, project, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROGRAMS / "ray_wf.py", project / "ray_wf.py")
    with (project / "e2e_wf.py").open("a") as module:
        module.write("\nfrom ray_wf import *  # noqa: E402,F403  (the Ray tests' tasks, for driver.py)\n")
    wrapper = root / "netns-python"
    wrapper.write_text(f'#!/bin/sh\nexec {" ".join(ray_cluster.prefix)} {reference_python} "$@"\n')
    wrapper.chmod(0o755)
    return ReferenceClient(python=str(wrapper), root=root)


@pytest.fixture
async def rpc(ray_server: RayServer) -> AsyncIterator[Rpc]:
    clients = make_rpc(ray_server.base_url)
    yield clients
    await clients.close()

"""``flyte start server --executor ray`` on a two-node Ray cluster, storage in S3 (moto), all on loopback.

The first wave's e2e tests run again here unchanged (fan-out, nesting, deploy, env vars, retries,
non-recoverable errors, timeout, abort of a fan-out, cache, logs, report): this directory's
``server`` is the Ray one. The rest covers what only Ray has: attempts run in Ray actors, a task
pinned to the second node by its resources, a node killed mid-run, and the server killed with
``kill -9`` mid-run while the attempts go on in the cluster.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from flyteidl2.common import identifier_pb2, phase_pb2
from flyteidl2.workflow import run_service_pb2

from e2e.helpers import DOMAIN, PROJECT, ReferenceClient, Rpc
from e2e.test_server_failures import (
    test_abort_of_a_running_fan_out_stops_every_descendant,
    test_logs_of_an_attempt_stream_back,
    test_non_recoverable_errors_are_not_retried,
    test_report_download_link,
    test_second_run_is_a_cache_hit,
    test_timeout_kills_the_attempt,
    test_user_errors_are_retried_until_success,
)
from e2e.test_server_happy_path import (
    test_deploy_then_run_by_task_id,
    test_environment_reaches_the_task,
    test_run_nested_fan_out_and_read_it_back,
    test_two_levels_of_nesting_and_traces,
)
from e2e.test_server_restart import _start_marked_run

from .conftest import RayServer, runner_status

REUSED = (
    test_run_nested_fan_out_and_read_it_back,
    test_two_levels_of_nesting_and_traces,
    test_deploy_then_run_by_task_id,
    test_environment_reaches_the_task,
    test_user_errors_are_retried_until_success,
    test_non_recoverable_errors_are_not_retried,
    test_timeout_kills_the_attempt,
    test_abort_of_a_running_fan_out_stops_every_descendant,
    test_second_run_is_a_cache_hit,
    test_logs_of_an_attempt_stream_back,
    test_report_download_link,
)
"""Collected here too, against the Ray server."""

SUCCEEDED = "ActionPhase.SUCCEEDED"


def action_id(run: str, name: str) -> identifier_pb2.ActionIdentifier:
    return identifier_pb2.ActionIdentifier(
        run=identifier_pb2.RunIdentifier(project=PROJECT, domain=DOMAIN, name=run), name=name
    )


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def node_named(cluster: Any, name: str) -> Any:
    return next(node for node in cluster.nodes if node.name == name)


def under(cluster: Any, node_name: str, pid: int) -> bool:
    from infra.ray_cluster import descendants

    return pid in descendants(node_named(cluster, node_name).process.pid)


async def test_attempts_run_in_ray_runners_and_their_data_in_s3(
    ray_server: RayServer, client: ReferenceClient, ray_cluster: Any
) -> None:
    result = client(ray_server, {"op": "run", "task": "worker_pids", "inputs": {"n": 6}})
    assert result["phase"] == SUCCEEDED
    pids = set(result["values"][0])
    # Ray actors of the runtime ran them (``ray::Runner...`` processes), not processes of the server.
    assert all(cmdline(pid).startswith("ray::") for pid in pids), [cmdline(pid) for pid in pids]
    assert all(under(ray_cluster, "head", pid) or under(ray_cluster, "node2", pid) for pid in pids)
    runners = runner_status(ray_cluster, ray_server.data_dir)
    assert {status["pid"] for status in runners.values()} >= pids
    # Storage is the bucket: nothing of the run on the server's disk.
    assert not (ray_server.data_dir / "blobs").exists()
    assert not list((ray_server.data_dir / "work").glob(f"*/*/{result['run']}"))


async def test_a_task_is_pinned_to_the_second_node_by_its_resources(
    ray_server: RayServer, client: ReferenceClient, ray_cluster: Any
) -> None:
    result = client(ray_server, {"op": "run", "task": "pinned_fan_out", "inputs": {"n": 2}})
    assert result["phase"] == SUCCEEDED, result
    nodes = ray_cluster.run_python(
        "import ray; ray.init(logging_level='ERROR'); "
        "print('NODE', [n['NodeID'] for n in ray.nodes() if n['Alive'] and 'node2' in n['Resources']][0])"
    )
    node2 = [line.split()[1] for line in nodes.stdout.splitlines() if line.startswith("NODE ")]
    assert node2, nodes.stderr[-2000:]
    assert result["values"] == [[node2[0], node2[0]]]


@pytest.mark.timeout(300)
async def test_a_node_killed_mid_run_has_its_actions_retried_elsewhere(
    ray_server: RayServer, client: ReferenceClient, ray_cluster: Any, rpc: Rpc, tmp_path: Path
) -> None:
    """Three one-CPU children on 2 + 1 CPUs: one runs on the second node, which is then killed."""
    markers = tmp_path / "marks"
    started = _start_marked_run(
        client,
        ray_server,
        "cpu_fan_out",
        markers,
        {"n": 3, "seconds": 8.0},
        lambda: len(list(markers.glob("*.pids"))) == 3,
    )
    first_pids = {int(path.stem): int(path.read_text().split()[0]) for path in markers.glob("*.pids")}
    on_node2 = [i for i, pid in first_pids.items() if under(ray_cluster, "node2", pid)]
    assert len(on_node2) == 1, {i: cmdline(pid) for i, pid in first_pids.items()}
    try:
        ray_cluster.kill_node(node_named(ray_cluster, "node2"))
        result = client(ray_server, {"op": "wait", "run": started["run"]}, timeout=240)
        assert result["phase"] == SUCCEEDED and result["values"] == [[0, 1, 2]]
        lost = on_node2[0]
        runs = (markers / f"{lost}.pids").read_text().split()
        assert len(runs) == 2, "the lost child ran again"
        assert under(ray_cluster, "head", int(runs[1]))
        actions = await rpc.runs.list_actions(
            run_service_pb2.ListActionsRequest(run_id=action_id(started["run"], "a0").run)
        )
        attempts = sorted(action.status.attempts for action in actions.actions if action.metadata.parent == "a0")
        assert attempts == [1, 1, 2]
    finally:
        ray_cluster.add_node(num_cpus=1, resources={"node2": 1})
        ray_cluster.wait_for_nodes(2)


@pytest.mark.timeout(300)
async def test_the_server_killed_mid_run_finds_its_attempts_again(
    ray_server: RayServer, client: ReferenceClient, rpc: Rpc, tmp_path: Path
) -> None:
    """kill -9 the server while a chain runs in the cluster; the restarted one re-attaches by handle."""
    markers = tmp_path / "marks"
    started = _start_marked_run(
        client, ray_server, "slow_chain", markers, {"n": 4, "seconds": 2.0}, (markers / "1.count").exists
    )
    ray_server.kill9()
    time.sleep(1.0)
    ray_server.start(timeout=120)
    result = client(ray_server, {"op": "wait", "run": started["run"]}, timeout=180)
    assert result["phase"] == SUCCEEDED and result["values"] == [0 + 1 + 2 + 3]
    assert [(markers / f"{i}.count").read_text() for i in range(4)] == ["x"] * 4, "a child ran twice"
    details = await rpc.runs.get_action_details(
        run_service_pb2.GetActionDetailsRequest(action_id=action_id(started["run"], "a0"))
    )
    assert details.details.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED
    assert details.details.status.attempts == 1, "the root was found again, not run again"


async def test_resources_no_node_has_fail_with_a_clear_error(
    ray_server: RayServer, client: ReferenceClient, rpc: Rpc
) -> None:
    result = client(ray_server, {"op": "run", "task": "needs_a_gpu", "inputs": {"x": 1}})
    assert result["phase"] == "ActionPhase.FAILED", result
    details = await rpc.runs.get_action_details(
        run_service_pb2.GetActionDetailsRequest(action_id=action_id(result["run"], "a0"))
    )
    assert "no node of the Ray cluster has GPU=1" in details.details.error_info.message


@pytest.mark.timeout(300)
async def test_without_an_address_the_server_runs_its_own_ray_head(
    client: ReferenceClient, ray_cluster: Any, reference_python: str, tmp_path: Path
) -> None:
    """``--executor ray`` alone: a local head starts with the server and stops with it."""
    from infra.ray_cluster import RAY_ENV, descendants, mirrored_port

    port, relay = mirrored_port(ray_cluster.netns)
    server = RayServer(
        data_dir=tmp_path / "server",
        worker_python=reference_python,
        port=port,
        extra_env=dict(RAY_ENV),
        extra_args=["--executor", "ray"],
        command_prefix=ray_cluster.prefix,
    )
    try:
        server.start(timeout=180)
        assert server.process is not None
        pid = server.process.pid
        result = client(server, {"op": "run", "task": "worker_pids", "inputs": {"n": 3}})
        assert result["phase"] == SUCCEEDED
        below = descendants(pid)
        assert set(result["values"][0]) <= set(below), "the attempts ran in the server's own Ray head"
        assert any("gcs_server" in cmdline(child) for child in below)
        server.stop()
        deadline = time.monotonic() + 30
        while [child for child in below if cmdline(child)]:
            assert time.monotonic() < deadline, [cmdline(child) for child in below if cmdline(child)]
            time.sleep(0.5)
    finally:
        server.stop()
        relay.terminate()
        relay.wait()


async def test_secrets_reach_the_attempt_on_the_cluster(ray_server: RayServer, client: ReferenceClient) -> None:
    import hashlib

    import flyte
    import flyte.remote

    flyte.init(endpoint=ray_server.endpoint, insecure=True, project=PROJECT, domain=DOMAIN)
    flyte.remote.Secret.create("ray-e2e-token", "tok-4711")
    result = client(ray_server, {"op": "run", "task": "secret_digest", "inputs": {"x": 1}})
    assert result["phase"] == SUCCEEDED, result
    assert result["values"] == [hashlib.sha256(b"tok-4711").hexdigest()]

"""Retries, non-recoverable errors, timeouts, aborts, the cache and logs, driven by the PyPI SDK."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from flyteidl2.common import identifier_pb2, list_pb2, phase_pb2
from flyteidl2.core import catalog_pb2
from flyteidl2.dataproxy import dataproxy_service_pb2
from flyteidl2.workflow import run_service_pb2

from .helpers import DOMAIN, PROJECT, ReferenceClient, Rpc, ServerProcess

SUCCEEDED = "ActionPhase.SUCCEEDED"


def run_id(name: str) -> identifier_pb2.RunIdentifier:
    return identifier_pb2.RunIdentifier(project=PROJECT, domain=DOMAIN, name=name)


def root_id(name: str) -> identifier_pb2.ActionIdentifier:
    return identifier_pb2.ActionIdentifier(run=run_id(name), name="a0")


async def root_details(rpc: Rpc, name: str) -> run_service_pb2.GetActionDetailsResponse:
    return await rpc.runs.get_action_details(run_service_pb2.GetActionDetailsRequest(action_id=root_id(name)))


async def test_user_errors_are_retried_until_success(
    server: ServerProcess, client: ReferenceClient, rpc: Rpc, tmp_path: Path
) -> None:
    marker = tmp_path / "flaky.count"
    result = client(server, {"op": "run", "task": "flaky", "inputs": {"marker": str(marker), "failures": 2}})
    assert result["phase"] == SUCCEEDED and result["values"] == [3]
    details = (await root_details(rpc, result["run"])).details
    assert details.status.attempts == 3
    assert [attempt.phase for attempt in details.attempts] == [
        phase_pb2.ACTION_PHASE_FAILED,
        phase_pb2.ACTION_PHASE_FAILED,
        phase_pb2.ACTION_PHASE_SUCCEEDED,
    ]
    assert "flaky failure number 1" in details.attempts[0].error_info.message


async def test_non_recoverable_errors_are_not_retried(
    server: ServerProcess, client: ReferenceClient, rpc: Rpc, tmp_path: Path
) -> None:
    marker = tmp_path / "hopeless.count"
    result = client(server, {"op": "run", "task": "hopeless", "inputs": {"marker": str(marker)}})
    assert result["phase"] == "ActionPhase.FAILED"
    assert marker.read_text() == "1", "retries=3, but a NonRecoverableError runs once"
    details = (await root_details(rpc, result["run"])).details
    assert details.status.attempts == 1
    assert "do not retry" in details.error_info.message


async def test_timeout_kills_the_attempt(server: ServerProcess, client: ReferenceClient, rpc: Rpc) -> None:
    started = time.monotonic()
    result = client(server, {"op": "run", "task": "slow", "inputs": {"seconds": 60.0}})
    assert time.monotonic() - started < 40
    assert result["phase"] == "ActionPhase.TIMED_OUT"
    details = (await root_details(rpc, result["run"])).details
    assert details.error_info.code == "MAX_RUNTIME_EXCEEDED"
    await wait_for_no_workers(server, result["run"])


async def wait_for_no_workers(server: ServerProcess, run: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while server.worker_pids(run):
        assert time.monotonic() < deadline, f"worker processes still alive: {server.worker_pids(run)}"
        await asyncio.sleep(0.2)


async def test_abort_of_a_running_fan_out_stops_every_descendant(
    server: ServerProcess, client: ReferenceClient, rpc: Rpc
) -> None:
    started = client(server, {"op": "run", "task": "nap_fan_out", "inputs": {"n": 12, "seconds": 120.0}, "wait": False})
    name = started["run"]
    deadline = time.monotonic() + 60
    while True:
        actions = await rpc.runs.list_actions(run_service_pb2.ListActionsRequest(run_id=run_id(name)))
        running = [
            a for a in actions.actions if a.metadata.parent == "a0" and a.status.phase == phase_pb2.ACTION_PHASE_RUNNING
        ]
        if len(running) >= 4 and len(actions.actions) == 13:
            break
        assert time.monotonic() < deadline, "the fan-out did not start"
        await asyncio.sleep(0.2)
    assert server.worker_pids(name), "workers are running before the abort"

    client(server, {"op": "abort", "run": name})
    result = client(server, {"op": "wait", "run": name})
    assert result["phase"] == "ActionPhase.ABORTED"
    actions = await rpc.runs.list_actions(run_service_pb2.ListActionsRequest(run_id=run_id(name)))
    assert len(actions.actions) == 13
    assert {a.status.phase for a in actions.actions} == {phase_pb2.ACTION_PHASE_ABORTED}
    await wait_for_no_workers(server, name)
    details = (await root_details(rpc, name)).details
    assert details.abort_info.reason


async def test_second_run_is_a_cache_hit(
    server: ServerProcess, client: ReferenceClient, rpc: Rpc, tmp_path: Path
) -> None:
    marker = tmp_path / "cached.count"
    inputs = {"x": 12, "marker": str(marker)}
    first = client(server, {"op": "run", "task": "cached_square", "inputs": inputs})
    second = client(server, {"op": "run", "task": "cached_square", "inputs": inputs})
    assert first["values"] == second["values"] == [144]
    assert marker.read_text() == "1", "the second run did not execute the task"
    first_status = (await root_details(rpc, first["run"])).details.status
    second_status = (await root_details(rpc, second["run"])).details.status
    assert first_status.cache_status == catalog_pb2.CACHE_POPULATED
    assert second_status.cache_status == catalog_pb2.CACHE_HIT
    assert second_status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED

    rerun = client(server, {"op": "run", "task": "cached_square", "inputs": inputs, "overwrite_cache": True})
    assert rerun["values"] == [144] and marker.read_text() == "2", "overwrite_cache runs it again"


async def test_logs_of_an_attempt_stream_back(server: ServerProcess, client: ReferenceClient, rpc: Rpc) -> None:
    result = client(server, {"op": "run", "task": "shout", "inputs": {"text": "hello logs"}})
    assert result["values"] == ["HELLO LOGS"]
    lines: list[str] = []
    request = dataproxy_service_pb2.TailLogsRequest(action_id=root_id(result["run"]), attempt=1)
    async for response in rpc.data.tail_logs(request):
        for batch in response.logs:
            lines.extend(line.message for line in batch.lines)
    assert "LOG-LINE hello logs" in lines

    listed = await rpc.runs.list_runs(
        run_service_pb2.ListRunsRequest(
            project_id=identifier_pb2.ProjectIdentifier(name=PROJECT, domain=DOMAIN),
            request=list_pb2.ListRequest(limit=5),
        )
    )
    assert result["run"] in [run.action.id.run.name for run in listed.runs]


async def test_report_download_link(server: ServerProcess, client: ReferenceClient, rpc: Rpc) -> None:
    import httpx

    result = client(server, {"op": "run", "task": "reporter", "inputs": {"title": "Quarterly numbers"}})
    assert result["values"] == ["Quarterly numbers"]
    details = (await root_details(rpc, result["run"])).details
    assert details.attempts[-1].outputs.report_uri.endswith("/report.html")
    link = await rpc.data.create_download_link(
        dataproxy_service_pb2.CreateDownloadLinkRequest(
            artifact_type=dataproxy_service_pb2.ARTIFACT_TYPE_REPORT,
            action_attempt_id=identifier_pb2.ActionAttemptIdentifier(action_id=root_id(result["run"]), attempt=1),
        )
    )
    async with httpx.AsyncClient() as http:
        page = await http.get(link.pre_signed_urls.signed_url[0])
    assert page.status_code == 200 and "Quarterly numbers" in page.text

"""Conditions against ``flyte start server``: resolved from the CLI, our SDK and PyPI flyte's;
timeouts and rejections raise the right errors; a webhook receiver resolves its condition.

Workers run our runtime (``ours_server``) or PyPI flyte's (``ref_server``), so the condition
protocol (the ``ConditionAction`` enqueue, ``SignalEvent``, the value inline in ``ActionUpdate``)
is checked with both SDKs on both sides.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from e2e.helpers import DOMAIN, PROJECT, ServerProcess

from .conftest import WEBHOOK_SECRET, Drive, condition_of, outputs_of

pytestmark = pytest.mark.timeout(300) if hasattr(pytest.mark, "timeout") else []


def _cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "flyte",
            "--endpoint",
            server.endpoint,
            "--insecure",
            *args,
            "-p",
            PROJECT,
            "-d",
            DOMAIN,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _paused_runs() -> list[str]:
    """Runs with a waiting condition (``ListRuns(paused_actions_only=True)``, our SDK)."""
    import flyte.remote

    return [item.name for item in flyte.remote.Run.listall(paused_actions_only=True, limit=1000)]


@pytest.mark.parametrize("which", ["ours", "ref"])
def test_approval_from_the_cli(which: str, request: pytest.FixtureRequest, drive: Drive, reference_python: str) -> None:
    server: ServerProcess = request.getfixturevalue(f"{which}_server")
    python = sys.executable if which == "ours" else reference_python
    run = drive(python, server, {"op": "run", "task": "approval"})["run"]
    action = condition_of(server, run).action_name
    listed = _cli(server, "get", "condition", run)
    assert listed.returncode == 0 and action in listed.stdout, listed.stderr
    assert run in _paused_runs(), "a run waiting on a condition is listed as paused"
    wrong = _cli(server, "signal", "condition", run, action, "maybe")
    assert wrong.returncode == 2, wrong.stderr
    signalled = _cli(server, "signal", "condition", run, action, "true")
    assert signalled.returncode == 0, signalled.stderr
    again = _cli(server, "signal", "condition", run, action, "false")
    assert again.returncode != 0 and "no longer waiting" in again.stderr + again.stdout
    assert outputs_of(server, run) == ["approved"]
    assert run not in _paused_runs()


def test_pypi_sdk_resolves_our_runtime_and_ours_resolves_pypi(
    ours_server: ServerProcess, ref_server: ServerProcess, drive: Drive, reference_python: str
) -> None:
    """PyPI flyte's Condition.signal resolves a task of our runtime, and ours one of PyPI's runtime."""
    for server, submitter, signaller in (
        (ours_server, sys.executable, reference_python),
        (ref_server, reference_python, sys.executable),
    ):
        run = drive(submitter, server, {"op": "run", "task": "amount"})["run"]
        drive(signaller, server, {"op": "signal", "run": run, "name": "amount", "value": 21})
        assert outputs_of(server, run) == [42]


@pytest.mark.parametrize("which", ["ours", "ref"])
def test_timeout_and_rejection(which: str, request: pytest.FixtureRequest, drive: Drive, reference_python: str) -> None:
    server: ServerProcess = request.getfixturevalue(f"{which}_server")
    python = sys.executable if which == "ours" else reference_python
    both = [{"task": "approval", "inputs": {"timeout": 1.0}}, {"task": "approval"}]
    timed, rejected = drive(python, server, {"op": "runs", "runs": both})["runs"]
    action = condition_of(server, rejected).action_name
    result = _cli(server, "signal", "condition", rejected, action, "--reject", "not today")
    assert result.returncode == 0, result.stderr
    assert outputs_of(server, rejected) == ["ConditionFailedError"]
    assert outputs_of(server, timed) == ["ConditionTimedoutError"]


class _Receiver(BaseHTTPRequestHandler):
    calls: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        stamp = self.headers["X-Flyte-Timestamp"]
        expected = (
            "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        )
        document = json.loads(body)
        first = not _Receiver.calls
        _Receiver.calls.append({"valid": hmac.compare_digest(expected, self.headers["X-Flyte-Signature"]), **document})
        if first:  # the first delivery fails: the server retries it
            self.send_response(503)
            self.end_headers()
            return
        self.send_response(204)
        self.end_headers()
        threading.Thread(
            target=lambda: httpx.post(document["callback"], json={"value": "yes"}, timeout=30), daemon=True
        ).start()

    def log_message(self, *args: Any) -> None:
        pass


def test_webhook_receiver_resolves_the_condition(ours_server: ServerProcess, drive: Drive) -> None:
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        run = drive(sys.executable, ours_server, {"op": "run", "task": "hooked", "inputs": {"url": url}})["run"]
        assert outputs_of(ours_server, run) == ["got yes"]
    finally:
        receiver.shutdown()
        receiver.server_close()
    assert len(_Receiver.calls) == 2 and all(call["valid"] and call["kind"] == "approval" for call in _Receiver.calls)
    forged = httpx.post(_Receiver.calls[0]["callback"][:-4] + "beef", json={"value": "no"}, timeout=10)
    assert forged.status_code == 404
    late = httpx.post(_Receiver.calls[0]["callback"], json={"value": "no"}, timeout=10)
    assert late.status_code == 409

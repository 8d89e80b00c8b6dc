"""flyte.notify: the server emails (SMTP, aiosmtpd on loopback) and posts webhooks (a loopback
receiver) once per run for the rules whose phase matched, retries a failed delivery, and shows the
delivery log in ``flyte get run``; with our SDK and PyPI flyte's."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from e2e.helpers import DOMAIN, PROJECT, ServerProcess

from .conftest import Drive, Mailbox, outputs_of

_FLYTE = (sys.executable, "-m", "flyte")
_SCOPE = ("-p", PROJECT, "-d", DOMAIN)


class _Hooks(BaseHTTPRequestHandler):
    posts: list[tuple[str, dict[str, Any]]] = []
    failures_left = 1

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/webhook" and _Hooks.failures_left:
            _Hooks.failures_left -= 1
            self.send_response(503)  # the first failure notification is refused once: the server retries
        else:
            _Hooks.posts.append((self.path, body))
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def hooks() -> Iterator[str]:
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Hooks)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{receiver.server_address[1]}"
    receiver.shutdown()
    receiver.server_close()


@pytest.fixture
def notify_server(request: pytest.FixtureRequest, client: str) -> ServerProcess:
    """The session server of that client's runtime (both send mail to ``mailbox``)."""
    server: ServerProcess = request.getfixturevalue(f"{client}_server")
    return server


def _until(check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.mark.parametrize("client", ["ours", "ref"])
def test_email_and_webhooks_once_per_matching_phase(
    client: str,
    notify_server: ServerProcess,
    mailbox: tuple[Mailbox, int],
    hooks: str,
    drive: Drive,
    reference_python: str,
) -> None:
    box = mailbox[0]
    python = sys.executable if client == "ours" else reference_python
    address = f"{client}@example.com"
    settings = {"email": address, "url": hooks}
    _Hooks.failures_left = 1
    runs = [{"task": "echo", "inputs": {"x": 1}, "notify": settings}, {"task": "boom", "notify": settings}]
    ok, bad = drive(python, notify_server, {"op": "runs", "runs": runs})["runs"]
    assert outputs_of(notify_server, ok) == [1]
    outputs_of(notify_server, bad)

    def mails(run: str) -> list[dict[str, Any]]:
        return [m for m in box.messages if f"Run: {run}" in m["body"]]

    def posts(run: str) -> list[tuple[str, dict[str, Any]]]:
        return [p for p in _Hooks.posts if run in json.dumps(p[1])]

    _until(lambda: len(mails(ok)) == 1 and len(mails(bad)) == 1 and len(posts(ok)) == 1 and len(posts(bad)) == 1)
    time.sleep(1.5)  # nothing more arrives
    assert len(mails(ok)) == 1 and len(mails(bad)) == 1
    assert mails(ok)[0]["to"] == [address] and "Phase: SUCCEEDED" in mails(ok)[0]["body"]
    assert "Phase: FAILED" in mails(bad)[0]["body"] and "boom on purpose" in mails(bad)[0]["body"]
    assert posts(ok) == [("/slack", {"text": f"{ok} done"})]
    ((path, body),) = posts(bad)
    assert (
        path == "/webhook" and body["run"] == bad and body["phase"] == "FAILED" and "boom on purpose" in body["error"]
    )

    shown = subprocess.run(
        [*_FLYTE, "--endpoint", notify_server.endpoint, "--insecure", "-of", "json", "get", "run", *_SCOPE, bad],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "FAILED email " + address + ": delivered after 1 attempt" in text
    assert "/webhook: delivered after 2 attempts" in text

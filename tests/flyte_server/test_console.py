"""The web console at ``/v2``: its files, the JSON Connect calls it makes, and the page in a real browser.

One ``flyte start server`` subprocess serves the module; a driver process uses the SDK to deploy
an environment and to start a run with nested actions and a run that fails. The browser tests
render the page in headless Chromium (``apt-get install chromium``) and read the resulting DOM;
they are skipped when no ``chromium`` is on the PATH.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

PROJECT = "flytesnacks"
DOMAIN = "development"
CONSOLE_FILES = Path(__file__).parents[2] / "src" / "flyte_server" / "console"

WORKFLOW = """
import asyncio

import flyte

env = flyte.TaskEnvironment(name="console_demo")


@env.task
async def square(x: int) -> int:
    return x * x


@env.task
async def boom(x: int) -> int:
    raise ValueError(f"bad input {x}")


@env.task
async def fan_out(n: int) -> list[int]:
    print("fanning out to", n, "squares", flush=True)
    return list(await asyncio.gather(*[square(i) for i in range(n)]))
"""

DRIVER = """
import json
import sys

import flyte

import console_wf

flyte.init(endpoint=sys.argv[1], insecure=True, project=sys.argv[2], domain=sys.argv[3])
flyte.deploy(console_wf.env)
ok = flyte.run(console_wf.fan_out, n=3)
ok.wait()
failed = flyte.run(console_wf.boom, x=7)
failed.wait()
print(json.dumps({"ok": ok.name, "ok_phase": ok.phase, "ok_url": ok.url, "failed": failed.name}))
"""


@dataclass(frozen=True)
class ConsoleServer:
    url: str
    """``http://127.0.0.1:<port>``."""
    console_url: str
    """The console address ``flyte start server`` printed."""
    ok_run: str
    """A succeeded run of ``fan_out(n=3)``: a root action with three ``square`` children."""
    ok_run_url: str
    """What the SDK's ``Run.url`` says for it."""
    failed_run: str
    """A failed run of ``boom(x=7)``."""


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    root = tmp_path_factory.mktemp("console")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env["HOME"] = str(root / "home")
    log_path = root / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "flyte", "start", "server", "--port", "0", "--data-dir", str(root / "data")],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        url, console_url = _wait_until_ready(server, log_path)
        project_dir = root / "project"
        project_dir.mkdir()
        (project_dir / "console_wf.py").write_text(WORKFLOW)
        (project_dir / "driver.py").write_text(DRIVER)
        endpoint = url.removeprefix("http://")
        driven = subprocess.run(
            [sys.executable, "driver.py", endpoint, PROJECT, DOMAIN],
            cwd=project_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert driven.returncode == 0, driven.stderr + log_path.read_text()
        runs = json.loads(driven.stdout.strip().splitlines()[-1])
        assert runs["ok_phase"] == "SUCCEEDED", log_path.read_text()
        yield ConsoleServer(
            url=url,
            console_url=console_url,
            ok_run=runs["ok"],
            ok_run_url=runs["ok_url"],
            failed_run=runs["failed"],
        )
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_until_ready(server: subprocess.Popen[bytes], log_path: Path) -> tuple[str, str]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        ready = re.search(r"Flyte server ready at (\S+)", text)
        console = re.search(r"console:\s+(\S+)", text)
        if ready and console:
            return ready.group(1), console.group(1)
        if server.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"the server did not start:\n{log_path.read_text(errors='replace')}")


def _connect(server: ConsoleServer, service: str, method: str, request: dict[str, Any]) -> httpx.Response:
    """A unary Connect call with the JSON encoding, as the page's script makes it."""
    return httpx.post(
        f"{server.url}/{service}/{method}",
        json=request,
        headers={"Connect-Protocol-Version": "1"},
        timeout=30,
    )


def _raw_get(server: ConsoleServer, path: str) -> tuple[int, bytes]:
    """GET ``path`` exactly as written: no dot-segment removal, no re-encoding (unlike httpx)."""
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# --- the files -----------------------------------------------------------------------------------


def test_the_console_url_printed_at_start_up_serves_the_page(console_server: ConsoleServer) -> None:
    page = httpx.get(console_server.console_url, timeout=30)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script src="/v2/static/console.js"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert httpx.get(f"{console_server.url}/v2/", timeout=30).text == page.text

    home = httpx.get(f"{console_server.url}/", timeout=30)
    assert home.status_code == 302 and home.headers["location"] == "/v2"


def test_the_sdk_run_link_serves_the_page(console_server: ConsoleServer) -> None:
    assert console_server.ok_run_url.endswith(f"/v2/domain/{DOMAIN}/project/{PROJECT}/runs/{console_server.ok_run}"), (
        console_server.ok_run_url
    )
    path = console_server.ok_run_url.split("/v2", 1)[1]
    page = httpx.get(f"{console_server.url}/v2{path}", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("console.js", "text/javascript; charset=utf-8"), ("console.css", "text/css; charset=utf-8")],
)
def test_static_files_are_served_as_shipped_with_their_content_type(
    console_server: ConsoleServer, name: str, content_type: str
) -> None:
    response = httpx.get(f"{console_server.url}/v2/static/{name}", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == (CONSOLE_FILES / "static" / name).read_bytes()

    head = httpx.head(f"{console_server.url}/v2/static/{name}", timeout=30)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(response.content)


def test_other_methods_are_refused(console_server: ConsoleServer) -> None:
    response = httpx.post(f"{console_server.url}/v2/static/console.js", content=b"x", timeout=30)
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "path",
    [
        "/v2/static/../../server.py",
        "/v2/static/../__init__.py",
        "/v2/static/..%2f..%2fserver.py",
        "/v2/static/%2e%2e/%2e%2e/server.py",
        "/v2/static/%2e%2e%2f__init__.py",
        "/v2/static/..%5c__init__.py",
        "/v2/static//etc/passwd",
        "/v2/static/%2fetc%2fpasswd",
        "/v2/../flyte_server/server.py",
        "/v2/static/",
        "/v2/static/missing.js",
        "/v2/static/.hidden.js",
        "/v2/static/__init__.py",
        "/v2/index.html/../__init__.py",
        "/v2/anything-else",
    ],
)
def test_traversal_and_unknown_files_are_404(console_server: ConsoleServer, path: str) -> None:
    status, body = _raw_get(console_server, path)
    assert status == 404, path
    assert b"import" not in body and b"root:" not in body


# --- the JSON Connect calls the page makes ---------------------------------------------------------


def test_runs_list_and_run_details_over_json(console_server: ConsoleServer) -> None:
    listed = _connect(
        console_server,
        "flyteidl2.workflow.RunService",
        "ListRuns",
        {"projectId": {"name": PROJECT, "domain": DOMAIN}, "request": {"limit": 50}},
    )
    assert listed.status_code == 200 and listed.headers["content-type"] == "application/json"
    runs = [(run["action"]["id"]["run"]["name"], run["action"]["status"]["phase"]) for run in listed.json()["runs"]]
    assert runs == [
        (console_server.failed_run, "ACTION_PHASE_FAILED"),
        (console_server.ok_run, "ACTION_PHASE_SUCCEEDED"),
    ], "newest first"

    run_id = {"project": PROJECT, "domain": DOMAIN, "name": console_server.ok_run}
    details = _connect(console_server, "flyteidl2.workflow.RunService", "GetRunDetails", {"runId": run_id}).json()
    assert details["details"]["action"]["metadata"]["task"]["id"]["name"] == "console_demo.fan_out"

    actions = _connect(
        console_server, "flyteidl2.workflow.RunService", "ListActions", {"runId": run_id, "request": {"limit": 500}}
    ).json()["actions"]
    children = [action for action in actions if action["metadata"].get("parent") == "a0"]
    assert len(actions) == 4 and len(children) == 3
    assert {child["metadata"]["task"]["shortName"] for child in children} == {"square"}

    missing = _connect(
        console_server, "flyteidl2.workflow.RunService", "GetRunDetails", {"runId": {**run_id, "name": "nope"}}
    )
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_failed_action_details_over_json(console_server: ConsoleServer) -> None:
    action_id = {"run": {"project": PROJECT, "domain": DOMAIN, "name": console_server.failed_run}, "name": "a0"}
    details = _connect(
        console_server, "flyteidl2.workflow.RunService", "GetActionDetails", {"actionId": action_id}
    ).json()["details"]
    assert details["status"]["phase"] == "ACTION_PHASE_FAILED"
    assert details["errorInfo"]["code"] == "ValueError" and details["errorInfo"]["message"] == "bad input 7"
    assert [attempt["attempt"] for attempt in details["attempts"]] == [1]


def test_tasks_and_projects_over_json(console_server: ConsoleServer) -> None:
    tasks = _connect(
        console_server,
        "flyteidl2.task.TaskService",
        "ListTasks",
        {"projectId": {"name": PROJECT, "domain": DOMAIN}, "request": {"limit": 1000}},
    ).json()["tasks"]
    assert {task["taskId"]["name"] for task in tasks} == {
        "console_demo.square",
        "console_demo.boom",
        "console_demo.fan_out",
    }
    versions = _connect(
        console_server,
        "flyteidl2.task.TaskService",
        "ListVersions",
        {"taskName": {"project": PROJECT, "domain": DOMAIN, "name": "console_demo.boom"}, "request": {"limit": 100}},
    ).json()["versions"]
    assert [version["version"] for version in versions] == [tasks[0]["taskId"]["version"]]

    projects = _connect(console_server, "flyteidl2.project.ProjectService", "ListProjects", {"limit": 100}).json()
    default = next(project for project in projects["projects"]["projects"] if project["id"] == PROJECT)
    assert DOMAIN in {domain["id"] for domain in default["domains"]}


def test_logs_stream_over_enveloped_json(console_server: ConsoleServer) -> None:
    request = json.dumps(
        {
            "actionId": {"run": {"project": PROJECT, "domain": DOMAIN, "name": console_server.ok_run}, "name": "a0"},
            "attempt": 1,
        }
    ).encode()
    response = httpx.post(
        f"{console_server.url}/flyteidl2.dataproxy.DataProxyService/TailLogs",
        content=struct.pack(">BI", 0, len(request)) + request,
        headers={"Content-Type": "application/connect+json", "Connect-Protocol-Version": "1"},
        timeout=30,
    )
    assert response.status_code == 200 and response.headers["content-type"] == "application/connect+json"
    messages: list[tuple[int, Any]] = []
    body = response.content
    while body:
        flags, size = struct.unpack(">BI", body[:5])
        messages.append((flags, json.loads(body[5 : 5 + size])))
        body = body[5 + size :]
    assert messages[-1] == (2, {}), "the stream ends with an empty end-of-stream message"
    lines = [line["message"] for _, message in messages[:-1] for group in message["logs"] for line in group["lines"]]
    assert "fanning out to 3 squares" in lines


# --- the page in a real browser ------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.skip("no `chromium` on PATH for the browser tests; install it with `apt-get install -y chromium`")
    return found


def _render(chromium: str, url: str, profile: Path) -> str:
    """The DOM of ``url`` after its scripts ran (5 s of virtual time), as headless Chromium prints it."""
    result = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_browser_shows_the_runs_newest_first(chromium: str, console_server: ConsoleServer, tmp_path: Path) -> None:
    dom = _render(chromium, f"{console_server.url}/v2#/runs", tmp_path)
    rows = re.findall(r'<tr class="run" data-run="([^"]+)">(.*?)</tr>', dom)
    assert [name for name, _ in rows] == [console_server.failed_run, console_server.ok_run], dom
    failed, ok = (cells for _, cells in rows)
    assert "console_demo.boom" in failed and '<span class="phase phase-failed">FAILED</span>' in failed
    assert "console_demo.fan_out" in ok and '<span class="phase phase-succeeded">SUCCEEDED</span>' in ok
    assert f'href="#/runs/{console_server.ok_run}"' in ok
    assert '<option value="flytesnacks">flytesnacks</option>' in dom


def test_browser_shows_a_run_as_a_tree_of_actions_with_its_log(
    chromium: str, console_server: ConsoleServer, tmp_path: Path
) -> None:
    dom = _render(chromium, f"{console_server.url}/v2#/runs/{console_server.ok_run}", tmp_path)
    tree = re.search(r'<div class="vlist tree" id="actions">(.*?)</section>', dom, re.S)
    assert tree is not None, dom
    rows = re.findall(r'<div class="vrow node[^"]*" data-action="([^"]+)"[^>]*>(.*?)</div>', tree.group(1))
    root = [cells for name, cells in rows if name == "a0"]
    assert root and '<span class="label">fan_out</span>' in root[0]
    children = [cells for name, cells in rows if name != "a0"]
    assert len(children) == 3, "three children under the root action"
    assert all('<span class="label">square</span>' in cells and "phase-succeeded" in cells for cells in children)
    log = re.search(r'<div class="log" id="log"[^>]*>(.*?)</div></div>', dom, re.S)
    assert log is not None and "fanning out to 3 squares" in log.group(1)


def test_browser_shows_why_a_run_failed(chromium: str, console_server: ConsoleServer, tmp_path: Path) -> None:
    dom = _render(chromium, f"{console_server.url}/v2#/runs/{console_server.failed_run}", tmp_path)
    assert '<pre class="error">ValueError: bad input 7</pre>' in dom
    assert '<td class="error-cell">ValueError: bad input 7</td>' in dom, "the attempt's error"


def test_browser_opens_the_run_link_the_sdk_prints(
    chromium: str, console_server: ConsoleServer, tmp_path: Path
) -> None:
    path = console_server.ok_run_url.split("/v2", 1)[1]
    dom = _render(chromium, f"{console_server.url}/v2{path}", tmp_path)
    assert f"<h1>{console_server.ok_run}</h1>" in dom
    assert len(re.findall(r'data-action="[^"]+"', dom)) == 4


def test_browser_lists_deployed_tasks(chromium: str, console_server: ConsoleServer, tmp_path: Path) -> None:
    dom = _render(chromium, f"{console_server.url}/v2#/tasks", tmp_path)
    assert re.findall(r'<tr data-task="([^"]+)">', dom) == [
        "console_demo.boom",
        "console_demo.fan_out",
        "console_demo.square",
    ]


def test_browser_says_when_a_run_does_not_exist(chromium: str, console_server: ConsoleServer, tmp_path: Path) -> None:
    dom = _render(chromium, f"{console_server.url}/v2#/runs/no-such-run", tmp_path)
    assert f"There is no run no-such-run in {PROJECT} / {DOMAIN}." in dom


# --- with authentication (flyte start server --auth) ---------------------------------------------


@pytest.fixture(scope="module")
def auth_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A server with ``--auth``: its URL and the admin API key it wrote."""
    root = tmp_path_factory.mktemp("console-auth")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env["HOME"] = str(root / "home")
    log_path = root / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flyte",
                "start",
                "server",
                "--auth",
                "--port",
                "0",
                "--data-dir",
                str(root / "data"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        url, _ = _wait_until_ready(server, log_path)
        yield url, (root / "data" / "admin-api-key").read_text().strip()
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_with_auth_the_page_loads_but_data_needs_a_token(auth_console: tuple[str, str]) -> None:
    import base64

    url, api_key = auth_console
    assert httpx.get(f"{url}/v2", timeout=30).status_code == 200
    assert httpx.get(f"{url}/v2/static/console.js", timeout=30).status_code == 200
    refused = httpx.post(
        f"{url}/flyteidl2.project.ProjectService/ListProjects", json={}, headers={"Connect-Protocol-Version": "1"}
    )
    assert refused.status_code == 401 and refused.json()["code"] == "unauthenticated"
    # What the login form does: the key's client id and secret, posted to the token endpoint.
    _, client_id, secret, _ = base64.b64decode(api_key).decode().rsplit(":", 3)
    token = httpx.post(
        f"{url}/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        timeout=30,
    ).json()["access_token"]
    listed = httpx.post(
        f"{url}/flyteidl2.project.ProjectService/ListProjects",
        json={},
        headers={"Connect-Protocol-Version": "1", "Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert listed.status_code == 200 and "flytesnacks" in listed.text


def test_browser_asks_for_an_api_key_when_auth_is_on(
    chromium: str, auth_console: tuple[str, str], tmp_path: Path
) -> None:
    url, _ = auth_console
    dom = _render(chromium, f"{url}/v2#/runs", tmp_path)
    assert '<form class="login" id="login">' in dom
    assert "This server requires authentication" in dom
    assert '<tr class="run"' not in dom


class _DevTools:
    """Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``)."""

    def __init__(self, chromium: str, profile: Path) -> None:
        import fcntl

        browser_reads, self._write_end = os.pipe()
        self._read_end, browser_writes = os.pipe()
        # bash redirects the two pipes to fds 3 and 4, where Chromium expects them.
        inbound = fcntl.fcntl(browser_reads, fcntl.F_DUPFD, 10)
        outbound = fcntl.fcntl(browser_writes, fcntl.F_DUPFD, 10)
        os.close(browser_reads)
        os.close(browser_writes)
        command = (
            f"exec {chromium} --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
            f"--user-data-dir={profile} --remote-debugging-pipe about:blank 3<&{inbound} 4>&{outbound}"
        )
        self.process = subprocess.Popen(
            ["bash", "-c", command], pass_fds=(inbound, outbound), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        os.close(inbound)
        os.close(outbound)
        self._buffer = b""
        self._ids = iter(range(1, 1 << 30))
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

    def _send(self, method: str, params: dict[str, Any], session: str | None = None) -> dict[str, Any]:
        number = next(self._ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._write_end, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._read_end, 1 << 16)
                assert chunk, "Chromium closed its DevTools pipe"
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == number:
                assert "error" not in reply, reply
                return reply["result"]  # type: ignore[no-any-return]

    def open(self, url: str) -> None:
        self._send("Page.navigate", {"url": url}, self._session)

    def evaluate(self, expression: str) -> Any:
        result = self._send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}, self._session
        )
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not self.evaluate(f"Boolean({expression})"):
            assert time.monotonic() < deadline, f"never true: {expression}\n{self.evaluate('document.body.innerText')}"
            time.sleep(0.1)

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        os.close(self._read_end)
        os.close(self._write_end)


def test_browser_logs_in_with_an_api_key(chromium: str, auth_console: tuple[str, str], tmp_path: Path) -> None:
    url, api_key = auth_console
    browser = _DevTools(chromium, tmp_path)
    try:
        browser.open(f"{url}/v2#/runs")
        browser.wait_for("document.getElementById('login')")

        def submit(key: str) -> None:
            browser.evaluate(
                f"document.getElementById('api-key').value = {json.dumps(key)};"
                "document.getElementById('login').requestSubmit();"
            )

        submit("bm90IGEga2V5")  # base64 of "not a key"
        browser.wait_for("document.getElementById('login-error').textContent.includes('not an API key')")
        import base64

        endpoint, client_id, _, org = base64.b64decode(api_key).decode().rsplit(":", 3)
        submit(base64.b64encode(f"{endpoint}:{client_id}:wrong:{org}".encode()).decode())
        browser.wait_for("document.getElementById('login-error').textContent.includes('wrong secret')")

        submit(api_key)
        browser.wait_for(f"document.body.innerText.includes('No runs in {PROJECT} / {DOMAIN} yet.')")
        assert browser.evaluate("document.getElementById('login') === null")
        assert browser.evaluate("sessionStorage.getItem('flyte-console-token') !== null")
        assert not browser.evaluate(f"sessionStorage.getItem('flyte-console-token').includes({json.dumps(api_key)})")
        assert browser.evaluate("document.getElementById('logout').hidden") is False

        browser.evaluate("document.getElementById('logout').click()")
        browser.wait_for("document.getElementById('login')")
        assert browser.evaluate("sessionStorage.getItem('flyte-console-token') === null")
    finally:
        browser.close()

"""``flyte.console.ConsoleService`` and the report route: hostile or wrong requests get one clear line.

Uses the session's server (with ``--auth``) but no browser.
"""

from __future__ import annotations

import httpx
import pytest
from tests.console.helpers import DOMAIN, PROJECT, ConsoleSession

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]  # the browser tests' session server

SERVICE = "flyte.console.ConsoleService"


def _key_token(console: ConsoleSession, name: str, role: str, projects: list[str] | None = None) -> str:
    import base64

    created = console.call(
        "flyte.auth.ApiKeyService", "CreateApiKey", {"name": name, "role": role, "projects": projects or []}
    )
    assert created.status_code == 200, created.text
    _, client_id, secret, _ = base64.b64decode(created.json()["apiKey"]).decode().rsplit(":", 3)
    response = httpx.post(
        f"{console.url}/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        timeout=30,
    )
    return str(response.json()["access_token"])


def _latest_version(console: ConsoleSession, task: str) -> str:
    versions = console.call(
        "flyteidl2.task.TaskService",
        "ListVersions",
        {"taskName": {"project": PROJECT, "domain": DOMAIN, "name": task}, "request": {"limit": 1}},
    ).json()["versions"]
    return str(versions[0]["version"])


def test_refusals_are_one_line_with_the_right_status(console: ConsoleSession) -> None:
    unknown = console.call(SERVICE, "DropTables", {})
    assert unknown.status_code == 404 and unknown.json()["code"] == "unimplemented"
    garbled = httpx.post(
        f"{console.url}/{SERVICE}/GetRunErrors",
        content=b"\xff{not json",
        headers={"Authorization": f"Bearer {console.bearer()}"},
        timeout=30,
    )
    assert garbled.status_code == 400 and garbled.json() == {
        "code": "invalid_argument",
        "message": "the request body is not JSON",
    }
    assert console.call(SERVICE, "GetRunErrors", {"project": PROJECT, "domain": DOMAIN, "runs": "x"}).status_code == 400
    missing = console.call(
        SERVICE, "GetActionIo", {"project": PROJECT, "domain": DOMAIN, "run": "nope", "action": "a0"}
    )
    assert missing.status_code == 404 and "\n" not in missing.json()["message"]
    too_big = httpx.post(
        f"{console.url}/{SERVICE}/GetIdentity",
        content=b"{" + b" " * (300 * 1024) + b"}",
        headers={"Authorization": f"Bearer {console.bearer()}"},
        timeout=30,
    )
    assert too_big.status_code == 400
    no_token = httpx.post(f"{console.url}/{SERVICE}/GetIdentity", json={}, timeout=30)
    assert no_token.status_code == 401
    errors = console.call(SERVICE, "GetRunErrors", {"project": PROJECT, "domain": DOMAIN, "runs": [console.failed_run]})
    assert errors.json() == {"errors": {console.failed_run: "ValueError: bad input 7"}}


def test_encode_inputs_validates_like_the_cli_and_reads_no_server_files(console: ConsoleSession) -> None:
    task = {"name": "console_e2e.summarize", "version": _latest_version(console, "console_e2e.summarize")}

    def encode(values: dict[str, str]) -> httpx.Response:
        return console.call(
            SERVICE, "EncodeInputs", {"project": PROJECT, "domain": DOMAIN, "task": task, "values": values}
        )

    ok = encode({"values": "[1, 2]"})
    assert ok.status_code == 200, ok.text
    literal = ok.json()["inputs"]["literals"][0]
    assert literal["name"] == "values" and len(literal["value"]["collection"]["literals"]) == 2
    wrong = encode({"values": '[1, "x"]'})
    assert wrong.status_code == 400 and wrong.json()["message"].startswith("values: ")
    # The CLI reads a .json argument as a file; the console never opens files on the server.
    secret = console.data_dir / "admin-api-key.json"
    secret.write_text("[1, 2, 3]")
    try:
        refused = encode({"values": str(secret)})
    finally:
        secret.unlink()
    assert refused.status_code == 400 and "not valid JSON" in refused.json()["message"]
    assert encode({"label": "x"}).json()["message"] == "values: a value is required"
    assert "no input 'bogus'" in encode({"values": "[1]", "bogus": "1"}).json()["message"]


def test_roles_and_project_limits(console: ConsoleSession) -> None:
    viewer = _key_token(console, "api-viewer", "viewer")
    identity = console.call(SERVICE, "GetIdentity", {}, token=viewer).json()
    assert identity["role"] == "viewer" and identity["auth"] is True
    task = {"name": "console_e2e.square", "version": _latest_version(console, "console_e2e.square")}
    denied = console.call(
        SERVICE,
        "EncodeInputs",
        {"project": PROJECT, "domain": DOMAIN, "task": task, "values": {"x": "2"}},
        token=viewer,
    )
    assert denied.status_code == 403 and denied.json()["code"] == "permission_denied"
    form = console.call(SERVICE, "GetLaunchForm", {"project": PROJECT, "domain": DOMAIN, "task": task}, token=viewer)
    assert form.status_code == 200 and [field["name"] for field in form.json()["fields"]] == ["delay", "x"]

    elsewhere = _key_token(console, "api-other-project", "user", ["other"])
    refused = console.call(
        SERVICE,
        "GetActionIo",
        {"project": PROJECT, "domain": DOMAIN, "run": console.failed_run, "action": "a0"},
        token=elsewhere,
    )
    assert refused.status_code == 403, refused.text


def test_the_report_route_checks_its_signature(console: ConsoleSession) -> None:
    base = f"{console.url}/v2/report/{PROJECT}/{DOMAIN}/{console.failed_run}/a0/1/report.html"
    assert httpx.get(f"{base}?expires=99999999999&signature=forged", timeout=30).status_code == 403
    assert httpx.get(f"{console.url}/v2/report/{PROJECT}/x.txt?expires=1&signature=x", timeout=30).status_code == 404
    assert httpx.get(f"{console.url}/v2/report/..%2f..%2fflyte.db", timeout=30).status_code == 404

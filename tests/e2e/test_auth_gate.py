"""Authentication on every RPC of every mounted service, the Host allow-list, and how auth is switched on.

One server with ``--auth`` for the module; every RPC is called without a token, with an expired,
a tampered and a wrong-role token (each must be refused with the right code) and with a valid
admin token (which must get past the gate).
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import json
import os
import pkgutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.project import project_service_pb2
from flyteidl2.project.project_service_connect import ProjectServiceClient
from flyteidl2.workflow import run_service_pb2
from flyteidl2.workflow.run_service_connect import RunServiceClient
from google.protobuf import descriptor_pool

from flyte_server.auth.principal import Principal, access_of
from flyte_server.auth.tokens import TokenAuthority
from flyte_server.config import ServerConfig
from flyte_server.secrets import derive_key, load_server_key
from flyte_server.server import build_app

from .auth_helpers import AuthServer, connect_call, create_key, credentials_of, get_token, http_status
from .helpers import free_port

pytestmark = pytest.mark.timeout(300)


def _mounted_rpcs(tmp: Path) -> list[tuple[str, str, bool]]:
    """(service, method, server-streaming) of every Connect RPC a server with auth mounts."""
    router, lifecycle = build_app(ServerConfig(port=free_port(), data_dir=tmp, auth=True))
    asyncio.run(lifecycle.database.close())
    import flyteidl2

    for module in pkgutil.walk_packages(flyteidl2.__path__, "flyteidl2."):
        if module.name.endswith("_pb2"):
            importlib.import_module(module.name)
    pool = descriptor_pool.Default()
    rpcs = []
    for app in router.connect_apps:
        service = pool.FindServiceByName(app.path.strip("/"))
        for method in service.methods:
            rpcs.append((service.full_name, method.name, method.server_streaming))
    return rpcs


RPCS = _mounted_rpcs(Path(os.environ.get("TMPDIR", "/tmp")) / f"auth-rpcs-{os.getpid()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    process = AuthServer(data_dir=tmp_path_factory.mktemp("auth") / "server")
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def tokens(server: AuthServer) -> dict[str, str]:
    _, admin_id, admin_secret = credentials_of(server.admin_api_key)
    admin = get_token(server, admin_id, admin_secret)
    result = {"admin": admin}
    for role in ("user", "viewer"):
        _, client_id, secret = credentials_of(create_key(server, admin, f"gate-{role}", role))
        result[role] = get_token(server, client_id, secret)
    authority = TokenAuthority(derive_key(load_server_key(server.data_dir, None), "auth-tokens"))
    expired, _ = authority.issue(
        Principal(subject="apikey:admin", role="admin", key_id="admin"), ttl_s=600, now=time.time() - 3600
    )
    result["expired"] = expired
    header, payload, signature = admin.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "apikey:someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    result["tampered"] = f"{header}.{forged}.{signature}"
    result["foreign"], _ = TokenAuthority(b"another server's key, 32 bytes!").issue(
        Principal(subject="apikey:admin", role="admin", key_id="admin"), ttl_s=600
    )
    return result


def test_every_service_is_covered() -> None:
    services = {service for service, _, _ in RPCS}
    for expected in (
        "flyteidl2.workflow.RunService",
        "flyteidl2.task.TaskService",
        "flyteidl2.workflow.QueueService",
        "flyteidl2.workflow.StateService",
        "flyteidl2.dataproxy.DataProxyService",
        "flyteidl2.secret.SecretService",
        "flyteidl2.project.ProjectService",
        "flyteidl2.auth.AuthMetadataService",
    ):
        assert expected in services
    assert len(RPCS) > 40


@pytest.mark.parametrize(
    ("service", "method", "streaming"), RPCS, ids=[f"{s.rsplit('.', 1)[-1]}.{m}" for s, m, _ in RPCS]
)
def test_rpc_refuses_bad_tokens_and_admits_good_ones(
    server: AuthServer, tokens: dict[str, str], service: str, method: str, streaming: bool
) -> None:
    access = access_of(service, method)
    with server.client() as http:

        def call(token: str | None) -> str:
            try:
                return connect_call(http, service, method, streaming=streaming, token=token)
            except httpx.ReadTimeout:
                return "ok"  # a stream that was let through and waits for events

        if access == "public":
            assert call(None) == "ok"
            return
        assert call(None) == "unauthenticated"
        assert call(tokens["expired"]) == "unauthenticated"
        assert call(tokens["tampered"]) == "unauthenticated"
        assert call(tokens["foreign"]) == "unauthenticated"
        assert call("not-a-jwt") == "unauthenticated"
        if access == "write":
            assert call(tokens["viewer"]) == "permission_denied"
        if access == "admin":
            assert call(tokens["user"]) == "permission_denied"
            assert call(tokens["viewer"]) == "permission_denied"
        http.timeout = httpx.Timeout(30, read=3)
        assert call(tokens["admin"]) not in ("unauthenticated", "permission_denied")


def test_api_key_service_is_admin_only(server: AuthServer, tokens: dict[str, str]) -> None:
    with server.client() as http:
        for method in ("CreateApiKey", "ListApiKeys", "DeleteApiKey"):
            url = f"/flyte.auth.ApiKeyService/{method}"
            assert http.post(url, json={}).status_code == 401
            for role in ("user", "viewer"):
                response = http.post(url, json={}, headers={"authorization": f"Bearer {tokens[role]}"})
                assert response.json()["code"] == "permission_denied"
        listing = http.post(
            "/flyte.auth.ApiKeyService/ListApiKeys", json={}, headers={"authorization": f"Bearer {tokens['admin']}"}
        ).json()
    names = {key["name"] for key in listing["keys"]}
    assert {"admin", "gate-user", "gate-viewer"} <= names
    assert "secret" not in json.dumps(listing).lower().replace("createdby", "")


async def test_connect_clients_see_the_codes(server: AuthServer, tokens: dict[str, str]) -> None:
    projects = ProjectServiceClient(server.base_url)
    runs = RunServiceClient(server.base_url)
    try:
        with pytest.raises(ConnectError) as error:
            await projects.list_projects(project_service_pb2.ListProjectsRequest())
        assert error.value.code == Code.UNAUTHENTICATED
        with pytest.raises(ConnectError) as error:
            await projects.create_project(
                project_service_pb2.CreateProjectRequest(),
                headers={"authorization": f"Bearer {tokens['viewer']}"},
            )
        assert error.value.code == Code.PERMISSION_DENIED
        with pytest.raises(ConnectError) as error:
            async for _ in runs.watch_runs(run_service_pb2.WatchRunsRequest()):
                pass
        assert error.value.code == Code.UNAUTHENTICATED
        listed = await projects.list_projects(
            project_service_pb2.ListProjectsRequest(), headers={"authorization": f"Bearer {tokens['viewer']}"}
        )
        assert any(p.id == "flytesnacks" for p in listed.projects.projects)
    finally:
        await projects.close()
        await runs.close()


def test_grpc_callers_get_grpc_status(server: AuthServer) -> None:
    with server.client() as http:
        response = http.post(
            "/flyteidl2.project.ProjectService/ListProjects",
            content=b"\x00\x00\x00\x00\x00",
            headers={"content-type": "application/grpc", "te": "trailers"},
        )
    assert response.headers["grpc-status"] == "16"


def test_token_endpoint(server: AuthServer, tokens: dict[str, str]) -> None:
    _, admin_id, admin_secret = credentials_of(server.admin_api_key)
    with server.client() as http:
        wrong = http.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=(admin_id, "wrong"))
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
        unknown = http.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=("nobody", "x"))
        assert unknown.status_code == 401
        grant = http.post("/oauth2/token", data={"grant_type": "password"}, auth=(admin_id, admin_secret))
        assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
        posted = http.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": admin_id, "client_secret": admin_secret},
        )
        assert posted.status_code == 200 and posted.json()["token_type"] == "Bearer"
        assert 0 < posted.json()["expires_in"] <= 3600
        metadata = http.get("/.well-known/oauth-authorization-server").json()
        assert metadata["token_endpoint"] == f"{server.base_url}/oauth2/token"


def test_deleted_key_stops_working(server: AuthServer, tokens: dict[str, str]) -> None:
    _, client_id, secret = credentials_of(create_key(server, tokens["admin"], "short-lived", "user"))
    token = get_token(server, client_id, secret)
    with server.client() as http:
        assert (
            connect_call(http, "flyteidl2.project.ProjectService", "ListProjects", streaming=False, token=token) == "ok"
        )
        deleted = http.post(
            "/flyte.auth.ApiKeyService/DeleteApiKey",
            json={"name": "short-lived"},
            headers={"authorization": f"Bearer {tokens['admin']}"},
        )
        assert deleted.status_code == 200
        code = connect_call(http, "flyteidl2.project.ProjectService", "ListProjects", streaming=False, token=token)
        assert code == "unauthenticated"
        again = http.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
        assert again.status_code == 401


def test_project_limited_key(server: AuthServer, tokens: dict[str, str]) -> None:
    _, client_id, secret = credentials_of(create_key(server, tokens["admin"], "ml-only", "user", ["ml"]))
    token = get_token(server, client_id, secret)
    request = run_service_pb2.ListRunsRequest()
    request.project_id.name = "flytesnacks"
    request.project_id.domain = "development"
    with server.client() as http:
        code = connect_call(
            http,
            "flyteidl2.workflow.RunService",
            "ListRuns",
            streaming=False,
            token=token,
            body=request.SerializeToString(),
        )
        assert code == "permission_denied"
        request.project_id.name = "ml"
        code = connect_call(
            http,
            "flyteidl2.workflow.RunService",
            "ListRuns",
            streaming=False,
            token=token,
            body=request.SerializeToString(),
        )
        assert code not in ("permission_denied", "unauthenticated")


def test_admin_key_file_is_private(server: AuthServer) -> None:
    path = server.data_dir / "admin-api-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    endpoint, client_id, _ = credentials_of(path.read_text().strip())
    assert endpoint == f"http://localhost:{server.port}" and client_id == "admin"
    assert server.admin_api_key in server.log_path.read_text()  # printed once, at the first start


def test_host_header_allow_list(server: AuthServer) -> None:
    base = f"http://127.0.0.1:{server.port}"
    assert http_status(f"{base}/healthz") == 200
    assert http_status(f"{base}/healthz", host=f"localhost:{server.port}") == 200
    assert http_status(f"{base}/healthz", host="attacker.example") == 421
    assert http_status(f"{base}/v2", host=f"rebind.attacker.example:{server.port}") == 421


def test_host_allow_list_without_auth(tmp_path: Path) -> None:
    plain = AuthServer(data_dir=tmp_path / "plain", args=["--allowed-host", "flyte.internal"])
    plain.start()
    try:
        base = f"http://127.0.0.1:{plain.port}"
        assert http_status(f"{base}/healthz", host="evil.example") == 421
        assert http_status(f"{base}/healthz", host=f"flyte.internal:{plain.port}") == 200
        with plain.client() as http:  # auth is off on loopback: no token needed
            assert (
                connect_call(http, "flyteidl2.project.ProjectService", "ListProjects", streaming=False, token=None)
                == "ok"
            )
        assert not (plain.data_dir / "admin-api-key").exists()
    finally:
        plain.stop()


def _start_server_cli(*args: str, data_dir: Path, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "flyte", "start", "server", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_contradicting_options_are_usage_errors(tmp_path: Path) -> None:
    result = _start_server_cli("--auth", "--insecure-no-auth", "--port", "0", data_dir=tmp_path / "d")
    assert result.returncode == 2 and "contradict" in result.stderr
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    result = _start_server_cli("--tls-cert", str(cert), "--port", "0", data_dir=tmp_path / "d")
    assert result.returncode == 2 and "--tls-key" in result.stderr


def test_auth_is_on_by_default_off_loopback(tmp_path: Path) -> None:
    exposed = AuthServer(data_dir=tmp_path / "exposed", args=[], host="0.0.0.0")
    exposed.start()
    try:
        assert (exposed.data_dir / "admin-api-key").exists()
        assert "WARNING: serving without TLS" in exposed.log_path.read_text()
        with httpx.Client(base_url=f"http://127.0.0.1:{exposed.port}") as http:
            code = connect_call(http, "flyteidl2.project.ProjectService", "ListProjects", streaming=False, token=None)
        assert code == "unauthenticated"
    finally:
        exposed.stop()
    insecure = AuthServer(data_dir=tmp_path / "insecure", args=["--insecure-no-auth"], host="0.0.0.0")
    insecure.start()
    try:
        assert "WARNING: serving 0.0.0.0 without authentication" in insecure.log_path.read_text()
        assert not (insecure.data_dir / "admin-api-key").exists()
    finally:
        insecure.stop()


def test_cors_stays_closed(server: AuthServer, tokens: dict[str, str]) -> None:
    with server.client() as http:
        preflight = http.options(
            "/flyteidl2.project.ProjectService/ListProjects",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        call = http.post(
            "/flyteidl2.project.ProjectService/ListProjects",
            json={},
            headers={"Origin": "https://evil.example", "authorization": f"Bearer {tokens['viewer']}"},
        )
    for response in (preflight, call):
        assert not any(name.lower().startswith("access-control-") for name in response.headers)

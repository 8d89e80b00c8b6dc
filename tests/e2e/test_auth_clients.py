"""Clients against an auth-enabled server: the unmodified PyPI client (ClientSecret config, API key) and ours.

The PyPI client needs TLS to authenticate (it adds credentials only to non-``insecure``
connections), so those servers serve a certificate from a test CA. Its token request ignores
``caCertFilePath`` and trusts the CA only through ``SSL_CERT_FILE`` (see docs/auth.md).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .auth_helpers import AuthServer, credentials_of, self_signed_certificate

pytestmark = pytest.mark.timeout(400)

PROGRAMS = Path(__file__).parent / "auth_programs"


def _project(tmp: Path) -> Path:
    """A copy of the program outside any git checkout, so the SDK bundles just it."""
    target = tmp / "project"
    if not target.exists():
        shutil.copytree(PROGRAMS, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _run_program(
    python: str, tmp: Path, command: dict[str, object], env: dict[str, str] | None = None
) -> dict[str, object]:
    home = tmp / f"home-{random.randrange(1 << 30)}"
    home.mkdir(parents=True)
    environ = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FLYTE_API_KEY") and not k.startswith("PYTEST_")
    }
    environ.update({"HOME": str(home), **(env or {})})
    result = subprocess.run(
        [python, "auth_wf.py", json.dumps(command)],
        cwd=_project(tmp),
        env=environ,
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    # PyPI flyte's HTTP client sometimes aborts the process while it exits, after the result was printed.
    if not lines:
        raise AssertionError(
            f"the program failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
        )
    parsed: dict[str, object] = json.loads(lines[-1].removeprefix("RESULT "))
    return parsed


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    root = tmp_path_factory.mktemp("auth-tls")
    ca, cert, key = self_signed_certificate(root, ["localhost", "127.0.0.1"])
    server = AuthServer(
        data_dir=root / "server", args=["--auth", "--tls-cert", str(cert), "--tls-key", str(key)], tls_ca=ca
    )
    server.start()
    yield server
    server.stop()


def test_pypi_client_with_client_secret_config(tls_server: AuthServer, reference_python: str, tmp_path: Path) -> None:
    assert tls_server.tls_ca is not None
    _, client_id, secret = credentials_of(tls_server.admin_api_key)
    secret_file = tmp_path / "client-secret"
    secret_file.write_text(secret)
    config = tmp_path / "config.yaml"
    config.write_text(
        "admin:\n"
        f"  endpoint: dns:///localhost:{tls_server.port}\n"
        "  authType: ClientSecret\n"
        f"  clientId: {client_id}\n"
        f"  clientSecretLocation: {secret_file}\n"
        "  insecure: false\n"
        f"  caCertFilePath: {tls_server.tls_ca}\n"
    )
    result = _run_program(
        reference_python, tmp_path, {"mode": "config", "config": str(config)}, {"SSL_CERT_FILE": str(tls_server.tls_ca)}
    )
    assert result == {"phase": "ActionPhase.SUCCEEDED", "outputs": [11]}


def test_pypi_client_with_a_wrong_secret_is_refused(
    tls_server: AuthServer, reference_python: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    (tmp_path / "wrong").write_text("not-the-secret")
    config.write_text(
        "admin:\n"
        f"  endpoint: dns:///localhost:{tls_server.port}\n"
        "  authType: ClientSecret\n"
        "  clientId: admin\n"
        f"  clientSecretLocation: {tmp_path / 'wrong'}\n"
        f"  caCertFilePath: {tls_server.tls_ca}\n"
    )
    with pytest.raises(AssertionError, match=r"invalid_client|unknown client id or wrong secret|401"):
        _run_program(
            reference_python,
            tmp_path,
            {"mode": "config", "config": str(config)},
            {"SSL_CERT_FILE": str(tls_server.tls_ca)},
        )


def _can_bind(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def test_pypi_client_with_an_api_key(reference_python: str, tmp_path: Path) -> None:
    # PyPI flyte splits a decoded key at its first three colons: its endpoint cannot carry a port,
    # so the server must be https on 443 — here on a loopback address of its own.
    host = f"127.{random.randrange(1, 250)}.{random.randrange(1, 250)}.{random.randrange(2, 250)}"
    if not _can_bind(host, 443):
        pytest.skip("binding port 443 needs root (PyPI flyte's API keys cannot name another port)")
    ca, cert, key = self_signed_certificate(tmp_path, [host])
    server = AuthServer(
        data_dir=tmp_path / "server",
        host=host,
        port=443,
        args=["--auth", "--tls-cert", str(cert), "--tls-key", str(key)],
        tls_ca=ca,
    )
    server.start()
    try:
        assert credentials_of(server.admin_api_key)[0] == host  # a key PyPI flyte can read
        result = _run_program(
            reference_python,
            tmp_path,
            {"mode": "api_key", "api_key": server.admin_api_key, "ca": str(ca)},
            {"SSL_CERT_FILE": str(ca)},
        )
        assert result == {"phase": "ActionPhase.SUCCEEDED", "outputs": [11]}
    finally:
        server.stop()


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    server = AuthServer(data_dir=tmp_path_factory.mktemp("auth-plain") / "server")
    server.start()
    yield server
    server.stop()


def _flyte(*args: str, api_key: str | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FLYTE_API_KEY" and not k.startswith("PYTEST_")}
    env["HOME"] = str(cwd)
    if api_key is not None:
        env["FLYTE_API_KEY"] = api_key
    return subprocess.run(
        [sys.executable, "-m", "flyte", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240
    )


def test_our_sdk_with_an_api_key(plain_server: AuthServer, tmp_path: Path) -> None:
    result = _run_program(sys.executable, tmp_path, {"mode": "env"}, {"FLYTE_API_KEY": plain_server.admin_api_key})
    assert str(result["phase"]).endswith("SUCCEEDED") and result["outputs"] == [11]


def test_our_cli_with_flyte_api_key(plain_server: AuthServer, tmp_path: Path) -> None:
    project = _project(tmp_path)
    admin = plain_server.admin_api_key
    ran = _flyte(
        "run",
        "-p",
        "flytesnacks",
        "-d",
        "development",
        "--wait",
        "auth_wf.py",
        "main",
        "--x",
        "4",
        api_key=admin,
        cwd=project,
    )
    assert ran.returncode == 0, ran.stderr
    assert "9" in ran.stdout

    created = _flyte("create", "api-key", "cli-viewer", "--role", "viewer", api_key=admin, cwd=project)
    assert created.returncode == 0, created.stderr
    viewer = created.stdout.strip()
    assert credentials_of(viewer)[1] == "cli-viewer"

    listed = _flyte("--output-format", "json", "get", "api-key", api_key=admin, cwd=project)
    assert listed.returncode == 0, listed.stderr
    assert {"name": "cli-viewer", "role": "viewer"}.items() <= next(
        key for key in json.loads(listed.stdout) if key["name"] == "cli-viewer"
    ).items()

    whoami = _flyte("whoami", api_key=viewer, cwd=project)
    assert whoami.returncode == 0 and "apikey:cli-viewer" in whoami.stdout, whoami.stdout + whoami.stderr
    projects = _flyte("get", "project", api_key=viewer, cwd=project)
    assert projects.returncode == 0 and "flytesnacks" in projects.stdout
    refused = _flyte("create", "api-key", "sneaky", "--role", "admin", api_key=viewer, cwd=project)
    assert refused.returncode == 1 and "may not call CreateApiKey" in refused.stderr
    denied_run = _flyte(
        "run", "-p", "flytesnacks", "-d", "development", "auth_wf.py", "main", "--x", "1", api_key=viewer, cwd=project
    )
    assert denied_run.returncode == 1 and "may not call" in denied_run.stderr

    deleted = _flyte("delete", "api-key", "cli-viewer", api_key=admin, cwd=project)
    assert deleted.returncode == 0, deleted.stderr
    after = _flyte("get", "project", api_key=viewer, cwd=project)
    assert after.returncode == 1 and "wrong secret" in after.stderr
    missing = _flyte("delete", "api-key", "cli-viewer", api_key=admin, cwd=project)
    assert missing.returncode == 3 and "no API key named" in missing.stderr


def test_cli_without_credentials_is_told_to_log_in(plain_server: AuthServer, tmp_path: Path) -> None:
    result = _flyte(
        "--endpoint", f"localhost:{plain_server.port}", "--insecure", "get", "project", api_key=None, cwd=tmp_path
    )
    assert result.returncode == 1
    assert "FLYTE_API_KEY" in result.stderr and "Traceback" not in result.stderr


def test_our_sdk_with_client_secret_config(plain_server: AuthServer, tmp_path: Path) -> None:
    _, client_id, secret = credentials_of(plain_server.admin_api_key)
    (tmp_path / "client-secret").write_text(secret)
    config = tmp_path / "config.yaml"
    config.write_text(
        "admin:\n"
        f"  endpoint: dns:///localhost:{plain_server.port}\n"
        "  insecure: true\n"
        "  authType: ClientSecret\n"
        f"  clientId: {client_id}\n"
        f"  clientSecretLocation: {tmp_path / 'client-secret'}\n"
    )
    result = _run_program(sys.executable, tmp_path, {"mode": "config", "config": str(config)})
    assert str(result["phase"]).endswith("SUCCEEDED") and result["outputs"] == [11]


def test_tasks_of_pypi_flytes_runtime_use_their_run_credential(reference_python: str, tmp_path: Path) -> None:
    # The reference runtime runs the tasks: its nested call (main -> double) must authenticate too.
    server = AuthServer(data_dir=tmp_path / "server", args=["--auth", "--worker-python", reference_python])
    server.start()
    try:
        result = _run_program(sys.executable, tmp_path, {"mode": "env"}, {"FLYTE_API_KEY": server.admin_api_key})
        assert str(result["phase"]).endswith("SUCCEEDED") and result["outputs"] == [11]
    finally:
        server.stop()

"""Helpers of the authentication tests: a server started with auth options, tokens, certificates."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .helpers import file_tail, free_port


@dataclass
class AuthServer:
    """``flyte start server`` with extra options (``--auth``, TLS, OIDC ...) in a subprocess."""

    data_dir: Path
    args: list[str] = field(default_factory=lambda: ["--auth"])
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    tls_ca: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls_ca else "http"

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host == "0.0.0.0" else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}-server.log"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "flyte",
            "start",
            "server",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--workers",
            "4",
            *self.args,
        ]

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        home = self.data_dir.parent / f"{self.data_dir.name}-home"
        home.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "FLYTE_API_KEY"}
        env["HOME"] = str(home)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                response = httpx.get(f"{self.base_url}/healthz", verify=self.verify())
                if response.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server did not get ready in {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        return file_tail(self.log_path, lines)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    @property
    def admin_api_key(self) -> str:
        return (self.data_dir / "admin-api-key").read_text().strip()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, verify=self.verify(), timeout=30)

    def verify(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=str(self.tls_ca)) if self.tls_ca else True


def credentials_of(api_key: str) -> tuple[str, str, str]:
    """(endpoint, client id, secret) of an encoded API key."""
    endpoint, client_id, secret, _ = base64.b64decode(api_key).decode().rsplit(":", 3)
    return endpoint, client_id, secret


def get_token(server: AuthServer, client_id: str, secret: str) -> str:
    with server.client() as http:
        response = http.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def create_key(server: AuthServer, admin_token: str, name: str, role: str, projects: list[str] | None = None) -> str:
    with server.client() as http:
        response = http.post(
            "/flyte.auth.ApiKeyService/CreateApiKey",
            json={"name": name, "role": role, "projects": projects or []},
            headers={"authorization": f"Bearer {admin_token}"},
        )
    assert response.status_code == 200, response.text
    return str(response.json()["apiKey"])


def connect_call(
    http: httpx.Client, service: str, method: str, *, streaming: bool, token: str | None, body: bytes = b""
) -> str:
    """Call an RPC with the Connect protocol (binary); the error code it answers, or ``"ok"``."""
    headers = {"connect-protocol-version": "1"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    if not streaming:
        headers["content-type"] = "application/proto"
        response = http.post(f"/{service}/{method}", content=body, headers=headers)
        if response.status_code == 200:
            return "ok"
        return str(response.json().get("code", f"http {response.status_code}"))
    headers["content-type"] = "application/connect+proto"
    envelope = b"\x00" + len(body).to_bytes(4, "big") + body
    with http.stream("POST", f"/{service}/{method}", content=envelope, headers=headers) as response:
        if response.status_code != 200:
            return f"http {response.status_code}"
        data = b""
        for chunk in response.iter_bytes():
            data += chunk
            end = _end_of_stream(data)
            if end is not None:
                return end
            if len(data) > 5:
                return "ok"  # the first message arrived: the call was let through
    return "ok"


def _end_of_stream(data: bytes) -> str | None:
    if len(data) < 5 or not data[0] & 0x02:
        return None
    size = int.from_bytes(data[1:5], "big")
    if len(data) < 5 + size:
        return None
    payload: dict[str, Any] = json.loads(data[5 : 5 + size] or b"{}")
    error = payload.get("error")
    return str(error.get("code")) if isinstance(error, dict) else "ok"


def self_signed_certificate(directory: Path, names: list[str]) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate (and key) it signed for DNS names and IP addresses.

    Returns (ca.pem, cert.pem, key.pem); clients trust ``ca.pem``. Generated with ``cryptography``.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flyte test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_path, cert_path, key_path


def http_status(url: str, host: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)

"""``--oidc-issuer``: bearer tokens of an external OpenID Connect issuer are trusted, checked against its keys.

The issuer is real: a loopback HTTP server publishing a discovery document and a JWKS, signing
with an RSA key this test generates.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from .auth_helpers import AuthServer, connect_call

pytestmark = pytest.mark.timeout(300)

AUDIENCE = "flyte-test"


class Issuer:
    """A minimal OIDC issuer: discovery + JWKS over HTTP on loopback, and a signing key."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-1"})
        jwks = {"keys": [self.key.as_dict(private=False)]}
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks"}
                elif self.path == "/jwks":
                    body = jwks
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def token(self, key: RSAKey | None = None, **overrides: Any) -> str:
        now = int(time.time())
        claims = {"iss": self.url, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300, **overrides}
        claims = {name: value for name, value in claims.items() if value is not None}
        return jwt.encode({"alg": "RS256", "kid": "test-1"}, claims, key or self.key)

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    running = Issuer()
    yield running
    running.close()


@pytest.fixture(scope="module")
def server(issuer: Issuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    process = AuthServer(
        data_dir=tmp_path_factory.mktemp("oidc") / "server",
        args=["--oidc-issuer", issuer.url, "--oidc-audience", AUDIENCE],
    )
    process.start()
    yield process
    process.stop()


def _call(server: AuthServer, service: str, method: str, token: str | None) -> str:
    with server.client() as http:
        return connect_call(http, service, method, streaming=False, token=token)


PROJECTS = "flyteidl2.project.ProjectService"
RUNS = "flyteidl2.workflow.RunService"


def test_issuer_tokens_are_trusted_with_their_role(server: AuthServer, issuer: Issuer) -> None:
    viewer = issuer.token()
    assert _call(server, PROJECTS, "ListProjects", viewer) == "ok"
    assert _call(server, RUNS, "AbortRun", viewer) == "permission_denied"
    user = issuer.token(flyte_role="user")
    assert _call(server, RUNS, "AbortRun", user) not in ("permission_denied", "unauthenticated")
    assert _call(server, PROJECTS, "CreateProject", user) == "permission_denied"
    admin = issuer.token(flyte_role="admin")
    assert _call(server, PROJECTS, "CreateProject", admin) not in ("permission_denied", "unauthenticated")


def test_bad_issuer_tokens_are_refused(server: AuthServer, issuer: Issuer) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "test-1"})
    assert _call(server, PROJECTS, "ListProjects", issuer.token(key=stranger)) == "unauthenticated"
    assert _call(server, PROJECTS, "ListProjects", issuer.token(aud="someone-else")) == "unauthenticated"
    assert _call(server, PROJECTS, "ListProjects", issuer.token(iss="https://evil.example")) == "unauthenticated"
    expired = issuer.token(exp=int(time.time()) - 600, iat=int(time.time()) - 900)
    assert _call(server, PROJECTS, "ListProjects", expired) == "unauthenticated"
    assert _call(server, PROJECTS, "ListProjects", issuer.token(exp=None)) == "unauthenticated"


def test_oidc_turns_auth_on(server: AuthServer, tmp_path: Path) -> None:
    assert _call(server, PROJECTS, "ListProjects", None) == "unauthenticated"
    assert (server.data_dir / "admin-api-key").exists()  # API keys keep working next to the IdP

"""``flyte.remote.auth_metadata``: pairs given in the block travel with every call (a passthrough
service forwards its caller's token this way). Checked against a server that requires a token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import flyte
import flyte.errors
import flyte.remote

from .auth_helpers import AuthServer, credentials_of, get_token


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    process = AuthServer(data_dir=tmp_path_factory.mktemp("auth-metadata") / "server")
    process.start()
    yield process
    process.stop()


def test_calls_carry_the_block_metadata(
    auth_server: AuthServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("FLYTE_API_KEY", raising=False)
    _, client_id, secret = credentials_of(auth_server.admin_api_key)
    token = get_token(auth_server, client_id, secret)
    flyte.init(endpoint=auth_server.base_url, insecure=True, project="flytesnacks", domain="development")

    with pytest.raises(flyte.errors.BaseRuntimeError):
        flyte.remote.Project.listall()
    with flyte.remote.auth_metadata(("authorization", f"Bearer {token}")):
        assert "flytesnacks" in [project.id for project in flyte.remote.Project.listall()]
    with pytest.raises(flyte.errors.BaseRuntimeError):
        flyte.remote.Project.listall()  # outside the block the token is gone again

    with pytest.raises(ValueError, match="at least one"):
        with flyte.remote.auth_metadata():
            pass

"""SecretService over real Connect RPCs: values go in, never come out, and are encrypted at rest."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.core import security_pb2
from flyteidl2.secret import definition_pb2, payload_pb2

from flyte_server.secrets import (
    SecretCipher,
    SecretResolutionError,
    derive_key,
    load_server_key,
    make_secret_resolver,
    secret_env_vars,
)
from flyte_server.store.db import Database
from flyte_server.store.models.secrets import SecretRow

if TYPE_CHECKING:
    from conftest import Clients, RunningServer


def _id(name: str, project: str = "", domain: str = "") -> definition_pb2.SecretIdentifier:
    return definition_pb2.SecretIdentifier(name=name, project=project, domain=domain)


async def _create(clients: Clients, name: str, value: str, project: str = "", domain: str = "") -> None:
    await clients.secrets.create_secret(
        payload_pb2.CreateSecretRequest(
            id=_id(name, project, domain), secret_spec=definition_pb2.SecretSpec(string_value=value)
        )
    )


async def _row_count(database: Database) -> int:
    from sqlalchemy import func, select

    async with database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(SecretRow)) or 0)


def _cipher(server: RunningServer) -> SecretCipher:
    return SecretCipher(derive_key(load_server_key(server.config.data_dir), "secrets"))


async def test_secret_lifecycle_never_returns_the_value(clients: Clients) -> None:
    value = "correct-horse-battery-staple"
    await _create(clients, "api-token", value, project="flytesnacks", domain="development")

    got = await clients.secrets.get_secret(
        payload_pb2.GetSecretRequest(id=_id("api-token", "flytesnacks", "development"))
    )
    assert got.secret.id.name == "api-token"
    assert got.secret.secret_metadata.secret_status.overall_status == definition_pb2.FULLY_PRESENT
    assert got.secret.secret_metadata.HasField("created_time")
    listed = await clients.secrets.list_secrets(
        payload_pb2.ListSecretsRequest(project="flytesnacks", domain="development")
    )
    assert "api-token" in [secret.id.name for secret in listed.secrets]
    for reply in (got, listed):
        assert value.encode() not in reply.SerializeToString()

    await clients.secrets.update_secret(
        payload_pb2.UpdateSecretRequest(
            id=_id("api-token", "flytesnacks", "development"), secret_spec=definition_pb2.SecretSpec(string_value="v2")
        )
    )
    await clients.secrets.delete_secret(
        payload_pb2.DeleteSecretRequest(id=_id("api-token", "flytesnacks", "development"))
    )
    with pytest.raises(ConnectError) as caught:
        await clients.secrets.get_secret(
            payload_pb2.GetSecretRequest(id=_id("api-token", "flytesnacks", "development"))
        )
    assert caught.value.code == Code.NOT_FOUND


async def test_secrets_are_encrypted_at_rest(clients: Clients, admin_server: RunningServer) -> None:
    plaintext = "plaintext-marker-7f3a9c"
    await _create(clients, "at-rest", plaintext)
    await _create(clients, "at-rest", plaintext, project="flytesnacks")
    stored = b"".join(path.read_bytes() for path in Path(admin_server.config.data_dir).glob("flyte.db*"))
    assert b"at-rest" in stored  # the names are there: we are reading the right files
    assert plaintext.encode() not in stored


@pytest.mark.parametrize(
    ("secret_id", "spec", "code"),
    [
        (_id("bad name!"), definition_pb2.SecretSpec(string_value="x"), Code.INVALID_ARGUMENT),
        (_id(""), definition_pb2.SecretSpec(string_value="x"), Code.INVALID_ARGUMENT),
        (_id("no-value"), definition_pb2.SecretSpec(), Code.INVALID_ARGUMENT),
        (_id("elsewhere", project="no-such-project"), definition_pb2.SecretSpec(string_value="x"), Code.NOT_FOUND),
        (
            _id("bad-domain", project="flytesnacks", domain="qa"),
            definition_pb2.SecretSpec(string_value="x"),
            Code.INVALID_ARGUMENT,
        ),
    ],
)
async def test_bad_create_requests_store_nothing(
    clients: Clients,
    server_database: Database,
    secret_id: definition_pb2.SecretIdentifier,
    spec: definition_pb2.SecretSpec,
    code: Code,
) -> None:
    before = await _row_count(server_database)
    with pytest.raises(ConnectError) as caught:
        await clients.secrets.create_secret(payload_pb2.CreateSecretRequest(id=secret_id, secret_spec=spec))
    assert caught.value.code == code
    assert "\n" not in caught.value.message
    assert await _row_count(server_database) == before


async def test_create_twice_is_already_exists_and_missing_is_not_found(clients: Clients) -> None:
    await _create(clients, "twice", "a")
    with pytest.raises(ConnectError) as caught:
        await _create(clients, "twice", "b")
    assert caught.value.code == Code.ALREADY_EXISTS
    for call in (
        clients.secrets.update_secret(
            payload_pb2.UpdateSecretRequest(id=_id("never"), secret_spec=definition_pb2.SecretSpec(string_value="x"))
        ),
        clients.secrets.delete_secret(payload_pb2.DeleteSecretRequest(id=_id("never"))),
    ):
        with pytest.raises(ConnectError) as caught:
            await call
        assert caught.value.code == Code.NOT_FOUND


async def test_list_pages_through_a_scope(clients: Clients) -> None:
    for index in range(5):
        await _create(clients, f"paged-{index}", "v", project="flytesnacks", domain="staging")
    names: list[str] = []
    token = ""
    while True:
        reply = await clients.secrets.list_secrets(
            payload_pb2.ListSecretsRequest(project="flytesnacks", domain="staging", limit=2, token=token)
        )
        names += [secret.id.name for secret in reply.secrets]
        token = reply.token
        if not token:
            break
    assert names == [f"paged-{index}" for index in range(5)]


async def test_resolver_gives_tasks_the_most_specific_secret(
    clients: Clients, admin_server: RunningServer, server_database: Database
) -> None:
    await _create(clients, "db-pass", "server-wide")
    await _create(clients, "db-pass", "for-flytesnacks", project="flytesnacks")
    await _create(clients, "db-pass", "for-production", project="flytesnacks", domain="production")
    resolve = make_secret_resolver(server_database, _cipher(admin_server))

    wanted = [security_pb2.Secret(key="db-pass")]
    assert await resolve("flytesnacks", "production", wanted) == {
        "DB_PASS": "for-production",
        "_UNION_DB_PASS": "for-production",
    }
    assert (await resolve("flytesnacks", "development", wanted))["DB_PASS"] == "for-flytesnacks"
    assert (await resolve("other", "development", wanted))["DB_PASS"] == "server-wide"

    named = [security_pb2.Secret(key="db-pass", group="pg", env_var="PGPASSWORD")]
    assert (await resolve("flytesnacks", "staging", named))["PGPASSWORD"] == "for-flytesnacks"

    with pytest.raises(SecretResolutionError, match="flyte create secret missing-one"):
        await resolve("flytesnacks", "development", [security_pb2.Secret(key="missing-one")])


async def test_binary_secrets_reach_tasks_when_they_are_text(
    clients: Clients, admin_server: RunningServer, server_database: Database
) -> None:
    for name, value in (("bin-text", "héllo".encode()), ("bin-raw", b"\xff\xfe\x00")):
        await clients.secrets.create_secret(
            payload_pb2.CreateSecretRequest(id=_id(name), secret_spec=definition_pb2.SecretSpec(binary_value=value))
        )
    resolve = make_secret_resolver(server_database, _cipher(admin_server))
    assert (await resolve("p", "d", [security_pb2.Secret(key="bin-text")]))["BIN_TEXT"] == "héllo"
    with pytest.raises(SecretResolutionError, match="not UTF-8"):
        await resolve("p", "d", [security_pb2.Secret(key="bin-raw")])


def test_ciphertext_is_bound_to_its_scope_and_key() -> None:
    cipher = SecretCipher(derive_key(b"one", "secrets"))
    blob = cipher.encrypt(b"value", scope="p/d/name")
    assert cipher.decrypt(blob, scope="p/d/name") == b"value"
    with pytest.raises(SecretResolutionError):
        cipher.decrypt(blob, scope="p/d/other-name")
    with pytest.raises(SecretResolutionError):
        SecretCipher(derive_key(b"two", "secrets")).decrypt(blob, scope="p/d/name")


def test_server_key_file_is_private_and_stable(tmp_path: Path) -> None:
    key = load_server_key(tmp_path)
    assert load_server_key(tmp_path) == key and len(key) == 32
    assert (tmp_path / "server.key").stat().st_mode & 0o077 == 0


def test_env_var_names_follow_the_sdk() -> None:
    assert secret_env_vars(security_pb2.Secret(key="token")) == ["TOKEN", "_UNION_TOKEN"]
    assert secret_env_vars(security_pb2.Secret(key="api.key", group="openai")) == ["OPENAI_API_KEY", "_UNION_API_KEY"]
    assert secret_env_vars(security_pb2.Secret(key="k", env_var="MY_VAR")) == ["MY_VAR", "_UNION_K"]

"""API keys in the store (SQLite and PostgreSQL), token signing and verification, roles and Host names."""

from __future__ import annotations

import base64
import time

import pytest
from sqlalchemy import text

from flyte_server.auth.gate import HostPolicy
from flyte_server.auth.keys import ApiKeyError, ApiKeyStore, encode_api_key
from flyte_server.auth.principal import Principal, access_of, permits
from flyte_server.auth.tokens import InvalidTokenError, TokenAuthority
from flyte_server.store.db import Database


async def test_keys_are_created_checked_listed_and_revoked(database: Database) -> None:
    store = ApiKeyStore(database)
    await store.ensure_table()
    key, secret = await store.create("ci", "user", projects=("ml", "web"), created_by="apikey:admin")
    assert (key.name, key.role, key.projects) == ("ci", "user", ("ml", "web"))
    assert len(secret) >= 40

    found = await store.authenticate("ci", secret)
    assert found is not None and found.principal().projects == frozenset({"ml", "web"})
    assert await store.authenticate("ci", secret + "x") is None
    assert await store.authenticate("nobody", secret) is None

    async with database.session() as session:
        stored = (await session.execute(text("SELECT secret_sha256 FROM api_keys WHERE name = 'ci'"))).scalar_one()
    assert secret not in stored and len(stored) == 64  # only a hash is kept

    assert [k.name for k in await store.list()] == ["ci"]
    await store.delete("ci")
    assert await store.authenticate("ci", secret) is None
    with pytest.raises(ApiKeyError, match="no API key named 'ci'") as missing:
        await store.delete("ci")
    assert missing.value.code == "not_found"


async def test_bad_names_roles_and_duplicates_are_refused(database: Database) -> None:
    store = ApiKeyStore(database)
    await store.ensure_table()
    for name in ("", "has space", "a:b", "-leading", "x" * 64):
        with pytest.raises(ApiKeyError, match="invalid API key name"):
            await store.create(name, "user")
    with pytest.raises(ApiKeyError, match="invalid role 'root'"):
        await store.create("ok", "root")
    await store.create("twice", "viewer")
    with pytest.raises(ApiKeyError, match="already exists") as duplicate:
        await store.create("twice", "admin")
    assert duplicate.value.code == "already_exists"
    assert (await store.get("twice")).role == "viewer"  # type: ignore[union-attr]


def test_api_key_encoding_is_what_flyte_decodes() -> None:
    key = encode_api_key("flyte.example.com", "ci", "s3cret")
    assert base64.b64decode(key).decode().split(":", 3) == ["flyte.example.com", "ci", "s3cret", ""]


def test_tokens_verify_and_refuse_tampering_expiry_and_foreign_keys() -> None:
    authority = TokenAuthority(b"k" * 32)
    principal = Principal(subject="apikey:ci", role="user", projects=frozenset({"ml"}), key_id="ci")
    token, expires = authority.issue(principal, ttl_s=60)
    verified = authority.verify(token)
    assert (verified.subject, verified.role, verified.projects, verified.key_id) == ("apikey:ci", "user", {"ml"}, "ci")
    assert verified.expires_at == expires

    expired, _ = authority.issue(principal, ttl_s=60, now=time.time() - 3600)
    with pytest.raises(InvalidTokenError, match="expired"):
        authority.verify(expired)
    header, payload, signature = token.split(".")
    with pytest.raises(InvalidTokenError):
        authority.verify(f"{header}.{payload}x.{signature}")
    with pytest.raises(InvalidTokenError):
        authority.verify(f"{header}.{payload}.{signature[::-1]}")
    foreign, _ = TokenAuthority(b"z" * 32).issue(principal, ttl_s=60)
    with pytest.raises(InvalidTokenError):
        authority.verify(foreign)
    with pytest.raises(InvalidTokenError):
        authority.verify("not.a.token")


def test_the_cache_serves_known_tokens_and_forgets_revoked_keys() -> None:
    authority = TokenAuthority(b"k" * 32)
    token, _ = authority.issue(Principal(subject="apikey:ci", role="user", key_id="ci"), ttl_s=60)
    assert authority.cached(token) is None
    authority.remember(token, authority.verify(token))
    entry = authority.cached(token)
    assert entry is not None and entry.principal.subject == "apikey:ci"
    authority.forget_key("ci")
    assert authority.cached(token) is None


@pytest.mark.parametrize(
    ("service", "method", "access"),
    [
        ("flyteidl2.workflow.RunService", "ListRuns", "read"),
        ("flyteidl2.workflow.RunService", "WatchRunDetails", "read"),
        ("flyteidl2.workflow.RunService", "CreateRun", "write"),
        ("flyteidl2.workflow.RunService", "AbortRun", "write"),
        ("flyteidl2.task.TaskService", "DeployTask", "write"),
        ("flyteidl2.dataproxy.DataProxyService", "CreateUploadLocation", "write"),
        ("flyteidl2.secret.SecretService", "ListSecrets", "admin"),
        ("flyteidl2.secret.SecretService", "GetSecret", "admin"),
        ("flyteidl2.project.ProjectService", "CreateProject", "admin"),
        ("flyteidl2.project.ProjectService", "ListProjects", "read"),
        ("flyteidl2.auth.AuthMetadataService", "GetOAuth2Metadata", "public"),
    ],
)
def test_access_of_rpcs(service: str, method: str, access: str) -> None:
    assert access_of(service, method) == access


def test_roles_grant_what_they_say() -> None:
    grants = {
        role: {access for access in ("read", "write", "admin") if permits(Principal(subject="x", role=role), access)}  # type: ignore[arg-type]
        for role in ("viewer", "user", "admin", "task")
    }
    assert grants == {
        "viewer": {"read"},
        "user": {"read", "write"},
        "admin": {"read", "write", "admin"},
        "task": {"read", "write"},
    }


def test_host_policy() -> None:
    policy = HostPolicy(("flyte.example.com",))
    for allowed in ("localhost", "localhost:8090", "127.0.0.1:1", "[::1]:8090", "FLYTE.example.com:443"):
        assert policy.allows(allowed), allowed
    for refused in (None, "", "evil.example", "localhost.evil.example:80", "127.0.0.2:8090"):
        assert not policy.allows(refused), refused
    assert HostPolicy(("*",)).allows("anything.example")

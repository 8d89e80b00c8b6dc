"""init_from_api_key, init_in_cluster, init_passthrough, is_control_plane_available and the .aio forms."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

import flyte
import flyte.errors
from flyte._init_modes import decode_api_key, encode_api_key
from flyte._initialize import get_init_config

env = flyte.TaskEnvironment(name="init-modes-tests")


@env.task
async def where_am_i() -> bool:
    return flyte.is_control_plane_available()


def test_an_api_key_configures_endpoint_org_and_client_credentials() -> None:
    key = encode_api_key("dns:///flyte.example.com:443", "ci-bot", "s3cret", "acme")
    assert decode_api_key(key) == ("dns:///flyte.example.com:443", "ci-bot", "s3cret", "acme")
    flyte.init_from_api_key(key, project="ml", domain="development")
    config = get_init_config()
    assert (config.endpoint, config.org, config.project, config.domain) == (
        "dns:///flyte.example.com:443",
        "acme",
        "ml",
        "development",
    )
    assert config.extra["client_id"] == "ci-bot" and config.extra["auth_type"] == "ClientSecret"
    assert flyte.is_control_plane_available()


def test_the_api_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_API_KEY", encode_api_key("http://localhost:8090", "id", "secret"))
    asyncio.run(flyte.init_from_api_key.aio())
    assert get_init_config().endpoint == "http://localhost:8090" and get_init_config().insecure
    assert get_init_config().org is None


@pytest.mark.parametrize(
    ("key", "code"),
    [
        (None, "MissingApiKeyError"),
        ("%%%", "InvalidApiKeyError"),
        (base64.b64encode(b"only:two").decode(), "InvalidApiKeyError"),
    ],
)
def test_a_missing_or_malformed_api_key_is_a_clear_error(
    key: str | None, code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLYTE_API_KEY", raising=False)
    with pytest.raises(flyte.errors.InitializationError) as caught:
        flyte.init_from_api_key(key)
    assert caught.value.code == code and "\n" not in str(caught.value)


def test_in_cluster_settings_come_from_the_action_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_U_EP_OVERRIDE", "localhost:30080")
    monkeypatch.setenv("_U_INSECURE", "true")
    monkeypatch.setenv("FLYTE_INTERNAL_EXECUTION_PROJECT", "p1")
    monkeypatch.setenv("FLYTE_INTERNAL_EXECUTION_DOMAIN", "staging")
    settings = flyte.init_in_cluster(org="o1")
    assert settings == {
        "org": "o1",
        "project": "p1",
        "domain": "staging",
        "endpoint": "localhost:30080",
        "insecure": True,
    }
    assert get_init_config().endpoint == "localhost:30080"


def test_in_cluster_without_an_endpoint_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("_U_EP_OVERRIDE", "FLYTE_ADMIN_ENDPOINT", "_UNION_EAGER_API_KEY", "EAGER_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(flyte.errors.InitializationError, match="_U_EP_OVERRIDE"):
        flyte.init_in_cluster()


def test_passthrough_records_its_auth_mode() -> None:
    settings = asyncio.run(flyte.init_passthrough.aio("localhost:8090", project="p", insecure=True))
    assert settings["auth_type"] == "Passthrough" and settings["endpoint"] == "localhost:8090"
    assert get_init_config().extra["auth_type"] == "Passthrough"


def test_a_local_run_has_no_control_plane_even_when_one_is_configured(tmp_path: Path) -> None:
    flyte.init()
    assert not flyte.is_control_plane_available()
    assert flyte.with_runcontext(mode="local").run(where_am_i).outputs().o0 is False


def test_init_and_init_from_config_have_async_forms(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("admin:\n  endpoint: dns:///localhost:8090\n  insecure: true\ntask:\n  project: async-p\n")
    asyncio.run(flyte.init_from_config.aio(str(config)))
    assert get_init_config().project == "async-p"
    asyncio.run(flyte.init.aio(project="again"))
    assert get_init_config().project == "again" and get_init_config().endpoint is None

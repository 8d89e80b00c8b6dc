"""What a config file and the environment make of each setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from flyte.config import (
    Config,
    ImageConfig,
    LocalConfig,
    PlatformConfig,
    TaskConfig,
    auto,
    config_to_init_kwargs,
    set_if_exists,
)
from flyte.errors import InitializationError

if TYPE_CHECKING:
    from conftest import Dirs  # the fixture's type, from this folder's conftest.py

FULL = """\
admin:
  endpoint: dns:///flyte.example.com:443
  insecure: true
  insecureSkipVerify: true
  caCertFilePath: /etc/ca.pem
  command: [get-token, --quiet]
  proxyCommand: [proxy-token]
  clientId: my-app
  scopes: [all, offline]
  authType: DeviceFlow
  httpProxyURL: http://proxy:3128
  disableKeyring: true
console:
  endpoint: https://console.example.com
task:
  org: acme
  project: flytesnacks
  domain: development
image:
  builder: remote
  registry: ghcr.io/acme
  image_refs:
    gpu: ghcr.io/acme/gpu:1.2
local:
  persistence: true
  tracked: true
  tracked_strict: true
unknown_section:
  ignored: 1
"""


def test_every_key_of_a_full_file_is_read(dirs: Dirs) -> None:
    dirs.write(Path("config.yaml"), FULL)
    cfg = auto()
    assert cfg == Config(
        platform=PlatformConfig(
            endpoint="dns:///flyte.example.com:443",
            insecure=True,
            insecure_skip_verify=True,
            ca_cert_file_path="/etc/ca.pem",
            console_endpoint="https://console.example.com",
            command=["get-token", "--quiet"],
            proxy_command=["proxy-token"],
            client_id="my-app",
            scopes=["all", "offline"],
            auth_mode="DeviceFlow",
            http_proxy_url="http://proxy:3128",
            disable_keyring=True,
        ),
        task=TaskConfig(org="acme", project="flytesnacks", domain="development"),
        image=ImageConfig(builder="remote", registry="ghcr.io/acme", image_refs={"gpu": "ghcr.io/acme/gpu:1.2"}),
        local=LocalConfig(persistence=True, tracked=True, tracked_strict=True),
        source=Path("config.yaml"),
    )


@pytest.mark.parametrize("endpoint", ["dns:///h.example.com:81", "https://h.example.com", "localhost:30080"])
def test_endpoint_is_kept_as_written(dirs: Dirs, endpoint: str) -> None:
    dirs.write(Path("config.yaml"), f"admin:\n  endpoint: {endpoint}\n")
    assert auto().platform.endpoint == endpoint


def test_empty_file_and_empty_sections_give_defaults(dirs: Dirs) -> None:
    dirs.write(Path("config.yaml"), "")
    assert auto() == Config(source=Path("config.yaml"))
    dirs.write(Path("config.yaml"), "admin:\ntask:\n")
    assert auto() == Config(source=Path("config.yaml"))


def test_numbers_are_accepted_as_names(dirs: Dirs) -> None:
    dirs.write(Path("config.yaml"), "task:\n  project: 2024\n")
    assert auto().task.project == "2024"


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [("pkce", "Pkce"), ("client-secret", "ClientSecret"), ("headless", "DeviceFlow"), ("command", "ExternalCommand")],
)
def test_auth_type_spellings_are_canonicalised(dirs: Dirs, spelling: str, canonical: str) -> None:
    dirs.write(Path("config.yaml"), f"admin:\n  authType: {spelling}\n")
    assert auto().platform.auth_mode == canonical


# --- environment overrides -------------------------------------------------------------------


def test_string_variables_override_the_file(dirs: Dirs, monkeypatch: pytest.MonkeyPatch) -> None:
    dirs.write(Path("config.yaml"), FULL)
    monkeypatch.setenv("FLYTE_ADMIN_ENDPOINT", "dns:///other:8089")
    monkeypatch.setenv("FLYTE_TASK_PROJECT", "env-project")
    monkeypatch.setenv("FLYTE_TASK_DOMAIN", "production")
    monkeypatch.setenv("FLYTE_IMAGE_BUILDER", "local")
    monkeypatch.setenv("FLYTE_CONSOLE_ENDPOINT", "https://env-console")
    cfg = auto()
    assert cfg.platform.endpoint == "dns:///other:8089"
    assert (cfg.task.org, cfg.task.project, cfg.task.domain) == ("acme", "env-project", "production")
    assert cfg.image.builder == "local"
    assert cfg.platform.console_endpoint == "https://env-console"


def test_an_empty_variable_clears_the_file_value(dirs: Dirs, monkeypatch: pytest.MonkeyPatch) -> None:
    dirs.write(Path("config.yaml"), FULL)
    monkeypatch.setenv("FLYTE_TASK_PROJECT", "")
    monkeypatch.setenv("FLYTE_ADMIN_INSECURE", "")
    cfg = auto()
    assert cfg.task.project is None
    assert cfg.platform.insecure is False


@pytest.mark.parametrize(
    ("text", "expected"), [("true", True), ("YES", True), ("1", True), ("false", False), ("off", False)]
)
def test_boolean_variables(dirs: Dirs, monkeypatch: pytest.MonkeyPatch, text: str, expected: bool) -> None:
    dirs.write(Path("config.yaml"), "admin:\n  insecure: false\nlocal:\n  persistence: false\n")
    monkeypatch.setenv("FLYTE_ADMIN_INSECURE", text)
    monkeypatch.setenv("FLYTE_LOCAL_PERSISTENCE", text)
    cfg = auto()
    assert cfg.platform.insecure is expected
    assert cfg.local.persistence is expected


def test_a_boolean_variable_that_is_not_a_boolean_is_an_error_naming_it(
    dirs: Dirs, monkeypatch: pytest.MonkeyPatch
) -> None:
    dirs.write(Path("config.yaml"), "task:\n  project: p\n")
    monkeypatch.setenv("FLYTE_ADMIN_INSECURE", "maybe")
    with pytest.raises(InitializationError, match=r"FLYTE_ADMIN_INSECURE .*must be true or false, got 'maybe'"):
        auto()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("get-token --aud 'a b'", ["get-token", "--aud", "a b"]), ('["get-token", "a b"]', ["get-token", "a b"])],
)
def test_command_variables_are_shell_words_or_json(
    dirs: Dirs, monkeypatch: pytest.MonkeyPatch, text: str, expected: list[str]
) -> None:
    dirs.write(Path("config.yaml"), FULL)
    monkeypatch.setenv("FLYTE_ADMIN_COMMAND", text)
    assert auto().platform.command == expected


def test_auth_variables_win_over_admin_variables(dirs: Dirs, monkeypatch: pytest.MonkeyPatch) -> None:
    dirs.write(Path("config.yaml"), FULL)
    monkeypatch.setenv("FLYTE_AUTH_COMMAND", "auth-cmd")
    monkeypatch.setenv("FLYTE_ADMIN_COMMAND", "admin-cmd")
    monkeypatch.setenv("FLYTE_AUTH_TYPE", "ExternalCommand")
    monkeypatch.setenv("FLYTE_ADMIN_AUTHTYPE", "Pkce")
    cfg = auto()
    assert cfg.platform.command == ["auth-cmd"]
    assert cfg.platform.auth_mode == "ExternalCommand"


@pytest.mark.parametrize("text", ["all, offline", "all offline", '["all", "offline"]'])
def test_scopes_variable(dirs: Dirs, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    dirs.write(Path("config.yaml"), "task:\n  project: p\n")
    monkeypatch.setenv("FLYTE_ADMIN_SCOPES", text)
    assert auto().platform.scopes == ["all", "offline"]


@pytest.mark.parametrize("text", ['{"gpu": "img:1", "cpu": "img:2"}', "gpu=img:1, cpu=img:2"])
def test_image_refs_variable(dirs: Dirs, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    dirs.write(Path("config.yaml"), FULL)
    monkeypatch.setenv("FLYTE_IMAGE_IMAGE_REFS", text)
    assert auto().image.image_refs == {"gpu": "img:1", "cpu": "img:2"}


def test_malformed_image_refs_variable_is_an_error(dirs: Dirs, monkeypatch: pytest.MonkeyPatch) -> None:
    dirs.write(Path("config.yaml"), FULL)
    monkeypatch.setenv("FLYTE_IMAGE_IMAGE_REFS", "just-an-image")
    with pytest.raises(InitializationError, match="FLYTE_IMAGE_IMAGE_REFS"):
        auto()


# --- client secret ---------------------------------------------------------------------------


def test_client_secret_from_a_file_switches_to_client_secret_auth(dirs: Dirs) -> None:
    secret = dirs.write(Path("secret.txt"), "  s3cret\n")
    dirs.write(Path("config.yaml"), f"admin:\n  authType: DeviceFlow\n  clientSecretLocation: {secret}\n")
    platform = auto().platform
    assert platform.client_credentials_secret == "s3cret"
    assert platform.auth_mode == "ClientSecret"
    assert "s3cret" not in repr(platform)


def test_client_secret_environment_variable_wins_over_the_file(dirs: Dirs, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = dirs.write(Path("secret.txt"), "from-file")
    dirs.write(
        Path("config.yaml"), f"admin:\n  clientSecretLocation: {secret}\n  clientSecretEnvVar: MY_CLIENT_SECRET\n"
    )
    monkeypatch.setenv("MY_CLIENT_SECRET", "from-env")
    assert auto().platform.client_credentials_secret == "from-env"
    monkeypatch.delenv("MY_CLIENT_SECRET")
    assert auto().platform.client_credentials_secret == "from-file"


def test_missing_client_secret_file_is_an_error(dirs: Dirs) -> None:
    dirs.write(Path("config.yaml"), "admin:\n  clientSecretLocation: /nonexistent/secret\n")
    with pytest.raises(InitializationError, match="cannot read client secret file /nonexistent/secret"):
        auto()


# --- malformed files -------------------------------------------------------------------------


def test_malformed_yaml_is_a_one_line_error_with_file_and_line(dirs: Dirs) -> None:
    dirs.write(Path("config.yaml"), "admin:\n  endpoint: a\n endpoint: b\n")
    with pytest.raises(InitializationError) as info:
        auto()
    message = str(info.value)
    assert message.startswith("Config file config.yaml is not valid YAML at line 3")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("- a\n- b\n", "must hold a mapping of sections"),
        ("task: 5\n", "section 'task' must be a mapping"),
        ("task:\n  project: yes\n", "key task.project must be a string, got bool"),
        ("admin:\n  insecure: sometimes\n", "key admin.insecure must be true or false"),
        ("image:\n  image_refs: [a, b]\n", "key image.image_refs must map image names"),
        ("admin:\n  scopes: {a: 1}\n", "key admin.scopes must be a list of strings"),
    ],
)
def test_wrongly_shaped_files_are_errors_naming_file_and_key(dirs: Dirs, text: str, complaint: str) -> None:
    dirs.write(Path("config.yaml"), text)
    with pytest.raises(InitializationError, match=r"config\.yaml") as info:
        auto()
    assert complaint in str(info.value)


def test_non_utf8_file_is_an_error(dirs: Dirs) -> None:
    (dirs.work / "config.yaml").write_bytes(b"\xff\xfe task")
    with pytest.raises(InitializationError, match=r"config\.yaml is not UTF-8"):
        auto()


# --- config_to_init_kwargs -------------------------------------------------------------------


def test_init_kwargs_of_an_empty_config_are_empty() -> None:
    assert config_to_init_kwargs(Config()) == {}


def test_init_kwargs_of_a_full_file(dirs: Dirs) -> None:
    dirs.write(Path("config.yaml"), FULL)
    assert config_to_init_kwargs(auto()) == {
        "endpoint": "dns:///flyte.example.com:443",
        "insecure": True,
        "insecure_skip_verify": True,
        "ca_cert_file_path": "/etc/ca.pem",
        "auth_type": "DeviceFlow",
        "command": ["get-token", "--quiet"],
        "proxy_command": ["proxy-token"],
        "client_id": "my-app",
        "scopes": ["all", "offline"],
        "http_proxy_url": "http://proxy:3128",
        "disable_keyring": True,
        "org": "acme",
        "project": "flytesnacks",
        "domain": "development",
        "image_builder": "remote",
        "images": {"gpu": "ghcr.io/acme/gpu:1.2"},
        "image_registry": "ghcr.io/acme",
        "local_persistence": True,
        "local_tracked": True,
        "local_tracked_strict": True,
        "source_config_path": Path("config.yaml"),
    }


def test_init_kwargs_leave_out_init_defaults() -> None:
    cfg = Config(platform=PlatformConfig(auth_mode="Pkce"), image=ImageConfig(builder="local"))
    assert config_to_init_kwargs(cfg) == {}


# --- small public helpers --------------------------------------------------------------------


def test_repr_shows_only_what_is_set() -> None:
    cfg = Config(task=TaskConfig(project="p"))
    assert repr(cfg) == "Config(task=TaskConfig(project='p'))"


def test_with_params_replaces_sections() -> None:
    cfg = Config(task=TaskConfig(project="old"), image=ImageConfig(builder="remote"))
    new = cfg.with_params(task=TaskConfig(project="new"))
    assert new.task.project == "new"
    assert new.image.builder == "remote"


@pytest.mark.parametrize(("value", "kept"), [(None, False), ("", False), ([], False), (False, True), ("x", True)])
def test_set_if_exists(value: object, kept: bool) -> None:
    assert ("k" in set_if_exists({}, "k", value)) is kept


def test_importing_flyte_config_loads_no_parser_or_subprocess_module() -> None:
    # Measured against `import flyte`, so that this checks only what flyte.config adds.
    code = (
        "import sys, flyte; before = set(sys.modules); import flyte.config; "
        "print(sorted({'yaml', 'json', 'shlex', 'subprocess'} & (set(sys.modules) - before)))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert done.stdout.strip() == "[]"

from __future__ import annotations

from pathlib import Path

import pytest

from flyte._secret import Secret, normalize_secrets


@pytest.mark.parametrize(
    ("secret", "env_var"),
    [
        (Secret("k"), "K"),
        (Secret("my-key"), "MY_KEY"),
        (Secret("api-key", group="openai"), "OPENAI_API_KEY"),
        (Secret("db.password"), "DB_PASSWORD"),
        (Secret("1password"), "_1PASSWORD"),
        (Secret("k", as_env_var="MY_VAR"), "MY_VAR"),
    ],
)
def test_env_var_name(secret: Secret, env_var: str) -> None:
    assert secret.env_var == env_var
    assert secret.as_env_var == env_var


def test_mounted_secret_has_no_env_var_recorded() -> None:
    secret = Secret("cert", mount=Path("/etc/flyte/secrets"))
    assert secret.as_env_var is None
    assert secret.mount == Path("/etc/flyte/secrets")
    assert Secret("cert", mount="/etc/flyte/secrets").mount == Path("/etc/flyte/secrets")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": "k", "as_env_var": "my-var"}, "Secret.as_env_var must be an environment variable name"),
        ({"key": "k", "as_env_var": "1VAR"}, "'1VAR'"),
        ({"key": ""}, "Secret.key must be a non-empty string"),
        ({"key": 1}, "Secret.key must be a non-empty string"),
        ({"key": "k", "mount": Path("/etc/other")}, "Secret.mount must be /etc/flyte/secrets"),
    ],
)
def test_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as info:
        Secret(**kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_normalize_secrets_forms() -> None:
    assert normalize_secrets(None) == ()
    assert normalize_secrets("a") == (Secret("a"),)
    assert normalize_secrets(Secret("a", group="g")) == (Secret("a", group="g"),)
    assert normalize_secrets(["a", Secret("b")]) == (Secret("a"), Secret("b"))
    assert normalize_secrets(["a", "a"]) == (Secret("a"),)


def test_normalize_secrets_rejects_clashing_env_vars_and_bad_items() -> None:
    with pytest.raises(ValueError, match=r"both exposed as \$X"):
        normalize_secrets([Secret("a", as_env_var="X"), Secret("b", as_env_var="X")])
    with pytest.raises(TypeError, match=r"secrets must be strings or flyte.Secret objects, got int"):
        normalize_secrets(["a", 3])  # type: ignore[list-item]


def test_secrets_are_hashable_and_have_a_stable_hash() -> None:
    assert len({Secret("a"), Secret("a"), Secret("b")}) == 2
    assert Secret("a").stable_hash() == Secret("a").stable_hash() != Secret("b").stable_hash()

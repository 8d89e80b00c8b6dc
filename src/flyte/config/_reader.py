"""Finding a config file, parsing it, and applying environment overrides.

The search order and the environment variables are described in :mod:`flyte.config`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flyte.config._config import (
    Config,
    ImageConfig,
    LocalConfig,
    PlatformConfig,
    TaskConfig,
    canonical_auth_type,
)
from flyte.errors import InitializationError

# Environment variables naming a config file, checked after the project-local files.
CONFIG_FILE_ENV_VARS = ("UCTL_CONFIG", "FLYTECTL_CONFIG")

_TRUE = frozenset({"true", "t", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "off", "0", ""})


class ConfigFile:
    """A parsed config file.

    Reading happens on construction, so a missing or malformed file fails here with an
    :class:`~flyte.errors.InitializationError` that names the file.

    Example:
        >>> cf = ConfigFile("config.yaml")  # doctest: +SKIP
        >>> cf.get("task", "project")  # doctest: +SKIP
        'flytesnacks'
    """

    def __init__(self, location: str | Path) -> None:
        self._path = Path(location)
        self._yaml_config = _read_yaml(self._path)

    @property
    def path(self) -> Path:
        """The file, as it was given."""
        return self._path

    @property
    def yaml_config(self) -> dict[str, Any]:
        """The file's top-level mapping (empty for an empty file)."""
        return self._yaml_config

    def get(self, section: str, key: str) -> Any:
        """The value of ``section.key``, or ``None`` when absent.

        Example:
            >>> ConfigFile("config.yaml").get("admin", "endpoint")  # doctest: +SKIP
            'dns:///flyte.example.com'
        """
        body = self._yaml_config.get(section)
        if body is None:
            return None
        if not isinstance(body, dict):
            raise InitializationError(
                "ConfigFileError",
                "user",
                f"Config file {self._path}: section '{section}' must be a mapping, got {_type_name(body)}",
            )
        return body.get(key)

    def __repr__(self) -> str:
        return f"ConfigFile({str(self._path)!r})"


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml  # deferred: `import flyte.config` must stay cheap

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise InitializationError(
            "ConfigFileError", "user", f"Config file {path} does not exist (working directory: {Path.cwd()})"
        ) from e
    except IsADirectoryError as e:
        raise InitializationError("ConfigFileError", "user", f"Config file {path} is a directory, not a file") from e
    except UnicodeDecodeError as e:
        raise InitializationError(
            "ConfigFileError", "user", f"Config file {path} is not UTF-8 text: {e.reason} at byte {e.start}"
        ) from e
    except OSError as e:
        raise InitializationError(
            "ConfigFileError", "user", f"Config file {path} cannot be read: {e.strerror or e}"
        ) from e
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise InitializationError(
            "ConfigFileError", "user", f"Config file {path} is not valid YAML{where}: {e.problem or e}"
        ) from e
    except yaml.YAMLError as e:
        raise InitializationError("ConfigFileError", "user", f"Config file {path} is not valid YAML: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InitializationError(
            "ConfigFileError",
            "user",
            f"Config file {path} must hold a mapping of sections (admin, task, image, ...), got {_type_name(data)}",
        )
    return data


def _git_toplevel() -> Path | None:
    import subprocess  # deferred: only needed when searching

    try:
        done = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    top = done.stdout.strip()
    return Path(top) if done.returncode == 0 and top else None


def find_config_file() -> Path | None:
    """The config file that :func:`auto` would read when given no path, or ``None``.

    Example:
        >>> find_config_file()  # doctest: +SKIP
        PosixPath('.flyte/config.yaml')
    """
    for local in (Path("config.yaml"), Path(".flyte") / "config.yaml"):
        if local.is_file():
            return local
    top = _git_toplevel()
    if top is not None and (top / ".flyte" / "config.yaml").is_file():
        return top / ".flyte" / "config.yaml"
    for var in CONFIG_FILE_ENV_VARS:
        named = os.environ.get(var)
        if named:
            path = Path(named).expanduser()
            # A file named explicitly must exist; falling through would silently use another one.
            if not path.is_file():
                reason = "is a directory" if path.is_dir() else "does not exist"
                raise InitializationError("ConfigFileError", "user", f"Config file {named} (from ${var}) {reason}")
            return path
    home = Path.home()
    for candidate in (home / ".union" / "config.yaml", home / ".flyte" / "config.yaml"):
        if candidate.is_file():
            return candidate
    return None


def get_config_file(c: str | Path | ConfigFile | None) -> ConfigFile | None:
    """Open the given config file, or the one the search finds when ``c`` is ``None``.

    Returns ``None`` only when ``c`` is ``None`` and no file is found.

    Example:
        >>> get_config_file("config.yaml").path  # doctest: +SKIP
        PosixPath('config.yaml')
    """
    if isinstance(c, ConfigFile):
        return c
    if c is None:
        found = find_config_file()
        return ConfigFile(found) if found is not None else None
    return ConfigFile(Path(c).expanduser())


def set_if_exists(d: dict[str, Any], k: str, val: Any) -> dict[str, Any]:
    """Set ``d[k] = val`` unless ``val`` is empty (``None``, ``""``, ``0``, an empty collection).

    ``False`` counts as a value. Returns ``d`` for chaining.

    Example:
        >>> set_if_exists({}, "project", None)
        {}
        >>> set_if_exists({}, "insecure", False)
        {'insecure': False}
    """
    if val or val is False:
        d[k] = val
    return d


# --- conversions -----------------------------------------------------------------------------
# Each takes the raw value (a YAML value or an environment string) and a description of where it
# came from, for error messages.


def _as_str(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        # A bool here is usually YAML 1.1 reading `yes`/`no`/`on`; quoting the value fixes it.
        raise InitializationError(
            "ConfigFileError", "user", f"{where} must be a string, got {_type_name(value)} {value!r} (quote it)"
        )
    return str(value)


def _as_bool(value: Any, where: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise InitializationError("ConfigFileError", "user", f"{where} must be true or false, got {value!r}")


def _json_list(text: str) -> list[Any] | None:
    import json

    if not text.lstrip().startswith("["):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, list) else None


def _as_str_list(value: Any, where: str, split: Callable[[str], list[str]]) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        parsed = _json_list(value)
        value = parsed if parsed is not None else split(value)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InitializationError("ConfigFileError", "user", f"{where} must be a list of strings, got {value!r}")
    return value


def _split_command(text: str) -> list[str]:
    import shlex

    return shlex.split(text)


def _split_scopes(text: str) -> list[str]:
    return [s for s in re.split(r"[,\s]+", text) if s]


def _as_command(value: Any, where: str) -> list[str] | None:
    return _as_str_list(value, where, _split_command) or None


def _as_scopes(value: Any, where: str) -> list[str]:
    return _as_str_list(value, where, _split_scopes) or []


def _as_image_refs(value: Any, where: str) -> dict[str, str]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        value = _parse_refs_text(value, where)
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise InitializationError(
            "ConfigFileError", "user", f"{where} must map image names to image references, got {value!r}"
        )
    return dict(value)


def _parse_refs_text(text: str, where: str) -> Any:
    import json

    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError as e:
            raise InitializationError("ConfigFileError", "user", f"{where} is not a valid JSON object: {e}") from e
    refs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, ref = item.partition("=")
        if not sep or not name.strip() or not ref.strip():
            raise InitializationError(
                "ConfigFileError", "user", f"{where} must look like 'name=image:tag,name2=image2:tag', got {text!r}"
            )
        refs[name.strip()] = ref.strip()
    return refs


# --- the settings table ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Setting:
    """One config value: where it lives in the file, which variables override it, its type."""

    section: str
    """The file's top-level section (``admin``, ``task``, ...)."""
    key: str
    """The key inside the section."""
    env: tuple[str, ...]
    """Environment variables that override the file, first present wins."""
    target: str
    """``<config section>.<field>`` in :class:`Config`."""
    convert: Callable[[Any, str], Any]
    """Turns a raw value into the field's type; the second argument says where it came from."""


_SETTINGS: tuple[_Setting, ...] = (
    _Setting(
        section="admin", key="endpoint", env=("FLYTE_ADMIN_ENDPOINT",), target="platform.endpoint", convert=_as_str
    ),
    _Setting(
        section="admin", key="insecure", env=("FLYTE_ADMIN_INSECURE",), target="platform.insecure", convert=_as_bool
    ),
    _Setting(
        section="admin",
        key="insecureSkipVerify",
        env=("FLYTE_ADMIN_INSECURESKIPVERIFY",),
        target="platform.insecure_skip_verify",
        convert=_as_bool,
    ),
    _Setting(
        section="admin",
        key="caCertFilePath",
        env=("FLYTE_ADMIN_CACERTFILEPATH",),
        target="platform.ca_cert_file_path",
        convert=_as_str,
    ),
    _Setting(
        section="console",
        key="endpoint",
        env=("FLYTE_CONSOLE_ENDPOINT",),
        target="platform.console_endpoint",
        convert=_as_str,
    ),
    _Setting(
        section="admin",
        key="command",
        env=("FLYTE_AUTH_COMMAND", "FLYTE_ADMIN_COMMAND"),
        target="platform.command",
        convert=_as_command,
    ),
    _Setting(
        section="admin",
        key="proxyCommand",
        env=("FLYTE_AUTH_PROXY_COMMAND", "FLYTE_ADMIN_PROXYCOMMAND"),
        target="platform.proxy_command",
        convert=_as_command,
    ),
    _Setting(
        section="admin", key="clientId", env=("FLYTE_ADMIN_CLIENTID",), target="platform.client_id", convert=_as_str
    ),
    _Setting(section="admin", key="scopes", env=("FLYTE_ADMIN_SCOPES",), target="platform.scopes", convert=_as_scopes),
    _Setting(
        section="admin",
        key="authType",
        env=("FLYTE_AUTH_TYPE", "FLYTE_ADMIN_AUTHTYPE"),
        target="platform.auth_mode",
        convert=_as_str,
    ),
    _Setting(
        section="admin",
        key="httpProxyURL",
        env=("FLYTE_ADMIN_HTTPPROXYURL",),
        target="platform.http_proxy_url",
        convert=_as_str,
    ),
    _Setting(
        section="admin",
        key="disableKeyring",
        env=("FLYTE_ADMIN_DISABLEKEYRING",),
        target="platform.disable_keyring",
        convert=_as_bool,
    ),
    _Setting(section="task", key="org", env=("FLYTE_TASK_ORG",), target="task.org", convert=_as_str),
    _Setting(section="task", key="project", env=("FLYTE_TASK_PROJECT",), target="task.project", convert=_as_str),
    _Setting(section="task", key="domain", env=("FLYTE_TASK_DOMAIN",), target="task.domain", convert=_as_str),
    _Setting(section="image", key="builder", env=("FLYTE_IMAGE_BUILDER",), target="image.builder", convert=_as_str),
    _Setting(
        section="image",
        key="image_refs",
        env=("FLYTE_IMAGE_IMAGE_REFS",),
        target="image.image_refs",
        convert=_as_image_refs,
    ),
    _Setting(section="image", key="registry", env=("FLYTE_IMAGE_REGISTRY",), target="image.registry", convert=_as_str),
    _Setting(
        section="local",
        key="persistence",
        env=("FLYTE_LOCAL_PERSISTENCE",),
        target="local.persistence",
        convert=_as_bool,
    ),
    _Setting(section="local", key="tracked", env=("FLYTE_LOCAL_TRACKED",), target="local.tracked", convert=_as_bool),
    _Setting(
        section="local",
        key="tracked_strict",
        env=("FLYTE_LOCAL_TRACKED_STRICT",),
        target="local.tracked_strict",
        convert=_as_bool,
    ),
)

ENV_OVERRIDES: tuple[str, ...] = (
    *(var for s in _SETTINGS for var in s.env),
    "FLYTE_ADMIN_CLIENTSECRETLOCATION",
    "FLYTE_ADMIN_CLIENTSECRETENVVAR",
)
"""Every environment variable that overrides a config file value."""


def _raw_value(cf: ConfigFile, section: str, key: str, env: tuple[str, ...]) -> tuple[Any, str]:
    """The winning raw value and a description of where it came from."""
    for var in env:
        if var in os.environ:
            # Present-but-empty overrides too: it clears the file's value.
            return os.environ[var], f"Environment variable {var} (overriding config file {cf.path})"
    return cf.get(section, key), f"Config file {cf.path}: key {section}.{key}"


def _client_secret(cf: ConfigFile) -> str | None:
    env_var, where = _raw_value(cf, "admin", "clientSecretEnvVar", ("FLYTE_ADMIN_CLIENTSECRETENVVAR",))
    env_var = _as_str(env_var, where)
    if env_var and os.environ.get(env_var):
        return os.environ[env_var].strip()
    location, where = _raw_value(cf, "admin", "clientSecretLocation", ("FLYTE_ADMIN_CLIENTSECRETLOCATION",))
    location = _as_str(location, where)
    if not location:
        return None
    try:
        secret = Path(location).read_text(encoding="utf-8").strip()
    except OSError as e:
        raise InitializationError(
            "ConfigFileError", "user", f"{where}: cannot read client secret file {location}: {e.strerror or e}"
        ) from e
    return secret or None


def config_from_file(cf: ConfigFile) -> Config:
    """Build a :class:`Config` from a parsed file plus environment overrides.

    Example:
        >>> config_from_file(ConfigFile("config.yaml")).task.project  # doctest: +SKIP
        'flytesnacks'
    """
    sections: dict[str, dict[str, Any]] = {"platform": {}, "task": {}, "image": {}, "local": {}}
    for setting in _SETTINGS:
        raw, where = _raw_value(cf, setting.section, setting.key, setting.env)
        value = setting.convert(raw, where)
        group, name = setting.target.split(".")
        if value is not None:
            sections[group][name] = value
    platform = sections["platform"]
    if "auth_mode" in platform:
        platform["auth_mode"] = canonical_auth_type(platform["auth_mode"])
    secret = _client_secret(cf)
    if secret is not None:
        # A client secret only makes sense for the client-credentials flow.
        platform["client_credentials_secret"] = secret
        platform["auth_mode"] = "ClientSecret"
    return Config(
        platform=PlatformConfig(**platform),
        task=TaskConfig(**sections["task"]),
        image=ImageConfig(**sections["image"]),
        local=LocalConfig(**sections["local"]),
        source=cf.path,
    )


def auto(config_file: str | Path | ConfigFile | None = None) -> Config:
    """Read the Flyte configuration: the given file, or the first one the search finds.

    With no file given and none found, returns an empty :class:`Config` (and environment
    overrides are not applied). See :mod:`flyte.config` for the search order.

    Raises:
        InitializationError: the given (or ``$UCTL_CONFIG`` / ``$FLYTECTL_CONFIG``) file does
            not exist, or a file is not valid YAML or holds a value of the wrong type.

    Example:
        >>> cfg = auto()  # doctest: +SKIP
        >>> cfg.platform.endpoint, cfg.task.project  # doctest: +SKIP
        ('dns:///flyte.example.com', 'flytesnacks')
    """
    cf = get_config_file(config_file)
    if cf is None:
        return Config()
    return config_from_file(cf)

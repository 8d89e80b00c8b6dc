"""The configuration objects: what a config file (plus environment overrides) says.

These are plain frozen dataclasses; reading files lives in :mod:`flyte.config._reader`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from flyte.config._reader import ConfigFile

AuthType = Literal["Pkce", "ClientSecret", "DeviceFlow", "ExternalCommand"]
"""The canonical authentication modes a config file's ``admin.authType`` can name."""

DEFAULT_AUTH_TYPE: AuthType = "Pkce"
DEFAULT_IMAGE_BUILDER = "local"

# Spellings accepted for an auth type (compared case-insensitively), mapped to the canonical name.
# They are the names `flyte create config --auth-type` offers, plus the canonical names.
_AUTH_TYPE_ALIASES: dict[str, AuthType] = {
    "pkce": "Pkce",
    "clientsecret": "ClientSecret",
    "client-secret": "ClientSecret",
    "client_secret": "ClientSecret",
    "app-credential": "ClientSecret",
    "app_credential": "ClientSecret",
    "deviceflow": "DeviceFlow",
    "device-flow": "DeviceFlow",
    "device_flow": "DeviceFlow",
    "headless": "DeviceFlow",
    "externalcommand": "ExternalCommand",
    "external-command": "ExternalCommand",
    "external_command": "ExternalCommand",
    "command": "ExternalCommand",
    "custom": "ExternalCommand",
}


def canonical_auth_type(value: str) -> str:
    """Return the canonical name of an auth type spelling, or ``value`` unchanged if unknown.

    Unknown names pass through so that :func:`flyte.init` (not the config reader) decides
    whether it supports them.

    Example:
        >>> canonical_auth_type("client-secret")
        'ClientSecret'
        >>> canonical_auth_type("headless")
        'DeviceFlow'
    """
    return _AUTH_TYPE_ALIASES.get(value.strip().lower(), value)


class _CompactRepr:
    """Mixin: show only the fields that differ from their defaults, and never a secret."""

    _secret_fields: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        parts = []
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.default is not dataclasses.MISSING:
                default: Any = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:  # pragma: no cover - every field here has a default
                default = dataclasses.MISSING
            if value == default:
                continue
            shown = "'***'" if f.name in self._secret_fields else repr(value)
            parts.append(f"{f.name}={shown}")
        return f"{type(self).__name__}({', '.join(parts)})"


@dataclass(frozen=True, kw_only=True, repr=False)
class PlatformConfig(_CompactRepr):
    """How to reach and authenticate with a Flyte backend (the ``admin:`` section).

    Example:
        >>> PlatformConfig.for_endpoint("dns:///flyte.example.com", insecure=True)
        PlatformConfig(endpoint='dns:///flyte.example.com', insecure=True)
    """

    _secret_fields = frozenset({"client_credentials_secret"})

    endpoint: str | None = None
    """The backend address as written in the file (``dns:///host:port``, ``https://host``, ...)."""
    insecure: bool = False
    """Connect without TLS."""
    insecure_skip_verify: bool = False
    """Use TLS but do not verify the server's certificate."""
    ca_cert_file_path: str | None = None
    """A PEM file with extra certificate authorities to trust."""
    console_endpoint: str | None = None
    """The web console's URL, when it differs from the endpoint (the ``console.endpoint`` key)."""
    command: list[str] | None = None
    """For ``ExternalCommand`` auth: the command that prints a token."""
    proxy_command: list[str] | None = None
    """A command that prints a token for an authenticating proxy in front of the backend."""
    client_id: str | None = None
    """The OAuth2 client id."""
    client_credentials_secret: str | None = None
    """The OAuth2 client secret, read from ``clientSecretLocation`` or ``clientSecretEnvVar``."""
    scopes: list[str] = field(default_factory=list)
    """OAuth2 scopes to ask for."""
    auth_mode: str = DEFAULT_AUTH_TYPE
    """The authentication flow, one of :data:`AuthType` (unknown names are kept as written)."""
    audience: str | None = None
    """The OAuth2 audience (not read from files; set it in code)."""
    rpc_retries: int = 3
    """How many times to retry a failed call to the backend (not read from files)."""
    http_proxy_url: str | None = None
    """An HTTP proxy to reach the backend through."""
    disable_keyring: bool = False
    """Do not cache tokens in the system keyring."""

    @classmethod
    def auto(cls, config_file: str | Path | ConfigFile | None = None) -> PlatformConfig:
        """The platform section of :func:`flyte.config.auto`'s result.

        Example:
            >>> PlatformConfig.auto("config.yaml").endpoint  # doctest: +SKIP
            'dns:///flyte.example.com'
        """
        from flyte.config._reader import auto

        return auto(config_file).platform

    @classmethod
    def for_endpoint(cls, endpoint: str, insecure: bool = False) -> PlatformConfig:
        """A configuration with just an endpoint (and whether to skip TLS).

        Example:
            >>> PlatformConfig.for_endpoint("localhost:30080", insecure=True).insecure
            True
        """
        return cls(endpoint=endpoint, insecure=insecure)

    def replace(self, **kwargs: Any) -> PlatformConfig:
        """A copy with the given fields changed.

        Example:
            >>> PlatformConfig().replace(endpoint="dns:///h").endpoint
            'dns:///h'
        """
        return dataclasses.replace(self, **kwargs)


@dataclass(frozen=True, kw_only=True, repr=False)
class TaskConfig(_CompactRepr):
    """Where runs go by default (the ``task:`` section).

    Example:
        >>> TaskConfig(project="flytesnacks", domain="development")
        TaskConfig(project='flytesnacks', domain='development')
    """

    org: str | None = None
    """The organisation (multi-tenant deployments only)."""
    project: str | None = None
    """The default project."""
    domain: str | None = None
    """The default domain (``development``, ``staging``, ``production``, ...)."""

    @classmethod
    def auto(cls, config_file: str | Path | ConfigFile | None = None) -> TaskConfig:
        """The task section of :func:`flyte.config.auto`'s result.

        Example:
            >>> TaskConfig.auto("config.yaml").project  # doctest: +SKIP
            'flytesnacks'
        """
        from flyte.config._reader import auto

        return auto(config_file).task


@dataclass(frozen=True, kw_only=True, repr=False)
class ImageConfig(_CompactRepr):
    """How container images are built and named (the ``image:`` section).

    Example:
        >>> ImageConfig(builder="remote", image_refs={"gpu": "ghcr.io/acme/gpu:1"}).image_refs
        {'gpu': 'ghcr.io/acme/gpu:1'}
    """

    builder: str | None = None
    """The image builder: ``local``, ``local-podman`` or ``remote``; ``None`` means ``local``."""
    image_refs: dict[str, str] = field(default_factory=dict)
    """Named images, so that code can say ``Image.from_ref_name("gpu")``."""
    registry: str | None = None
    """The registry images are pushed to and base images are pulled from."""

    @classmethod
    def auto(cls, config_file: str | Path | ConfigFile | None = None) -> ImageConfig:
        """The image section of :func:`flyte.config.auto`'s result.

        Example:
            >>> ImageConfig.auto("config.yaml").builder  # doctest: +SKIP
            'remote'
        """
        from flyte.config._reader import auto

        return auto(config_file).image


@dataclass(frozen=True, kw_only=True, repr=False)
class LocalConfig(_CompactRepr):
    """How local runs are recorded (the ``local:`` section).

    Example:
        >>> LocalConfig(persistence=True)
        LocalConfig(persistence=True)
    """

    persistence: bool = False
    """Keep local run metadata in SQLite so past runs can be browsed."""
    tracked: bool = False
    """Report local runs to the control plane so they show in the console."""
    tracked_strict: bool = False
    """Fail a local run if reporting it to the control plane fails."""

    @classmethod
    def auto(cls, config_file: str | Path | ConfigFile | None = None) -> LocalConfig:
        """The local section of :func:`flyte.config.auto`'s result.

        Example:
            >>> LocalConfig.auto("config.yaml").persistence  # doctest: +SKIP
            False
        """
        from flyte.config._reader import auto

        return auto(config_file).local


@dataclass(frozen=True, kw_only=True, repr=False)
class Config(_CompactRepr):
    """Everything a Flyte config file says, after environment overrides.

    Build one with :func:`flyte.config.auto`, or directly in code.

    Example:
        >>> cfg = Config(task=TaskConfig(project="p", domain="development"))
        >>> cfg.task.project
        'p'
    """

    platform: PlatformConfig = field(default_factory=PlatformConfig)
    """The backend to talk to and how to authenticate."""
    task: TaskConfig = field(default_factory=TaskConfig)
    """Default org, project and domain."""
    image: ImageConfig = field(default_factory=ImageConfig)
    """Image builder and named images."""
    local: LocalConfig = field(default_factory=LocalConfig)
    """Local run recording."""
    source: Path | None = None
    """The file this was read from (as found: relative when found in the current directory)."""

    @classmethod
    def auto(cls, config_file: str | Path | ConfigFile | None = None) -> Config:
        """Same as :func:`flyte.config.auto`.

        Example:
            >>> Config.auto("config.yaml").task.domain  # doctest: +SKIP
            'development'
        """
        from flyte.config._reader import auto

        return auto(config_file)

    def with_params(
        self,
        platform: PlatformConfig | None = None,
        task: TaskConfig | None = None,
        image: ImageConfig | None = None,
    ) -> Config:
        """A copy with the given sections replaced.

        Example:
            >>> Config().with_params(task=TaskConfig(project="p")).task.project
            'p'
        """
        return dataclasses.replace(
            self,
            platform=platform if platform is not None else self.platform,
            task=task if task is not None else self.task,
            image=image if image is not None else self.image,
        )


def config_to_init_kwargs(cfg: Config) -> dict[str, Any]:
    """The keyword arguments of :func:`flyte.init` that a configuration sets.

    Only settings that differ from ``flyte.init``'s own defaults are included, so that the
    result can be merged with explicit arguments: ``flyte.init(**config_to_init_kwargs(cfg) |
    overrides)``. ``source_config_path`` is included whenever the configuration came from a
    file.

    Example:
        >>> cfg = Config(
        ...     platform=PlatformConfig(endpoint="dns:///flyte.example.com", insecure=True),
        ...     task=TaskConfig(project="p", domain="development"),
        ... )
        >>> config_to_init_kwargs(cfg)
        {'endpoint': 'dns:///flyte.example.com', 'insecure': True, 'project': 'p', 'domain': 'development'}
    """
    p, t, i, loc = cfg.platform, cfg.task, cfg.image, cfg.local
    candidates: dict[str, Any] = {
        "endpoint": p.endpoint,
        "insecure": p.insecure,
        "insecure_skip_verify": p.insecure_skip_verify,
        "ca_cert_file_path": p.ca_cert_file_path,
        "auth_type": p.auth_mode if p.auth_mode != DEFAULT_AUTH_TYPE else None,
        "command": list(p.command) if p.command else None,
        "proxy_command": list(p.proxy_command) if p.proxy_command else None,
        "client_id": p.client_id,
        "client_credentials_secret": p.client_credentials_secret,
        "scopes": list(p.scopes) if p.scopes else None,
        "rpc_retries": p.rpc_retries if p.rpc_retries != 3 else None,
        "http_proxy_url": p.http_proxy_url,
        "disable_keyring": p.disable_keyring,
        "org": t.org,
        "project": t.project,
        "domain": t.domain,
        "image_builder": i.builder if i.builder not in (None, DEFAULT_IMAGE_BUILDER) else None,
        "images": dict(i.image_refs) if i.image_refs else None,
        "image_registry": i.registry,
        "local_persistence": loc.persistence,
        "local_tracked": loc.tracked,
        "local_tracked_strict": loc.tracked_strict,
        "source_config_path": cfg.source,
    }
    # `False` is every boolean's default in flyte.init, so it is left out like `None`.
    return {k: v for k, v in candidates.items() if v is not None and v is not False}

"""``flyte.init``: process-wide settings (endpoint, project, domain, storage, local cache)."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte.errors import InitializationError

if TYPE_CHECKING:
    from flyte._internal.local_cache import LocalCache

__all__ = ["current_domain", "current_project", "get_init_config", "init", "init_from_config", "parse_image_refs"]


@dataclass(frozen=True, kw_only=True)
class InitConfig:
    """What ``flyte.init`` was called with."""

    endpoint: str | None = None
    """The control plane (``host:port`` or a URL); ``None`` means local mode."""
    insecure: bool = False
    """Use plain HTTP instead of TLS."""
    org: str | None = None
    """The organisation."""
    project: str | None = None
    """The default project of runs and deployments."""
    domain: str | None = None
    """The default domain of runs and deployments."""
    root_dir: Path | None = None
    """The root of the user's code (for code bundles and module names)."""
    local_cache_dir: Path | None = None
    """Where local mode keeps its cache (default ``~/.flyte/local-cache``)."""
    images: dict[str, str] = field(default_factory=dict)
    """Image names mapped to image URIs."""
    image_builder: str = "local"
    """Which image builder deploys use."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Other Flyte 2 options, kept for the clients that use them."""
    initialized: bool = False
    """Whether ``flyte.init`` was called (otherwise these are local-mode defaults)."""

    def local_cache(self) -> LocalCache:
        """The process-wide cache of local mode for the configured directory."""
        from flyte._internal.local_cache import LocalCache, default_cache_dir

        directory = (self.local_cache_dir or default_cache_dir()).expanduser()
        with _lock:
            cache = _caches.get(directory)
            if cache is None:
                cache = _caches[directory] = LocalCache(directory)
        return cache


_lock = threading.Lock()
_caches: dict[Path, LocalCache] = {}
_config = InitConfig()


def get_init_config() -> InitConfig:
    """The settings of the last ``flyte.init`` (local-mode defaults before any)."""
    return _config


def init(
    org: str | None = None,
    project: str | None = None,
    domain: str | None = None,
    root_dir: Path | str | None = None,
    log_level: int | None = None,
    endpoint: str | None = None,
    insecure: bool = False,
    images: dict[str, str] | None = None,
    image_builder: str = "local",
    local_cache_dir: Path | str | None = None,
    storage: Any = None,
    **extra: Any,
) -> None:
    """Configure Flyte for this process. With no endpoint, runs execute locally.

    Args:
        org: the organisation (ignored by our control plane).
        project: the default project.
        domain: the default domain.
        root_dir: the root of your code (default: the current directory).
        log_level: the level of Flyte's own logger.
        endpoint: the control plane, e.g. ``"localhost:8090"``; ``None`` for local mode.
        insecure: connect without TLS.
        images: image names mapped to URIs.
        image_builder: ``"local"`` or ``"remote"``.
        local_cache_dir: where local mode caches outputs (default ``~/.flyte/local-cache``).
        storage: object-store settings (``flyte.storage.S3(...)``, ``GCS``, ``ABFS``) for data.
        **extra: the other options of Flyte 2's ``init`` (auth, storage, ...), accepted and kept.

    Example:
        >>> import flyte
        >>> flyte.init()  # local mode
        >>> flyte.init(endpoint="localhost:8090", insecure=True, project="flytesnacks", domain="development")
    """
    global _config
    if endpoint is not None and not isinstance(endpoint, str):
        raise InitializationError(
            "InvalidInitArgument", "user", f"endpoint must be a string such as 'localhost:8090', got {endpoint!r}"
        )
    if endpoint is not None and not endpoint.strip():
        raise InitializationError(
            "InvalidInitArgument", "user", "endpoint is empty; pass a host:port such as 'localhost:8090', or omit it"
        )
    if log_level is not None:
        import logging

        logging.getLogger("flyte").setLevel(log_level)
    if storage is not None or "flyte.storage" in sys.modules:
        # A re-init without storage settings resets them (without importing fsspec needlessly).
        from flyte.storage import set_default_config

        set_default_config(storage)
    if extra.get("load_plugin_type_transformers", True) is False:
        from flyte.types._plugins import disable_plugin_type_transformers

        disable_plugin_type_transformers()
    _config = InitConfig(
        endpoint=endpoint,
        insecure=insecure,
        org=org,
        project=project,
        domain=domain,
        root_dir=Path(root_dir) if root_dir is not None else None,
        local_cache_dir=Path(local_cache_dir) if local_cache_dir is not None else None,
        images=dict(images or {}),
        image_builder=image_builder,
        extra={**extra, "storage": storage} if storage is not None else extra,
        initialized=True,
    )


def get_storage() -> Any:
    """The storage settings given to :func:`init` (``flyte.storage.S3``, ...), or ``None``.

    The private path Flyte 2's ``flyteplugins-polars`` reads them from.
    """
    from flyte.storage import get_config

    return get_config()


def init_from_config(
    path_or_config: str | Path | Any | None = None,
    root_dir: Path | None = None,
    log_level: int | None = None,
    project: str | None = None,
    domain: str | None = None,
    org: str | None = None,
    images: tuple[str, ...] | list[str] | None = None,
    **extra: Any,
) -> None:
    """Configure Flyte from a config file, found the way Flyte 2 finds it (see :mod:`flyte.config`).

    Args:
        path_or_config: a config file, a :class:`flyte.config.Config`, or ``None`` to search.
        root_dir: the root of your code.
        log_level: the level of Flyte's own logger.
        project: overrides the file's project.
        domain: overrides the file's domain.
        org: overrides the file's organisation.
        images: named images added to (and overriding) the file's ``image.image_refs``, each
            ``"name=uri"``, or a bare ``"uri"`` for the image named ``default``.
        **extra: other options of :func:`init`.

    Example:
        >>> flyte.init_from_config()  # doctest: +SKIP
        >>> flyte.init_from_config("~/.flyte/config.yaml", project="ml")  # doctest: +SKIP
        >>> flyte.init_from_config(images=("gpu=ghcr.io/acme/gpu:1",))  # doctest: +SKIP
    """
    from flyte.config import Config, auto, config_to_init_kwargs

    named_images = parse_image_refs(images)
    config = path_or_config if isinstance(path_or_config, Config) else auto(path_or_config)
    kwargs = config_to_init_kwargs(config)
    overrides = {"project": project, "domain": domain, "org": org, "root_dir": root_dir, "log_level": log_level}
    kwargs.update({key: value for key, value in overrides.items() if value is not None})
    if named_images:
        kwargs["images"] = {**(kwargs.get("images") or {}), **named_images}
    kwargs.update(extra)
    init(**kwargs)


def parse_image_refs(values: tuple[str, ...] | list[str] | None) -> dict[str, str]:
    """``("name=uri", "uri")`` as ``{"name": "uri", "default": "uri"}`` (a bare URI names ``default``).

    Raises:
        InitializationError: an entry is not a string, or its name or URI is empty.

    Example:
        >>> parse_image_refs(("gpu=ghcr.io/acme/gpu:1", "python:3.12-slim"))
        {'gpu': 'ghcr.io/acme/gpu:1', 'default': 'python:3.12-slim'}
    """
    if values is None:
        return {}
    if isinstance(values, str):
        values = (values,)
    refs: dict[str, str] = {}
    for value in values:
        if not isinstance(value, str):
            raise InitializationError(
                "InvalidInitArgument", "user", f"images entries must be strings 'name=uri', got {value!r}"
            )
        name, separator, uri = value.partition("=")
        if not separator:
            name, uri = "default", value
        if not name.strip() or not uri.strip():
            raise InitializationError(
                "InvalidInitArgument", "user", f"image {value!r} must be 'name=uri' with a non-empty name and URI"
            )
        refs[name.strip()] = uri.strip()
    return refs


def current_project() -> str | None:
    """The project ``flyte.init`` configured."""
    return _config.project


def current_domain() -> str | None:
    """The domain ``flyte.init`` configured."""
    return _config.domain

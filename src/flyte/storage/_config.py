"""Storage settings: which credentials and endpoints the object-store filesystems use.

A config is chosen per process with ``flyte.init(storage=...)`` (or :func:`set_default_config`);
:func:`get_config` returns it. Each config turns itself into the keyword arguments of the fsspec
filesystem for its protocol (``s3fs``, ``gcsfs``, ``adlfs``), so nothing else in the SDK needs
to know how a store is authenticated.
"""

from __future__ import annotations

import datetime
import os
import threading
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ABFS",
    "GCS",
    "S3",
    "Storage",
    "get_config",
    "get_configured_fsspec_kwargs",
    "set_default_config",
]

_SANDBOX_ENDPOINT = "http://localhost:4566"
_SANDBOX_ACCESS_KEY_ID = "minio"
_SANDBOX_SECRET_ACCESS_KEY = "miniostorage"


# The fields are positional-or-keyword (not keyword-only) so that the constructors accept the same
# calls as Flyte 2's; every caller we know of passes keywords.
@dataclass(frozen=True)
class Storage:
    """Settings shared by every storage backend.

    Example:
        >>> import flyte.storage
        >>> flyte.storage.Storage(retries=5).retries
        5
    """

    retries: int = 3
    """How often a transfer that failed with a transient error is tried again."""
    backoff: datetime.timedelta = datetime.timedelta(seconds=5)
    """The wait before the first retry; it doubles on each further retry."""
    enable_debug: bool = False
    """Log every storage operation at debug level."""
    attach_execution_metadata: bool = True
    """Tag uploaded objects with the run and action that wrote them, where the store supports it."""

    @classmethod
    def auto(cls) -> Storage:
        """Build the settings from the environment (nothing to read for the base class).

        Example:
            >>> Storage.auto().retries
            3
        """
        return cls()

    def get_fsspec_kwargs(self, anonymous: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Return the keyword arguments of the fsspec filesystem for this backend.

        Args:
            anonymous: access the store without credentials (public buckets).
            **kwargs: extra arguments, passed through and overriding the computed ones.

        Example:
            >>> Storage().get_fsspec_kwargs(auto_mkdir=True)
            {'auto_mkdir': True}
        """
        return dict(kwargs)


@dataclass(frozen=True)
class S3(Storage):
    """Amazon S3 or an S3-compatible store (MinIO, LocalStack, Ceph, R2, ...), through ``s3fs``.

    Example:
        >>> import flyte.storage
        >>> cfg = flyte.storage.S3(endpoint="http://localhost:9000", access_key_id="k", secret_access_key="s")
        >>> cfg.get_fsspec_kwargs()["client_kwargs"]["endpoint_url"]
        'http://localhost:9000'
    """

    endpoint: str | None = None
    """The store's URL, for S3-compatible stores; ``None`` uses AWS."""
    access_key_id: str | None = None
    """The access key; ``None`` uses the default AWS credential chain."""
    secret_access_key: str | None = None
    """The secret key matching ``access_key_id``."""
    region: str | None = None
    """The bucket region."""
    addressing_style: str | None = None
    """``"path"`` or ``"virtual"`` bucket addressing; most S3-compatible stores need ``"path"``."""

    @classmethod
    def auto(cls, region: str | None = None) -> S3:
        """Read ``FLYTE_AWS_ENDPOINT``, ``FLYTE_AWS_ACCESS_KEY_ID`` and ``FLYTE_AWS_SECRET_ACCESS_KEY``.

        Unset variables leave the field ``None`` so the AWS default credential chain applies.

        Args:
            region: the bucket region.

        Example:
            >>> S3.auto(region="eu-west-1").region
            'eu-west-1'
        """
        return cls(
            endpoint=os.environ.get("FLYTE_AWS_ENDPOINT"),
            access_key_id=os.environ.get("FLYTE_AWS_ACCESS_KEY_ID"),
            secret_access_key=os.environ.get("FLYTE_AWS_SECRET_ACCESS_KEY"),
            region=region,
        )

    @classmethod
    def for_sandbox(cls) -> S3:
        """The settings of the local sandbox's object store (``localhost:4566``, fixed keys).

        Example:
            >>> S3.for_sandbox().endpoint
            'http://localhost:4566'
        """
        return cls(
            endpoint=_SANDBOX_ENDPOINT,
            access_key_id=_SANDBOX_ACCESS_KEY_ID,
            secret_access_key=_SANDBOX_SECRET_ACCESS_KEY,
        )

    def get_fsspec_kwargs(self, anonymous: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Return ``s3fs.S3FileSystem`` keyword arguments.

        Example:
            >>> S3(access_key_id="k", secret_access_key="s").get_fsspec_kwargs()["key"]
            'k'
        """
        result: dict[str, Any] = {}
        client_kwargs: dict[str, Any] = {}
        config_kwargs: dict[str, Any] = {"retries": {"max_attempts": max(self.retries, 0) + 1, "mode": "standard"}}
        if anonymous:
            result["anon"] = True
        else:
            if self.access_key_id:
                result["key"] = self.access_key_id
            if self.secret_access_key:
                result["secret"] = self.secret_access_key
        if self.endpoint:
            client_kwargs["endpoint_url"] = self.endpoint
        if self.region:
            client_kwargs["region_name"] = self.region
        if self.addressing_style:
            config_kwargs["s3"] = {"addressing_style": self.addressing_style}
        if client_kwargs:
            result["client_kwargs"] = client_kwargs
        result["config_kwargs"] = config_kwargs
        result.update(kwargs)
        return result


@dataclass(frozen=True)
class GCS(Storage):
    """Google Cloud Storage through ``gcsfs``, authenticated by the environment's default credentials.

    Example:
        >>> import flyte.storage
        >>> flyte.storage.GCS.auto().get_fsspec_kwargs()["retries"]
        3
    """

    @classmethod
    def auto(cls) -> GCS:
        """Default GCS settings; credentials come from the environment.

        Example:
            >>> GCS.auto().retries
            3
        """
        return cls()

    def get_fsspec_kwargs(self, anonymous: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Return ``gcsfs.GCSFileSystem`` keyword arguments.

        Example:
            >>> GCS().get_fsspec_kwargs(anonymous=True)["token"]
            'anon'
        """
        result: dict[str, Any] = {"retries": self.retries}
        if anonymous:
            result["token"] = "anon"
        result.update(kwargs)
        return result


@dataclass(frozen=True)
class ABFS(Storage):
    """Azure Blob Storage / Data Lake through ``adlfs``.

    Example:
        >>> import flyte.storage
        >>> flyte.storage.ABFS(account_name="acct").get_fsspec_kwargs()["account_name"]
        'acct'
    """

    account_name: str | None = None
    """The storage account."""
    account_key: str | None = None
    """The account's access key."""
    tenant_id: str | None = None
    """The Azure AD tenant, for service-principal authentication."""
    client_id: str | None = None
    """The service principal's client id."""
    client_secret: str | None = None
    """The service principal's secret."""

    @classmethod
    def auto(cls) -> ABFS:
        """Read ``AZURE_STORAGE_ACCOUNT_NAME``, ``AZURE_STORAGE_ACCOUNT_KEY``, ``AZURE_TENANT_ID``,
        ``AZURE_CLIENT_ID`` and ``AZURE_CLIENT_SECRET``.

        Example:
            >>> isinstance(ABFS.auto(), ABFS)
            True
        """
        return cls(
            account_name=os.environ.get("AZURE_STORAGE_ACCOUNT_NAME"),
            account_key=os.environ.get("AZURE_STORAGE_ACCOUNT_KEY"),
            tenant_id=os.environ.get("AZURE_TENANT_ID"),
            client_id=os.environ.get("AZURE_CLIENT_ID"),
            client_secret=os.environ.get("AZURE_CLIENT_SECRET"),
        )

    def get_fsspec_kwargs(self, anonymous: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Return ``adlfs.AzureBlobFileSystem`` keyword arguments.

        Example:
            >>> ABFS(account_name="a", account_key="k").get_fsspec_kwargs()["account_key"]
            'k'
        """
        result: dict[str, Any] = {}
        if anonymous:
            result["anon"] = True
        for name in ("account_name", "account_key", "tenant_id", "client_id", "client_secret"):
            value = getattr(self, name)
            if value:
                result[name] = value
        result.update(kwargs)
        return result


_lock = threading.Lock()
_default: Storage | None = None


def set_default_config(config: Storage | None) -> None:
    """Make ``config`` the storage settings of this process (``None`` resets to the defaults).

    ``flyte.init(storage=...)`` calls this; filesystems created with earlier settings are dropped.

    Example:
        >>> set_default_config(S3.for_sandbox())
        >>> get_config().endpoint
        'http://localhost:4566'
        >>> set_default_config(None)
    """
    global _default
    with _lock:
        _default = config
    from flyte.storage._filesystem import clear_filesystem_cache

    clear_filesystem_cache()


def get_config() -> Storage | None:
    """Return the storage settings of this process, or ``None`` when none were given.

    Settings passed as ``flyte.init(storage=...)`` count when :func:`set_default_config` was not
    called.

    Example:
        >>> set_default_config(None)
        >>> get_config() is None or isinstance(get_config(), Storage)
        True
    """
    if _default is not None:
        return _default
    from flyte._initialize import get_init_config

    configured = get_init_config().extra.get("storage")
    return configured if isinstance(configured, Storage) else None


def _config_for(protocol: str) -> Storage:
    configured = get_config()
    if protocol in ("s3", "s3a"):
        return configured if isinstance(configured, S3) else S3.auto()
    if protocol in ("gs", "gcs"):
        return configured if isinstance(configured, GCS) else GCS.auto()
    if protocol in ("abfs", "abfss", "az", "adl"):
        return configured if isinstance(configured, ABFS) else ABFS.auto()
    return configured if configured is not None and type(configured) is Storage else Storage()


def get_configured_fsspec_kwargs(protocol: str | None = None, anonymous: bool = False) -> dict[str, Any]:
    """Return the fsspec keyword arguments the configured settings give for ``protocol``.

    Args:
        protocol: ``"s3"``, ``"gs"``, ``"abfs"``, ``"file"``, ...; ``None`` means the local filesystem.
        anonymous: access without credentials.

    Example:
        >>> get_configured_fsspec_kwargs("file")
        {}
    """
    return _config_for(protocol or "file").get_fsspec_kwargs(anonymous=anonymous)


def retry_settings() -> tuple[int, float]:
    """Return ``(retries, first backoff in seconds)`` of the configured settings."""
    config = get_config() or Storage()
    return max(config.retries, 0), max(config.backoff.total_seconds(), 0.0)

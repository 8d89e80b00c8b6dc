"""``ServerConfig``: everything ``flyte start server`` can be told."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from flyte_server.handlers._options import ClusterOptions
from flyte_server.limits import ServerLimits

__all__ = ["ServerConfig", "default_data_dir"]


def default_data_dir() -> Path:
    """``~/.flyte/server``."""
    return Path.home() / ".flyte" / "server"


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """The options of the control plane.

    Example:
        >>> config = ServerConfig(port=0, data_dir=Path("/tmp/flyte-server-doc"))
        >>> config.database_url.startswith("sqlite+aiosqlite:///")
        True
    """

    host: str = "127.0.0.1"
    """The interface to listen on."""
    port: int = 8090
    """The port of every service (0 picks a free one)."""
    data_dir: Path = field(default_factory=default_data_dir)
    """Where the default SQLite database, blob store, worker directories and logs live."""
    db: str | None = None
    """A SQLAlchemy URL (``sqlite:///...`` or ``postgresql://...``); default SQLite in ``data_dir``."""
    storage: str | None = None
    """A directory or ``s3://bucket/prefix``; default ``data_dir/blobs``."""
    s3_endpoint: str | None = None
    """The endpoint of an S3-compatible store (MinIO, moto, ...)."""
    s3_access_key_id: str | None = None
    """The access key of the S3 store."""
    s3_secret_access_key: str | None = None
    """The secret key of the S3 store."""
    executor: str = "local"
    """How actions run: ``local`` worker processes, ``ray`` (a Ray cluster, docs/ray-executor.md), or
    ``podman``/``docker`` (a container per attempt, docs/containers.md)."""
    ray_address: str | None = None
    """With the ``ray`` executor: the cluster (``host:port``, ``auto``); ``None`` starts a local Ray head."""
    container_image: str | None = None
    """With the ``podman``/``docker`` executor: the image of tasks that name the SDK's default image."""
    workers: int = 32
    """How many actions may run at once (attempts in reused workers are cheap: a task each, not a process)."""
    worker_python: str = field(default_factory=lambda: sys.executable)
    """The interpreter of the Python environment whose ``a0`` runs the actions."""
    clusters: ClusterOptions = field(default_factory=ClusterOptions)
    """Where Ray, Dask and Spark tasks find their clusters (default: one per attempt on this machine)."""
    worker_user: str | None = None
    """The user workers run as when the server runs as root: ``None`` the default (``flyte-worker``, created on
    demand), ``"root"`` no switch (docs/isolation.md)."""
    worker_s3_access_key_id: str | None = None
    """The access key workers use for the S3 store (a principal limited to it); default the server's (a warning)."""
    worker_s3_secret_access_key: str | None = None
    """The secret key of ``worker_s3_access_key_id``."""
    log_level: str = "info"
    """The server's own log level."""
    secret_key: str | None = None
    """The key for signed URLs and secret encryption; default a key file kept in ``data_dir``."""
    auth: bool = False
    """Require a bearer token (API key / OAuth2 client credentials / OIDC) on every RPC (docs/auth.md)."""
    allowed_hosts: tuple[str, ...] = ()
    """``Host`` names answered besides the loopback ones (``*``: any)."""
    oidc_issuer: str | None = None
    """An external OpenID Connect issuer whose access tokens are trusted too."""
    oidc_audience: str | None = None
    """The ``aud`` the issuer's tokens must carry (unchecked when unset)."""
    tls_cert: Path | None = None
    """A PEM certificate (chain): serve HTTPS."""
    tls_key: Path | None = None
    """The PEM private key of ``tls_cert``."""
    limits: ServerLimits = field(default_factory=ServerLimits)
    """Request sizes, read timeouts and the connection cap (docs/limits.md)."""

    @property
    def database_url(self) -> str:
        """The async SQLAlchemy URL of the metadata store."""
        url = self.db or f"sqlite:///{self.data_dir / 'flyte.db'}"
        if url.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
        if url.startswith(("postgresql://", "postgres://")):
            return "postgresql+asyncpg://" + url.split("://", 1)[1]
        return url

    @property
    def storage_url(self) -> str:
        """The root of the blob store (a local path or ``s3://...``)."""
        return self.storage or str(self.data_dir / "blobs")

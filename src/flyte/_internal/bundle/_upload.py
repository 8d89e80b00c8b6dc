"""Content-addressed upload of a bundle: ``CreateUploadLocation`` + HTTP PUT to the signed URL.

An upload is skipped when the small local cache (``~/.flyte/bundle-cache.sqlite3``, keyed by
endpoint, project, domain and digest, entries valid for a day) says the same bytes went to the
same control plane before. Where the stored URI is a local path (a control plane on this
machine), the cache entry is checked against the file, so a reset server is never pointed at a
bundle it lost.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte.errors import CodeBundleError

if TYPE_CHECKING:
    from flyteidl2.dataproxy.dataproxy_service_connect import DataProxyServiceClient

    from flyte._internal.bundle._archive import BuiltBundle

__all__ = ["BundleCache", "default_bundle_cache", "upload_bundle"]

logger = logging.getLogger("flyte")

CACHE_TTL_S = 24 * 3600.0
"""How long an upload is trusted without a check."""
UPLOAD_EXPIRY_S = 900
"""Lifetime of the signed upload URL asked for."""


class BundleCache:
    """Where each bundle digest was uploaded, per control plane (SQLite, safe across processes).

    Example:
        >>> cache = BundleCache(Path("/tmp/bundles.sqlite3"))
        >>> cache.put("http://localhost:8090", "p", "d", "abc", "/data/fastabc.tar.gz")
        >>> cache.get("http://localhost:8090", "p", "d", "abc")
        '/data/fastabc.tar.gz'
    """

    def __init__(self, path: Path, *, ttl_s: float = CACHE_TTL_S) -> None:
        self.path = path
        self.ttl_s = ttl_s
        self._lock = threading.Lock()

    def _connect(self) -> Any:
        import sqlite3

        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=10)
        connection.execute(
            "CREATE TABLE IF NOT EXISTS uploads (endpoint TEXT, project TEXT, domain TEXT, digest TEXT, "
            "uri TEXT NOT NULL, uploaded_at REAL NOT NULL, PRIMARY KEY (endpoint, project, domain, digest))"
        )
        return connection

    def get(self, endpoint: str, project: str, domain: str, digest: str) -> str | None:
        """The URI of an earlier upload that is still valid, else ``None`` (stale entries are dropped)."""
        import sqlite3

        try:
            with self._lock, self._connect() as connection:
                row = connection.execute(
                    "SELECT uri, uploaded_at FROM uploads WHERE endpoint=? AND project=? AND domain=? AND digest=?",
                    (endpoint, project, domain, digest),
                ).fetchone()
                if row is None:
                    return None
                uri, uploaded_at = str(row[0]), float(row[1])
                if time.time() - uploaded_at <= self.ttl_s and _still_there(uri):
                    return uri
                connection.execute(
                    "DELETE FROM uploads WHERE endpoint=? AND project=? AND domain=? AND digest=?",
                    (endpoint, project, domain, digest),
                )
                return None
        except sqlite3.Error as error:  # a broken cache only costs an upload
            logger.debug("The bundle cache %s is unusable: %s", self.path, error)
            return None

    def put(self, endpoint: str, project: str, domain: str, digest: str, uri: str) -> None:
        """Remember that ``digest`` was uploaded to ``uri``."""
        import sqlite3

        try:
            with self._lock, self._connect() as connection:
                connection.execute(
                    "INSERT OR REPLACE INTO uploads VALUES (?, ?, ?, ?, ?, ?)",
                    (endpoint, project, domain, digest, uri, time.time()),
                )
        except sqlite3.Error as error:
            logger.debug("Cannot record the upload in %s: %s", self.path, error)


def _still_there(uri: str) -> bool:
    """A cheap check of an uploaded object: local paths must exist; other stores are trusted."""
    if uri.startswith("file://"):
        return Path(uri.removeprefix("file://")).is_file()
    if "://" not in uri:
        return Path(uri).is_file()
    return True


_default_cache: BundleCache | None = None


def default_bundle_cache() -> BundleCache:
    """The cache under ``~/.flyte`` (``$FLYTE_BUNDLE_CACHE`` names another file)."""
    global _default_cache
    path = Path(os.environ.get("FLYTE_BUNDLE_CACHE") or Path.home() / ".flyte" / "bundle-cache.sqlite3")
    if _default_cache is None or _default_cache.path != path:
        _default_cache = BundleCache(path)
    return _default_cache


async def _put(url: str, data: bytes, headers: dict[str, str]) -> None:
    from flyte._internal.retrying import put_signed_url

    await put_signed_url(url, data, headers, what="the code bundle", error=CodeBundleError)


async def upload_bundle(
    bundle: BuiltBundle,
    *,
    dataproxy: DataProxyServiceClient,
    endpoint: str,
    project: str,
    domain: str,
    org: str = "",
    cache: BundleCache | None = None,
) -> str:
    """Upload ``bundle`` (unless already there) and return the URI workers download it from.

    Raises:
        CodeBundleError: the control plane refused the upload, or the PUT failed.
        connectrpc.errors.ConnectError: ``CreateUploadLocation`` failed for another reason (the
            caller turns it into a one-line error).
    """
    from connectrpc.code import Code
    from connectrpc.errors import ConnectError
    from flyteidl2.dataproxy import dataproxy_service_pb2
    from google.protobuf import duration_pb2

    if cache is not None:
        known = cache.get(endpoint, project, domain, bundle.digest)
        if known is not None:
            logger.debug("Code bundle %s already uploaded to %s", bundle.digest, known)
            return known
    request = dataproxy_service_pb2.CreateUploadLocationRequest(
        project=project,
        domain=domain,
        org=org,
        filename=bundle.filename,
        content_md5=bundle.md5,
        expires_in=duration_pb2.Duration(seconds=UPLOAD_EXPIRY_S),
        add_content_md5_metadata=True,
    )
    try:
        location = await dataproxy.create_upload_location(request)
    except ConnectError as error:
        if error.code == Code.ALREADY_EXISTS:
            raise CodeBundleError(
                f"The control plane holds a different file named {bundle.filename}: {error.message}"
            ) from error
        raise
    headers = {
        "Content-Length": str(len(bundle.data)),
        "Content-MD5": base64.b64encode(bundle.md5).decode(),
        **dict(location.headers),
    }
    await _put(location.signed_url, bundle.data, headers)
    uri = str(location.native_url)
    if cache is not None:
        cache.put(endpoint, project, domain, bundle.digest, uri)
    logger.debug("Uploaded code bundle %s (%d bytes) to %s", bundle.digest, len(bundle.data), uri)
    return uri

"""A blob store in a local directory, with HMAC-signed, expiring upload/download URLs.

The server serves those URLs itself (``PUT/GET /__blob/<key>?expires=...&signature=...``):
the signature covers the method, the key, the expiry and the declared content MD5, so a URL
cannot be reused for another object, another method, or after it expires.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import time
import urllib.parse
from pathlib import Path, PurePosixPath

__all__ = ["SIGNED_PREFIX", "BlobPathError", "LocalBlobStore"]

SIGNED_PREFIX = "/__blob/"


class BlobPathError(ValueError):
    """A key that would escape the store's root (``..``, absolute paths, empty parts)."""


def validate_key(key: str) -> str:
    """``key`` if it is a safe relative path, else :class:`BlobPathError`."""
    if not key or "\\" in key or "\x00" in key:
        raise BlobPathError(f"invalid object key {key!r}")
    path = PurePosixPath(key)
    if path.is_absolute() or any(part in ("", ".", "..") for part in key.split("/")):
        raise BlobPathError(f"invalid object key {key!r}: it must be a relative path without '.' or '..'")
    return key


class LocalBlobStore:
    """Objects as files under ``root``.

    Example:
        >>> store = LocalBlobStore(Path("/tmp/flyte-blobs-doc"), secret=b"k")
        >>> url, headers = store.sign_upload("a/b.txt", expires_in=60, content_md5=None, base_url="http://h")
        >>> store.verify("PUT", "a/b.txt", url.split("?", 1)[1], content_md5=None)
        True
    """

    def __init__(self, root: Path, *, secret: bytes) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._secret = secret

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def native_url(self, key: str) -> str:
        return str(self._path(key))

    def key_of(self, native_url: str) -> str | None:
        path = Path(native_url.removeprefix("file://")).resolve()
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return None

    async def put(self, key: str, data: bytes) -> str:
        path = self._path(key)
        await asyncio.to_thread(_atomic_write, path, data)
        return str(path)

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError):
            return None

    async def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    async def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def _signature(self, method: str, key: str, expires: int, content_md5: str) -> str:
        message = f"{method}\n{key}\n{expires}\n{content_md5}".encode()
        return base64.urlsafe_b64encode(hmac.new(self._secret, message, hashlib.sha256).digest()).decode().rstrip("=")

    def _signed(self, method: str, key: str, expires_in: float, content_md5: str, base_url: str) -> str:
        validate_key(key)
        expires = int(time.time() + expires_in)
        query = {"expires": str(expires), "signature": self._signature(method, key, expires, content_md5)}
        if content_md5:
            query["md5"] = content_md5
        quoted = urllib.parse.quote(key)
        return f"{base_url.rstrip('/')}{SIGNED_PREFIX}{quoted}?{urllib.parse.urlencode(query)}"

    def sign_upload(
        self, key: str, *, expires_in: float, content_md5: bytes | None, base_url: str
    ) -> tuple[str, dict[str, str]]:
        md5 = base64.b64encode(content_md5).decode() if content_md5 else ""
        headers = {"Content-MD5": md5} if md5 else {}
        return self._signed("PUT", key, expires_in, md5, base_url), headers

    def sign_download(self, key: str, *, expires_in: float, base_url: str) -> str:
        return self._signed("GET", key, expires_in, "", base_url)

    def verify(self, method: str, key: str, query_string: str, *, content_md5: str | None) -> bool:
        """Whether a request for ``key`` carries a valid, unexpired signature."""
        query = urllib.parse.parse_qs(query_string)
        try:
            expires = int(query["expires"][0])
            signature = query["signature"][0]
        except (KeyError, ValueError, IndexError):
            return False
        signed_md5 = query.get("md5", [""])[0]
        if expires < time.time():
            return False
        if signed_md5 and content_md5 is not None and content_md5 != signed_md5:
            return False
        expected = self._signature(method, key, expires, signed_md5)
        return hmac.compare_digest(expected, signature)

    def worker_env(self) -> dict[str, str]:
        # fsspec's local filesystem does not create parent directories unless told to.
        return {"FSSPEC_FILE_AUTO_MKDIR": "true"}


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)

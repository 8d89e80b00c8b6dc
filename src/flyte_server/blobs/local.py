"""A blob store in a local directory, with HMAC-signed, expiring upload/download URLs.

The server serves those URLs itself (``PUT/GET /__blob/<key>?expires=...&signature=...``):
the signature covers the method, the key, the expiry and the declared content MD5, so a URL
cannot be reused for another object, another method, or after it expires. Every upload URL
carries an MD5: the PUT must send it as ``Content-MD5`` and its body must match it, and an
object that exists is never replaced by other content (the first upload wins).

When workers run as another user (see :mod:`flyte_server.isolation`), the directories the server
creates are group-writable for the workers' group with the sticky bit set: workers add their
outputs beside the server's files but cannot replace or remove them; ``uploads/`` (code bundles)
stays writable by the server alone.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import stat
import time
import urllib.parse
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from flyte_server.isolation import open_dir_chain, open_worker_file

__all__ = ["SIGNED_PREFIX", "BlobPathError", "LocalBlobStore", "LocalUpload"]

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
        >>> md5 = hashlib.md5(b"hi").digest()
        >>> url, headers = store.sign_upload("a/b.txt", expires_in=60, content_md5=md5, base_url="http://h")
        >>> store.verify("PUT", "a/b.txt", url.split("?", 1)[1], content_md5=headers["Content-MD5"])
        True
        >>> store.verify("PUT", "a/b.txt", url.split("?", 1)[1], content_md5=None)
        False
    """

    def __init__(self, root: Path, *, secret: bytes, worker_gid: int | None = None) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._secret = secret
        self.worker_gid = worker_gid
        """The workers' group when they run as another user: server-made directories are shared with it."""
        if worker_gid is not None:
            _share_dir(self.root, worker_gid)

    def share_with(self, worker_gid: int) -> None:
        """Let workers of group ``worker_gid`` add their files to the store (see the module docstring)."""
        self.worker_gid = worker_gid
        _share_dir(self.root, worker_gid)
        # Projects and domains made before workers had their own user (not uploads/: bundles).
        for project in self.root.iterdir():
            if project.is_dir() and not project.is_symlink() and project.name != "uploads":
                _share_dir(project, worker_gid)
                for domain in project.iterdir():
                    if domain.is_dir() and not domain.is_symlink():
                        _share_dir(domain, worker_gid)

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def native_url(self, key: str) -> str:
        return str(self._path(key))

    def key_of(self, native_url: str) -> str | None:
        raw = native_url.removeprefix("file://")
        if not raw.startswith("/") or "\x00" in raw:
            return None
        # Symlinks are resolved: a link (made by a task) that points out of the store is outside it.
        try:
            path = Path(raw).resolve()
            key = path.relative_to(self.root).as_posix()
        except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
            return None
        return key if key != "." else None

    async def put(self, key: str, data: bytes) -> str:
        path = self._path(key)
        await asyncio.to_thread(self._write, path, data, replace=True)
        return str(path)

    async def put_upload(self, key: str, data: bytes) -> bool:
        """Write ``data`` under ``key`` unless other content is there already; whether it is there now."""
        return await asyncio.to_thread(self._write, self._path(key), data, replace=False)

    def begin_upload(self, key: str) -> LocalUpload:
        """Start writing an upload under ``key`` in pieces (a temporary file beside it); see :class:`LocalUpload`.

        Blocking (it creates directories): call it in a thread.
        """
        path = self._path(key)
        parts = path.relative_to(self.root).parts
        share = self.worker_gid is not None and parts[0] != "uploads"
        directory = open_dir_chain(self.root, parts[:-1], on_create=self._share_new_dir if share else None)
        try:
            return LocalUpload(path, directory, self.root)
        except BaseException:
            os.close(directory)
            raise

    def open_object(self, key: str) -> BinaryIO | None:
        """The object under ``key`` open for reading, ``None`` when there is none; the caller closes it."""
        try:
            return open_worker_file(self._path(key), root=self.root)
        except OSError:
            return None

    async def content_md5(self, key: str) -> bytes | None:
        """The MD5 of the object under ``key``, ``None`` when there is none."""
        try:
            return await asyncio.to_thread(_md5_of, self._path(key), self.root)
        except OSError:
            return None

    def _write(self, path: Path, data: bytes, *, replace: bool) -> bool:
        # Directory by directory from the root, never through a symlink: tasks write into the store,
        # and one could have put a link to /etc where the server is about to write.
        parts = path.relative_to(self.root).parts
        share = self.worker_gid is not None and parts[0] != "uploads"
        directory = open_dir_chain(self.root, parts[:-1], on_create=self._share_new_dir if share else None)
        name = parts[-1]
        temporary = f".{name}.{os.getpid()}.{time.monotonic_ns()}.tmp"
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            with os.fdopen(os.open(temporary, flags, 0o644, dir_fd=directory), "wb") as out:
                out.write(data)
            try:
                if replace:
                    os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
                    return True
                try:
                    # Atomic, and fails when something is there: the first upload wins.
                    os.link(temporary, name, src_dir_fd=directory, dst_dir_fd=directory, follow_symlinks=False)
                    return True
                except FileExistsError:
                    try:
                        return _md5_of(path, self.root) == hashlib.md5(data).digest()
                    except OSError:
                        return False
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary, dir_fd=directory)
        finally:
            os.close(directory)

    def _share_new_dir(self, parent_fd: int, name: str) -> None:
        assert self.worker_gid is not None
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)
        try:
            os.fchown(fd, -1, self.worker_gid)
            os.fchmod(fd, _SHARED_DIR_MODE)
        finally:
            os.close(fd)

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return await asyncio.to_thread(_read_regular_file, path, self.root)
        except OSError:
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
        self, key: str, *, expires_in: float, content_md5: bytes | None, base_url: str, if_absent: bool = False
    ) -> tuple[str, dict[str, str]]:
        # ``if_absent`` needs nothing here: the PUT handler never replaces other content (put_upload).
        if not content_md5:
            raise ValueError("an upload URL needs the content's MD5")
        md5 = base64.b64encode(content_md5).decode()
        headers = {"Content-MD5": md5}
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
        if method == "PUT" and (not signed_md5 or content_md5 != signed_md5):
            return False  # an upload must declare the signed MD5 (its body is then checked against it)
        expected = self._signature(method, key, expires, signed_md5)
        return hmac.compare_digest(expected, signature)

    def worker_env(self) -> dict[str, str]:
        # fsspec's local filesystem does not create parent directories unless told to.
        return {"FSSPEC_FILE_AUTO_MKDIR": "true"}


class LocalUpload:
    """An upload streamed into a temporary file beside its key, then linked into place if nothing else is there.

    Memory stays at one piece however large the object: :meth:`write` each piece as it arrives
    (in a thread), check :attr:`md5`, then :meth:`commit` (the first upload wins, as with
    ``put_upload``) or :meth:`discard`. Both close everything; calling :meth:`discard` after
    :meth:`commit` is harmless.
    """

    def __init__(self, path: Path, directory: int, root: Path) -> None:
        self._path = path
        self._root = root
        self._directory: int | None = directory
        self._name = path.name
        self._temporary = f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        self._out: BinaryIO | None = os.fdopen(os.open(self._temporary, flags, 0o644, dir_fd=directory), "wb")
        self._digest = hashlib.md5()
        self.size = 0
        """Bytes written so far."""

    @property
    def md5(self) -> bytes:
        """The MD5 digest of what was written so far."""
        return self._digest.digest()

    def write(self, data: bytes) -> None:
        assert self._out is not None, "the upload is closed"
        self._out.write(data)
        self._digest.update(data)
        self.size += len(data)

    def commit(self) -> bool:
        """Link the upload in under its key unless other content is there; whether the key holds this content now."""
        assert self._out is not None and self._directory is not None, "the upload is closed"
        self._out.close()
        self._out = None
        try:
            os.link(
                self._temporary,
                self._name,
                src_dir_fd=self._directory,
                dst_dir_fd=self._directory,
                follow_symlinks=False,
            )
            return True
        except FileExistsError:
            try:
                return _md5_of(self._path, self._root) == self.md5
            except OSError:
                return False
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove the temporary file and close what is open."""
        if self._out is not None:
            self._out.close()
            self._out = None
        if self._directory is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._temporary, dir_fd=self._directory)
            os.close(self._directory)
            self._directory = None


def _read_regular_file(path: Path, root: Path) -> bytes:
    # Tasks write into the store: a symlink out of it, a FIFO or a device reads as nothing.
    with open_worker_file(path, root=root) as handle:
        return handle.read()


def _md5_of(path: Path, root: Path) -> bytes:
    digest = hashlib.md5()
    with open_worker_file(path, root=root) as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.digest()


_SHARED_DIR_MODE = stat.S_ISVTX | stat.S_ISGID | 0o775


def _share_dir(path: Path, gid: int) -> None:
    """Group ``gid`` may add entries (rwx); the sticky bit keeps it from removing other owners' files."""
    os.chown(path, -1, gid)
    os.chmod(path, _SHARED_DIR_MODE)

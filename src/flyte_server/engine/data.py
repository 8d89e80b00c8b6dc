"""Reading and writing the small files the engine touches (inputs.pb, outputs.pb, error.pb, logs).

URIs inside the blob store go through it (local directory or S3) and ``data:`` URIs (small inputs
our SDK sends inline, see ``INLINE_DATA_MAX``) are decoded; nothing else is read or written — not
paths outside the store, not ``http://`` or any other scheme (the server fetches no URL a client
names).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from flyte._internal.runtime.storage import inline_bytes, inline_uri
from flyte_server.blobs import BlobStore
from flyte_server.blobs.local import LocalBlobStore
from flyte_server.isolation import open_worker_file

__all__ = ["INLINE_DATA_MAX", "DataAccess", "inline_data", "inline_uri"]

INLINE_DATA_MAX = 4096
"""Inputs and outputs up to this many bytes may travel inline, as ``data:`` URIs: a child's inputs in
its ``input_uri`` (the server tells attempts so through ``_F_INLINE_INPUTS_MAX``), a reused worker's
outputs in the attempt's result and then in ``output_uri``. A fan-out of small children then creates
no file per child."""


def inline_data(uri: str) -> bytes | None:
    """The bytes of a base64 ``data:`` URI, or ``None`` when it is not one (or is malformed)."""
    try:
        return inline_bytes(uri)
    except FileNotFoundError:
        return None


def _local_path(uri: str) -> Path | None:
    if uri.startswith("file://"):
        return Path(uri.removeprefix("file://"))
    if uri.startswith("/"):
        return Path(uri)
    return None


def _read_file(path: Path) -> bytes | None:
    try:
        with open_worker_file(path) as handle:  # tasks write here: no FIFOs or devices
            return handle.read()
    except OSError:
        return None


class DataAccess:
    """Bytes at URIs of the blob store (or inline ``data:`` URIs); nothing anywhere else.

    The server reads and writes only its own store: a URI outside it reads as missing and cannot
    be written (see :mod:`flyte_server.engine.locations`, which refuses such URIs on the way in).
    A local store's paths are resolved first, so a symlink a task left in the store that points
    out of it (to the server's key, say) is outside too.
    """

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs
        self._local_root = blobs.root if isinstance(blobs, LocalBlobStore) else None

    def _inside_local_store(self, path: Path) -> Path | None:
        root = self._local_root
        if root is None:
            return None
        try:
            resolved = path.resolve()
            resolved.relative_to(root)
        except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
            return None
        return resolved

    async def read(self, uri: str) -> bytes | None:
        """The bytes at ``uri``, or ``None`` when there is nothing there (or it is not the server's to read)."""
        if not uri:
            return None
        if uri.startswith("data:"):
            return inline_data(uri)
        path = _local_path(uri)
        if path is not None:
            # A local store's native URLs are these very paths: no need to map them to keys.
            inside = self._inside_local_store(path)
            return await asyncio.to_thread(_read_file, inside) if inside is not None else None
        key = self.blobs.key_of(uri)
        if key is None:
            return None
        try:
            return await self.blobs.get(key)
        except ValueError:
            return None

    async def write(self, uri: str, data: bytes) -> None:
        """Write ``data`` at ``uri``.

        Raises:
            ValueError: ``uri`` is not a location of the store.
        """
        key = self.blobs.key_of(uri)
        if key is None:
            raise ValueError(f"{uri!r} is not a location of this server's store")
        await self.blobs.put(key, data)

    async def delete(self, uri: str) -> None:
        """Remove the object at ``uri`` if it is one of the store's (nothing there is fine)."""
        key = self.blobs.key_of(uri)
        if key is not None:
            await self.blobs.delete(key)

    async def attempt_files(self, output_dir: str) -> tuple[bytes | None, bytes | None, bool]:
        """``error.pb`` and ``outputs.pb`` of an attempt, and whether it left a ``report.html``."""
        path = _local_path(output_dir)
        if path is not None:
            inside = self._inside_local_store(path)
            if inside is None:
                return None, None, False
            # Small local files: reading them inline is cheaper than a hop to a thread.
            error, outputs = (self._checked_read(inside / name) for name in ("error.pb", "outputs.pb"))
            return error, outputs, (inside / "report.html").is_file()
        error, outputs, report = await asyncio.gather(
            self.read(f"{output_dir}/error.pb"),
            self.read(f"{output_dir}/outputs.pb"),
            self.exists(f"{output_dir}/report.html"),
        )
        return error, outputs, report

    def _checked_read(self, path: Path) -> bytes | None:
        inside = self._inside_local_store(path)
        return _read_file(inside) if inside is not None else None

    async def exists(self, uri: str) -> bool:
        """Whether there is an object at ``uri`` (in the store, or inline)."""
        if uri.startswith("data:"):
            return inline_data(uri) is not None
        path = _local_path(uri)
        if path is not None:
            inside = self._inside_local_store(path)
            return inside is not None and inside.is_file()
        key = self.blobs.key_of(uri)
        if key is None:
            return False
        try:
            return await self.blobs.exists(key)
        except ValueError:
            return False

"""Reading and writing the small files the engine touches (inputs.pb, outputs.pb, error.pb, logs).

URIs inside the blob store go through it (local directory or S3); absolute paths outside it (a
user's ``run_base_dir``) through the filesystem; ``data:`` URIs (small inputs our SDK sends inline,
see ``INLINE_DATA_MAX``) are decoded; anything else goes through fsspec.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from flyte._internal.runtime.storage import inline_bytes, inline_uri
from flyte_server.blobs import BlobStore

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
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


class DataAccess:
    """Bytes at URIs, through the blob store when they are inside it."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs

    async def read(self, uri: str) -> bytes | None:
        """The bytes at ``uri``, or ``None`` when there is nothing there."""
        if not uri:
            return None
        if uri.startswith("data:"):
            return inline_data(uri)
        path = _local_path(uri)
        if path is not None:
            # A local store's native URLs are these very paths: no need to map them to keys.
            return await asyncio.to_thread(_read_file, path)
        key = self.blobs.key_of(uri)
        if key is not None:
            try:
                return await self.blobs.get(key)
            except ValueError:
                return None
        path = _local_path(uri)
        if path is not None:
            return await asyncio.to_thread(_read_file, path)
        return await asyncio.to_thread(_read_fsspec, uri)

    async def write(self, uri: str, data: bytes) -> None:
        """Write ``data`` at ``uri``."""
        path = _local_path(uri)
        if path is not None:
            await asyncio.to_thread(_write_file, path, data)
            return
        key = self.blobs.key_of(uri)
        if key is not None:
            await self.blobs.put(key, data)
            return
        path = _local_path(uri)
        if path is not None:
            await asyncio.to_thread(_write_file, path, data)
            return
        await asyncio.to_thread(_write_fsspec, uri, data)

    async def attempt_files(self, output_dir: str) -> tuple[bytes | None, bytes | None, bool]:
        """``error.pb`` and ``outputs.pb`` of an attempt, and whether it left a ``report.html``."""
        path = _local_path(output_dir)
        if path is not None:
            # Small local files: reading them inline is cheaper than a hop to a thread.
            return (
                _read_file(path / "error.pb"),
                _read_file(path / "outputs.pb"),
                (path / "report.html").is_file(),
            )
        error, outputs, report = await asyncio.gather(
            self.read(f"{output_dir}/error.pb"),
            self.read(f"{output_dir}/outputs.pb"),
            self.exists(f"{output_dir}/report.html"),
        )
        return error, outputs, report

    async def exists(self, uri: str) -> bool:
        """Whether there is an object at ``uri``."""
        if uri.startswith("data:"):
            return inline_data(uri) is not None
        path = _local_path(uri)
        if path is not None:
            return path.is_file()
        key = self.blobs.key_of(uri)
        if key is not None:
            try:
                return await self.blobs.exists(key)
            except ValueError:
                return False
        path = _local_path(uri)
        if path is not None:
            return path.is_file()
        return await self.read(uri) is not None


def _read_fsspec(uri: str) -> bytes | None:
    import fsspec

    try:
        with fsspec.open(uri, "rb") as handle:
            data: bytes = handle.read()
            return data
    except (FileNotFoundError, OSError, ValueError, ImportError):
        return None


def _write_fsspec(uri: str, data: bytes) -> None:
    import fsspec

    with fsspec.open(uri, "wb") as handle:
        handle.write(data)

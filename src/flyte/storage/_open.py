"""Async file handles over fsspec files: ``await storage.open(path)`` and ``async with``."""

from __future__ import annotations

import asyncio
import builtins
import os
from types import TracebackType
from typing import IO, Any

from flyte.storage._filesystem import get_underlying_filesystem, is_remote, local_path

__all__ = ["AsyncFile", "open", "open_sync"]


class AsyncFile:
    """An open file whose I/O methods are coroutines.

    Local files are read and written directly (the calls are short); remote files run each call
    on a worker thread so a slow network does not stall the event loop.

    Example:
        >>> import asyncio
        >>> async def roundtrip(path):
        ...     async with await open(path, "wb") as f:
        ...         await f.write(b"abc")
        ...     async with await open(path, "rb") as f:
        ...         return await f.read()
    """

    def __init__(self, handle: IO[Any], *, remote: bool, path: str) -> None:
        self._handle = handle
        self._remote = remote
        self.path = path
        """Where the file lives."""

    async def _call(self, method: str, *args: Any) -> Any:
        bound = getattr(self._handle, method)
        if self._remote:
            return await asyncio.to_thread(bound, *args)
        return bound(*args)

    async def read(self, size: int = -1) -> Any:
        """Read up to ``size`` bytes (all remaining when negative)."""
        return await self._call("read", size)

    async def readline(self) -> Any:
        """Read one line."""
        return await self._call("readline")

    async def write(self, data: Any) -> int:
        """Write ``data``; returns the number of bytes (or characters) written."""
        written = await self._call("write", data)
        return int(written) if written is not None else len(data)

    async def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move the position; returns the new position."""
        return int(await self._call("seek", offset, whence))

    async def tell(self) -> int:
        """Return the position."""
        return int(await self._call("tell"))

    async def flush(self) -> None:
        """Flush buffered writes."""
        await self._call("flush")

    async def close(self) -> None:
        """Close the file (for object stores this completes the upload)."""
        await self._call("close")

    @property
    def closed(self) -> bool:
        """Whether the file is closed."""
        return bool(self._handle.closed)

    @property
    def sync_handle(self) -> IO[Any]:
        """The underlying blocking file object."""
        return self._handle

    def __aiter__(self) -> AsyncFile:
        return self

    async def __anext__(self) -> Any:
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    async def __aenter__(self) -> AsyncFile:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()


def open_sync(path: str, mode: str = "rb", **kwargs: Any) -> IO[Any]:
    """Open ``path`` (local or remote) and return a blocking file object.

    Parent directories of a local file opened for writing are created.

    Example:
        >>> with open_sync("/tmp/flyte-open-doc.txt", "w") as f:
        ...     _ = f.write("hi")
    """
    if not is_remote(path):
        target = local_path(path)
        if any(flag in mode for flag in "wax"):
            os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        return builtins.open(target, mode)
    fs = get_underlying_filesystem(path=path)
    handle: IO[Any] = fs.open(path, mode, **kwargs)
    return handle


async def open(path: str, mode: str = "rb", **kwargs: Any) -> AsyncFile:
    """Open ``path`` (local or remote) for async reading or writing.

    Args:
        path: a local path or URI.
        mode: ``"rb"``, ``"wb"``, ``"r"``, ``"w"``, ...
        **kwargs: passed to the fsspec ``open`` (``block_size``, ``cache_type``, ``compression``...).

    Example:
        >>> import asyncio
        >>> async def first_line(path):
        ...     async with await open(path, "r") as f:
        ...         return await f.readline()
    """
    remote = is_remote(path)
    if remote:
        handle = await asyncio.to_thread(open_sync, path, mode, **kwargs)
    else:
        handle = open_sync(path, mode, **kwargs)
    return AsyncFile(handle, remote=remote, path=path)

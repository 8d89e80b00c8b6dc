"""Moving bytes: upload, download, existence checks and streaming, with retries.

Local-to-local copies take the kernel's fast path (``shutil.copyfile`` uses ``sendfile`` or
``copy_file_range`` on Linux). Object stores get multi-part transfers: ``s3fs`` uploads and
downloads large objects in concurrent parts; for filesystems without that, large downloads are
split into byte ranges fetched concurrently and written in place. Transient failures (connection
resets, timeouts, throttling) are retried with exponential backoff per the storage settings.

The blocking fsspec calls run on worker threads, so the async API never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import inspect
import logging
import os
import shutil
from collections.abc import AsyncGenerator, AsyncIterable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from flyte.storage._config import retry_settings
from flyte.storage._filesystem import (
    get_random_local_directory,
    get_random_local_path,
    get_underlying_filesystem,
    is_remote,
    local_path,
    random_remote_path,
)

if TYPE_CHECKING:
    import fsspec
    from tenacity import RetryCallState

__all__ = ["exists", "exists_sync", "get", "get_stream", "put", "put_stream", "with_retries"]

T = TypeVar("T")
logger = logging.getLogger("flyte.storage")

DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024
"""The part size of multi-part transfers."""
DEFAULT_MAX_CONCURRENCY = 8
"""How many parts (or files of a directory) are in flight at once."""

# Errors that say the request will fail again however often it is retried.
_PERMANENT_ERRORS = (
    FileNotFoundError,
    FileExistsError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
    ValueError,
    TypeError,
)


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, _PERMANENT_ERRORS):
        return False
    if isinstance(error, (ConnectionError, TimeoutError, asyncio.TimeoutError)):
        return True
    if isinstance(error, OSError):
        return error.errno in (errno.EAGAIN, errno.EBUSY, errno.ETIMEDOUT, errno.ECONNRESET, None)
    # aiohttp / botocore errors are not OSError; recognise them by name to avoid importing them.
    names = {cls.__name__ for cls in type(error).__mro__}
    return bool(
        names
        & {
            "ClientConnectionError",
            "ServerDisconnectedError",
            "ClientPayloadError",
            "EndpointConnectionError",
            "ReadTimeoutError",
            "ConnectTimeoutError",
        }
    )


async def with_retries(operation: Callable[[], T], *, description: str) -> T:
    """Run the blocking ``operation`` on a worker thread, retrying transient failures.

    Args:
        operation: a blocking callable.
        description: what the operation does, for the log.

    Example:
        >>> asyncio.run(with_retries(lambda: 1 + 1, description="add"))
        2
    """
    from flyte._internal.retrying import call_with_retries, transient_retrying

    retries, backoff = retry_settings()

    def warn(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        logger.warning(
            "%s failed (%s: %s); retry %d in %.1fs",
            description,
            type(error).__name__,
            error,
            state.attempt_number,
            delay,
        )

    retrying = transient_retrying(
        _is_transient,
        attempts=retries + 1,
        first_delay=backoff,
        max_delay=max(backoff * 2**retries, backoff),
        before_sleep=warn,
    )
    return await call_with_retries(lambda: asyncio.to_thread(operation), retrying)


def _accepts(method: Callable[..., Any], parameter: str) -> bool:
    try:
        return parameter in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


def _copy_local_file(source: str, destination: str) -> None:
    os.makedirs(os.path.dirname(destination) or ".", exist_ok=True)
    shutil.copyfile(source, destination)


def _copy_local_tree(source: str, destination: str) -> None:
    shutil.copytree(source, destination, dirs_exist_ok=True, copy_function=shutil.copyfile)


def _local_files(root: str) -> list[str]:
    found: list[str] = []
    for directory, _, names in os.walk(root):
        found.extend(os.path.join(directory, name) for name in names)
    return sorted(found)


def _ranged_download(
    fs: fsspec.AbstractFileSystem, rpath: str, lpath: str, size: int, chunk: int, workers: int
) -> None:
    """Fetch ``rpath`` in byte ranges on ``workers`` threads, writing each part in place."""
    from concurrent.futures import ThreadPoolExecutor

    os.makedirs(os.path.dirname(lpath) or ".", exist_ok=True)
    fd = os.open(lpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.ftruncate(fd, size)

        def fetch(start: int) -> None:
            data = fs.cat_file(rpath, start=start, end=min(start + chunk, size))
            os.pwrite(fd, data, start)

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="flyte-download") as pool:
            list(pool.map(fetch, range(0, size, chunk)))
    finally:
        os.close(fd)


def _download_file(
    fs: fsspec.AbstractFileSystem, rpath: str, lpath: str, chunk_size: int | None, max_concurrency: int | None
) -> None:
    chunk = chunk_size or DEFAULT_CHUNK_SIZE
    workers = max_concurrency or DEFAULT_MAX_CONCURRENCY
    if _accepts(fs.get_file, "max_concurrency") or _accepts(getattr(fs, "_get_file", fs.get_file), "max_concurrency"):
        os.makedirs(os.path.dirname(lpath) or ".", exist_ok=True)
        fs.get_file(rpath, lpath, chunksize=chunk, max_concurrency=workers)
        return
    size = fs.size(rpath)
    if size is not None and size >= max(2 * chunk, 1) and workers > 1:
        _ranged_download(fs, rpath, lpath, int(size), chunk, workers)
        return
    os.makedirs(os.path.dirname(lpath) or ".", exist_ok=True)
    fs.get_file(rpath, lpath)


def _upload_file(
    fs: fsspec.AbstractFileSystem, lpath: str, rpath: str, chunk_size: int | None, max_concurrency: int | None
) -> None:
    if _accepts(getattr(fs, "_put_file", fs.put_file), "max_concurrency"):
        fs.put_file(
            lpath,
            rpath,
            chunksize=chunk_size or DEFAULT_CHUNK_SIZE,
            max_concurrency=max_concurrency or DEFAULT_MAX_CONCURRENCY,
        )
        return
    fs.put_file(lpath, rpath)


async def get(from_path: str, to_path: str | Path | None = None, recursive: bool = False, **kwargs: Any) -> str:
    """Download ``from_path`` (a file, or a directory with ``recursive=True``) to a local path.

    Args:
        from_path: a local path or a URI (``s3://bucket/key``).
        to_path: where to write it; a fresh scratch location when omitted.
        recursive: copy a whole directory.
        **kwargs: ``chunk_size`` and ``max_concurrency`` tune multi-part downloads.

    Returns:
        The local path written.

    Example:
        >>> import flyte.storage
        >>> local = asyncio.run(flyte.storage.get("s3://bucket/data.csv"))  # doctest: +SKIP
    """
    chunk_size: int | None = kwargs.pop("chunk_size", None)
    max_concurrency: int | None = kwargs.pop("max_concurrency", None)
    source = from_path if is_remote(from_path) else local_path(from_path)
    if to_path is None:
        name = os.path.basename(source.rstrip("/")) or None
        to_path = (get_random_local_directory() / name) if recursive and name else get_random_local_path(name)
    destination = local_path(to_path)
    if not is_remote(source):
        if os.path.abspath(source) == os.path.abspath(destination):
            return destination
        if os.path.isdir(source):
            await asyncio.to_thread(_copy_local_tree, source, destination)
        else:
            await asyncio.to_thread(_copy_local_file, source, destination)
        return destination
    fs = get_underlying_filesystem(path=source, **kwargs)
    if recursive or await asyncio.to_thread(fs.isdir, source):
        await with_retries(lambda: _download_tree(fs, source, destination), description=f"download {source}")
    else:
        await with_retries(
            lambda: _download_file(fs, source, destination, chunk_size, max_concurrency),
            description=f"download {source}",
        )
    return destination


def _download_tree(fs: fsspec.AbstractFileSystem, source: str, destination: str) -> None:
    root = fs._strip_protocol(source).rstrip("/")
    remote_files = [path for path in fs.find(source) if not path.endswith("/")]
    os.makedirs(destination, exist_ok=True)
    if not remote_files:
        return
    local_files = [os.path.join(destination, os.path.relpath(path, root)) for path in remote_files]
    for path in local_files:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    fs.get([f"{protocol}://{path}" for path in remote_files], local_files)


async def put(
    from_path: str,
    to_path: str | None = None,
    recursive: bool = False,
    batch_size: int | None = None,
    chunk_size: int | None = None,
    max_concurrency: int | None = None,
    **kwargs: Any,
) -> str:
    """Upload the local file (or directory, with ``recursive=True``) ``from_path`` to ``to_path``.

    Args:
        from_path: the local file or directory.
        to_path: the destination; a fresh location under the raw-data path when omitted.
        recursive: upload a whole directory.
        batch_size: how many files of a directory are uploaded at once.
        chunk_size: the part size of multi-part uploads.
        max_concurrency: how many parts are uploaded at once.
        **kwargs: extra filesystem arguments.

    Returns:
        Where the data now lives.

    Example:
        >>> import flyte.storage
        >>> remote = asyncio.run(flyte.storage.put("/tmp/data.csv", "s3://bucket/data.csv"))  # doctest: +SKIP
    """
    source = local_path(from_path)
    if to_path is None:
        to_path = random_remote_path(os.path.basename(source.rstrip("/")) or None)
    is_directory = os.path.isdir(source)
    if not is_remote(to_path):
        destination = local_path(to_path)
        if os.path.abspath(source) != os.path.abspath(destination):
            if is_directory:
                await asyncio.to_thread(_copy_local_tree, source, destination)
            else:
                await asyncio.to_thread(_copy_local_file, source, destination)
        return to_path
    fs = get_underlying_filesystem(path=to_path, **kwargs)
    if is_directory:
        if not recursive:
            raise IsADirectoryError(f"{source} is a directory: pass recursive=True to upload it")
        await _upload_tree(fs, source, to_path, batch_size, chunk_size, max_concurrency)
    else:
        await with_retries(
            lambda: _upload_file(fs, source, to_path, chunk_size, max_concurrency), description=f"upload {source}"
        )
    return to_path


async def _upload_tree(
    fs: fsspec.AbstractFileSystem,
    source: str,
    to_path: str,
    batch_size: int | None,
    chunk_size: int | None,
    max_concurrency: int | None,
) -> None:
    files = await asyncio.to_thread(_local_files, source)
    semaphore = asyncio.Semaphore(batch_size or DEFAULT_MAX_CONCURRENCY)
    base = to_path.rstrip("/")

    async def one(path: str) -> None:
        relative = os.path.relpath(path, source).replace(os.sep, "/")
        target = f"{base}/{relative}"
        async with semaphore:
            await with_retries(
                lambda: _upload_file(fs, path, target, chunk_size, max_concurrency), description=f"upload {path}"
            )

    await asyncio.gather(*(one(path) for path in files))


async def exists(path: str, **kwargs: Any) -> bool:
    """Return whether a file or directory exists at ``path``.

    Example:
        >>> asyncio.run(exists("/definitely/not/here"))
        False
    """
    if not is_remote(path):
        return os.path.exists(local_path(path))
    fs = get_underlying_filesystem(path=path, **kwargs)
    return await with_retries(lambda: bool(fs.exists(path)), description=f"exists {path}")


def exists_sync(path: str, **kwargs: Any) -> bool:
    """Blocking variant of :func:`exists`.

    Example:
        >>> exists_sync("/")
        True
    """
    if not is_remote(path):
        return os.path.exists(local_path(path))
    return bool(get_underlying_filesystem(path=path, **kwargs).exists(path))


async def get_stream(path: str, chunk_size: int = 10 * 1024 * 1024, **kwargs: Any) -> AsyncGenerator[bytes, None]:
    """Yield the bytes at ``path`` in chunks of at most ``chunk_size`` without loading it whole.

    Example:
        >>> async def size(path):
        ...     return sum([len(c) async for c in get_stream(path)])
    """
    if not is_remote(path):
        with open(local_path(path), "rb") as handle:
            while True:
                chunk = await asyncio.to_thread(handle.read, chunk_size)
                if not chunk:
                    return
                yield chunk
    fs = get_underlying_filesystem(path=path, **kwargs)
    handle = await with_retries(lambda: fs.open(path, "rb", block_size=chunk_size), description=f"open {path}")
    try:
        while True:
            chunk = await asyncio.to_thread(handle.read, chunk_size)
            if not chunk:
                return
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)


async def put_stream(
    data_iterable: AsyncIterable[bytes] | bytes,
    *,
    name: str | None = None,
    to_path: str | None = None,
    size_hint: int | None = None,
    chunk_size: int | None = None,
    max_concurrency: int | None = None,
    **kwargs: Any,
) -> str:
    """Write bytes (or an async stream of byte chunks) to ``to_path`` and return the path.

    Args:
        data_iterable: the data, whole or as an async iterable of chunks.
        name: the file name under a fresh raw-data location, when ``to_path`` is omitted.
        to_path: the destination.
        size_hint: the expected total size (unused by fsspec stores, accepted for compatibility).
        chunk_size: the part size for object stores.
        max_concurrency: accepted for compatibility; streamed parts are written in order.
        **kwargs: extra filesystem arguments.

    Example:
        >>> path = asyncio.run(put_stream(b"hello", name="greeting.txt"))
        >>> from pathlib import Path
        >>> Path(path).read_bytes()
        b'hello'
    """
    del size_hint, max_concurrency
    destination = to_path or random_remote_path(name)
    if not is_remote(destination):
        target = local_path(destination)
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        try:
            with open(target, "wb") as handle:
                if isinstance(data_iterable, (bytes, bytearray, memoryview)):
                    handle.write(data_iterable)
                else:
                    async for chunk in data_iterable:
                        handle.write(chunk)
        except BaseException:
            # A partial file (a full disk, a cancelled stream) must not pass for the data.
            with contextlib.suppress(OSError):
                os.unlink(target)
            raise
        return destination
    fs = get_underlying_filesystem(path=destination, **kwargs)
    if isinstance(data_iterable, (bytes, bytearray, memoryview)):
        payload = bytes(data_iterable)
        await with_retries(lambda: fs.pipe_file(destination, payload), description=f"write {destination}")
        return destination
    options = {"block_size": chunk_size} if chunk_size else {}
    handle = await asyncio.to_thread(fs.open, destination, "wb", **options)
    try:
        async for chunk in data_iterable:
            await asyncio.to_thread(handle.write, chunk)
    finally:
        await asyncio.to_thread(handle.close)
    return destination

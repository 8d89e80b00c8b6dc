"""Where the type engine reads and writes data that does not travel inline in a literal.

This is the seam between the type engine and storage; it delegates to :mod:`flyte.storage`
(imported on first use, so importing the type engine stays free of fsspec). Inside a task the
raw-data location is the action's raw-data path; outside one it is a temporary directory (or
``$FLYTE_RAW_DATA_PATH``).
"""

from __future__ import annotations

__all__ = ["new_raw_data_uri", "raw_data_path", "read_bytes", "write_bytes"]


def raw_data_path() -> str:
    """Return the directory (or URI prefix) where offloaded values are written.

    Example:
        >>> isinstance(raw_data_path(), str)
        True
    """
    from flyte.storage._filesystem import raw_data_prefix

    return raw_data_prefix()


def new_raw_data_uri(name: str) -> str:
    """Return a fresh, unused location under :func:`raw_data_path` ending in ``name``.

    Example:
        >>> new_raw_data_uri("v.pkl").endswith("/v.pkl")
        True
    """
    from flyte.storage._filesystem import random_remote_path

    return random_remote_path(name)


async def write_bytes(uri: str, data: bytes) -> str:
    """Write ``data`` to ``uri`` (a local path or any storage URI) and return the URI.

    Example:
        >>> import asyncio
        >>> uri = asyncio.run(write_bytes(new_raw_data_uri("x.bin"), b"abc"))
        >>> asyncio.run(read_bytes(uri))
        b'abc'
    """
    from flyte.storage import put_stream

    return await put_stream(data, to_path=uri)


async def read_bytes(uri: str) -> bytes:
    """Read all bytes stored at ``uri`` (a local path, ``file://`` or any storage URI).

    Example:
        >>> import asyncio
        >>> asyncio.run(read_bytes(asyncio.run(write_bytes(new_raw_data_uri("y"), b"1"))))
        b'1'
    """
    from flyte.storage import get_stream

    return b"".join([chunk async for chunk in get_stream(uri)])

"""Where the type engine reads and writes data that does not travel inline in a literal.

This is the seam between the type engine and storage. For now it uses the local filesystem (a
temporary raw-data directory) and ``fsspec`` for reading URIs written by other SDKs; the runtime
will replace :func:`raw_data_path` with the action's raw output prefix.
"""

from __future__ import annotations

import os
import tempfile
import uuid

__all__ = ["new_raw_data_uri", "raw_data_path", "read_bytes", "write_bytes"]

_RAW_DATA_ENV = "FLYTE_RAW_DATA_PATH"


def raw_data_path() -> str:
    """Return the directory (or URI prefix) where offloaded values are written.

    It is ``$FLYTE_RAW_DATA_PATH`` when set, else a ``flyte-raw`` folder in the temp directory.

    Example:
        >>> raw_data_path().endswith("flyte-raw") or "FLYTE_RAW_DATA_PATH" in os.environ
        True
    """
    configured = os.environ.get(_RAW_DATA_ENV)
    if configured:
        return configured
    return os.path.join(tempfile.gettempdir(), "flyte-raw")


def new_raw_data_uri(name: str) -> str:
    """Return a fresh, unused location under :func:`raw_data_path` ending in ``name``.

    Example:
        >>> new_raw_data_uri("v.pkl").endswith("/v.pkl")
        True
    """
    return f"{raw_data_path().rstrip('/')}/{uuid.uuid4().hex}/{name}"


def _is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def _local_path(uri: str) -> str:
    return uri[len("file://") :] if uri.startswith("file://") else uri


async def write_bytes(uri: str, data: bytes) -> str:
    """Write ``data`` to ``uri`` and return the URI.

    Example:
        >>> import asyncio
        >>> uri = asyncio.run(write_bytes(new_raw_data_uri("x.bin"), b"abc"))
        >>> asyncio.run(read_bytes(uri))
        b'abc'
    """
    if _is_local(uri):
        path = _local_path(uri)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return uri
    import fsspec

    with fsspec.open(uri, "wb") as f:
        f.write(data)
    return uri


async def read_bytes(uri: str) -> bytes:
    """Read all bytes stored at ``uri`` (a local path, ``file://`` or any fsspec URI).

    Example:
        >>> import asyncio
        >>> asyncio.run(read_bytes(asyncio.run(write_bytes(new_raw_data_uri("y"), b"1"))))
        b'1'
    """
    if _is_local(uri):
        with open(_local_path(uri), "rb") as f:
            return f.read()
    import fsspec

    with fsspec.open(uri, "rb") as f:
        data: bytes = f.read()
        return data

"""The runtime's file access (inputs, outputs, errors, bundles) as whole-object reads and writes.

A thin layer over :mod:`flyte.storage`, which handles local paths (creating parent directories)
and object stores; for ``s3://`` it reads ``FLYTE_AWS_ENDPOINT`` / ``FLYTE_AWS_ACCESS_KEY_ID`` /
``FLYTE_AWS_SECRET_ACCESS_KEY`` (what a Flyte backend sets in task processes) unless
``flyte.init(storage=...)`` configured something else.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

__all__ = ["download", "exists", "inline_bytes", "inline_limit", "inline_uri", "join", "read_bytes", "write_bytes"]

INLINE_LIMIT_ENV = "_F_INLINE_INPUTS_MAX"
"""Set by a backend that accepts small inputs inline (``flyte start server``): the most bytes it takes."""

_INLINE_PREFIX = "data:application/x-protobuf;base64,"


def inline_limit() -> int:
    """How many bytes of inputs the backend accepts inline in an ``input_uri`` (0: none, write a file)."""
    try:
        return max(0, int(os.environ.get(INLINE_LIMIT_ENV, "0")))
    except ValueError:
        return 0


def inline_uri(data: bytes) -> str:
    """An RFC 2397 ``data:`` URI holding ``data`` (what :func:`read_bytes` reads back).

    Example:
        >>> inline_uri(b"hi")
        'data:application/x-protobuf;base64,aGk='
    """
    return _INLINE_PREFIX + base64.b64encode(data).decode("ascii")


def inline_bytes(uri: str) -> bytes:
    """The bytes of a base64 ``data:`` URI.

    Raises:
        FileNotFoundError: ``uri`` is not a base64 ``data:`` URI (nothing can be read from it).
    """
    header, _, payload = uri.partition(",")
    if not header.startswith("data:") or not header.endswith(";base64"):
        raise FileNotFoundError(f"unsupported data URI (only base64 is read): {uri[:60]}")
    try:
        return base64.b64decode(payload, validate=True)
    except binascii.Error as error:
        raise FileNotFoundError(f"malformed data URI: {error}") from error


def join(base: str, *parts: str) -> str:
    """``base/part/...`` without doubled slashes (works for paths and URIs).

    Example:
        >>> join("s3://bucket/run/", "a0", "inputs.pb")
        's3://bucket/run/a0/inputs.pb'
    """
    return "/".join([base.rstrip("/"), *(part.strip("/") for part in parts)])


async def read_bytes(uri: str) -> bytes:
    """The contents of ``uri`` (a path, an object store URI, or a ``data:`` URI of inline bytes).

    Raises:
        FileNotFoundError: nothing is stored there.
    """
    from flyte.storage import get_stream, is_remote
    from flyte.storage._filesystem import local_path

    if uri.startswith("data:"):
        return inline_bytes(uri)
    if not is_remote(uri):
        return Path(local_path(uri)).read_bytes()
    return b"".join([chunk async for chunk in get_stream(uri)])


async def write_bytes(uri: str, data: bytes) -> None:
    """Store ``data`` at ``uri`` (creating local parent directories)."""
    from flyte.storage import put_stream

    await put_stream(data, to_path=uri)


async def exists(uri: str) -> bool:
    """Whether something is stored at ``uri``."""
    from flyte.storage import exists as storage_exists

    return await storage_exists(uri)


async def download(uri: str, destination: Path) -> Path:
    """Copy ``uri`` to the local file ``destination`` and return it."""
    from flyte.storage import get

    destination.parent.mkdir(parents=True, exist_ok=True)
    return Path(await get(uri, to_path=destination))

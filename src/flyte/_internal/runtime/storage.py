"""The runtime's file access (inputs, outputs, errors, bundles) as whole-object reads and writes.

A thin layer over :mod:`flyte.storage`, which handles local paths (creating parent directories)
and object stores; for ``s3://`` it reads ``FLYTE_AWS_ENDPOINT`` / ``FLYTE_AWS_ACCESS_KEY_ID`` /
``FLYTE_AWS_SECRET_ACCESS_KEY`` (what a Flyte backend sets in task processes) unless
``flyte.init(storage=...)`` configured something else.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["download", "exists", "join", "read_bytes", "write_bytes"]


def join(base: str, *parts: str) -> str:
    """``base/part/...`` without doubled slashes (works for paths and URIs).

    Example:
        >>> join("s3://bucket/run/", "a0", "inputs.pb")
        's3://bucket/run/a0/inputs.pb'
    """
    return "/".join([base.rstrip("/"), *(part.strip("/") for part in parts)])


async def read_bytes(uri: str) -> bytes:
    """The contents of ``uri``.

    Raises:
        FileNotFoundError: nothing is stored there.
    """
    from flyte.storage import get_stream, is_remote
    from flyte.storage._filesystem import local_path

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

"""Storage: read and write local paths and object stores (S3, GCS, Azure) through fsspec.

Paths without a scheme are local; ``s3://``, ``gs://``, ``abfs://`` and any other fsspec
protocol go to the matching store, configured once per process with ``flyte.init(storage=...)``
or :func:`set_default_config`. Transfers are async, multi-part for large objects, and retried on
transient errors.

Example:
    >>> import asyncio
    >>> import flyte.storage
    >>> path = asyncio.run(flyte.storage.put_stream(b"hello", name="hello.txt"))
    >>> copy = asyncio.run(flyte.storage.get(path))
    >>> from pathlib import Path
    >>> Path(copy).read_bytes()
    b'hello'
"""

from __future__ import annotations

from flyte.storage._config import (
    ABFS,
    GCS,
    S3,
    Storage,
    get_config,
    get_configured_fsspec_kwargs,
    set_default_config,
)
from flyte.storage._filesystem import (
    get_random_local_directory,
    get_random_local_path,
    get_underlying_filesystem,
    is_remote,
    join,
)
from flyte.storage._offload import load_offloaded, offload_literal
from flyte.storage._open import open
from flyte.storage._transfer import exists, exists_sync, get, get_stream, put, put_stream

__all__ = [
    "ABFS",
    "GCS",
    "S3",
    "Storage",
    "exists",
    "exists_sync",
    "get",
    "get_config",
    "get_configured_fsspec_kwargs",
    "get_random_local_directory",
    "get_random_local_path",
    "get_stream",
    "get_underlying_filesystem",
    "is_remote",
    "join",
    "load_offloaded",
    "offload_literal",
    "open",
    "put",
    "put_stream",
    "set_default_config",
]

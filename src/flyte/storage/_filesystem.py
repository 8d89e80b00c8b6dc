"""Paths and filesystems: which fsspec filesystem serves a path, and where scratch data goes.

A path without a scheme (or with ``file://``) is local; anything else (``s3://``, ``gs://``,
``abfs://``, ``memory://``, ...) is served by the fsspec filesystem registered for its protocol,
built with the configured storage settings and cached per protocol.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte.storage._config import get_configured_fsspec_kwargs

if TYPE_CHECKING:
    import fsspec

__all__ = [
    "clear_filesystem_cache",
    "get_random_local_directory",
    "get_random_local_path",
    "get_underlying_filesystem",
    "is_remote",
    "join",
    "local_path",
    "needs_offload",
    "protocol_of",
    "random_remote_path",
    "raw_data_prefix",
]

_LOCAL_PROTOCOLS = frozenset({"file", "local"})
_lock = threading.Lock()
_filesystems: dict[tuple[str, bool, tuple[tuple[str, str], ...]], fsspec.AbstractFileSystem] = {}
_local_base: Path | None = None


def protocol_of(path: str | Path) -> str:
    """Return the protocol of ``path``: ``"file"`` for local paths, else the URI scheme.

    Example:
        >>> protocol_of("s3://bucket/key"), protocol_of("/tmp/x"), protocol_of("file:///tmp/x")
        ('s3', 'file', 'file')
    """
    text = os.fspath(path)
    scheme, sep, _ = text.partition("://")
    if not sep or not scheme or "/" in scheme:
        return "file"
    return scheme.lower()


def is_remote(path: str | Path) -> bool:
    """Return whether ``path`` lives on a remote store rather than the local filesystem.

    Example:
        >>> is_remote("s3://bucket/key"), is_remote("/tmp/x"), is_remote("file:///tmp/x")
        (True, False, False)
    """
    return protocol_of(path) not in _LOCAL_PROTOCOLS


def local_path(path: str | Path) -> str:
    """Return the filesystem path of a local ``path`` (drops a ``file://`` prefix).

    Example:
        >>> local_path("file:///tmp/x")
        '/tmp/x'
    """
    text = os.fspath(path)
    for prefix in ("file://", "local://"):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def join(*paths: str) -> str:
    """Join path components with ``/``; a later absolute component restarts the path.

    Example:
        >>> join("s3://bucket/", "a", "b.txt")
        's3://bucket/a/b.txt'
    """
    return posixpath.join(*paths)


def _hashable(kwargs: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((key, repr(value)) for key, value in kwargs.items()))


def get_underlying_filesystem(
    protocol: str | None = None,
    anonymous: bool = False,
    path: str | None = None,
    **kwargs: Any,
) -> fsspec.AbstractFileSystem:
    """Return the fsspec filesystem for ``protocol`` (or for ``path``'s protocol).

    Filesystems are built with the configured storage settings (see ``flyte.storage.S3``) and
    cached, so repeated calls are cheap and share connection pools.

    Args:
        protocol: ``"s3"``, ``"gs"``, ``"file"``, ...; taken from ``path`` when omitted.
        anonymous: access the store without credentials.
        path: a path whose protocol to use.
        **kwargs: extra filesystem arguments, overriding the configured ones.

    Example:
        >>> type(get_underlying_filesystem(path="/tmp")).__name__
        'LocalFileSystem'
    """
    import fsspec

    if protocol is None:
        protocol = protocol_of(path) if path is not None else "file"
    if protocol in _LOCAL_PROTOCOLS:
        protocol = "file"
    options = get_configured_fsspec_kwargs(protocol, anonymous=anonymous)
    if protocol == "file":
        options.setdefault("auto_mkdir", True)
    options.update(kwargs)
    key = (protocol, anonymous, _hashable(options))
    with _lock:
        cached = _filesystems.get(key)
        if cached is None:
            cached = _filesystems[key] = fsspec.filesystem(protocol, **options)
        return cached


def clear_filesystem_cache() -> None:
    """Forget cached filesystems (after the storage settings changed)."""
    with _lock:
        _filesystems.clear()


def _local_scratch() -> Path:
    global _local_base
    with _lock:
        if _local_base is None or not _local_base.exists():
            _local_base = Path(tempfile.mkdtemp(prefix="flyte-tmp-"))
        return _local_base


def get_random_local_path(file_path_or_file_name: Path | str | None = None) -> Path:
    """Return a fresh local path under a process-wide scratch directory; its parent exists.

    Args:
        file_path_or_file_name: a name (or path, of which the last part is kept) for the file;
            a random name when omitted.

    Example:
        >>> p = get_random_local_path("data.csv")
        >>> p.name, p.parent.is_dir(), p.exists()
        ('data.csv', True, False)
    """
    name = uuid.uuid4().hex
    if file_path_or_file_name:
        directory = _local_scratch() / uuid.uuid4().hex
        directory.mkdir(parents=True, exist_ok=True)
        return directory / Path(os.fspath(file_path_or_file_name)).name
    return _local_scratch() / name


def get_random_local_directory() -> Path:
    """Create and return a fresh, empty local directory.

    Example:
        >>> get_random_local_directory().is_dir()
        True
    """
    directory = _local_scratch() / uuid.uuid4().hex
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def raw_data_prefix() -> str:
    """Return where offloaded data goes now: the running task's raw-data path, else a temp directory.

    Example:
        >>> isinstance(raw_data_prefix(), str)
        True
    """
    from flyte._context import ctx

    task_context = ctx()
    if task_context and task_context.raw_data_path.path:
        return task_context.raw_data_path.path
    configured = os.environ.get("FLYTE_RAW_DATA_PATH")
    if configured:
        return configured
    return str(_local_scratch() / "raw")


def random_remote_path(file_name: str | None = None) -> str:
    """Return a fresh, unused location under :func:`raw_data_prefix`, ending in ``file_name`` if given.

    Example:
        >>> random_remote_path("x.bin").endswith("/x.bin")
        True
    """
    base = join(raw_data_prefix().rstrip("/"), uuid.uuid4().hex)
    return join(base, file_name) if file_name else base


def needs_offload(path: str | Path) -> bool:
    """Whether a local ``path`` must be copied under the raw-data prefix before a value leaves the task.

    Always when the prefix is remote. Inside a task run by a control plane with local storage,
    too, unless the file already lives under the raw-data prefix or the run's directory: the
    task's working directory is its own and goes away, so other actions could not read it.
    Local runs reference local files where they are.

    Example:
        >>> needs_offload("s3://bucket/key")
        False
    """
    if is_remote(path):
        return False
    prefix = raw_data_prefix()
    if is_remote(prefix):
        return True
    from flyte._context import ctx

    task_context = ctx()
    if not task_context or not task_context.is_in_cluster():
        return False
    resolved = os.path.abspath(local_path(path))
    for base in (prefix, task_context.run_base_dir):
        if base and not is_remote(base):
            root = os.path.abspath(local_path(base)).rstrip(os.sep) + os.sep
            if resolved.startswith(root):
                return False
    return True

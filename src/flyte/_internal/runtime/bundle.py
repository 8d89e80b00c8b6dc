"""Fetching a task's code: extract a ``.tar.gz`` bundle, or unpickle a ``.pkl.gz`` task."""

from __future__ import annotations

import functools
import gzip
import os
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte._internal.runtime import storage
from flyte.errors import CodeBundleError

if TYPE_CHECKING:
    from flyte._task import TaskTemplate

__all__ = ["add_sys_path", "download_pickled_task", "download_tgz"]


def _dated_data_filter(now: float) -> Callable[[tarfile.TarInfo, str], tarfile.TarInfo]:
    """tarfile's ``data`` filter, giving members with a zero mtime (our reproducible bundles) the time ``now``.

    Files dated 1970 break tools that archive the code again: the Spark plugin zips it for its
    executors, and zip refuses dates before 1980.
    """

    def dated(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo:
        member = tarfile.data_filter(member, path)
        return member.replace(mtime=now, deep=False) if member.mtime == 0 else member

    return dated


async def download_tgz(uri: str, destination: Path) -> None:
    """Download the tarball at ``uri`` and extract it into ``destination``.

    Raises:
        CodeBundleError: the bundle is missing or is not a readable tarball.
    """
    destination.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="flyte-bundle-") as scratch:
        local = Path(scratch) / "bundle.tar.gz"
        try:
            await storage.download(uri, local)
        except (OSError, ValueError) as error:
            raise CodeBundleError(f"Cannot download the code bundle {uri}: {error}", kind="system") from error
        try:
            with tarfile.open(local, "r:*") as archive:
                if hasattr(tarfile, "data_filter"):
                    archive.extractall(destination, filter=_dated_data_filter(time.time()))
                else:  # Python < 3.11.4
                    archive.extractall(destination)
        except (tarfile.TarError, OSError) as error:
            raise CodeBundleError(f"Cannot extract the code bundle {uri}: {error}", kind="system") from error


async def download_pickled_task(uri: str) -> TaskTemplate[Any, Any]:
    """Load the gzipped cloudpickle of a task at ``uri``.

    Raises:
        CodeBundleError: the file is missing, corrupt, or not a task.
    """
    import cloudpickle

    from flyte._task import TaskTemplate

    try:
        data = await storage.read_bytes(uri)
    except (OSError, ValueError) as error:
        raise CodeBundleError(f"Cannot download the pickled task {uri}: {error}", kind="system") from error
    try:
        task = cloudpickle.loads(gzip.decompress(data))
    except Exception as error:  # unpickling runs arbitrary constructors; report whatever they raise
        raise CodeBundleError(f"Cannot load the pickled task {uri}: {type(error).__name__}: {error}") from error
    if not isinstance(task, TaskTemplate):
        raise CodeBundleError(f"{uri} holds a {type(task).__name__}, not a Flyte task")
    return task


def add_sys_path(destination: Path, extra: str | None) -> None:
    """Make the extracted code importable: the destination first, then ``_F_SYS_PATH`` entries.

    ``_F_SYS_PATH`` is ``:``-separated, relative to the destination (``./.`` is the destination).
    """
    for text in reversed(_resolved_entries(str(destination), extra or "", os.getcwd())):
        if text not in sys.path:
            sys.path.insert(0, text)


@functools.lru_cache(maxsize=64)
def _resolved_entries(destination: str, extra: str, cwd: str) -> list[str]:
    """The absolute ``sys.path`` entries for a destination (cached: a reused worker asks per attempt)."""
    base = Path(cwd, destination)
    entries = [base.resolve()]
    for entry in extra.split(":"):
        if entry:
            path = Path(entry)
            entries.append((path if path.is_absolute() else base / path).resolve())
    return [str(path) for path in entries]

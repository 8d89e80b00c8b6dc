"""Checkpoints: save a task's progress under its attempt's prefix, resume from the previous one.

A checkpoint is one object under the prefix (``<prefix>/checkpoint``): a gzipped tar of a
directory's entries, or the raw bytes of a file. :meth:`Checkpoint.load` brings the previous
attempt's object back into a local workspace (:attr:`Checkpoint.path`).
"""

from __future__ import annotations

import pathlib
import tarfile
import tempfile
from collections.abc import Callable
from typing import Any

__all__ = ["BaseCheckpoint", "Checkpoint", "latest_checkpoint"]

_OBJECT_NAME = "checkpoint"
_PAYLOAD_NAME = "payload"


def latest_checkpoint(
    root: pathlib.Path,
    glob_pattern: str = "**/last.ckpt",
    *,
    key: Callable[[pathlib.Path], Any] | None = None,
) -> pathlib.Path | None:
    """The newest file under ``root`` that matches ``glob_pattern`` (``None`` if there is none).

    Newest means the largest modification time, or the largest ``key(path)`` when ``key`` is given
    (for example the step number parsed from ``step-120.ckpt``).

    Example:
        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> for step in (5, 40, 12):
        ...     _ = (root / f"step-{step}.ckpt").write_text("")
        >>> latest_checkpoint(root, "step-*.ckpt", key=lambda p: int(p.stem.split("-")[1])).name
        'step-40.ckpt'
    """
    root = pathlib.Path(root)
    if not root.exists():
        return None
    candidates = [path for path in root.glob(glob_pattern) if path.is_file()]
    if not candidates:
        return None
    if key is not None:
        return max(candidates, key=key)
    return max(candidates, key=lambda path: (path.stat().st_mtime_ns, str(path)))


class BaseCheckpoint:
    """A checkpoint helper: restore the previous attempt's state into a local workspace, and save new
    state for the next attempt. Subclasses implement :meth:`load` and :meth:`save`; the sync
    forms run the async ones."""

    @property
    def path(self) -> pathlib.Path:
        """The local workspace checkpoints are restored into."""
        raise NotImplementedError

    def prev_exists(self) -> bool:
        """Whether there is a previous attempt's checkpoint prefix to resume from."""
        raise NotImplementedError

    async def load(self) -> pathlib.Path | None:
        """Restore the previous checkpoint into :attr:`path`; ``None`` when there is none."""
        raise NotImplementedError

    async def save(self, data: pathlib.Path | str | bytes) -> None:
        """Save ``data`` (a directory, a file, or bytes) as this attempt's checkpoint."""
        raise NotImplementedError

    def load_sync(self) -> pathlib.Path | None:
        """:meth:`load` for ordinary ``def`` tasks."""
        from flyte._internal.syncify import run_sync

        return run_sync(self.load())

    def save_sync(self, data: pathlib.Path | str | bytes) -> None:
        """:meth:`save` for ordinary ``def`` tasks."""
        from flyte._internal.syncify import run_sync

        run_sync(self.save(data))


class Checkpoint(BaseCheckpoint):
    """Checkpoints stored as one object under a prefix, locally or in an object store.

    Args:
        checkpoint_dest: the prefix this attempt saves to.
        checkpoint_src: the prefix the previous attempt saved to (``None`` on a first attempt).

    Example:
        >>> @env.task  # doctest: +SKIP
        ... async def train(steps: int) -> int:
        ...     cp = flyte.ctx().checkpoint
        ...     restored = await cp.load()
        ...     start = int((restored / "step").read_text()) if restored else 0
        ...     for step in range(start, steps):
        ...         ...
        ...         (cp.path / "step").write_text(str(step + 1))
        ...         await cp.save(cp.path)
    """

    def __init__(self, checkpoint_dest: str, checkpoint_src: str | None = None) -> None:
        if not checkpoint_dest:
            raise ValueError("checkpoint_dest must name a prefix to save checkpoints under")
        self._dest = str(checkpoint_dest)
        self._src = str(checkpoint_src) if checkpoint_src else None
        self._path: pathlib.Path | None = None

    @property
    def remote_destination(self) -> str:
        """The prefix this attempt saves to."""
        return self._dest

    @property
    def remote_source(self) -> str | None:
        """The prefix the previous attempt saved to."""
        return self._src

    @property
    def path(self) -> pathlib.Path:
        """A local directory, created on first use, that :meth:`load` restores into."""
        if self._path is None:
            self._path = pathlib.Path(tempfile.mkdtemp(prefix="flyte-checkpoint-"))
        return self._path

    def prev_exists(self) -> bool:
        return self._src is not None

    async def load(self) -> pathlib.Path | None:
        """Restore the previous attempt's checkpoint.

        Returns:
            :attr:`path` for a saved directory (its entries restored under it), ``path / "payload"``
            for a saved file or bytes, or ``None`` when no previous checkpoint was saved.
        """
        if self._src is None:
            return None
        import flyte.storage as storage

        source = storage.join(self._src, _OBJECT_NAME)
        if not await storage.exists(source):
            return None
        download = pathlib.Path(tempfile.mkdtemp(prefix="flyte-checkpoint-dl-")) / _OBJECT_NAME
        await storage.get(source, download)
        if tarfile.is_tarfile(download):
            with tarfile.open(download, "r:gz") as archive:
                if hasattr(tarfile, "data_filter"):  # refuse links and paths that leave the workspace
                    archive.extractall(self.path, filter="data")
                else:  # Python builds before the extraction filters existed
                    archive.extractall(self.path)
            download.unlink()
            return self.path
        target = self.path / _PAYLOAD_NAME
        download.replace(target)
        return target

    async def save(self, data: pathlib.Path | str | bytes) -> None:
        """Save ``data`` as this attempt's checkpoint, replacing any saved before.

        Raises:
            FileNotFoundError: ``data`` names a path that does not exist.
        """
        import flyte.storage as storage

        destination = storage.join(self._dest, _OBJECT_NAME)
        if isinstance(data, bytes):
            await storage.put_stream(data, to_path=destination)
            return
        source = pathlib.Path(data)
        if not source.exists():
            raise FileNotFoundError(f"Cannot save checkpoint: {source} does not exist")
        if source.is_dir():
            staging = pathlib.Path(tempfile.mkdtemp(prefix="flyte-checkpoint-up-")) / "checkpoint.tar.gz"
            with tarfile.open(staging, "w:gz") as archive:
                for entry in sorted(source.iterdir()):
                    archive.add(entry, arcname=entry.name)
            await storage.put(str(staging), destination)
            staging.unlink()
            return
        await storage.put(str(source), destination)

    def __repr__(self) -> str:
        return f"Checkpoint(checkpoint_dest={self._dest!r}, checkpoint_src={self._src!r})"

"""Deterministic archives: the same files give the same bytes, hence the same digest.

* ``.tar.gz``: entries sorted by name, zero mtimes, no owners, normalised modes, gzip without a
  timestamp;
* ``.pkl.gz``: a gzipped cloudpickle of one task (interactive sessions and notebooks).

The digest is the MD5 of the archive bytes: it names the upload (content-addressed) and is the
default version of deployments and runs.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from flyte.errors import CodeBundleError

if TYPE_CHECKING:
    from flyte._internal.bundle._files import SelectedFiles

__all__ = ["BuiltBundle", "build_pkl", "build_tgz"]


@dataclass(frozen=True)
class BuiltBundle:
    """An archive ready to upload."""

    kind: Literal["tgz", "pkl"]
    """``"tgz"`` (extracted by the worker, tasks found by a resolver) or ``"pkl"`` (one pickled task)."""
    data: bytes
    """The archive's bytes."""
    digest: str
    """MD5 (hex) of :attr:`data`."""
    names: tuple[str, ...] = ()
    """The files inside a ``tgz`` bundle (archive names)."""

    @property
    def md5(self) -> bytes:
        """The raw 16-byte MD5 (what ``CreateUploadLocation.content_md5`` carries)."""
        return bytes.fromhex(self.digest)

    @property
    def filename(self) -> str:
        """The upload's file name: ``fast<md5>.tar.gz`` (as Flyte 2 names it) or ``<md5>.pkl.gz``."""
        return f"fast{self.digest}.tar.gz" if self.kind == "tgz" else f"{self.digest}.pkl.gz"


def _gzip(data: bytes) -> bytes:
    from flyte._internal.serde._context import _gzip as deterministic_gzip

    return deterministic_gzip(data)


_memo_lock = threading.Lock()
_memo: dict[tuple[Any, ...], BuiltBundle] = {}


def build_tgz(selected: SelectedFiles) -> BuiltBundle:
    """A deterministic ``.tar.gz`` of ``selected`` (memoised while the files are unchanged).

    Raises:
        CodeBundleError: a file cannot be read.

    Example:
        >>> bundle = build_tgz(select_files(Path("."), "loaded_modules"))  # doctest: +SKIP
        >>> bundle.filename  # doctest: +SKIP
        'fast5d41402abc4b2a76b9719d911017c592.tar.gz'
    """
    try:
        fingerprint = tuple((name, *_stat_key(path)) for path, name in selected.files)
    except OSError as error:
        raise CodeBundleError(f"Cannot read a file of the code bundle: {error}") from error
    key = (str(selected.root), fingerprint)
    with _memo_lock:
        cached = _memo.get(key)
    if cached is not None:
        return cached
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path, name in selected.files:
            try:
                content = path.read_bytes()
                executable = os.access(path, os.X_OK)
            except OSError as error:
                raise CodeBundleError(f"Cannot read {path} for the code bundle: {error}") from error
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mtime = 0
            info.mode = 0o755 if executable else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(content))
    data = _gzip(buffer.getvalue())
    bundle = BuiltBundle(
        kind="tgz",
        data=data,
        digest=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        names=tuple(name for _, name in selected.files),
    )
    with _memo_lock:
        if len(_memo) > 32:
            _memo.clear()
        _memo[key] = bundle
    return bundle


def _stat_key(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def build_pkl(task: Any) -> BuiltBundle:
    """A gzipped cloudpickle of ``task``, for code that lives in no importable file (notebooks, REPLs).

    Raises:
        CodeBundleError: the task (or something it refers to) cannot be pickled.
    """
    import pickle
    import sys

    import cloudpickle

    # The user's module travels by value: the worker has no copy of it to import.
    module = sys.modules.get(getattr(getattr(task, "func", None), "__module__", "") or "")
    by_value = module is not None and module.__name__ not in ("__main__", "builtins") and _is_user_module(module)
    if by_value:
        cloudpickle.register_pickle_by_value(module)
    try:
        pickled = cloudpickle.dumps(task)
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        raise CodeBundleError(f"Cannot pickle task {getattr(task, 'name', task)!r}: {error}") from error
    finally:
        if by_value:
            cloudpickle.unregister_pickle_by_value(module)
    data = _gzip(pickled)
    return BuiltBundle(kind="pkl", data=data, digest=hashlib.md5(data, usedforsecurity=False).hexdigest())


def _is_user_module(module: Any) -> bool:
    """Whether a module is the user's code rather than an installed package (or the SDK)."""
    from flyte._internal.bundle._files import _installed_prefixes, _under

    name = getattr(module, "__file__", None)
    if not isinstance(name, str):
        return False
    path = Path(name).resolve()
    return not any(_under(path, prefix) for prefix in _installed_prefixes())

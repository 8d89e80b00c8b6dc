"""Code bundles: how a task's code reaches the workers of a control plane.

* :func:`build_code_bundle` — a deterministic ``.tar.gz`` of the user's loaded modules (or every
  file) under the code root, honouring ``.gitignore`` / ``.flyteignore``;
* :func:`build_pkl` — a gzipped cloudpickle of one task, for notebooks and REPLs;
* :func:`upload_bundle` — content-addressed upload through ``DataProxy.CreateUploadLocation`` and
  an HTTP PUT, skipped when the local :class:`BundleCache` knows the digest.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte._internal.bundle._archive import BuiltBundle, build_pkl, build_tgz
from flyte._internal.bundle._files import CopyStyle, IgnoreRules, SelectedFiles, loaded_module_files, select_files
from flyte._internal.bundle._upload import BundleCache, default_bundle_cache, upload_bundle

if TYPE_CHECKING:
    from flyte._task import TaskTemplate

__all__ = [
    "BuiltBundle",
    "BundleCache",
    "CopyStyle",
    "IgnoreRules",
    "SelectedFiles",
    "build_code_bundle",
    "build_pkl",
    "build_tgz",
    "code_root",
    "default_bundle_cache",
    "is_interactive",
    "loaded_module_files",
    "select_files",
    "source_file",
    "sys_path_entries",
    "upload_bundle",
]


def is_interactive() -> bool:
    """Whether this is a REPL or a notebook, whose code lives in no file a worker could import."""
    main = sys.modules.get("__main__")
    if hasattr(sys, "ps1") or "ipykernel" in sys.modules:
        return True
    return main is not None and getattr(main, "__file__", None) is None


def source_file(task: TaskTemplate[Any, Any]) -> Path | None:
    """The file that defines ``task``'s function, when it is a real file."""
    declared = getattr(task, "_definition_file", None)  # templates whose function is generated say where they live
    if declared:
        path = Path(declared)
        return path.resolve() if path.suffix == ".py" and path.is_file() else None
    func = getattr(task, "func", None)
    if func is None:
        return None
    try:
        path = Path(inspect.getfile(func))
    except (TypeError, OSError):
        return None
    return path.resolve() if path.suffix == ".py" and path.is_file() else None


def code_root(root_dir: Path | None) -> Path:
    """The code root: ``flyte.init(root_dir=...)`` (or ``--root-dir``), else the current directory."""
    return (root_dir or Path.cwd()).resolve()


def sys_path_entries(root: Path) -> str | None:
    """``sys.path`` folders strictly under ``root``, as the ``:``-separated relative ``_F_SYS_PATH``.

    A module the CLI imported from ``pkg_root/`` with that folder on ``sys.path`` must be
    importable the same way from the extracted bundle.
    """
    root = root.resolve()
    entries: list[str] = []
    for entry in sys.path:
        if not entry:
            continue
        try:
            path = Path(entry).resolve()
        except OSError:
            continue
        if path != root and root in path.parents:
            relative = "./" + path.relative_to(root).as_posix()
            if relative not in entries:
                entries.append(relative)
    return ":".join(entries) if entries else None


def build_code_bundle(
    tasks: Iterable[TaskTemplate[Any, Any]],
    root: Path,
    copy_style: CopyStyle = "loaded_modules",
    extra_files: Iterable[Path] = (),
) -> BuiltBundle:
    """The ``.tar.gz`` bundle that lets workers import ``tasks`` (their files, and ``extra_files``
    such as the files apps are declared in, are always included).

    Raises:
        flyte.errors.CodeBundleError: a task's file is outside ``root``, or the bundle cannot be built.
    """
    extra = [path for path in (source_file(task) for task in tasks) if path is not None]
    extra += [Path(path).resolve() for path in extra_files]
    return build_tgz(select_files(root, copy_style, extra=extra))

"""Which files a code bundle holds: the user's loaded modules (or every file) under a root directory.

Ignore rules are those of git: ``.gitignore`` files (at the root and in sub-folders) and a
``.flyteignore`` at the root, in gitignore syntax, plus a few always-ignored names (``.git``,
``__pycache__``, virtual environments, tool caches). Files of installed packages (the
interpreter's prefix, ``site-packages``) are never bundled.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from flyte.errors import CodeBundleError

__all__ = [
    "ALWAYS_IGNORED",
    "CopyStyle",
    "IgnoreRules",
    "SelectedFiles",
    "loaded_module_files",
    "select_files",
]

logger = logging.getLogger("flyte")

CopyStyle = Literal["loaded_modules", "all"]

ALWAYS_IGNORED = (
    ".git/",
    "__pycache__/",
    "*.pyc",
    ".venv/",
    "venv/",
    ".mypy_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".ipynb_checkpoints/",
    ".DS_Store",
    "*.egg-info/",
    ".flyte/",
)
"""Patterns ignored in every bundle, whatever the ignore files say."""

WARN_BYTES = 10 * 1024 * 1024
"""Bundles larger than this (before compression) get a warning: they slow every deploy and run."""
WARN_FILES = 1000
"""Bundles with more files than this get a warning."""


@dataclass(frozen=True)
class SelectedFiles:
    """The files of a bundle: absolute paths and their names inside the archive (POSIX, relative)."""

    root: Path
    """The bundle's root directory; archive names are relative to it."""
    files: tuple[tuple[Path, str], ...]
    """``(absolute path, archive name)``, sorted by archive name."""
    total_bytes: int
    """The sum of the files' sizes."""


class IgnoreRules:
    """Git-style ignore rules for one root: nested ``.gitignore`` files, ``.flyteignore``, defaults.

    Example:
        >>> rules = IgnoreRules(Path("."))  # doctest: +SKIP
        >>> rules.ignored("build/out.bin")  # doctest: +SKIP
        True
    """

    def __init__(self, root: Path) -> None:
        import pathspec

        self.root = root
        self._pathspec = pathspec
        lines = list(ALWAYS_IGNORED)
        for name in (".gitignore", ".flyteignore"):
            lines += _read_lines(root / name)
        self._root_spec = pathspec.GitIgnoreSpec.from_lines(lines)
        self._nested: dict[str, Any] = {}

    def _spec_for(self, folder: str) -> Any:
        spec = self._nested.get(folder)
        if spec is None:
            lines = _read_lines(self.root / folder / ".gitignore")
            spec = self._pathspec.GitIgnoreSpec.from_lines(lines) if lines else False
            self._nested[folder] = spec
        return spec

    def ignored(self, relative: str, *, is_dir: bool = False) -> bool:
        """Whether the root-relative POSIX path ``relative`` is ignored (``is_dir`` for folders)."""
        candidate = relative + "/" if is_dir else relative
        if self._root_spec.match_file(candidate):
            return True
        parts = relative.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            spec = self._spec_for(folder)
            if spec and spec.match_file("/".join(parts[depth:]) + ("/" if is_dir else "")):
                return True
        return False


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


@functools.lru_cache(maxsize=1)
def _installed_prefixes() -> tuple[Path, ...]:
    """Folders of the interpreter and installed packages: their modules never go into a bundle."""
    import site
    import sysconfig

    candidates: set[str] = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            candidates.add(path)
    try:
        candidates.update(site.getsitepackages())
    except AttributeError:  # some embedded interpreters lack it
        pass
    user_site = site.getusersitepackages() if hasattr(site, "getusersitepackages") else None
    if isinstance(user_site, str):
        candidates.add(user_site)
    prefixes = [Path(path).resolve() for path in candidates if path]
    # The SDK itself (an editable install can sit inside the user's tree): every worker has it.
    import flyte

    sdk = Path(flyte.__file__).resolve().parent
    prefixes += [sdk, sdk.parent / "flyte_server"]
    return tuple(prefixes)


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


# Module file → its resolved path (``None`` when it is not a regular file): resolving is the
# costly part, and the set of loaded modules barely changes between runs of one process.
_resolved: dict[str, str | None] = {}


def _resolve(name: str) -> str | None:
    if name not in _resolved:
        try:
            path = os.path.realpath(name)
            _resolved[name] = path if os.path.isfile(path) else None
        except OSError:
            _resolved[name] = None
    return _resolved[name]


def loaded_module_files(root: Path) -> list[Path]:
    """Source files of the modules this process has imported that live under ``root``.

    Installed packages (the interpreter's prefix, ``site-packages``) are left out, even when a
    virtual environment sits inside ``root``.
    """
    root_text = str(root.resolve())
    installed = [
        str(prefix)
        for prefix in _installed_prefixes()
        if str(prefix) != root_text and not _inside(root_text, str(prefix))
    ]
    found: set[str] = set()
    for module in list(sys.modules.values()):
        name = getattr(module, "__file__", None)
        if not isinstance(name, str) or not name.endswith(".py"):
            continue
        path = _resolve(name)
        if path is None or path in found or not _inside(path, root_text):
            continue
        if any(_inside(path, prefix) for prefix in installed):
            continue
        parts = path.split(os.sep)
        if "site-packages" in parts or "dist-packages" in parts:
            continue
        found.add(path)
    return sorted(Path(path) for path in found)


def _walk(root: Path, rules: IgnoreRules) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        relative_folder = here.relative_to(root).as_posix()
        prefix = "" if relative_folder == "." else relative_folder + "/"
        kept = []
        for name in sorted(dirs):
            if (here / name / "pyvenv.cfg").exists() or rules.ignored(prefix + name, is_dir=True):
                continue
            kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            if not rules.ignored(prefix + name):
                yield here / name


def _refuse_unsafe_root(root: Path) -> None:
    home = Path.home().resolve()
    if root == home or root == Path(root.anchor):
        where = "your home directory" if root == home else "the filesystem root"
        raise CodeBundleError(
            f"Refusing to bundle every file of {where} ({root}); run from your project's folder "
            "or pass root_dir=... (flyte.init / --root-dir)"
        )


def select_files(root: Path, copy_style: CopyStyle = "loaded_modules", *, extra: Iterable[Path] = ()) -> SelectedFiles:
    """The files to bundle from ``root``.

    Args:
        root: the source root; archive names are relative to it.
        copy_style: ``"loaded_modules"`` (the modules this process imported from under ``root``)
            or ``"all"`` (every file under ``root``).
        extra: more files to include (for example the script that defines the task).

    Raises:
        CodeBundleError: ``copy_style="all"`` of a home directory or a filesystem root, or an
            ``extra`` file outside ``root``.

    Example:
        >>> selected = select_files(Path("."), "loaded_modules")  # doctest: +SKIP
        >>> [name for _, name in selected.files]  # doctest: +SKIP
        ['workflows/etl.py']
    """
    root = root.resolve()
    if not root.is_dir():
        raise CodeBundleError(f"The code root {root} is not a directory")
    rules = IgnoreRules(root)
    if copy_style == "all":
        _refuse_unsafe_root(root)
        candidates = list(_walk(root, rules))
    elif copy_style == "loaded_modules":
        candidates = loaded_module_files(root)
    else:
        raise CodeBundleError(f"Unknown copy style {copy_style!r}; use 'loaded_modules' or 'all'")
    chosen: dict[str, Path] = {}
    for path in candidates:
        relative = path.relative_to(root).as_posix()
        if copy_style == "loaded_modules" and rules.ignored(relative):
            continue
        chosen[relative] = path
    for path in extra:
        resolved = path.resolve()
        if not _under(resolved, root):
            raise CodeBundleError(f"{resolved} is outside the code root {root}; pass root_dir=... that contains it")
        chosen[resolved.relative_to(root).as_posix()] = resolved
    files = tuple(sorted(((path, name) for name, path in chosen.items()), key=lambda item: item[1]))
    total = 0
    for path, _ in files:
        try:
            total += path.stat().st_size
        except OSError as error:
            raise CodeBundleError(f"Cannot read {path} for the code bundle: {error}") from error
    if total > WARN_BYTES or len(files) > WARN_FILES:
        logger.warning(
            "The code bundle of %s holds %d files (%.1f MB); add a .flyteignore to leave out data and build outputs",
            root,
            len(files),
            total / 1e6,
        )
    return SelectedFiles(root=root, files=files, total_bytes=total)

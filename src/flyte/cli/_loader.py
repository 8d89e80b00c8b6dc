"""Loading a user's Python file as a module and finding its tasks.

The file is imported under a real module name, with its root folder on ``sys.path``, so that
tasks, dataclasses and enums defined in it pickle by reference and cache keys are stable:
``examples/hello.py`` becomes module ``hello``; ``pkg/sub/wf.py`` inside packages (folders with
an ``__init__.py``) becomes ``pkg.sub.wf`` with the folder above ``pkg`` on ``sys.path``.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["ModuleLoadFailure", "find_tasks", "load_module", "module_name_for"]

# Modules this loader imported from user files; only these may be replaced by a later load of
# another file with the same module name (e.g. two `wf.py` in different folders).
_loaded_by_us: dict[str, Path] = {}


@dataclass
class ModuleLoadFailure(Exception):
    """The file could not be imported; ``message`` is one line, ``cause`` the original error."""

    message: str
    cause: BaseException | None = None

    def __str__(self) -> str:
        return self.message


def _identifier(text: str) -> str:
    """``my-flow 2`` → ``my_flow_2``: file names that are not identifiers still get an importable name."""
    name = re.sub(r"\W", "_", text)
    return f"_{name}" if not name or name[0].isdigit() else name


def module_name_for(path: Path, root_dir: Path | None = None) -> tuple[str, Path]:
    """The dotted module name of ``path`` and the folder to put on ``sys.path``.

    Args:
        path: an existing ``.py`` file.
        root_dir: the source root; the name is the path relative to it. Without it, the
            enclosing packages (folders with ``__init__.py``) decide.

    Raises:
        ModuleLoadFailure: ``path`` is not inside ``root_dir``.

    Example:
        >>> module_name_for(Path("examples/hello.py"))[0]  # doctest: +SKIP
        'hello'
    """
    path = path.resolve()
    if root_dir is not None:
        root = root_dir.resolve()
        try:
            relative = path.with_suffix("").relative_to(root)
        except ValueError as e:
            raise ModuleLoadFailure(f"{path} is not inside the root directory {root}") from e
        return ".".join(_identifier(part) for part in relative.parts), root
    parts = [_identifier(path.stem)]
    folder = path.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts), folder


def load_module(path: Path, root_dir: Path | None = None) -> ModuleType:
    """Import the Python file ``path`` as a module (at most once per process).

    Raises:
        ModuleLoadFailure: the file has a syntax error, fails on import, or its module name
            is taken by a module that is not this file.
    """
    path = path.resolve()
    name, root = module_name_for(path, root_dir)
    existing = sys.modules.get(name)
    if existing is not None:
        existing_file = getattr(existing, "__file__", None)
        if existing_file is not None and Path(existing_file).resolve() == path:
            return existing
        if name not in _loaded_by_us:
            raise ModuleLoadFailure(
                f"Cannot load {path.name} as module {name!r}: an installed module has that name; rename the file"
            )
        for loaded in [n for n in sys.modules if n == name or n.startswith(name + ".")]:
            del sys.modules[loaded]
    root_str = str(root)
    if root_str not in sys.path:
        sys.path.insert(0, root_str)
    importlib.invalidate_caches()
    try:
        if "." in name:
            module = importlib.import_module(name)
        else:
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ModuleLoadFailure(f"Cannot load {path}: not a Python file")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(name, None)
                raise
    except ModuleLoadFailure:
        raise
    except SyntaxError as e:
        where = f"{Path(e.filename).name if e.filename else path.name}, line {e.lineno}"
        raise ModuleLoadFailure(f"Cannot load {path.name}: SyntaxError: {e.msg} ({where})", e) from e
    except Exception as e:
        raise ModuleLoadFailure(f"Cannot load {path.name}: {type(e).__name__}: {e}", e) from e
    _loaded_by_us[name] = path
    return module


def find_tasks(module: ModuleType) -> dict[str, Any]:
    """The tasks a module defines or imports, by the name they have in the module, sorted.

    Example:
        >>> sorted(find_tasks(load_module(Path("examples/hello.py"))))  # doctest: +SKIP
        ['greet', 'main']
    """
    from flyte._task import TaskTemplate

    tasks = {name: value for name, value in vars(module).items() if isinstance(value, TaskTemplate)}
    return dict(sorted(tasks.items()))

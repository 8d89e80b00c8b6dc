"""The default resolver: a task is a module-level variable of an importable module."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from pathlib import Path
from typing import Any

from flyte._task import AsyncFunctionTaskTemplate, TaskTemplate
from flyte.errors import ModuleLoadError

__all__ = ["DefaultTaskResolver", "module_name_of", "variable_name_of"]


def module_name_of(task: TaskTemplate[Any, Any], root_dir: Path | None = None) -> str:
    """The importable module that defines ``task``.

    A task defined in a script run as ``__main__`` is named after the script's path relative to
    ``root_dir`` (default: the current directory), e.g. ``pipelines/train.py`` →
    ``pipelines.train``, which is how the worker imports it from the extracted bundle.

    Raises:
        ModuleLoadError: the task lives in ``__main__`` and its file is not under ``root_dir``.

    Example:
        >>> module_name_of(my_task)  # doctest: +SKIP
        'workflows.etl'
    """
    func: Any = task.func if isinstance(task, AsyncFunctionTaskTemplate) else task
    module = getattr(func, "__module__", None) or "__main__"
    if module != "__main__":
        return module
    try:
        source = Path(inspect.getfile(func)).resolve()
    except (TypeError, OSError) as error:
        raise ModuleLoadError(f"Cannot tell which file defines task {task.name}: {error}") from error
    root = (root_dir or Path.cwd()).resolve()
    try:
        relative = source.relative_to(root)
    except ValueError as error:
        raise ModuleLoadError(
            f"Task {task.name} is defined in {source}, which is outside the root directory {root}; "
            "pass flyte.init(root_dir=...) a directory that contains it"
        ) from error
    parts = list(relative.with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def variable_name_of(task: TaskTemplate[Any, Any], module_name: str) -> str:
    """The module attribute that holds ``task`` (its function's name when the module is not loaded)."""
    module = sys.modules.get(module_name)
    if module is None and module_name != "__main__":
        module = sys.modules.get("__main__")
    if module is not None:
        for name, value in vars(module).items():
            if value is task:
                return name
    func = getattr(task, "func", None)
    return str(getattr(func, "__name__", task.name.rsplit(".", 1)[-1]))


class DefaultTaskResolver:
    """Locates a task as ``mod <module> instance <variable>``.

    Example:
        >>> resolver = DefaultTaskResolver()
        >>> resolver.loader_args(my_task, None)  # doctest: +SKIP
        ['mod', 'workflows.etl', 'instance', 'clean']
    """

    @property
    def import_path(self) -> str:
        """The path written after ``--resolver``."""
        return "flyte._internal.resolvers.default.DefaultTaskResolver"

    def loader_args(self, task: TaskTemplate[Any, Any], root_dir: Path | None) -> list[str]:
        """``["mod", module, "instance", variable]`` for ``task``."""
        module = module_name_of(task, root_dir)
        return ["mod", module, "instance", variable_name_of(task, module)]

    def load_task(self, loader_args: list[str]) -> TaskTemplate[Any, Any]:
        """Import the module and return the task variable.

        Raises:
            ModuleLoadError: malformed arguments, the module fails to import, or the variable is
                missing or not a task.
        """
        arguments = list(loader_args)
        if len(arguments) != 4 or arguments[0] != "mod" or arguments[2] != "instance":
            raise ModuleLoadError(f"Expected resolver arguments 'mod <module> instance <task>', got {arguments}")
        module_name, variable = arguments[1], arguments[3]
        if os.curdir not in sys.path and "" not in sys.path:
            sys.path.insert(0, os.curdir)
        try:
            module = importlib.import_module(module_name)
        except Exception as error:  # any import-time failure of user code is reported as a load error
            raise ModuleLoadError(f"Cannot import module {module_name!r}: {type(error).__name__}: {error}") from error
        task = getattr(module, variable, None)
        if task is None:
            raise ModuleLoadError(f"Module {module_name!r} has no task named {variable!r}")
        if not isinstance(task, TaskTemplate):
            raise ModuleLoadError(f"{module_name}.{variable} is a {type(task).__name__}, not a Flyte task")
        return task

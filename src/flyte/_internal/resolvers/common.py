"""The resolver protocol and the lookup of a resolver by its import path."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from flyte.errors import ModuleLoadError

if TYPE_CHECKING:
    from flyte._task import TaskTemplate

__all__ = ["Resolver", "load_resolver"]


class Resolver(Protocol):
    """Writes the arguments that locate a task, and loads the task back from them."""

    @property
    def import_path(self) -> str:
        """``module.ClassName`` of the resolver, as written after ``--resolver``."""
        ...

    def loader_args(self, task: TaskTemplate[Any, Any], root_dir: Path | None) -> list[str]:
        """The arguments that :meth:`load_task` needs to find ``task`` again."""
        ...

    def load_task(self, loader_args: list[str]) -> TaskTemplate[Any, Any]:
        """Import and return the task that ``loader_args`` names."""
        ...


def load_resolver(import_path: str) -> Resolver:
    """Instantiate the resolver class named ``module.ClassName``.

    Raises:
        ModuleLoadError: the module or the class cannot be found.

    Example:
        >>> load_resolver("flyte._internal.resolvers.default.DefaultTaskResolver").import_path
        'flyte._internal.resolvers.default.DefaultTaskResolver'
    """
    module_name, _, class_name = import_path.rpartition(".")
    if not module_name:
        raise ModuleLoadError(f"Resolver {import_path!r} is not a 'module.ClassName' path")
    try:
        module = importlib.import_module(module_name)
        resolver_class = getattr(module, class_name)
    except (ImportError, AttributeError) as error:
        raise ModuleLoadError(f"Cannot load task resolver {import_path!r}: {error}") from error
    resolver: Resolver = resolver_class()
    return resolver

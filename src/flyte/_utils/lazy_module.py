"""``lazy_module``: a module object that is imported on first attribute access.

Plugins use it so that importing them does not import heavy libraries (polars, pandera) until a
value of that library is converted. ``flyteplugins-polars`` and ``-pandera`` import it from this
private path (``flyte._utils.lazy_module``); the public name is :func:`flyte.extend.lazy_module`.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import Any

__all__ = ["is_imported", "lazy_module"]


def is_imported(name: str) -> bool:
    """Whether the module ``name`` has been imported in this process (without importing it)."""
    return name in sys.modules


def lazy_module(fullname: str) -> types.ModuleType:
    """The module ``fullname``: the module itself when already imported, otherwise a module that
    imports itself on first attribute access (through :class:`importlib.util.LazyLoader`).

    A module that cannot be found still gives a stand-in, which raises ``ImportError`` on use, so
    that a plugin can be imported where an optional library is missing.

    Example:
        >>> json = lazy_module("json")
        >>> json.dumps([1])
        '[1]'
    """
    if fullname in sys.modules:
        return sys.modules[fullname]
    try:
        spec = importlib.util.find_spec(fullname)
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.loader is None:
        return _MissingModule(fullname)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[fullname] = module
    loader.exec_module(module)
    return module


class _MissingModule(types.ModuleType):
    """Stands in for a module that is not installed; any use raises ``ImportError``."""

    def __getattr__(self, item: str) -> Any:
        if item.startswith("__") and item.endswith("__"):
            raise AttributeError(item)
        raise ImportError(f"Module {self.__name__} is not installed (needed for {self.__name__}.{item})")

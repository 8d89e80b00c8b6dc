"""Type transformers from installed plugins: the ``flyte.plugins.types`` entry points.

A plugin distribution (``flyteplugins-polars``, ``-pandera``) declares an entry point in that group
whose target registers its transformers when called. As in Flyte 2 they are loaded once per
process, before the type engine first looks up a type that a plugin could handle (Flyte 2 loads
them in ``flyte.init()`` already; the result is the same, and a process that never converts such a
type does not pay for importing the plugins). ``flyte.init(load_plugin_type_transformers=False)``
keeps them out. Types the SDK converts on its own
(builtins, the standard library's, ``flyte``'s, dataclasses, enums, pydantic models) do not trigger
the load, so a process that only passes such values never imports the plugins. A plugin that fails
to load is logged and skipped.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import threading
import typing
from typing import Any

__all__ = ["disable_plugin_type_transformers", "load_plugin_type_transformers", "may_need_plugins"]

ENTRY_POINT_GROUP = "flyte.plugins.types"

_lock = threading.RLock()
_state = {"loaded": False}

_NATIVE_ROOTS = frozenset(
    {
        "builtins",
        "typing",
        "typing_extensions",
        "collections",
        "datetime",
        "decimal",
        "enum",
        "pathlib",
        "uuid",
        "types",
        "abc",
        "flyte",
        "flyteidl2",
        "google",
        "pydantic",
        "mashumaro",
    }
)


def load_plugin_type_transformers() -> None:
    """Import and call every ``flyte.plugins.types`` entry point (at most once per process)."""
    with _lock:
        if _state["loaded"]:
            return
        _state["loaded"] = True  # before loading: a plugin's own lookups must not load again
        from importlib.metadata import entry_points

        logger = logging.getLogger("flyte")
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            try:
                logger.debug("Loading type transformers of plugin %s", entry.name)
                target = entry.load()
                if callable(target):
                    target()
            except Exception as error:  # a broken plugin must not break the SDK
                logger.warning("Failed to load type transformer plugin %s: %s", entry.name, error)


def may_need_plugins(python_type: Any) -> bool:
    """Whether looking up ``python_type`` should load the plugins first (a type from a third-party
    library, not one the SDK converts on its own)."""
    if _state["loaded"]:
        return False
    origin = typing.get_origin(python_type)
    if origin is typing.Annotated:
        return may_need_plugins(typing.get_args(python_type)[0])
    target = origin if origin is not None else python_type
    if not isinstance(target, type):
        return False
    module = getattr(target, "__module__", "") or ""
    if module.partition(".")[0] in _NATIVE_ROOTS or module == "__main__":
        return False
    if dataclasses.is_dataclass(target) or issubclass(target, enum.Enum) or hasattr(target, "model_fields"):
        return False
    return True


def disable_plugin_type_transformers() -> None:
    """Never load the plugins' transformers in this process (``flyte.init(load_plugin_type_transformers=False)``)."""
    with _lock:
        _state["loaded"] = True

"""Registers the built-in transformer families with the engine, once."""

from __future__ import annotations

from typing import Any

from flyte.types._annotated import register_annotated
from flyte.types._containers import register_containers
from flyte.types._enum import register_enum
from flyte.types._pickle import register_pickle
from flyte.types._primitives import register_primitives
from flyte.types._structured import register_structured
from flyte.types._tuples import register_tuples
from flyte.types._type_engine import TypeEngine, TypeTransformer, strip_annotated
from flyte.types._union import register_union

__all__ = ["reader_type", "register_builtin_transformers"]

_registered = False

# Data frame libraries whose classes flyte.io converts; seen here so that a task declaring
# pd.DataFrame works without the user importing flyte.io.
_FRAME_LIBRARIES = frozenset({"pandas", "pyarrow", "polars"})


def _resolve_frame_library_type(t: Any) -> TypeTransformer[Any] | None:
    module = getattr(strip_annotated(t), "__module__", None)
    if not isinstance(module, str) or module.partition(".")[0] not in _FRAME_LIBRARIES:
        return None
    from flyte.io._registration import resolve_io_type  # registers flyte.io's transformers

    return resolve_io_type(t)


def reader_type(t: Any) -> Any:
    """The type a run handle decodes a value declared as ``t`` to.

    A data frame library's class (``pd.DataFrame``) reads as a ``flyte.io.DataFrame`` handle, as
    Flyte 2's run handles return it, unless ``preserve_original_types`` is on; every other type is
    itself.

    Example:
        >>> reader_type(int)
        <class 'int'>
    """
    from flyte._internal.decoding import preserving_original_types

    module = getattr(strip_annotated(t), "__module__", None)
    if not isinstance(module, str) or module.partition(".")[0] not in _FRAME_LIBRARIES:
        return t
    if preserving_original_types():
        return t
    from flyte.io import DataFrame

    return DataFrame


def register_builtin_transformers() -> None:
    """Register every built-in family; later calls do nothing."""
    global _registered
    if _registered:
        return
    _registered = True
    register_primitives()
    register_containers()
    register_union()
    register_annotated()
    register_enum()
    register_tuples()
    register_structured()
    register_pickle()
    TypeEngine.register_resolver(_resolve_frame_library_type, priority=-10)

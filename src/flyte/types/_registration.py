"""Registers the built-in transformer families with the engine, once."""

from __future__ import annotations

from flyte.types._annotated import register_annotated
from flyte.types._containers import register_containers
from flyte.types._enum import register_enum
from flyte.types._pickle import register_pickle
from flyte.types._primitives import register_primitives
from flyte.types._structured import register_structured
from flyte.types._tuples import register_tuples
from flyte.types._union import register_union

__all__ = ["register_builtin_transformers"]

_registered = False


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

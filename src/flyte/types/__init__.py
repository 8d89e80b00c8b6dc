"""Conversion between Python values and Flyte literals.

:class:`TypeEngine` converts any supported Python value to the ``Literal`` that crosses task
boundaries and back; :class:`TypeTransformer` is the base class for teaching it new types.
The interface helpers live in :mod:`flyte.types._interface` and the hashes in
:mod:`flyte.types._hashing`.

Example:
    >>> import asyncio
    >>> from flyte.types import TypeEngine
    >>> lit = asyncio.run(TypeEngine.to_literal({"a": [1, 2]}, dict[str, list[int]]))
    >>> asyncio.run(TypeEngine.to_python_value(lit, dict[str, list[int]]))
    {'a': [1, 2]}
"""

from __future__ import annotations

from flyte.types._interop import FlytePickle, Renderable, guess_interface, literal_string_repr
from flyte.types._registration import register_builtin_transformers
from flyte.types._type_engine import TypeEngine, TypeTransformer, TypeTransformerFailedError

__all__ = [
    "FlytePickle",
    "Renderable",
    "TypeEngine",
    "TypeTransformer",
    "TypeTransformerFailedError",
    "guess_interface",
    "literal_string_repr",
]

register_builtin_transformers()


def _load_custom_type_transformers() -> None:
    """Load the type transformers of installed plugins (``flyte.plugins.types`` entry points), once."""
    from flyte.types._plugins import load_plugin_type_transformers

    load_plugin_type_transformers()

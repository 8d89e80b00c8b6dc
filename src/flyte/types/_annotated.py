"""``Annotated[T, ...]``: encoded exactly as ``T``; the metadata stays on the Python side."""

from __future__ import annotations

import typing
from typing import Any

from flyteidl2.core import literals_pb2, types_pb2

from flyte.types._type_engine import TypeEngine, TypeTransformer, strip_annotated

__all__ = ["AnnotatedTransformer", "register_annotated"]


class AnnotatedTransformer(TypeTransformer[Any]):
    """Delegates to the transformer of the annotated type.

    Example:
        >>> from typing import Annotated
        >>> TypeEngine.to_literal_type(Annotated[int, "meters"]) == TypeEngine.to_literal_type(int)
        True
    """

    def __init__(self) -> None:
        super().__init__("Annotated", typing.Annotated)

    def get_literal_type(self, t: Any = None) -> types_pb2.LiteralType:
        return TypeEngine.to_literal_type(strip_annotated(t))

    async def to_literal(
        self, python_val: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        inner = strip_annotated(python_type)
        return await TypeEngine.get_transformer(inner).to_literal(python_val, inner, expected)

    async def to_python_value(self, lv: literals_pb2.Literal, expected_python_type: Any) -> Any:
        inner = strip_annotated(expected_python_type)
        return await TypeEngine.get_transformer(inner).to_python_value(lv, inner)


_ANNOTATED = AnnotatedTransformer()


def _resolve_annotated(t: Any) -> TypeTransformer[Any] | None:
    return _ANNOTATED if typing.get_origin(t) is typing.Annotated else None


def register_annotated() -> None:
    """Register the ``Annotated`` transformer (it runs before every other resolver)."""
    TypeEngine.register_resolver(_resolve_annotated, priority=0)

"""The transformer for ``enum.Enum`` classes with string values, and ``IntEnum``.

Flyte 2 sends an enum member by *name*: the literal type lists the member names and the value
is a string primitive holding the member's name.
"""

from __future__ import annotations

import enum
import typing
from typing import Any

from flyteidl2.core import literals_pb2, types_pb2

from flyte.types._type_engine import (
    TypeEngine,
    TypeTransformer,
    TypeTransformerFailedError,
    _short_repr,
    is_enum_type,
    type_name,
)

__all__ = ["EnumTransformer", "register_enum"]


def _check_transportable(t: type[enum.Enum]) -> None:
    if issubclass(t, enum.IntEnum):
        return
    for member in t:
        if not isinstance(member.value, str):
            raise TypeTransformerFailedError(
                f"Only string-valued enums and IntEnum are supported, got {t.__name__} with "
                f"{type(member.value).__name__} values."
            )


class EnumTransformer(TypeTransformer[enum.Enum]):
    """Encodes enum members by name.

    Example:
        >>> class Color(enum.Enum):
        ...     RED = "red"
        >>> list(TypeEngine.to_literal_type(Color).enum_type.values)
        ['RED']
    """

    def __init__(self) -> None:
        super().__init__("DefaultEnumTransformer", enum.Enum)

    def get_literal_type(self, t: Any = None) -> types_pb2.LiteralType:
        if not is_enum_type(t):
            raise TypeTransformerFailedError(f"{type_name(t)} is not an Enum class")
        _check_transportable(t)
        return types_pb2.LiteralType(enum_type=types_pb2.EnumType(values=[m.name for m in t]))

    async def to_literal(
        self, python_val: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        if not isinstance(python_val, python_type):
            raise TypeTransformerFailedError(
                f"Expected a member of {type_name(python_type)}, got {_short_repr(python_val)} "
                f"of type {type_name(type(python_val))}"
            )
        return literals_pb2.Literal(
            scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=python_val.name))
        )

    async def to_python_value(self, lv: literals_pb2.Literal, expected_python_type: Any) -> enum.Enum:
        scalar = lv.scalar
        if scalar.WhichOneof("value") == "union":
            return await self.to_python_value(scalar.union.value, expected_python_type)
        if scalar.primitive.WhichOneof("value") != "string_value":
            raise TypeTransformerFailedError(
                f"Cannot read {type_name(expected_python_type)} from literal {_short_repr(lv, 200)}"
            )
        text = scalar.primitive.string_value
        members = expected_python_type.__members__
        if text in members:
            return typing.cast("enum.Enum", members[text])
        try:  # literals written by older SDKs carry the value instead of the name
            return typing.cast("enum.Enum", expected_python_type(text))
        except ValueError as e:
            raise TypeTransformerFailedError(f"{text!r} is not a member of {type_name(expected_python_type)}") from e

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any:
        if literal_type.WhichOneof("type") == "enum_type":
            values = list(literal_type.enum_type.values)
            return enum.Enum("DynamicEnum", {v: v for v in values})
        raise ValueError(f"{self.name} cannot reverse {literal_type}")


_ENUM = EnumTransformer()


def _resolve_enum(t: Any) -> TypeTransformer[Any] | None:
    return _ENUM if is_enum_type(t) else None


def register_enum() -> None:
    """Register the enum transformer."""
    TypeEngine.register_resolver(_resolve_enum, priority=20)
    TypeEngine.register_guesser(_ENUM)

"""The transformer for ``Union[...]``, ``Optional[T]`` and ``X | Y``.

A union is declared as ``LiteralType.union_type`` whose variants carry a ``structure.tag`` naming
the variant's transformer (``"int"``, ``"none"``, ...). A value is a ``Scalar.union`` holding the
variant's literal and the variant type, so a reader can pick the right Python type by tag.
"""

from __future__ import annotations

import typing
from typing import Any

from flyteidl2.core import literals_pb2, types_pb2

from flyte.types._type_engine import (
    _STRICT,
    TypeEngine,
    TypeTransformer,
    TypeTransformerFailedError,
    _short_repr,
    coercion_allowed,
    is_union,
    strip_annotated,
    type_name,
)

__all__ = ["UnionTransformer", "register_union", "variant_tag"]


def variant_tag(t: Any) -> str:
    """Return the ``structure.tag`` Flyte 2 gives the union variant for type ``t``."""
    return TypeEngine.get_transformer(strip_annotated(t)).name


def _variant_literal_type(t: Any) -> types_pb2.LiteralType:
    lt = types_pb2.LiteralType()
    lt.CopyFrom(TypeEngine.to_literal_type(t))
    lt.structure.tag = variant_tag(t)
    return lt


class UnionTransformer(TypeTransformer[Any]):
    """Encodes a value as the first union variant that accepts it.

    Example:
        >>> lt = TypeEngine.to_literal_type(int | None)
        >>> [v.structure.tag for v in lt.union_type.variants]
        ['int', 'none']
    """

    def __init__(self) -> None:
        super().__init__("Typed Union", typing.Union)

    def get_literal_type(self, t: Any = None) -> types_pb2.LiteralType:
        variants = [_variant_literal_type(arg) for arg in typing.get_args(t)]
        return types_pb2.LiteralType(union_type=types_pb2.UnionType(variants=variants))

    async def to_literal(
        self, python_val: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        # A variant the value fits as it is wins over one it could be coerced to: 3 in
        # Union[float, int] is the int 3, as in Flyte 2, which does not coerce at all.
        token = _STRICT.set(True)  # what strict_types() does, without a generator per value
        try:
            chosen = await self._choose(python_val, python_type, expected)
        finally:
            _STRICT.reset(token)
        if chosen is None and coercion_allowed():
            chosen = await self._choose(python_val, python_type, expected)
        if chosen is not None:
            return literals_pb2.Literal(
                scalar=literals_pb2.Scalar(union=literals_pb2.Union(value=chosen[1], type=chosen[2]))
            )
        raise TypeTransformerFailedError(
            f"Value {_short_repr(python_val)} of type {type_name(type(python_val))} is not of type "
            f"{type_name(python_type)}"
        )

    async def _choose(
        self, python_val: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> tuple[Any, literals_pb2.Literal, types_pb2.LiteralType] | None:
        args = typing.get_args(python_type)
        variant_lts = expected.union_type.variants if expected.HasField("union_type") else None
        chosen: tuple[Any, literals_pb2.Literal, types_pb2.LiteralType] | None = None
        for i, arg in enumerate(args):
            variant_lt = (
                variant_lts[i] if variant_lts is not None and i < len(variant_lts) else _variant_literal_type(arg)
            )
            # Once a variant matched, only variants with the same tag need trying: they could
            # produce the same literal, which a reader could not tell apart.
            if chosen is not None and variant_lt.structure.tag != chosen[2].structure.tag:
                continue
            try:
                inner = await TypeEngine.get_transformer(arg).to_literal(python_val, arg, variant_lt)
            except (TypeError, ValueError, AttributeError):
                continue
            if chosen is None:
                chosen = (arg, inner, variant_lt)
            elif inner == chosen[1]:
                raise TypeTransformerFailedError(
                    f"Ambiguous union: {_short_repr(python_val)} is a valid {type_name(chosen[0])} and "
                    f"{type_name(arg)} with the same encoding; make the union's variants distinguishable"
                )
        return chosen

    async def to_python_value(self, lv: literals_pb2.Literal, expected_python_type: Any) -> Any:
        args = typing.get_args(expected_python_type)
        if lv.HasField("scalar") and lv.scalar.WhichOneof("value") == "union":
            union = lv.scalar.union
            tag = union.type.structure.tag
            same_tag = [arg for arg in args if variant_tag(arg) == tag]
            if not same_tag and dict in args and union.type.simple == types_pb2.STRUCT:
                # A guessed union reads a dataclass or pydantic variant as a plain dict.
                same_tag = [dict]
            if len(same_tag) > 1:  # e.g. list[int] | list[str]: pick by the full variant type
                exact = [arg for arg in same_tag if _variant_literal_type(arg) == union.type]
                same_tag = exact or same_tag
            if same_tag:
                arg = same_tag[0]
                return await TypeEngine.get_transformer(arg).to_python_value(union.value, arg)
            if tag:
                raise TypeTransformerFailedError(
                    f"Union variant {tag!r} is not one of {[variant_tag(a) for a in args]} "
                    f"in {type_name(expected_python_type)}"
                )
            lv = union.value
        # An untagged or bare literal: the first variant that reads it wins.
        if lv.HasField("scalar") and lv.scalar.WhichOneof("value") == "none_type" and type(None) in args:
            return None
        for arg in args:
            try:
                return await TypeEngine.get_transformer(arg).to_python_value(lv, arg)
            except (TypeError, ValueError, AttributeError):
                continue
        raise TypeTransformerFailedError(
            f"Cannot read {type_name(expected_python_type)} from literal {_short_repr(lv, 200)}"
        )

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any:
        if literal_type.WhichOneof("type") == "union_type":
            guessed = tuple(TypeEngine.guess_python_type(_untagged(v)) for v in literal_type.union_type.variants)
            return typing.Union[guessed]  # noqa: UP007
        raise ValueError(f"{self.name} cannot reverse {literal_type}")


def _untagged(lt: types_pb2.LiteralType) -> types_pb2.LiteralType:
    copy = types_pb2.LiteralType()
    copy.CopyFrom(lt)
    copy.ClearField("structure")
    return copy


_UNION = UnionTransformer()


def _resolve_union(t: Any) -> TypeTransformer[Any] | None:
    if is_union(t):
        return _UNION
    return None


def register_union() -> None:
    """Register the union transformer."""
    TypeEngine.register_resolver(_resolve_union, priority=5)
    TypeEngine.register_guesser(_UNION)

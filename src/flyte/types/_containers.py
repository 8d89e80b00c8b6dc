"""Transformers for ``list[T]``, ``dict[str, T]`` and untyped dictionaries.

* ``list[T]`` is a ``collection`` literal of ``T`` literals (``LiteralType.collection_type``).
* ``dict[str, T]`` is a ``map`` literal (``LiteralType.map_value_type``).
* ``dict`` and ``dict[K, V]`` with non-``str`` keys are msgpack bytes in a
  ``Binary`` scalar tagged ``"msgpack"``, declared as a ``STRUCT`` with an annotation that tells
  the cache which serialization format produced the bytes.
"""

from __future__ import annotations

import typing
from typing import Any

import msgpack
from flyteidl2.core import literals_pb2, types_pb2
from google.protobuf import struct_pb2

from flyte.types._type_engine import (
    TypeEngine,
    TypeTransformer,
    TypeTransformerFailedError,
    _short_repr,
    type_name,
)

__all__ = [
    "MSGPACK_TAG",
    "DictTransformer",
    "ListTransformer",
    "msgpack_literal",
    "msgpack_struct_type",
    "read_msgpack",
    "register_containers",
]

MSGPACK_TAG = "msgpack"


def msgpack_struct_type() -> types_pb2.LiteralType:
    """Return the ``STRUCT`` literal type Flyte 2 declares for msgpack-encoded values."""
    fmt = struct_pb2.Struct()
    fmt.fields["serialization-format"].string_value = MSGPACK_TAG
    annotation = types_pb2.TypeAnnotation()
    annotation.annotations.fields["cache-key-metadata"].struct_value.CopyFrom(fmt)
    return types_pb2.LiteralType(simple=types_pb2.STRUCT, annotation=annotation)


def msgpack_literal(data: bytes) -> literals_pb2.Literal:
    """Wrap msgpack ``data`` in a ``Binary`` scalar literal tagged ``"msgpack"``."""
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=data, tag=MSGPACK_TAG)))


def read_msgpack(lv: literals_pb2.Literal, expected: Any) -> Any:
    """Decode the msgpack payload of ``lv`` (a ``Binary`` scalar, possibly inside a union)."""
    scalar = lv.scalar
    kind = scalar.WhichOneof("value")
    if kind == "union":
        return read_msgpack(scalar.union.value, expected)
    if kind == "binary":
        if scalar.binary.tag not in (MSGPACK_TAG, ""):
            raise TypeTransformerFailedError(
                f"Cannot read {type_name(expected)} from a binary literal tagged {scalar.binary.tag!r}"
            )
        return msgpack.unpackb(scalar.binary.value, raw=False, strict_map_key=False)
    if kind == "generic":
        from google.protobuf import json_format

        return json_format.MessageToDict(scalar.generic)
    raise TypeTransformerFailedError(f"Cannot read {type_name(expected)} from literal {_short_repr(lv, 200)}")


def _pack(value: Any, t: Any) -> bytes:
    try:
        return typing.cast("bytes", msgpack.packb(value, use_bin_type=True))
    except (TypeError, ValueError, OverflowError) as e:
        raise TypeTransformerFailedError(
            f"Cannot encode {_short_repr(value)} as {type_name(t)} with msgpack: {e}"
        ) from e


class ListTransformer(TypeTransformer[list[Any]]):
    """``list[T]`` as a collection literal.

    Example:
        >>> TypeEngine.to_literal_type(list[int]).collection_type.simple == types_pb2.INTEGER
        True
    """

    def __init__(self) -> None:
        super().__init__("Typed List", list)

    @staticmethod
    def element_type(t: Any) -> Any:
        args = typing.get_args(t)
        if len(args) != 1:
            raise TypeTransformerFailedError(f"A list type needs one element type, got {type_name(t)}")
        return args[0]

    def get_literal_type(self, t: Any = None) -> types_pb2.LiteralType:
        sub = TypeEngine.to_literal_type(self.element_type(t))
        return types_pb2.LiteralType(collection_type=sub)

    async def to_literal(
        self, python_val: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        if not isinstance(python_val, list):
            raise TypeTransformerFailedError(
                f"Expected a list for {type_name(python_type)}, got {_short_repr(python_val)} "
                f"of type {type_name(type(python_val))}"
            )
        element_type = self.element_type(python_type)
        sub_lt = expected.collection_type if expected.HasField("collection_type") else None
        to_literal = TypeEngine.to_literal
        items = [await to_literal(v, element_type, sub_lt) for v in python_val]
        return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))

    async def to_python_value(self, lv: literals_pb2.Literal, expected_python_type: Any) -> list[Any]:
        if lv.WhichOneof("value") != "collection":
            if lv.HasField("scalar") and lv.scalar.WhichOneof("value") == "union":
                return await self.to_python_value(lv.scalar.union.value, expected_python_type)
            raise TypeTransformerFailedError(
                f"Cannot read {type_name(expected_python_type)} from literal {_short_repr(lv, 200)}"
            )
        element_type = self.element_type(expected_python_type)
        transformer = TypeEngine.get_transformer(element_type)
        return [await transformer.to_python_value(item, element_type) for item in lv.collection.literals]

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any:
        if literal_type.WhichOneof("type") == "collection_type":
            return list[TypeEngine.guess_python_type(literal_type.collection_type)]  # type: ignore[misc]
        raise ValueError(f"{self.name} cannot reverse {literal_type}")


class DictTransformer(TypeTransformer[dict[Any, Any]]):
    """``dict[str, T]`` as a map literal; other dictionaries as msgpack bytes.

    Example:
        >>> TypeEngine.to_literal_type(dict[str, int]).map_value_type.simple == types_pb2.INTEGER
        True
        >>> TypeEngine.to_literal_type(dict).simple == types_pb2.STRUCT
        True
    """

    def __init__(self) -> None:
        super().__init__("Typed Dict", dict)

    @staticmethod
    def typed_value_type(t: Any) -> Any | None:
        """Return ``T`` for ``dict[str, T]`` (a map literal), or ``None`` for msgpack-encoded dicts."""
        args = typing.get_args(t)
        if len(args) == 2 and args[0] is str:
            return args[1]
        return None

    def get_literal_type(self, t: Any = None) -> types_pb2.LiteralType:
        value_type = self.typed_value_type(t)
        if value_type is None:
            return msgpack_struct_type()
        return types_pb2.LiteralType(map_value_type=TypeEngine.to_literal_type(value_type))

    async def to_literal(
        self, python_val: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        if not isinstance(python_val, dict):
            raise TypeTransformerFailedError(
                f"Expected a dict for {type_name(python_type)}, got {_short_repr(python_val)} "
                f"of type {type_name(type(python_val))}"
            )
        value_type = self.typed_value_type(python_type)
        if value_type is None:
            return msgpack_literal(_pack(python_val, python_type))
        sub_lt = expected.map_value_type if expected.HasField("map_value_type") else None
        literals: dict[str, literals_pb2.Literal] = {}
        to_literal = TypeEngine.to_literal
        for k, v in python_val.items():
            if not isinstance(k, str):
                raise TypeTransformerFailedError(
                    f"{type_name(python_type)} needs str keys, got {_short_repr(k)} of type {type_name(type(k))}"
                )
            literals[k] = await to_literal(v, value_type, sub_lt)
        return literals_pb2.Literal(map=literals_pb2.LiteralMap(literals=literals))

    async def to_python_value(self, lv: literals_pb2.Literal, expected_python_type: Any) -> dict[Any, Any]:
        value_type = self.typed_value_type(expected_python_type)
        kind = lv.WhichOneof("value")
        if kind == "map":
            if value_type is None:
                raise TypeTransformerFailedError(
                    f"Cannot read {type_name(expected_python_type)} from a map literal; declare dict[str, T]"
                )
            transformer = TypeEngine.get_transformer(value_type)
            return {k: await transformer.to_python_value(v, value_type) for k, v in lv.map.literals.items()}
        if kind == "scalar" and lv.scalar.WhichOneof("value") == "union":
            return await self.to_python_value(lv.scalar.union.value, expected_python_type)
        if kind == "scalar":
            value = read_msgpack(lv, expected_python_type)
            if not isinstance(value, dict):
                raise TypeTransformerFailedError(f"Expected a msgpack map for {type_name(expected_python_type)}")
            return value
        raise TypeTransformerFailedError(
            f"Cannot read {type_name(expected_python_type)} from literal {_short_repr(lv, 200)}"
        )

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any:
        kind = literal_type.WhichOneof("type")
        if kind == "map_value_type":
            return dict[str, TypeEngine.guess_python_type(literal_type.map_value_type)]  # type: ignore[misc]
        if kind == "simple" and literal_type.simple == types_pb2.STRUCT:
            # A dataclass, pydantic model, TypedDict or tuple whose class is not at hand (only the
            # wire interface is known) reads as the plain dict its msgpack bytes hold.
            return dict
        raise ValueError(f"{self.name} cannot reverse {literal_type}")


def _resolve_generic(t: Any) -> TypeTransformer[Any] | None:
    origin = typing.get_origin(t)
    if origin is list and typing.get_args(t):
        return _LIST
    if origin is dict or t is dict:
        return _DICT
    return None


_LIST = ListTransformer()
_DICT = DictTransformer()


def register_containers() -> None:
    """Register the list and dict transformers."""
    TypeEngine.register(_DICT)
    TypeEngine.register_resolver(_resolve_generic, priority=10)
    TypeEngine.register_guesser(_LIST)

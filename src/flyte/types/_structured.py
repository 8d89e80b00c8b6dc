"""Transformers for dataclasses and pydantic models: msgpack bytes plus a JSON schema.

Both are declared as a ``STRUCT`` literal type whose ``metadata`` is the class's JSON schema, with
the msgpack cache annotation and a ``structure.tag`` naming the transformer. Values are msgpack
bytes in a ``Binary`` scalar tagged ``"msgpack"``.

* Dataclasses are encoded by mashumaro (schema from ``mashumaro.jsonschema``), so enums travel by
  value and datetimes as ISO strings, as Flyte 2 does. Pydantic models inside a dataclass (such as
  ``flyte.io.File``, ``Dir`` and ``DataFrame`` fields) are described by their own pydantic schema,
  read through mashumaro's schema model as Flyte 2 does (which drops keywords it does not know,
  such as ``x-flyte-type``); their values are written by their ``SerializableType`` hooks.
* Pydantic models are dumped in JSON mode, except that enum members inside models travel by
  *name*, and the schema lists enum names; this matches what Flyte 2 writes.
* A ``dict`` given for either is turned into an instance first (``_coercion``), as Flyte 2 does:
  field names and scalar types are checked for a dataclass, a model validates it.

mashumaro and pydantic are imported only when such a type is first seen.
"""

from __future__ import annotations

import enum
import functools
import typing
from typing import Any

import msgpack
from flyteidl2.core import literals_pb2, types_pb2
from google.protobuf import struct_pb2

from flyte.types._coercion import build_from_dict, model_from_dict
from flyte.types._containers import msgpack_literal, msgpack_struct_type, read_msgpack
from flyte.types._type_engine import (
    TypeEngine,
    TypeTransformer,
    TypeTransformerFailedError,
    _short_repr,
    coercion_allowed,
    is_dataclass_type,
    is_pydantic_model,
    is_union,
    strip_annotated,
    type_name,
)

__all__ = [
    "DATACLASS_TAG",
    "PYDANTIC_TAG",
    "DataclassTransformer",
    "PydanticTransformer",
    "dataclass_json_schema",
    "pydantic_json_schema",
    "register_structured",
    "schema_literal_type",
]

DATACLASS_TAG = "Object-Dataclass-Transformer"
PYDANTIC_TAG = "Pydantic Transformer"


def schema_literal_type(schema: dict[str, Any], tag: str) -> types_pb2.LiteralType:
    """Return the ``STRUCT`` literal type for a msgpack value described by a JSON ``schema``."""
    lt = msgpack_struct_type()
    metadata = struct_pb2.Struct()
    metadata.update(schema)
    lt.metadata.CopyFrom(metadata)
    lt.structure.tag = tag
    return lt


def _encode_failed(value: Any, t: Any, e: Exception) -> TypeTransformerFailedError:
    return TypeTransformerFailedError(f"Cannot encode {_short_repr(value)} as {type_name(t)}: {e}")


@functools.lru_cache(maxsize=512)
def _mashumaro_codec(t: type) -> tuple[Any, Any]:
    from mashumaro.codecs.msgpack import MessagePackDecoder, MessagePackEncoder

    return MessagePackEncoder(t), MessagePackDecoder(t)


@functools.lru_cache(maxsize=1)
def _pydantic_field_plugin() -> Any:
    from mashumaro.jsonschema.models import JSONSchema
    from mashumaro.jsonschema.plugins import BasePlugin

    class _PydanticFieldSchema(BasePlugin):
        # mashumaro has no schema for pydantic models; use the model's own, as for a top-level model.
        def get_schema(self, instance: Any, ctx: Any, schema: Any = None) -> Any:
            if not is_pydantic_model(instance.type):
                return None
            return JSONSchema.from_dict(pydantic_json_schema(instance.type))

    return _PydanticFieldSchema()


def dataclass_json_schema(t: Any) -> dict[str, Any]:
    """Return the JSON schema Flyte 2 declares for dataclass ``t`` (mashumaro's, all inline).

    Example:
        >>> @dataclasses.dataclass
        ... class Point:
        ...     x: int
        >>> dataclass_json_schema(Point)["required"]
        ['x']
    """
    from mashumaro.jsonschema import build_json_schema

    try:
        schema: dict[str, Any] = build_json_schema(t, plugins=[_pydantic_field_plugin()]).to_dict()
    except Exception as e:  # mashumaro raises its own errors for unsupported field types
        raise TypeTransformerFailedError(f"Cannot build a JSON schema for {type_name(t)}: {e}") from e
    return schema


class DataclassTransformer(TypeTransformer[Any]):
    """Dataclasses as msgpack, encoded by mashumaro.

    Example:
        >>> @dataclasses.dataclass
        ... class Point:
        ...     x: int
        >>> TypeEngine.to_literal_type(Point).structure.tag
        'Object-Dataclass-Transformer'
    """

    def __init__(self) -> None:
        super().__init__(DATACLASS_TAG, object)

    def get_literal_type(self, t: Any = None) -> types_pb2.LiteralType:
        return schema_literal_type(dataclass_json_schema(t), DATACLASS_TAG)

    async def to_literal(
        self, python_val: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        if isinstance(python_val, dict) and coercion_allowed():
            python_val = build_from_dict(python_type, python_val)
        if not isinstance(python_val, python_type):
            raise TypeTransformerFailedError(
                f"Expected a {type_name(python_type)}, got {_short_repr(python_val)} "
                f"of type {type_name(type(python_val))}"
            )
        try:
            encoder, _ = _mashumaro_codec(python_type)
            data = encoder.encode(python_val)
        except Exception as e:  # mashumaro raises many exception types for bad field values
            raise _encode_failed(python_val, python_type, e) from e
        return msgpack_literal(data)

    async def to_python_value(self, lv: literals_pb2.Literal, expected_python_type: Any) -> Any:
        scalar = lv.scalar
        if scalar.WhichOneof("value") == "union":
            return await self.to_python_value(scalar.union.value, expected_python_type)
        _, decoder = _mashumaro_codec(expected_python_type)
        try:
            if scalar.WhichOneof("value") == "binary":
                return decoder.decode(scalar.binary.value)
            return decoder.decode(msgpack.packb(read_msgpack(lv, expected_python_type)))
        except Exception as e:  # mashumaro raises many exception types for malformed data
            raise TypeTransformerFailedError(f"Cannot decode {type_name(expected_python_type)}: {e}") from e


def _pydantic_schema_generator() -> Any:
    from pydantic.json_schema import GenerateJsonSchema

    class _EnumNamesJsonSchema(GenerateJsonSchema):
        # Enum members inside pydantic models travel by name, so the schema lists names.
        def enum_schema(self, schema: Any) -> Any:
            result = super().enum_schema(schema)
            result["enum"] = [member.name for member in schema["members"]]
            return result

    return _EnumNamesJsonSchema


_SCHEMA_GENERATOR: Any = None


def pydantic_json_schema(t: Any) -> dict[str, Any]:
    """Return the JSON schema Flyte 2 declares for pydantic model class ``t`` (enums by name).

    Example:
        >>> import pydantic
        >>> class User(pydantic.BaseModel):
        ...     name: str
        >>> pydantic_json_schema(User)["title"]
        'User'
    """
    global _SCHEMA_GENERATOR
    if _SCHEMA_GENERATOR is None:
        _SCHEMA_GENERATOR = _pydantic_schema_generator()
    schema: dict[str, Any] = t.model_json_schema(schema_generator=_SCHEMA_GENERATOR)
    return schema


def _names_from_instance(value: Any, dumped: Any) -> Any:
    """Replace enum values by names in ``dumped`` wherever ``value`` (the source) holds an enum."""
    if isinstance(value, enum.Enum):
        return value.name
    if is_pydantic_model(type(value)) and isinstance(dumped, dict):
        return {key: _names_from_instance(getattr(value, key, None), item) for key, item in dumped.items()}
    if isinstance(value, (list, tuple)) and isinstance(dumped, list) and len(value) == len(dumped):
        return [_names_from_instance(v, d) for v, d in zip(value, dumped, strict=True)]
    if isinstance(value, dict) and isinstance(dumped, dict):
        return {k: _names_from_instance(value.get(k), d) for k, d in dumped.items()}
    return dumped


def _enums_from_names(t: Any, data: Any) -> Any:
    """Turn enum names in decoded ``data`` back into members, guided by the declared type ``t``."""
    t = strip_annotated(t)
    if isinstance(t, type) and issubclass(t, enum.Enum):
        if isinstance(data, str) and data in t.__members__:
            return t.__members__[data]
        return data
    if is_union(t):
        for arg in typing.get_args(t):
            converted = _enums_from_names(arg, data)
            if converted is not data:
                return converted
        return data
    if is_pydantic_model(t) and isinstance(data, dict):
        fields = t.model_fields
        return {k: _enums_from_names(fields[k].annotation, v) if k in fields else v for k, v in data.items()}
    origin = typing.get_origin(t)
    args = typing.get_args(t)
    if origin in (list, set, frozenset) and args and isinstance(data, list):
        return [_enums_from_names(args[0], v) for v in data]
    if origin is tuple and args and isinstance(data, list):
        if len(args) == 2 and args[1] is Ellipsis:
            return [_enums_from_names(args[0], v) for v in data]
        return [_enums_from_names(a, v) for a, v in zip(args, data, strict=False)]
    if origin is dict and len(args) == 2 and isinstance(data, dict):
        return {k: _enums_from_names(args[1], v) for k, v in data.items()}
    return data


class PydanticTransformer(TypeTransformer[Any]):
    """Pydantic models as msgpack of their JSON-mode dump.

    Example:
        >>> import pydantic
        >>> class User(pydantic.BaseModel):
        ...     name: str
        >>> TypeEngine.to_literal_type(User).structure.tag
        'Pydantic Transformer'
    """

    def __init__(self) -> None:
        super().__init__(PYDANTIC_TAG, object)

    def get_literal_type(self, t: Any = None) -> types_pb2.LiteralType:
        return schema_literal_type(pydantic_json_schema(t), PYDANTIC_TAG)

    def dump(self, python_val: Any) -> bytes:
        """Return the msgpack bytes Flyte 2 writes for a model instance."""
        dumped = python_val.model_dump(mode="json")
        return typing.cast("bytes", msgpack.packb(_names_from_instance(python_val, dumped), use_bin_type=True))

    def load(self, t: Any, data: Any) -> Any:
        """Validate decoded msgpack ``data`` as model class ``t``."""
        from pydantic import ValidationError

        try:
            return t.model_validate(_enums_from_names(t, data))
        except ValidationError as e:
            raise TypeTransformerFailedError(f"Cannot decode {type_name(t)}: {e}") from e

    async def to_literal(
        self, python_val: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        if isinstance(python_val, dict) and coercion_allowed():
            python_val = model_from_dict(python_type, python_val)
        if not isinstance(python_val, python_type):
            raise TypeTransformerFailedError(
                f"Expected a {type_name(python_type)}, got {_short_repr(python_val)} "
                f"of type {type_name(type(python_val))}"
            )
        try:
            return msgpack_literal(self.dump(python_val))
        except (TypeError, ValueError) as e:
            raise _encode_failed(python_val, python_type, e) from e

    async def to_python_value(self, lv: literals_pb2.Literal, expected_python_type: Any) -> Any:
        return self.load(expected_python_type, read_msgpack(lv, expected_python_type))


_DATACLASS = DataclassTransformer()
_PYDANTIC = PydanticTransformer()


def _resolve_structured(t: Any) -> TypeTransformer[Any] | None:
    if is_pydantic_model(t):
        return _PYDANTIC
    if is_dataclass_type(t):
        return _DATACLASS
    return None


def register_structured() -> None:
    """Register the dataclass and pydantic transformers."""
    TypeEngine.register_resolver(_resolve_structured, priority=30)

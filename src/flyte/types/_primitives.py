"""Transformers for scalars: ``int``, ``float``, ``str``, ``bool``, ``None`` and the time types.

These carry nearly every task input, so each has an exact-type encoder registered in
``_FAST_ENCODERS`` that builds the literal without any lookups beyond one dictionary access.
A ``float`` input also takes an ``int`` (encoded as the equal float), except under
:func:`~flyte.types._type_engine.strict_types`.

Flyte 2 encodes ``datetime.date`` as a ``DATETIME`` at midnight UTC, treats naive datetimes as
UTC, and always decodes datetimes as UTC-aware values.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from flyteidl2.core import literals_pb2, types_pb2
from google.protobuf import duration_pb2, timestamp_pb2

from flyte.types._type_engine import (
    _FAST_ENCODERS,
    TypeEngine,
    TypeTransformer,
    TypeTransformerFailedError,
    _short_repr,
    coercion_allowed,
    type_name,
)

__all__ = ["SimpleTransformer", "register_primitives"]

_Literal = literals_pb2.Literal
_Scalar = literals_pb2.Scalar
_Primitive = literals_pb2.Primitive

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def _encode_int(v: int) -> literals_pb2.Literal:
    return _Literal(scalar=_Scalar(primitive=_Primitive(integer=v)))


def _encode_float(v: float) -> literals_pb2.Literal:
    return _Literal(scalar=_Scalar(primitive=_Primitive(float_value=v)))


def _encode_str(v: str) -> literals_pb2.Literal:
    return _Literal(scalar=_Scalar(primitive=_Primitive(string_value=v)))


def _encode_bool(v: bool) -> literals_pb2.Literal:
    return _Literal(scalar=_Scalar(primitive=_Primitive(boolean=v)))


def _encode_none(v: None) -> literals_pb2.Literal:
    return _Literal(scalar=_Scalar(none_type=literals_pb2.Void()))


_ONE_MICROSECOND = datetime.timedelta(microseconds=1)


def _to_timestamp(v: datetime.datetime) -> timestamp_pb2.Timestamp:
    if v.tzinfo is None:
        v = v.replace(tzinfo=datetime.timezone.utc)
    delta = v - _EPOCH
    seconds = delta.days * 86400 + delta.seconds
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=delta.microseconds * 1000)


def _from_timestamp(ts: timestamp_pb2.Timestamp) -> datetime.datetime:
    return _EPOCH + datetime.timedelta(seconds=ts.seconds, microseconds=ts.nanos // 1000)


def _encode_datetime(v: datetime.datetime) -> literals_pb2.Literal:
    return _Literal(scalar=_Scalar(primitive=_Primitive(datetime=_to_timestamp(v))))


def _encode_date(v: datetime.date) -> literals_pb2.Literal:
    midnight = datetime.datetime(v.year, v.month, v.day, tzinfo=datetime.timezone.utc)
    return _encode_datetime(midnight)


def _encode_timedelta(v: datetime.timedelta) -> literals_pb2.Literal:
    # A protobuf Duration's seconds and nanos share one sign (its canonical form), unlike
    # timedelta, whose days alone carry it: -0.5s is (0, -500_000_000), not (-1, 500_000_000).
    micros = v // _ONE_MICROSECOND
    seconds = abs(micros) // 1_000_000 * (1 if micros >= 0 else -1)
    nanos = (micros - seconds * 1_000_000) * 1000
    return _Literal(scalar=_Scalar(primitive=_Primitive(duration=duration_pb2.Duration(seconds=seconds, nanos=nanos))))


def _check_int(v: Any) -> None:
    # bool is an int subclass, but Flyte keeps them apart (a BOOLEAN literal is not an INTEGER).
    if not isinstance(v, int) or isinstance(v, bool):
        raise _mismatch(int, v)
    if not -(2**63) <= v < 2**63:
        raise TypeTransformerFailedError(f"Integer {v} does not fit in a signed 64-bit Flyte INTEGER")


def _check_float(v: Any) -> None:
    # An int is a float input's value too (``x: float = 3``), as in Flyte 2's CLI and user guide;
    # bool is not, and a union tries its variants without coercion first.
    if isinstance(v, float):
        return
    if isinstance(v, int) and not isinstance(v, bool) and coercion_allowed():
        return
    raise _mismatch(float, v)


def _encode_any_float(v: Any) -> literals_pb2.Literal:
    return _encode_float(float(v))


def _check_datetime(v: Any) -> None:
    if not isinstance(v, datetime.datetime):
        raise _mismatch(datetime.datetime, v)


def _check_date(v: Any) -> None:
    if not isinstance(v, datetime.date) or isinstance(v, datetime.datetime):
        raise _mismatch(datetime.date, v)


def _mismatch(expected: Any, v: Any) -> TypeTransformerFailedError:
    return TypeTransformerFailedError(
        f"Expected a value of type {type_name(expected)}, got {_short_repr(v)} of type {type_name(type(v))}"
    )


def _primitive(lv: literals_pb2.Literal, field: str, expected: Any) -> Any:
    scalar = lv.scalar
    kind = scalar.WhichOneof("value")
    if kind == "primitive" and scalar.primitive.WhichOneof("value") == field:
        return getattr(scalar.primitive, field)
    if kind == "union":
        return _primitive(scalar.union.value, field, expected)
    raise TypeTransformerFailedError(f"Cannot read a {type_name(expected)} from literal {_short_repr(lv, 200)}")


class SimpleTransformer(TypeTransformer[Any]):
    """A transformer for one scalar type, built from an encoder, a decoder and a checker.

    Args:
        name: readable name.
        t: the Python type.
        lt: its literal type.
        encode: builds the literal from a value already known to be valid.
        decode: reads a value back from a literal.
        check: raises ``TypeTransformerFailedError`` for an invalid value; ``isinstance`` if omitted.

    Example:
        >>> t = TypeEngine.get_transformer(str)
        >>> isinstance(t, SimpleTransformer)
        True
    """

    def __init__(
        self,
        name: str,
        t: Any,
        lt: types_pb2.LiteralType,
        encode: Callable[[Any], literals_pb2.Literal],
        decode: Callable[[literals_pb2.Literal], Any],
        check: Callable[[Any], None] | None = None,
    ) -> None:
        super().__init__(name, t)
        self._lt = lt
        self._encode = encode
        self._decode = decode
        self._check = check

    def get_literal_type(self, t: Any = None) -> types_pb2.LiteralType:
        return self._lt

    def assert_type(self, t: Any, v: Any) -> None:
        if self._check is not None:
            self._check(v)
        else:
            super().assert_type(self._t, v)

    async def to_literal(
        self, python_val: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        self.assert_type(python_type, python_val)
        return self._encode(python_val)

    async def to_python_value(self, lv: literals_pb2.Literal, expected_python_type: Any) -> Any:
        return self._decode(lv)

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any:
        if literal_type.WhichOneof("type") == "simple" and literal_type.simple == self._lt.simple:
            if not literal_type.HasField("annotation") and not literal_type.HasField("structure"):
                return self._t
        raise ValueError(f"{self.name} cannot reverse {literal_type}")


def _decode_float(lv: literals_pb2.Literal) -> float:
    prim = lv.scalar.primitive
    if prim.WhichOneof("value") == "integer":  # widening an INTEGER literal to float is lossless enough
        return float(prim.integer)
    return float(_primitive(lv, "float_value", float))


def _decode_none(lv: literals_pb2.Literal) -> None:
    return None


def _decode_datetime(lv: literals_pb2.Literal) -> datetime.datetime:
    return _from_timestamp(_primitive(lv, "datetime", datetime.datetime))


def _decode_date(lv: literals_pb2.Literal) -> datetime.date:
    return _from_timestamp(_primitive(lv, "datetime", datetime.date)).date()


def _decode_timedelta(lv: literals_pb2.Literal) -> datetime.timedelta:
    d = _primitive(lv, "duration", datetime.timedelta)
    return datetime.timedelta(seconds=d.seconds, microseconds=d.nanos // 1000)


def _simple(kind: int) -> types_pb2.LiteralType:
    return types_pb2.LiteralType(simple=kind)  # type: ignore[arg-type]


def register_primitives() -> None:
    """Register the scalar transformers and their exact-type fast encoders."""
    specs: list[SimpleTransformer] = [
        SimpleTransformer(
            "int",
            int,
            _simple(types_pb2.INTEGER),
            _encode_int,
            lambda lv: _primitive(lv, "integer", int),
            _check_int,
        ),
        SimpleTransformer("float", float, _simple(types_pb2.FLOAT), _encode_any_float, _decode_float, _check_float),
        SimpleTransformer(
            "str", str, _simple(types_pb2.STRING), _encode_str, lambda lv: _primitive(lv, "string_value", str)
        ),
        SimpleTransformer(
            "bool", bool, _simple(types_pb2.BOOLEAN), _encode_bool, lambda lv: _primitive(lv, "boolean", bool)
        ),
        SimpleTransformer("none", type(None), _simple(types_pb2.NONE), _encode_none, _decode_none),
        SimpleTransformer(
            "datetime",
            datetime.datetime,
            _simple(types_pb2.DATETIME),
            _encode_datetime,
            _decode_datetime,
            _check_datetime,
        ),
        SimpleTransformer("date", datetime.date, _simple(types_pb2.DATETIME), _encode_date, _decode_date, _check_date),
        SimpleTransformer(
            "timedelta", datetime.timedelta, _simple(types_pb2.DURATION), _encode_timedelta, _decode_timedelta
        ),
    ]
    for transformer in specs:
        TypeEngine.register(transformer)
    # The int fast path still needs the range check, so it goes through a wrapper.
    _FAST_ENCODERS[int] = _encode_int_checked
    _FAST_ENCODERS[float] = _encode_float
    _FAST_ENCODERS[str] = _encode_str
    _FAST_ENCODERS[bool] = _encode_bool
    _FAST_ENCODERS[type(None)] = _encode_none
    _FAST_ENCODERS[datetime.datetime] = _encode_datetime
    _FAST_ENCODERS[datetime.date] = _encode_date
    _FAST_ENCODERS[datetime.timedelta] = _encode_timedelta


def _encode_int_checked(v: int) -> literals_pb2.Literal:
    if not -(2**63) <= v < 2**63:
        raise TypeTransformerFailedError(f"Integer {v} does not fit in a signed 64-bit Flyte INTEGER")
    return _encode_int(v)

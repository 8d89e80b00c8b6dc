"""Every supported type survives Python -> Literal -> bytes -> Literal -> Python."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from flyteidl2.core import literals_pb2, types_pb2
from type_samples import CASES, Color, Inner, Level, Pair

from flyte.types import TypeEngine, TypeTransformerFailedError


@pytest.mark.parametrize(("python_type", "value"), [(t, v) for _, t, v in CASES], ids=[c[0] for c in CASES])
async def test_round_trip_through_bytes(python_type: Any, value: Any) -> None:
    lt = TypeEngine.to_literal_type(python_type)
    lit = await TypeEngine.to_literal(value, python_type, lt)
    wire = lit.SerializeToString(deterministic=True)
    lt_wire = lt.SerializeToString(deterministic=True)
    assert types_pb2.LiteralType.FromString(lt_wire) == lt
    back = await TypeEngine.to_python_value(literals_pb2.Literal.FromString(wire), python_type)
    assert back == value
    assert type(back) is type(value)


async def test_naive_datetime_is_read_back_as_utc() -> None:
    naive = datetime.datetime(2024, 1, 2, 3, 4, 5)
    lit = await TypeEngine.to_literal(naive, datetime.datetime)
    assert lit.scalar.primitive.datetime.seconds == 1704164645
    back = await TypeEngine.to_python_value(lit, datetime.datetime)
    assert back == naive.replace(tzinfo=datetime.timezone.utc)


async def test_aware_datetime_is_converted_to_utc() -> None:
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    lit = await TypeEngine.to_literal(datetime.datetime(2020, 1, 1, tzinfo=plus_two), datetime.datetime)
    back = await TypeEngine.to_python_value(lit, datetime.datetime)
    assert back == datetime.datetime(2019, 12, 31, 22, tzinfo=datetime.timezone.utc)
    assert back.tzinfo is datetime.timezone.utc


async def test_enum_travels_by_name() -> None:
    lit = await TypeEngine.to_literal(Color.GREEN, Color)
    assert lit.scalar.primitive.string_value == "GREEN"
    assert list(TypeEngine.to_literal_type(Level).enum_type.values) == ["LOW", "HIGH"]


def test_enum_with_int_values_is_rejected() -> None:
    import enum

    class Numbers(enum.Enum):
        ONE = 1

    with pytest.raises(TypeTransformerFailedError, match="Only string-valued enums"):
        TypeEngine.to_literal_type(Numbers)


async def test_union_prefers_the_variant_the_value_really_is() -> None:
    lit = await TypeEngine.to_literal(1, float | int)
    assert lit.scalar.union.type.structure.tag == "int"
    lit = await TypeEngine.to_literal(2.0, int | float)
    assert lit.scalar.union.type.structure.tag == "float"
    assert await TypeEngine.to_python_value(lit, int | float) == 2.0


async def test_union_order_is_part_of_the_literal_type() -> None:
    a = TypeEngine.to_literal_type(int | str)
    b = TypeEngine.to_literal_type(str | int)
    assert [v.structure.tag for v in a.union_type.variants] == ["int", "str"]
    assert [v.structure.tag for v in b.union_type.variants] == ["str", "int"]


async def test_ambiguous_union_is_rejected() -> None:
    with pytest.raises(TypeTransformerFailedError, match="Ambiguous"):
        await TypeEngine.to_literal([], list[int] | list[str])


async def test_union_reads_an_unwrapped_literal() -> None:
    bare = await TypeEngine.to_literal(3, int)
    assert await TypeEngine.to_python_value(bare, int | None) == 3


async def test_namedtuple_and_dataclass_literal_types_carry_their_schema() -> None:
    lt = TypeEngine.to_literal_type(Pair)
    assert lt.metadata["title"] == "NamedTupleWrapper_Pair"
    assert lt.structure.tag == "Pydantic Transformer"
    variants = TypeEngine.to_literal_type(Pair | None).union_type.variants
    assert variants[0].structure.tag == "NamedTuple"
    dc = TypeEngine.to_literal_type(Inner)
    assert dc.simple == types_pb2.STRUCT
    assert dc.structure.tag == "Object-Dataclass-Transformer"
    assert dc.metadata["required"] == ["a"]
    assert dc.annotation.annotations["cache-key-metadata"]["serialization-format"] == "msgpack"


async def test_bare_list_and_variadic_tuple_fall_back_to_pickle() -> None:
    for t, v in [(list, [1, "a"]), (tuple[int, ...], (1, 2))]:
        lit = await TypeEngine.to_literal(v, t)
        assert lit.scalar.binary.tag == ""
        assert await TypeEngine.to_python_value(lit, t) == v


async def test_large_int_is_rejected() -> None:
    with pytest.raises(TypeTransformerFailedError, match="64-bit"):
        await TypeEngine.to_literal(2**63, int)

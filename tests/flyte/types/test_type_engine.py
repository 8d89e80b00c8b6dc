"""The registry: lookups, custom transformers, assertions, fallbacks and lazy imports."""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

import pytest
from flyteidl2.core import literals_pb2, types_pb2
from type_samples import Opaque

import flyte.types
from flyte.types import TypeEngine, TypeTransformer, TypeTransformerFailedError


def test_public_names_are_pinned() -> None:
    assert flyte.types.__all__ == [
        "FlytePickle",
        "Renderable",
        "TypeEngine",
        "TypeTransformer",
        "TypeTransformerFailedError",
        "guess_interface",
        "literal_string_repr",
    ]


class Celsius(float):
    """A float subclass with its own wire form, to exercise registration."""


class CelsiusTransformer(TypeTransformer[Celsius]):
    def __init__(self) -> None:
        super().__init__("Celsius", Celsius)

    def get_literal_type(self, t: Any = None) -> types_pb2.LiteralType:
        return types_pb2.LiteralType(simple=types_pb2.STRING)

    async def to_literal(self, python_val: Celsius, python_type: Any, expected: types_pb2.LiteralType) -> Any:
        self.assert_type(python_type, python_val)
        return literals_pb2.Literal(
            scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=f"{float(python_val)}C"))
        )

    async def to_python_value(self, lv: literals_pb2.Literal, expected_python_type: Any) -> Celsius:
        return Celsius(lv.scalar.primitive.string_value.rstrip("C"))


async def test_a_registered_transformer_is_used_for_its_type_and_inside_containers() -> None:
    TypeEngine.register(CelsiusTransformer())
    lit = await TypeEngine.to_literal([Celsius(3.5)], list[Celsius])
    assert lit.collection.literals[0].scalar.primitive.string_value == "3.5C"
    assert await TypeEngine.to_python_value(lit, list[Celsius]) == [Celsius(3.5)]


async def test_assert_type_names_both_types() -> None:
    with pytest.raises(TypeError, match=r"Expected a value of type int, got 'x' of type str"):
        await TypeEngine.to_literal("x", int)
    with pytest.raises(TypeTransformerFailedError, match="of type bool"):
        await TypeEngine.to_literal(True, int)


def test_get_transformer_is_cached_and_follows_the_mro() -> None:
    class MyStr(str):
        pass

    assert TypeEngine.get_transformer(MyStr) is TypeEngine.get_transformer(str)
    assert TypeEngine.get_transformer(list[int]) is TypeEngine.get_transformer(list[int])
    assert TypeEngine.to_literal_type(dict[str, int]) is TypeEngine.to_literal_type(dict[str, int])


def test_unknown_types_pickle_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    class NeverSeen:
        pass

    with caplog.at_level(logging.WARNING, logger="flyte"):
        lt = TypeEngine.to_literal_type(NeverSeen)
    assert "NeverSeen" in caplog.text
    assert lt.metadata["python_class_name"] == str(NeverSeen)
    assert [v.structure.tag for v in lt.union_type.variants] == ["FlytePickle", "FlytePickle"]


async def test_pickled_values_from_a_blob_uri_are_read(tmp_path: Any) -> None:
    import cloudpickle

    path = tmp_path / "v.pkl"
    path.write_bytes(cloudpickle.dumps(Opaque(9)))
    lit = literals_pb2.Literal(scalar=literals_pb2.Scalar(blob=literals_pb2.Blob(uri=str(path))))
    assert await TypeEngine.to_python_value(lit, Opaque) == Opaque(9)


@pytest.mark.parametrize(
    ("literal_type", "expected"),
    [
        (types_pb2.LiteralType(simple=types_pb2.INTEGER), int),
        (types_pb2.LiteralType(collection_type=types_pb2.LiteralType(simple=types_pb2.STRING)), list[str]),
        (types_pb2.LiteralType(map_value_type=types_pb2.LiteralType(simple=types_pb2.FLOAT)), dict[str, float]),
    ],
)
def test_guess_python_type(literal_type: types_pb2.LiteralType, expected: Any) -> None:
    assert TypeEngine.guess_python_type(literal_type) == expected


def test_guess_python_type_of_a_union_and_enum() -> None:
    guessed = TypeEngine.guess_python_type(TypeEngine.to_literal_type(int | None))
    assert guessed == int | None
    lt = types_pb2.LiteralType(enum_type=types_pb2.EnumType(values=["A", "B"]))
    assert [m.name for m in TypeEngine.guess_python_type(lt)] == ["A", "B"]


def test_importing_flyte_types_does_not_import_pydantic_or_mashumaro() -> None:
    code = (
        "import sys; import flyte.types; from flyte.types import TypeEngine; "
        "TypeEngine.to_literal_type(list[int]); "
        "print(sorted(m for m in ('pydantic', 'mashumaro') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

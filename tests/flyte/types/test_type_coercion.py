"""Values of another type that Flyte 2 programs pass for a declared one, and reading literals
whose Python type is not at hand."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, TypedDict

import pandas as pd
import polars as pl
import pyarrow as pa
import pydantic
import pytest
import typing_extensions
from flyteidl2.core import literals_pb2
from type_samples import Color, Inner, Model, Outer

from flyte._internal.decoding import preserve_original_types
from flyte.io import DataFrame
from flyte.types import TypeEngine, TypeTransformerFailedError
from flyte.types._coercion import build_from_dict, is_declared_type
from flyte.types._interface import (
    NativeInterface,
    coerced_inputs,
    convert_inputs_to_literals,
    convert_outputs_for_caller,
)
from flyte.types._type_engine import strict_types


async def encode(value: Any, t: Any) -> literals_pb2.Literal:
    return await TypeEngine.to_literal(value, t, TypeEngine.to_literal_type(t))


async def round_trip(value: Any, t: Any) -> Any:
    return await TypeEngine.to_python_value(await encode(value, t), t)


# --- int for float --------------------------------------------------------------------------


async def test_an_int_for_a_float_is_written_as_the_equal_float() -> None:
    assert await encode(3, float) == await encode(3.0, float)
    assert await round_trip(3, float) == 3.0
    assert type(await round_trip(3, float)) is float
    assert await round_trip([1, 2.5], list[float]) == [1.0, 2.5]
    assert await round_trip({"a": 1}, dict[str, float]) == {"a": 1.0}
    assert await round_trip(3, float | None) == 3.0


async def test_a_bool_is_not_a_float_and_strict_mode_refuses_the_int() -> None:
    with pytest.raises(TypeTransformerFailedError, match="float"):
        await encode(True, float)
    with strict_types(), pytest.raises(TypeTransformerFailedError, match="float"):
        await encode(3, float)


async def test_a_union_keeps_an_int_that_fits_a_variant_as_it_is() -> None:
    # Flyte 2 picks the int variant for 3 in Union[float, int]; coercion must not steal it.
    lit = await encode(3, typing.Union[float, int])  # noqa: UP007
    assert lit.scalar.union.type.structure.tag == "int"
    assert await TypeEngine.to_python_value(lit, typing.Union[float, int]) == 3  # noqa: UP007
    # With no exact variant the coercion applies.
    assert (await encode(3, typing.Union[float, str])).scalar.union.type.structure.tag == "float"  # noqa: UP007


# --- dict for a dataclass or model ----------------------------------------------------------


async def test_a_dict_for_a_dataclass_is_the_instance_it_describes_at_any_depth() -> None:
    assert await encode({"a": 1}, Inner) == await encode(Inner(1), Inner)
    nested = {"inner": {"a": 1}, "numbers": [1], "scores": {"s": 2}, "inners": [{"a": 2, "b": "y"}]}
    back = await round_trip(nested, Outer)
    assert back == Outer(Inner(1), [1], {"s": 2.0}, inners=[Inner(2, "y")])
    assert await round_trip([{"a": 5}], list[Inner]) == [Inner(5)]
    assert await round_trip({"a": 6}, Inner | None) == Inner(6)
    assert await round_trip({"color": "green", "inner": {"a": 1}, "numbers": [], "scores": {}}, Outer) == Outer(
        Inner(1), [], {}, color=Color.GREEN
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"a": 1, "zz": 2}, r"\['zz'\] are not fields"),
        ({"b": "y"}, r"required fields \['a'\]"),
        ({"a": "1"}, r"Inner.a: expected int, got '1'"),
        ({"a": True}, r"expected int, got True"),
    ],
)
async def test_a_dict_that_does_not_describe_the_dataclass_is_refused_saying_why(
    data: dict[str, Any], message: str
) -> None:
    with pytest.raises(TypeTransformerFailedError, match=message):
        await encode(data, Inner)


def test_build_from_dict_names_the_nested_field_at_fault() -> None:
    with pytest.raises(TypeTransformerFailedError, match=r"Outer.inners\[0\].a: expected int"):
        build_from_dict(Outer, {"inner": {"a": 1}, "numbers": [], "scores": {}, "inners": [{"a": "x"}]})


async def test_a_dict_for_a_pydantic_model_is_validated_by_the_model() -> None:
    assert await encode({"x": 1, "sub": {"s": "q"}}, Model) == await encode(
        Model.model_validate({"x": 1, "sub": {"s": "q"}}), Model
    )
    assert await round_trip({"x": "2"}, Model) == Model(x=2)  # pydantic's own (lax) rules
    with pytest.raises(TypeTransformerFailedError, match=r"cannot build .*Model"):
        await encode({"x": "not a number"}, Model)


async def test_strict_mode_refuses_a_dict_for_a_dataclass_so_a_dict_variant_wins() -> None:
    with strict_types(), pytest.raises(TypeTransformerFailedError):
        await encode({"a": 1}, Inner)
    lit = await encode({"a": 1}, typing.Union[Inner, dict])  # noqa: UP007
    assert lit.scalar.union.type.structure.tag == "Typed Dict"


# --- TypedDict ------------------------------------------------------------------------------


class Movie(TypedDict):
    title: str
    year: int


class Notes(TypedDict):
    title: str
    tags: typing_extensions.NotRequired[list[str]]


class Shelf(TypedDict):
    top: Movie
    rest: list[Movie]
    notes: dict[str, Notes]


class ExtShelf(typing_extensions.TypedDict):
    top: Movie


class WithTuple(typing.NamedTuple):
    movie: Movie


@pytest.mark.parametrize("t", [Shelf, ExtShelf])
async def test_typing_typeddicts_nest_inside_typeddicts(t: Any) -> None:
    value: dict[str, Any] = {"top": {"title": "Up", "year": 2009}}
    if t is Shelf:
        value |= {"rest": [{"title": "Heat", "year": 1995}], "notes": {"n": {"title": "x"}}}
    assert await round_trip(value, t) == value
    schema = TypeEngine.to_literal_type(t).metadata
    assert "TypedDictWrapper_Movie" in schema.fields["$defs"].struct_value.fields


async def test_a_typing_typeddict_inside_a_namedtuple_or_tuple_works_before_python_312() -> None:
    assert await round_trip(WithTuple({"title": "Up", "year": 2009}), WithTuple) == WithTuple(
        {"title": "Up", "year": 2009}
    )
    assert await round_trip(({"title": "Up", "year": 1}, 2), tuple[Movie, int]) == ({"title": "Up", "year": 1}, 2)


# --- data frames ----------------------------------------------------------------------------


FRAME = pd.DataFrame({"a": [1, 2, 3]})


async def test_a_dataframe_handle_for_a_pandas_parameter_reads_back_as_pandas() -> None:
    back = await round_trip(DataFrame.from_df(FRAME), pd.DataFrame)
    assert isinstance(back, pd.DataFrame)
    assert back["a"].tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    ("frame", "declared", "read"),
    [
        (pl.DataFrame({"a": [1, 2, 3]}), pd.DataFrame, lambda f: f["a"].tolist()),
        (FRAME, pl.DataFrame, lambda f: f["a"].to_list()),
        (DataFrame.from_df(FRAME), pa.Table, lambda f: f.column("a").to_pylist()),
        (DataFrame.from_df(FRAME), pl.DataFrame, lambda f: f["a"].to_list()),
    ],
)
async def test_any_frame_library_value_reads_back_as_the_declared_library(frame: Any, declared: Any, read: Any) -> None:
    back = await round_trip(frame, declared)
    assert isinstance(back, declared)
    assert read(back) == [1, 2, 3]


async def test_a_pandas_frame_for_a_dataframe_parameter_is_a_handle() -> None:
    handle = await round_trip(FRAME, DataFrame)
    assert isinstance(handle, DataFrame)
    assert (await handle.open(pd.DataFrame).all())["a"].tolist() == [1, 2, 3]


async def test_something_that_is_not_a_frame_is_still_refused() -> None:
    with pytest.raises(TypeTransformerFailedError, match=r"pandas\.DataFrame"):
        await encode([1, 2], pd.DataFrame)


def test_preserve_original_types_guesses_the_declared_frame_class() -> None:
    lt = TypeEngine.to_literal_type(pd.DataFrame)
    assert lt.structure.tag == "pandas.DataFrame"
    assert TypeEngine.guess_python_type(lt) is DataFrame
    with preserve_original_types(True):
        assert TypeEngine.guess_python_type(lt) is pd.DataFrame
        assert TypeEngine.guess_python_type(TypeEngine.to_literal_type(DataFrame)) is DataFrame


# --- reading STRUCT literals without their class --------------------------------------------


@dataclasses.dataclass
class Point:
    x: float
    label: str
    color: Color = Color.RED


class User(pydantic.BaseModel):
    name: str
    color: Color = Color.GREEN


@pytest.mark.parametrize(
    ("t", "value", "expected"),
    [
        (Point, Point(1.5, "p"), {"x": 1.5, "label": "p", "color": "red"}),
        (User, User(name="ada"), {"name": "ada", "color": "GREEN"}),  # enums inside models by name
        (Movie, {"title": "Up", "year": 2009}, {"title": "Up", "year": 2009}),
        (list[Point], [Point(1.0, "a")], [{"x": 1.0, "label": "a", "color": "red"}]),
        (Point | None, Point(2.0, "b"), {"x": 2.0, "label": "b", "color": "red"}),
        (Point | None, None, None),
        (dict[str, User], {"k": User(name="b")}, {"k": {"name": "b", "color": "GREEN"}}),
    ],
)
async def test_a_struct_literal_without_its_class_reads_as_a_plain_dict(t: Any, value: Any, expected: Any) -> None:
    lit = await encode(value, t)
    guessed = TypeEngine.guess_python_type(TypeEngine.to_literal_type(t))
    assert await TypeEngine.to_python_value(lit, guessed) == expected


# --- what a local run hands a task ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "t", "declared"),
    [
        (1.0, float, True),
        (1, float, False),
        ([1.0, 2.0], list[float], True),
        ([1.0, 2], list[float], False),
        ({"a": 1}, Inner, False),
        (Inner(1), Inner, True),
        ({"k": Inner(1)}, dict[str, Inner], True),
        (None, float | None, True),
        (3, float | None, False),
        ({"title": "x", "year": 1}, Movie, False),  # TypedDicts are read back (absent keys normalised)
        (FRAME, pd.DataFrame, True),
        (DataFrame.from_df(FRAME), pd.DataFrame, False),
        ((1, "a"), tuple[int, str], True),
        (object(), Any, True),
    ],
)
def test_is_declared_type(value: Any, t: Any, declared: bool) -> None:
    assert is_declared_type(value, t) is declared


async def test_coerced_inputs_replace_only_the_coerced_values() -> None:
    def f(x: float, p: Inner, n: int, keep: list[Inner]) -> None: ...

    iface = NativeInterface.from_callable(f)
    keep = [Inner(1)]
    inputs = {"x": 2, "p": {"a": 3}, "n": 4, "keep": keep}
    literals = await convert_inputs_to_literals(iface, inputs)
    got = await coerced_inputs(iface, inputs, literals)
    assert got == {"x": 2.0, "p": Inner(3), "n": 4, "keep": keep}
    assert type(got["x"]) is float
    assert got["keep"] is keep  # values already of their type are handed over as they are


async def test_outputs_for_the_caller_are_checked_and_coerced() -> None:
    def one() -> pd.DataFrame: ...
    def two() -> tuple[float, Inner]: ...

    frame, literals = await convert_outputs_for_caller(NativeInterface.from_callable(one), DataFrame.from_df(FRAME))
    assert isinstance(frame, pd.DataFrame)
    assert list(literals) == ["o0"]
    coerced, coerced_literals = await convert_outputs_for_caller(NativeInterface.from_callable(two), (1, {"a": 2}))
    exact, exact_literals = await convert_outputs_for_caller(NativeInterface.from_callable(two), (1.0, Inner(2)))
    assert coerced == exact == (1.0, Inner(2))
    assert coerced_literals == exact_literals

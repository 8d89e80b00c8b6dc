"""NativeInterface and the conversions a task runner performs around each call."""

from __future__ import annotations

import inspect
from typing import Optional

import pytest
from flyteidl2.core import interface_pb2
from type_samples import Color, Inner, Pair

from flyte.errors import RuntimeDataValidationError
from flyte.types._interface import (
    NativeInterface,
    convert_inputs_to_literals,
    convert_literals_to_inputs,
    convert_literals_to_outputs,
    convert_outputs_to_literals,
)


async def ba(b: int, a: int, c: Optional[float] = None, d: list[int] = [1, 2]) -> tuple[int, str]:  # noqa: B006, UP045
    return b, "x"


def test_from_callable_records_inputs_defaults_and_tuple_outputs() -> None:
    iface = NativeInterface.from_callable(ba)
    assert iface.inputs == {
        "b": (int, inspect.Parameter.empty),
        "a": (int, inspect.Parameter.empty),
        "c": (Optional[float], None),  # noqa: UP045
        "d": (list[int], [1, 2]),
    }
    assert iface.outputs == {"o0": int, "o1": str}
    assert iface.required_inputs() == ["b", "a"] and iface.num_required_inputs() == 2


def test_namedtuple_return_names_the_outputs_and_none_means_no_outputs() -> None:
    def nt(x: int = 3) -> Pair: ...
    def nothing() -> None: ...
    def single() -> list[Inner]: ...

    assert NativeInterface.from_callable(nt).outputs == {"total": int, "name": str}
    assert NativeInterface.from_callable(nothing).outputs == {}
    assert NativeInterface.from_callable(single).outputs == {"o0": list[Inner]}


def test_missing_annotations_follow_flyte2_no_return_is_no_outputs_and_bare_inputs_are_pickled() -> None:
    def no_input_type(x) -> int: ...  # type: ignore[no-untyped-def]
    def no_return(x: int): ...  # type: ignore[no-untyped-def]

    bare = NativeInterface.from_callable(no_input_type)
    assert bare.inputs == {"x": (inspect.Parameter.empty, inspect.Parameter.empty)}
    assert bare.to_typed_interface().inputs.variables[0].value.type.union_type.variants[0].blob.format == (
        "PythonPickle"
    )

    def explicit_none(x: int) -> None: ...

    assert NativeInterface.from_callable(no_return).outputs == {}
    wire = NativeInterface.from_callable(no_return).to_typed_interface()
    assert wire == NativeInterface.from_callable(explicit_none).to_typed_interface()


async def test_a_value_returned_by_a_task_without_outputs_is_refused_not_dropped() -> None:
    def no_return(x: int): ...  # type: ignore[no-untyped-def]

    iface = NativeInterface.from_callable(no_return)
    assert await convert_outputs_to_literals(iface, None) == {}
    with pytest.raises(RuntimeDataValidationError, match=r"declares no outputs but returned 5.*return type annotation"):
        await convert_outputs_to_literals(iface, 5, task_name="env.no_return")


def test_typed_interface_is_sorted_and_has_no_defaults() -> None:
    typed = NativeInterface.from_callable(ba).to_typed_interface()
    assert [v.key for v in typed.inputs.variables] == ["a", "b", "c", "d"]
    assert [v.key for v in typed.outputs.variables] == ["o0", "o1"]
    assert all(not v.value.description for v in typed.inputs.variables)

    def nothing() -> None: ...

    empty = NativeInterface.from_callable(nothing).to_typed_interface()
    assert empty.HasField("inputs") and empty.HasField("outputs")
    assert empty.SerializeToString(deterministic=True) == b"\n\x00\x12\x00"
    assert isinstance(empty, interface_pb2.TypedInterface)


async def test_inputs_round_trip_with_defaults_filled_in_declaration_order() -> None:
    iface = NativeInterface.from_callable(ba)
    literals = await convert_inputs_to_literals(iface, {"a": 2, "b": 1})
    assert list(literals) == ["b", "a", "c", "d"]
    assert await convert_literals_to_inputs(iface, literals) == {"b": 1, "a": 2, "c": None, "d": [1, 2]}


async def test_a_wrong_input_fails_before_the_task_runs_naming_input_and_types() -> None:
    iface = NativeInterface.from_callable(ba)
    with pytest.raises(RuntimeDataValidationError) as info:
        await convert_inputs_to_literals(iface, {"b": "1", "a": 2}, task_name="demo.ba")
    message = str(info.value)
    assert "'b'" in message and "int" in message and "str" in message and "demo.ba" in message
    assert info.value.var == "b"


async def test_missing_and_unknown_inputs_are_validation_errors() -> None:
    iface = NativeInterface.from_callable(ba)
    with pytest.raises(RuntimeDataValidationError, match="Missing required input 'a'"):
        await convert_inputs_to_literals(iface, {"b": 1})
    with pytest.raises(RuntimeDataValidationError, match="Unexpected input 'zz'"):
        await convert_inputs_to_literals(iface, {"b": 1, "a": 1, "zz": 0})


async def test_outputs_single_several_namedtuple_and_none() -> None:
    def one() -> Color: ...
    def nothing() -> None: ...
    def named() -> Pair: ...

    single = NativeInterface.from_callable(one)
    lits = await convert_outputs_to_literals(single, Color.RED)
    assert list(lits) == ["o0"]
    assert await convert_literals_to_outputs(single, lits) is Color.RED

    several = NativeInterface.from_callable(ba)
    lits = await convert_outputs_to_literals(several, (1, "x"))
    assert await convert_literals_to_outputs(several, lits) == (1, "x")

    empty = NativeInterface.from_callable(nothing)
    assert await convert_outputs_to_literals(empty, None) == {}
    assert await convert_literals_to_outputs(empty, {}) is None

    nt = NativeInterface.from_callable(named)
    lits = await convert_outputs_to_literals(nt, Pair(1, "a"))
    assert list(lits) == ["total", "name"]
    out = await convert_literals_to_outputs(nt, lits)
    assert out == Pair(1, "a") and isinstance(out, Pair)


async def test_wrong_outputs_are_validation_errors() -> None:
    several = NativeInterface.from_callable(ba)
    with pytest.raises(RuntimeDataValidationError, match="tuple of 2"):
        await convert_outputs_to_literals(several, 1)
    with pytest.raises(RuntimeDataValidationError, match="'o1'"):
        await convert_outputs_to_literals(several, (1, 2))


def test_convert_to_kwargs_binds_positionals() -> None:
    iface = NativeInterface.from_callable(ba)
    assert iface.convert_to_kwargs(1, 2, d=[3]) == {"b": 1, "a": 2, "d": [3]}
    with pytest.raises(TypeError, match="both"):
        iface.convert_to_kwargs(1, b=2)

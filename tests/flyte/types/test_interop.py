"""flyte.types: guess_interface, literal_string_repr, FlytePickle and Renderable."""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from datetime import datetime, timezone

from flyteidl2.core import interface_pb2, literals_pb2
from flyteidl2.task import common_pb2

import flyte.storage
from flyte.types import FlytePickle, Renderable, TypeEngine, guess_interface, literal_string_repr


@dataclass
class Point:
    x: int
    y: int


def _variables(**types: object) -> interface_pb2.VariableMap:
    return interface_pb2.VariableMap(
        variables=[
            interface_pb2.VariableEntry(key=name, value=interface_pb2.Variable(type=TypeEngine.to_literal_type(t)))
            for name, t in types.items()
        ]
    )


def test_guess_interface_from_the_wire_types_and_defaults() -> None:
    typed = interface_pb2.TypedInterface(
        inputs=_variables(n=int, names=list[str]), outputs=_variables(o0=dict[str, float])
    )
    defaults = [
        common_pb2.NamedParameter(name="names", parameter=interface_pb2.Parameter(default=literals_pb2.Literal()))
    ]
    interface = guess_interface(typed, defaults)
    assert interface.inputs["n"] == (int, inspect.Parameter.empty)
    assert interface.inputs["names"][0] == list[str] and interface.inputs["names"][1] is None
    assert interface.outputs == {"o0": dict[str, float]}


async def test_literal_string_repr_of_every_container_shape() -> None:
    number = await TypeEngine.to_literal(3, int)
    nested = await TypeEngine.to_literal({"a": [1, 2]}, dict[str, list[int]])
    when = await TypeEngine.to_literal(datetime(2024, 1, 2, tzinfo=timezone.utc), datetime)
    point = await TypeEngine.to_literal(Point(1, 2), Point)
    assert literal_string_repr(number) == 3
    assert literal_string_repr(nested) == {"a": [1, 2]}
    assert literal_string_repr(when).startswith("2024-01-02T00:00:00")
    assert literal_string_repr(literals_pb2.LiteralMap(literals={"x": number})) == {"x": 3}
    inputs = common_pb2.Inputs(literals=[common_pb2.NamedLiteral(name="p", value=point)])
    assert json.loads(literal_string_repr(inputs)["p"]) == {"x": 1, "y": 2}  # as Flyte 2 shows it: JSON text
    assert literal_string_repr({"n": number}) == {"n": 3}
    assert literal_string_repr(common_pb2.NamedLiteral(name="n", value=number)) == {"n": 3}
    assert literal_string_repr(None) == {}


async def test_flyte_pickle_round_trips_through_storage(tmp_path: object) -> None:
    uri = await FlytePickle.to_pickle({"model": Point(3, 4)})
    assert await flyte.storage.exists(uri)
    assert await FlytePickle.from_pickle(uri) == {"model": Point(3, 4)}


def test_renderable_is_a_runtime_protocol() -> None:
    class Table:
        def to_html(self, python_value: object) -> str:
            return f"<table>{python_value}</table>"

    assert isinstance(Table(), Renderable) and not isinstance(object(), Renderable)

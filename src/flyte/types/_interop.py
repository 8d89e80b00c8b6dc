"""Helpers for values and interfaces whose Python types are not at hand: guessed interfaces,
readable renderings of literals, the pickle marker type and the ``Renderable`` protocol."""

from __future__ import annotations

import base64
import inspect
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from flyteidl2.core import interface_pb2, literals_pb2
from flyteidl2.task import common_pb2

from flyte.types._interface import NativeInterface
from flyte.types._type_engine import TypeEngine

__all__ = ["FlytePickle", "Renderable", "guess_interface", "literal_string_repr"]


@runtime_checkable
class Renderable(Protocol):
    """Anything that can show a value as HTML in a report (``to_html``)."""

    def to_html(self, python_value: Any) -> str:
        """``python_value`` as an HTML fragment."""
        ...


class FlytePickle:
    """The marker type of values Flyte transports as pickles (types no transformer handles).

    Programs rarely name it; it is what an interface guessed from a pickled variable declares.

    Example:
        >>> import asyncio
        >>> uri = asyncio.run(FlytePickle.to_pickle({"any": object.__name__}))
        >>> asyncio.run(FlytePickle.from_pickle(uri))
        {'any': 'object'}
    """

    @classmethod
    def python_type(cls) -> type:
        """The Python type a pickled value is declared as when its real type is unknown."""
        return type(None)

    @classmethod
    async def to_pickle(cls, python_val: Any) -> str:
        """Pickle ``python_val`` (cloudpickle) to a fresh location under the raw-data path; returns its URI."""
        import cloudpickle

        import flyte.storage as storage

        return await storage.put_stream(cloudpickle.dumps(python_val), name="pickle.pkl")

    @classmethod
    async def from_pickle(cls, uri: str) -> Any:
        """Read back a value :meth:`to_pickle` wrote."""
        import cloudpickle

        import flyte.storage as storage

        chunks = [chunk async for chunk in storage.get_stream(uri)]
        return cloudpickle.loads(b"".join(chunks))


def guess_interface(
    interface: interface_pb2.TypedInterface,
    default_inputs: Iterable[common_pb2.NamedParameter] | None = None,
) -> NativeInterface:
    """A :class:`NativeInterface` for a task known only by its wire interface (a deployed task).

    Types are guessed from the literal types (``list[str]``, ``dict[str, int]``, dataclass-like
    structs as ``dict``...); inputs with a default in ``default_inputs`` are optional.

    Example:
        >>> from flyte.types import TypeEngine
        >>> var = interface_pb2.Variable(type=TypeEngine.to_literal_type(int))
        >>> ti = interface_pb2.TypedInterface(
        ...     inputs=interface_pb2.VariableMap(variables=[interface_pb2.VariableEntry(key="x", value=var)]))
        >>> guess_interface(ti).inputs
        {'x': (<class 'int'>, <class 'inspect._empty'>)}
    """
    defaults = {param.name for param in default_inputs or () if param.parameter.HasField("default")}
    inputs: dict[str, tuple[Any, Any]] = {}
    for entry in interface.inputs.variables:
        guessed = TypeEngine.guess_python_type(entry.value.type)
        # The default itself stays on the server; an optional input is declared as defaulting to None.
        inputs[entry.key] = (guessed, None if entry.key in defaults else inspect.Parameter.empty)
    outputs = {entry.key: TypeEngine.guess_python_type(entry.value.type) for entry in interface.outputs.variables}
    return NativeInterface.from_types(inputs, outputs)


def _scalar_value(scalar: literals_pb2.Scalar) -> Any:
    kind = scalar.WhichOneof("value")
    if kind == "primitive":
        primitive = scalar.primitive
        which = primitive.WhichOneof("value")
        if which == "datetime":
            return primitive.datetime.ToDatetime().isoformat()
        if which == "duration":
            return primitive.duration.ToTimedelta().total_seconds()
        return getattr(primitive, which) if which else None
    if kind == "none_type":
        return None
    if kind == "binary":
        if scalar.binary.tag == "msgpack":  # dataclasses and models: shown as JSON text, as Flyte 2 does
            import json

            import msgpack

            return json.dumps(msgpack.unpackb(scalar.binary.value))
        return base64.b64encode(scalar.binary.value)
    if kind == "blob":
        return scalar.blob.uri
    if kind == "structured_dataset":
        return scalar.structured_dataset.uri
    if kind == "generic":
        from google.protobuf.json_format import MessageToDict

        return MessageToDict(scalar.generic)
    if kind == "union":
        return _literal_value(scalar.union.value)
    if kind == "error":
        return scalar.error.message
    return None


def _literal_value(literal: literals_pb2.Literal) -> Any:
    kind = literal.WhichOneof("value")
    if kind == "scalar":
        return _scalar_value(literal.scalar)
    if kind == "collection":
        return [_literal_value(item) for item in literal.collection.literals]
    if kind == "map":
        return {key: _literal_value(value) for key, value in literal.map.literals.items()}
    if kind == "offloaded_metadata":
        return literal.offloaded_metadata.uri
    return None


def literal_string_repr(
    lm: literals_pb2.Literal
    | common_pb2.NamedLiteral
    | common_pb2.Inputs
    | common_pb2.Outputs
    | literals_pb2.LiteralMap
    | Mapping[str, literals_pb2.Literal]
    | None,
) -> Any:
    """Literals as plain Python values for display, without needing their Python types.

    Maps, ``Inputs`` and ``Outputs`` become ``{name: value}``; one literal becomes its value.
    Datetimes read as ISO strings, durations as seconds, pickles as base64 bytes, files and
    dataframes as their URIs, structs as dicts.

    Example:
        >>> lit = literals_pb2.Literal(scalar=literals_pb2.Scalar(
        ...     primitive=literals_pb2.Primitive(integer=3)))
        >>> literal_string_repr(literals_pb2.LiteralMap(literals={"x": lit}))
        {'x': 3}
    """
    if lm is None:
        return {}
    if isinstance(lm, literals_pb2.Literal):
        return _literal_value(lm)
    if isinstance(lm, common_pb2.NamedLiteral):
        return {lm.name: _literal_value(lm.value)}
    if isinstance(lm, (common_pb2.Inputs, common_pb2.Outputs)):
        return {named.name: _literal_value(named.value) for named in lm.literals}
    if isinstance(lm, literals_pb2.LiteralMap):
        return {key: _literal_value(value) for key, value in lm.literals.items()}
    return {key: _literal_value(value) for key, value in lm.items()}

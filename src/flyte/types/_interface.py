"""A task's Python signature, and its conversion to and from Flyte literals.

:class:`NativeInterface` records a function's inputs (name → type and default) and outputs
(``o0``, ``o1``, ... or the fields of a returned ``NamedTuple``). The module-level coroutines
convert call arguments and return values to the ``Literal`` dictionaries that travel between
tasks, and back. A value that does not match its declared type fails here, before the task
runs, with :class:`flyte.errors.RuntimeDataValidationError`.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import typing
from collections.abc import Callable, Mapping
from typing import Any

from flyteidl2.core import interface_pb2, literals_pb2

from flyte.errors import RuntimeDataValidationError
from flyte.types._coercion import is_declared_type
from flyte.types._type_engine import TypeEngine, TypeTransformerFailedError, _short_repr, strip_annotated, type_name

__all__ = [
    "NativeInterface",
    "check_outputs",
    "coerced_inputs",
    "convert_inputs_to_literals",
    "convert_literals_to_inputs",
    "convert_literals_to_outputs",
    "convert_outputs_for_caller",
    "convert_outputs_to_literals",
]

_EMPTY = inspect.Parameter.empty


def _warn_unannotated(func_name: str, param: str) -> None:
    logging.getLogger("flyte").warning(
        "Input %r of %s has no type annotation; its value will be pickled (annotate it, e.g. %s: int)",
        param,
        func_name,
        param,
    )


def _is_named_tuple(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, tuple) and hasattr(t, "_fields") and hasattr(t, "__annotations__")


def _output_types(return_type: Any) -> tuple[dict[str, Any], type | None]:
    """Split a return annotation into named outputs, as Flyte 2 does."""
    if return_type is None or return_type is type(None):
        return {}, None
    bare = strip_annotated(return_type)
    if _is_named_tuple(bare):
        hints = typing.get_type_hints(bare, include_extras=True)
        return {name: hints[name] for name in bare._fields}, bare
    if typing.get_origin(bare) is tuple:
        args = typing.get_args(bare)
        if args and Ellipsis not in args and args != ((),):
            return {f"o{i}": arg for i, arg in enumerate(args)}, None
    return {"o0": return_type}, None


@dataclasses.dataclass(frozen=True)
class NativeInterface:
    """The inputs and outputs of a task, as Python types.

    Attributes:
        inputs: name → (Python type, default); the default is ``inspect.Parameter.empty`` when
            the input is required. Declaration order is kept; it matters for the inputs hash.
        outputs: name → Python type; ``o0..oN`` for plain and tuple returns, the field names
            for a ``NamedTuple`` return; empty for ``-> None``.
        output_tuple: the ``NamedTuple`` class a task returns, so that outputs read back
            are rebuilt as that class; ``None`` otherwise.

    Example:
        >>> def add(x: int, y: int = 1) -> tuple[int, str]: ...
        >>> iface = NativeInterface.from_callable(add)
        >>> list(iface.inputs), list(iface.outputs)
        (['x', 'y'], ['o0', 'o1'])
    """

    inputs: dict[str, tuple[Any, Any]]
    """Input name → (Python type, default or ``inspect.Parameter.empty``)."""
    outputs: dict[str, Any]
    """Output name → Python type."""
    output_tuple: type | None = None
    """The returned ``NamedTuple`` class, if the function returns one."""
    docstring: Any = dataclasses.field(default=None, compare=False, repr=False)
    """The function's parsed docstring (a :class:`flyte.models.Docstring`), when built from one."""

    @classmethod
    def from_callable(cls, func: Callable[..., Any]) -> NativeInterface:
        """Build the interface of ``func`` from its annotations.

        Args:
            func: a function. A parameter without an annotation is pickled (declared as
                ``inspect.Parameter.empty``); no return annotation means no outputs.

        Raises:
            TypeError: ``func`` takes ``*args`` / ``**kwargs``, or an annotation cannot be resolved.

        Example:
            >>> def f(x: int) -> None: ...
            >>> NativeInterface.from_callable(f).outputs
            {}
        """
        name = getattr(func, "__qualname__", repr(func))
        signature = inspect.signature(func)
        try:
            hints = typing.get_type_hints(func, include_extras=True)
        except NameError as e:
            raise TypeError(f"Cannot resolve the type annotations of {name}: {e}") from e
        inputs: dict[str, tuple[Any, Any]] = {}
        for param in signature.parameters.values():
            if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                raise TypeError(f"{name} takes *{param.name}; tasks need a fixed list of named inputs")
            if param.name not in hints:
                # Flyte 2 pickles an unannotated input, declaring its type as ``inspect.Parameter.empty``.
                _warn_unannotated(name, param.name)
                inputs[param.name] = (_EMPTY, param.default)
                continue
            inputs[param.name] = (hints[param.name], param.default)
        # No return annotation means no outputs, as ``-> None`` does (Flyte 2 reads it that way).
        outputs, output_tuple = _output_types(hints.get("return"))
        from flyte.models import Docstring

        docstring = Docstring(callable_=func) if inspect.getdoc(func) else None
        return cls(inputs=inputs, outputs=outputs, output_tuple=output_tuple, docstring=docstring)

    @classmethod
    def from_types(
        cls, inputs: Mapping[str, tuple[Any, Any]], outputs: Mapping[str, Any], output_tuple: type | None = None
    ) -> NativeInterface:
        """Build an interface from explicit types.

        Example:
            >>> NativeInterface.from_types({"x": (int, inspect.Parameter.empty)}, {"o0": str}).outputs
            {'o0': <class 'str'>}
        """
        return cls(inputs=dict(inputs), outputs=dict(outputs), output_tuple=output_tuple)

    def required_inputs(self) -> list[str]:
        """The names of inputs without a default, in declaration order."""
        return [name for name, (_, default) in self.inputs.items() if default is _EMPTY]

    def num_required_inputs(self) -> int:
        """How many inputs have no default."""
        return len(self.required_inputs())

    def get_input_types(self) -> dict[str, Any]:
        """Input name → Python type."""
        return {name: t for name, (t, _) in self.inputs.items()}

    @property
    def json_schema(self) -> dict[str, Any]:
        """A JSON schema of the inputs: an ``object`` with a property per input, required ones listed.

        Example:
            >>> def f(x: int, tags: list[str] = []) -> None: ...
            >>> NativeInterface.from_callable(f).json_schema["properties"]["tags"]
            {'items': {'type': 'string'}, 'type': 'array'}
        """
        from pydantic import PydanticUserError, TypeAdapter

        properties: dict[str, Any] = {}
        for name, (t, _) in self.inputs.items():
            try:
                schema = TypeAdapter(t).json_schema()
            except (PydanticUserError, TypeError, ValueError):
                schema = {}  # a type pydantic cannot describe (a pickled object): any value
            schema.pop("title", None)
            properties[name] = schema
        return {"type": "object", "properties": properties, "required": self.required_inputs()}

    def has_outputs(self) -> bool:
        """Whether the task returns anything."""
        return bool(self.outputs)

    def convert_to_kwargs(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Bind positional and keyword arguments to input names (defaults are not filled in).

        Raises:
            TypeError: too many positional arguments, an unknown name, or a name given twice.

        Example:
            >>> def f(x: int, y: int = 2) -> int: ...
            >>> NativeInterface.from_callable(f).convert_to_kwargs(1, y=3)
            {'x': 1, 'y': 3}
        """
        names = list(self.inputs)
        if len(args) > len(names):
            raise TypeError(f"Expected at most {len(names)} positional arguments, got {len(args)}")
        bound = dict(zip(names, args, strict=False))
        for key, value in kwargs.items():
            if key not in self.inputs:
                raise TypeError(f"Unexpected input {key!r}; the inputs are {names}")
            if key in bound:
                raise TypeError(f"Input {key!r} was given both positionally and by name")
            bound[key] = value
        return bound

    def to_typed_interface(self) -> interface_pb2.TypedInterface:
        """Return the wire form of the interface, as Flyte 2 writes it into a task template.

        Variables are sorted by name, carry no description, and defaults are not part of it.

        Example:
            >>> def f(b: int, a: str) -> None: ...
            >>> [v.key for v in NativeInterface.from_callable(f).to_typed_interface().inputs.variables]
            ['a', 'b']
        """
        return interface_pb2.TypedInterface(
            inputs=_variable_map({name: t for name, (t, _) in self.inputs.items()}),
            outputs=_variable_map(self.outputs),
        )

    def __str__(self) -> str:
        def show(default: Any) -> str:
            return "" if default is _EMPTY else f" = {default!r}"

        ins = ", ".join(f"{n}: {type_name(t)}{show(d)}" for n, (t, d) in self.inputs.items())
        outs = ", ".join(f"{n}: {type_name(t)}" for n, t in self.outputs.items())
        return f"({ins}) -> ({outs})"


def _variable_map(types: Mapping[str, Any]) -> interface_pb2.VariableMap:
    entries = [
        interface_pb2.VariableEntry(key=name, value=interface_pb2.Variable(type=TypeEngine.to_literal_type(t)))
        for name, t in sorted(types.items())
    ]
    return interface_pb2.VariableMap(variables=entries)


def _validation_error(kind: str, name: str, t: Any, value: Any, cause: Exception, task_name: str) -> Exception:
    detail = str(cause)
    # The transformer's own message is only worth adding when it says more than the mismatch.
    plain = f"Expected a value of type {type_name(t)}, got {_short_repr(value)} of type {type_name(type(value))}"
    suffix = "" if detail == plain else f": {detail}"
    return RuntimeDataValidationError(
        name,
        f"{kind} {name!r}{_of(task_name)} expects {type_name(t)}, got {_short_repr(value)} "
        f"of type {type_name(type(value))}{suffix}",
        task_name,
    )


async def _to_literal(kind: str, name: str, t: Any, value: Any, task_name: str) -> literals_pb2.Literal:
    try:
        return await TypeEngine.to_literal(value, t, TypeEngine.to_literal_type(t))
    except (TypeTransformerFailedError, TypeError, ValueError, AttributeError, OverflowError) as e:
        raise _validation_error(kind, name, t, value, e, task_name) from e


async def convert_inputs_to_literals(
    interface: NativeInterface, kwargs: Mapping[str, Any], *, task_name: str = ""
) -> dict[str, literals_pb2.Literal]:
    """Convert call arguments to literals, filling in defaults, in declaration order.

    Args:
        interface: the task's interface.
        kwargs: input name → value (use :meth:`NativeInterface.convert_to_kwargs` for positionals).
        task_name: used in error messages.

    Raises:
        RuntimeDataValidationError: an input is missing, unknown, or does not match its type.

    Example:
        >>> import asyncio
        >>> def f(x: int, y: str = "a") -> None: ...
        >>> lits = asyncio.run(convert_inputs_to_literals(NativeInterface.from_callable(f), {"x": 1}))
        >>> sorted(lits)
        ['x', 'y']
    """
    for key in kwargs:
        if key not in interface.inputs:
            raise RuntimeDataValidationError(
                key, f"Unexpected input {key!r}{_of(task_name)}; the inputs are {list(interface.inputs)}", task_name
            )
    literals: dict[str, literals_pb2.Literal] = {}
    for name, (t, default) in interface.inputs.items():
        if name in kwargs:
            value = kwargs[name]
        elif default is not _EMPTY:
            value = default
        else:
            raise RuntimeDataValidationError(
                name, f"Missing required input {name!r}{_of(task_name)} of type {type_name(t)}", task_name
            )
        literals[name] = await _to_literal("Input", name, t, value, task_name)
    return literals


async def _inline(literal: literals_pb2.Literal) -> literals_pb2.Literal:
    """The literal itself, or the one an offloaded literal points at (large inputs and outputs)."""
    if literal.WhichOneof("value") != "offloaded_metadata":
        return literal
    from flyte.storage import load_offloaded

    return await load_offloaded(literal)


def _of(task_name: str) -> str:
    return f" of task {task_name}" if task_name else ""


async def convert_literals_to_inputs(
    interface: NativeInterface, literals: Mapping[str, literals_pb2.Literal], *, task_name: str = ""
) -> dict[str, Any]:
    """Convert input literals to Python keyword arguments; missing inputs take their defaults.

    Raises:
        RuntimeDataValidationError: a required input is missing or cannot be read as its type.

    Example:
        >>> import asyncio
        >>> def f(x: int, y: str = "a") -> None: ...
        >>> iface = NativeInterface.from_callable(f)
        >>> lits = asyncio.run(convert_inputs_to_literals(iface, {"x": 1}))
        >>> asyncio.run(convert_literals_to_inputs(iface, lits))
        {'x': 1, 'y': 'a'}
    """
    kwargs: dict[str, Any] = {}
    for name, (t, default) in interface.inputs.items():
        lit = literals.get(name)
        if lit is None:
            if default is _EMPTY:
                raise RuntimeDataValidationError(
                    name, f"Missing required input {name!r}{_of(task_name)} of type {type_name(t)}", task_name
                )
            kwargs[name] = default
            continue
        try:
            kwargs[name] = await TypeEngine.to_python_value(await _inline(lit), t)
        except (TypeTransformerFailedError, TypeError, ValueError, AttributeError) as e:
            raise RuntimeDataValidationError(
                name, f"Input {name!r}{_of(task_name)} cannot be read as {type_name(t)}: {e}", task_name
            ) from e
    return kwargs


async def convert_outputs_to_literals(
    interface: NativeInterface, value: Any, *, task_name: str = ""
) -> dict[str, literals_pb2.Literal]:
    """Convert a task's return value to output literals.

    A single output takes the value as is; several outputs need a tuple of matching length.

    Raises:
        RuntimeDataValidationError: the value does not match the declared outputs.

    Example:
        >>> import asyncio
        >>> def f() -> tuple[int, str]: ...
        >>> lits = asyncio.run(convert_outputs_to_literals(NativeInterface.from_callable(f), (1, "a")))
        >>> sorted(lits)
        ['o0', 'o1']
    """
    outputs = interface.outputs
    if not outputs:
        if value is not None:
            # Flyte 2 refuses a value from a task that declares no outputs rather than dropping it.
            raise RuntimeDataValidationError(
                "o0",
                f"Task {task_name or '(unnamed)'} declares no outputs but returned {_short_repr(value)} of type "
                f"{type_name(type(value))}; did you miss a return type annotation?",
                task_name,
            )
        return {}
    if len(outputs) == 1 and interface.output_tuple is None:
        ((name, t),) = outputs.items()
        return {name: await _to_literal("Output", name, t, value, task_name)}
    if not isinstance(value, tuple) or len(value) != len(outputs):
        raise RuntimeDataValidationError(
            "o0",
            f"Task {task_name or '(unnamed)'} must return a tuple of {len(outputs)} values "
            f"({', '.join(type_name(t) for t in outputs.values())}), got {type_name(type(value))}",
            task_name,
        )
    return {
        name: await _to_literal("Output", name, t, item, task_name)
        for (name, t), item in zip(outputs.items(), value, strict=True)
    }


async def convert_literals_to_outputs(
    interface: NativeInterface, literals: Mapping[str, literals_pb2.Literal], *, task_name: str = ""
) -> Any:
    """Convert output literals back to what the task returned.

    Returns ``None`` for no outputs, the bare value for one output, a tuple for several (an
    instance of the ``NamedTuple`` class when the task returns one).

    Raises:
        RuntimeDataValidationError: an output is missing or cannot be read as its type.

    Example:
        >>> import asyncio
        >>> def f() -> int: ...
        >>> iface = NativeInterface.from_callable(f)
        >>> asyncio.run(convert_literals_to_outputs(iface, asyncio.run(convert_outputs_to_literals(iface, 3))))
        3
    """
    values: list[Any] = []
    for name, t in interface.outputs.items():
        lit = literals.get(name)
        if lit is None:
            raise RuntimeDataValidationError(
                name, f"Missing output {name!r}{_of(task_name)} of type {type_name(t)}", task_name
            )
        try:
            values.append(await TypeEngine.to_python_value(await _inline(lit), t))
        except (TypeTransformerFailedError, TypeError, ValueError, AttributeError) as e:
            raise RuntimeDataValidationError(
                name, f"Output {name!r}{_of(task_name)} cannot be read as {type_name(t)}: {e}", task_name
            ) from e
    if interface.output_tuple is not None:
        return interface.output_tuple(*values)
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return tuple(values)


async def coerced_inputs(
    interface: NativeInterface,
    inputs: Mapping[str, Any],
    literals: Mapping[str, literals_pb2.Literal],
    *,
    task_name: str = "",
) -> dict[str, Any]:
    """The arguments a task receives in a local run: its inputs, with every value a transformer
    coerced (an ``int`` for a ``float``, a ``dict`` for a dataclass, a ``flyte.io.DataFrame`` for a
    ``pd.DataFrame``) read back from its literal, so the task sees what it would see remotely.

    Args:
        interface: the task's interface.
        inputs: input name → value, defaults filled in.
        literals: the same inputs converted by :func:`convert_inputs_to_literals`.
        task_name: used in error messages.

    Example:
        >>> import asyncio
        >>> def f(x: float) -> None: ...
        >>> iface = NativeInterface.from_callable(f)
        >>> lits = asyncio.run(convert_inputs_to_literals(iface, {"x": 3}))
        >>> asyncio.run(coerced_inputs(iface, {"x": 3}, lits))
        {'x': 3.0}
    """
    result: dict[str, Any] | None = None
    for name, value in inputs.items():
        declared = interface.inputs.get(name)
        if declared is None or is_declared_type(value, declared[0]):
            continue
        if result is None:
            result = dict(inputs)
        try:
            result[name] = await TypeEngine.to_python_value(await _inline(literals[name]), declared[0])
        except (TypeTransformerFailedError, TypeError, ValueError, AttributeError) as e:
            raise RuntimeDataValidationError(
                name, f"Input {name!r}{_of(task_name)} cannot be read as {type_name(declared[0])}: {e}", task_name
            ) from e
    return dict(inputs) if result is None else result


async def convert_outputs_for_caller(
    interface: NativeInterface, value: Any, *, task_name: str = ""
) -> tuple[Any, dict[str, literals_pb2.Literal]]:
    """Check a task's return value against its outputs, as a local run hands it to its caller.

    Returns the value as the caller receives it (read back from the literals when a transformer
    coerced any part of it, e.g. a ``flyte.io.DataFrame`` returned for ``-> pd.DataFrame``) and
    the output literals.

    Raises:
        RuntimeDataValidationError: the value does not match the declared outputs.

    Example:
        >>> import asyncio
        >>> def f() -> float: ...
        >>> asyncio.run(convert_outputs_for_caller(NativeInterface.from_callable(f), 2))[0]
        2.0
    """
    literals = await convert_outputs_to_literals(interface, value, task_name=task_name)
    outputs = interface.outputs
    if not outputs:
        return None, literals
    if len(outputs) == 1 and interface.output_tuple is None:
        declared = is_declared_type(value, next(iter(outputs.values())))
    else:
        declared = all(is_declared_type(item, t) for item, t in zip(value, outputs.values(), strict=True))
        declared = declared and (interface.output_tuple is None or isinstance(value, interface.output_tuple))
    if declared:
        return value, literals
    return await convert_literals_to_outputs(interface, literals, task_name=task_name), literals


# Declared output types whose exact-type values always convert: checking them needs no literal.
_ALWAYS_VALID = frozenset({str, float, bool, type(None)})
_INT64 = range(-(2**63), 2**63)


async def check_outputs(interface: NativeInterface, value: Any, *, task_name: str = "") -> Any:
    """A task's return value as its caller receives it (:func:`convert_outputs_for_caller`
    without the literals), skipping the conversion where it cannot fail or change anything.

    Example:
        >>> import asyncio
        >>> def f() -> int: ...
        >>> asyncio.run(check_outputs(NativeInterface.from_callable(f), 4))
        4
    """
    outputs = interface.outputs
    if len(outputs) == 1 and interface.output_tuple is None:
        declared = next(iter(outputs.values()))
        if type(value) is declared and (declared in _ALWAYS_VALID or (declared is int and value in _INT64)):
            return value
    elif not outputs and value is None:
        return None
    result, _ = await convert_outputs_for_caller(interface, value, task_name=task_name)
    return result

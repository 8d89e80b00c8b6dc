"""Transformers for ``tuple[A, B, ...]``, ``NamedTuple`` and ``TypedDict``.

Flyte 2 wraps each of these in a generated pydantic model and encodes it like any pydantic model
(``_structured``): a ``STRUCT`` with the wrapper's JSON schema and msgpack bytes. The wrappers are
named ``TupleWrapper_tuple`` (``TupleWrapper_Tuple`` for ``typing.Tuple``; fields ``item_0``,
``item_1``, ...), ``NamedTupleWrapper_<Name>`` and ``TypedDictWrapper_<Name>`` (the class's own
fields; a ``NotRequired[X]`` key becomes ``Optional[X] = None``, and ``total=False`` alone changes
nothing). Inside a union the variants are tagged
``"Typed Tuple"``, ``"NamedTuple"`` and ``"TypedDict"``.

``tuple[int, ...]`` and bare ``tuple`` are not handled here; they fall back to pickle.

Before Python 3.12 pydantic cannot use ``typing.TypedDict`` classes, so a ``typing.TypedDict``
nested in a wrapper's fields is swapped for an equal ``typing_extensions.TypedDict`` (same name,
keys and required keys, hence the same schema and bytes).
"""

from __future__ import annotations

import functools
import sys
import types
import typing
from typing import Any

from flyteidl2.core import literals_pb2, types_pb2

from flyte.types._containers import msgpack_literal, read_msgpack
from flyte.types._structured import PydanticTransformer
from flyte.types._type_engine import (
    TypeEngine,
    TypeTransformer,
    TypeTransformerFailedError,
    _short_repr,
    type_name,
)

__all__ = ["NamedTupleTransformer", "TupleTransformer", "TypedDictTransformer", "register_tuples"]

_PYDANTIC = PydanticTransformer()


def is_named_tuple_type(t: Any) -> bool:
    """Return whether ``t`` is a ``typing.NamedTuple`` class."""
    return isinstance(t, type) and issubclass(t, tuple) and hasattr(t, "_fields") and hasattr(t, "__annotations__")


def is_typed_dict_type(t: Any) -> bool:
    """Return whether ``t`` is a ``TypedDict`` class (from ``typing`` or ``typing_extensions``)."""
    if typing.is_typeddict(t):
        return True
    try:
        import typing_extensions
    except ImportError:  # pragma: no cover - typing_extensions is a dependency
        return False
    return bool(typing_extensions.is_typeddict(t))


def is_fixed_tuple(t: Any) -> bool:
    """Return whether ``t`` is ``tuple[A, B, ...]`` with a fixed list of element types."""
    if typing.get_origin(t) is not tuple:
        return False
    args = typing.get_args(t)
    return bool(args) and Ellipsis not in args and args != ((),)


def _typed_dict_fields(t: Any) -> dict[str, tuple[Any, bool]]:
    """Each key's value type and whether it is declared ``NotRequired``.

    Only the ``NotRequired[X]`` qualifier makes a key optional (as ``Optional[X] = None``); like
    Flyte 2, ``total=False`` alone does not, and ``Required[X]`` is plain ``X``.
    """
    import typing_extensions

    fields: dict[str, tuple[Any, bool]] = {}
    for key, hint in typing.get_type_hints(t, include_extras=True).items():
        not_required = False
        while typing.get_origin(hint) in (typing_extensions.Required, typing_extensions.NotRequired):
            not_required = not_required or typing.get_origin(hint) is typing_extensions.NotRequired
            (hint,) = typing.get_args(hint)
        fields[key] = (hint, not_required)
    return fields


@functools.lru_cache(maxsize=512)
def _wrapper_model(t: Any) -> Any:
    import pydantic

    fields: dict[str, Any]
    if is_named_tuple_type(t):
        hints = typing.get_type_hints(t, include_extras=True)
        fields = {name: (_for_pydantic(hints[name]), ...) for name in t._fields}
        name = f"NamedTupleWrapper_{t.__name__}"
    elif is_typed_dict_type(t):
        # A TypedDict inside a TypedDict becomes its own wrapper model, as in Flyte 2 (the
        # schema's $defs name it TypedDictWrapper_<Name>, and absent NotRequired keys travel as nil).
        fields = {
            key: (_nested_wrappers(hint) | None, None) if not_required else (_nested_wrappers(hint), ...)
            for key, (hint, not_required) in _typed_dict_fields(t).items()
        }
        name = f"TypedDictWrapper_{t.__name__}"
    else:
        fields = {f"item_{i}": (_for_pydantic(arg), ...) for i, arg in enumerate(typing.get_args(t))}
        # ``tuple[...]`` and ``typing.Tuple[...]`` differ only in this name ("tuple" / "Tuple").
        name = f"TupleWrapper_{getattr(t, '__name__', 'tuple')}"
    model = pydantic.create_model(name, **fields)
    if is_typed_dict_type(t):
        _WRAPPED_TYPED_DICTS[model] = t
    return model


# Wrapper model → the TypedDict it stands for, to turn nested wrapper instances back into dicts.
_WRAPPED_TYPED_DICTS: dict[Any, Any] = {}


def _map_typed_dicts(hint: Any, replace: Any) -> Any:
    """``hint`` with ``replace(td)`` substituted for every TypedDict class in it, at any depth."""
    if isinstance(hint, type) and is_typed_dict_type(hint):
        return replace(hint)
    args = typing.get_args(hint)
    if not args:
        return hint
    converted = tuple(_map_typed_dicts(arg, replace) for arg in args)
    if converted == args:
        return hint
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return typing.Annotated[(converted[0], *hint.__metadata__)]  # type: ignore[valid-type]
    if isinstance(hint, types.UnionType) or origin is typing.Union:
        return typing.Union[converted]  # noqa: UP007
    if isinstance(hint, types.GenericAlias):
        return types.GenericAlias(origin, converted)
    return hint.copy_with(converted)


def _nested_wrappers(hint: Any) -> Any:
    return _map_typed_dicts(hint, _wrapper_model)


def _plain_dicts(value: Any) -> Any:
    """Nested TypedDict wrapper instances as dicts (absent NotRequired keys left out)."""
    typed_dict = _WRAPPED_TYPED_DICTS.get(type(value))
    if typed_dict is not None:
        return {
            key: _plain_dicts(getattr(value, key))
            for key, (_, not_required) in _typed_dict_fields(typed_dict).items()
            if not (not_required and getattr(value, key) is None)
        }
    if isinstance(value, list):
        return [_plain_dicts(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain_dicts(item) for key, item in value.items()}
    return value


# pydantic refuses ``typing.TypedDict`` classes before Python 3.12 (their ``typing`` module
# lacks what it needs) and asks for ``typing_extensions.TypedDict``; Flyte 2 programs use both.
_TYPING_TYPED_DICT_UNSUPPORTED = sys.version_info < (3, 12)


def _for_pydantic(hint: Any) -> Any:
    """``hint`` with every ``typing.TypedDict`` in it replaced by an equal ``typing_extensions`` one."""
    if not _TYPING_TYPED_DICT_UNSUPPORTED:
        return hint
    return _map_typed_dicts(hint, _usable_typed_dict)


def _usable_typed_dict(t: Any) -> Any:
    return _extensions_typed_dict(t) if type(t).__module__ == "typing" else t


@functools.lru_cache(maxsize=256)
def _extensions_typed_dict(t: Any) -> Any:
    import typing_extensions

    # get_type_hints keeps Required/NotRequired, so the copy has the same required keys; the
    # same name and module give it the same JSON schema title as the original.
    hints = {key: _for_pydantic(hint) for key, hint in typing.get_type_hints(t, include_extras=True).items()}
    # mypy wants a literal name; this one is the original class's.
    copy = typing_extensions.TypedDict(t.__name__, hints, total=t.__total__)  # type: ignore[misc]
    copy.__module__ = t.__module__
    copy.__qualname__ = t.__qualname__
    copy.__doc__ = t.__doc__
    return copy


class _WrappedTransformer(TypeTransformer[Any]):
    """Shared machinery: convert to the wrapper model, then encode as a pydantic model."""

    def _to_fields(self, python_val: Any, python_type: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _from_model(self, model: Any, python_type: Any) -> Any:
        raise NotImplementedError

    def _check(self, python_val: Any, python_type: Any) -> None:
        raise NotImplementedError

    def get_literal_type(self, t: Any = None) -> types_pb2.LiteralType:
        return _PYDANTIC.get_literal_type(_wrapper_model(t))

    async def to_literal(
        self, python_val: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        from pydantic import ValidationError

        self._check(python_val, python_type)
        wrapper = _wrapper_model(python_type)
        try:
            model = wrapper.model_validate(self._to_fields(python_val, python_type), strict=True)
        except ValidationError as e:
            raise TypeTransformerFailedError(
                f"Cannot encode {_short_repr(python_val)} as {type_name(python_type)}: {e}"
            ) from e
        return msgpack_literal(_PYDANTIC.dump(model))

    async def to_python_value(self, lv: literals_pb2.Literal, expected_python_type: Any) -> Any:
        model = _PYDANTIC.load(_wrapper_model(expected_python_type), read_msgpack(lv, expected_python_type))
        return self._from_model(model, expected_python_type)


class TupleTransformer(_WrappedTransformer):
    """``tuple[A, B, ...]`` as a pydantic wrapper with fields ``item_0``, ``item_1``, ...

    Example:
        >>> TypeEngine.get_transformer(tuple[int, str]).name
        'Typed Tuple'
    """

    def __init__(self) -> None:
        super().__init__("Typed Tuple", tuple)

    def _check(self, python_val: Any, python_type: Any) -> None:
        n = len(typing.get_args(python_type))
        if not isinstance(python_val, tuple) or len(python_val) != n:
            raise TypeTransformerFailedError(
                f"Expected a tuple of {n} items for {type_name(python_type)}, got {_short_repr(python_val)} "
                f"of type {type_name(type(python_val))}"
            )

    def _to_fields(self, python_val: Any, python_type: Any) -> dict[str, Any]:
        return {f"item_{i}": v for i, v in enumerate(python_val)}

    def _from_model(self, model: Any, python_type: Any) -> Any:
        return tuple(getattr(model, f"item_{i}") for i in range(len(typing.get_args(python_type))))


class NamedTupleTransformer(_WrappedTransformer):
    """A ``NamedTuple`` as a pydantic wrapper with the tuple's fields.

    Example:
        >>> class Pair(typing.NamedTuple):
        ...     a: int
        ...     b: str
        >>> TypeEngine.get_transformer(Pair).name
        'NamedTuple'
    """

    def __init__(self) -> None:
        super().__init__("NamedTuple", tuple)

    def _check(self, python_val: Any, python_type: Any) -> None:
        if not isinstance(python_val, python_type):
            raise TypeTransformerFailedError(
                f"Expected a {type_name(python_type)}, got {_short_repr(python_val)} "
                f"of type {type_name(type(python_val))}"
            )

    def _to_fields(self, python_val: Any, python_type: Any) -> dict[str, Any]:
        return dict(python_val._asdict())

    def _from_model(self, model: Any, python_type: Any) -> Any:
        return python_type(**{name: getattr(model, name) for name in python_type._fields})


class TypedDictTransformer(_WrappedTransformer):
    """A ``TypedDict`` as a pydantic wrapper with the dict's keys as fields; decodes to a ``dict``.

    Example:
        >>> class Movie(typing.TypedDict):
        ...     title: str
        >>> TypeEngine.get_transformer(Movie).name
        'TypedDict'
    """

    def __init__(self) -> None:
        super().__init__("TypedDict", dict)

    def _check(self, python_val: Any, python_type: Any) -> None:
        if not isinstance(python_val, dict):
            raise TypeTransformerFailedError(
                f"Expected a dict for {type_name(python_type)}, got {_short_repr(python_val)} "
                f"of type {type_name(type(python_val))}"
            )
        fields = _typed_dict_fields(python_type)
        unknown = set(python_val) - set(fields)
        if unknown:
            raise TypeTransformerFailedError(f"Unexpected keys {sorted(unknown)} for {type_name(python_type)}")
        missing = [key for key, (_, not_required) in fields.items() if not not_required and key not in python_val]
        if missing:
            raise TypeTransformerFailedError(
                f"Missing keys {missing} for {type_name(python_type)}: every key must be present unless it is "
                "declared NotRequired[...] (total=False alone does not make a key optional)"
            )

    def _to_fields(self, python_val: Any, python_type: Any) -> dict[str, Any]:
        return dict(python_val)

    def _from_model(self, model: Any, python_type: Any) -> Any:
        # A NotRequired key travels as None when absent, so None reads back as absent (as in Flyte 2).
        return _plain_dicts(model)


_TUPLE = TupleTransformer()
_NAMED_TUPLE = NamedTupleTransformer()
_TYPED_DICT = TypedDictTransformer()


def _resolve_tuple_like(t: Any) -> TypeTransformer[Any] | None:
    if is_named_tuple_type(t):
        return _NAMED_TUPLE
    if is_fixed_tuple(t):
        return _TUPLE
    if is_typed_dict_type(t):
        return _TYPED_DICT
    return None


def register_tuples() -> None:
    """Register the tuple, NamedTuple and TypedDict transformers."""
    TypeEngine.register_resolver(_resolve_tuple_like, priority=25)

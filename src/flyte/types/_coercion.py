"""Values that Flyte 2 programs pass for a declared type without being of that type.

Two questions live here, both asked with a declared Python type at hand:

* :func:`build_from_dict` turns a ``dict`` given for a dataclass (at any depth: a field, a list
  element, a union variant) into an instance, checking field names and scalar types the way
  Flyte 2 checks a dict it is handed for a dataclass. Pydantic models validate dicts themselves.
* :func:`is_declared_type` tells whether a value already *is* what the task will receive, so a
  local run hands it over as it is and reads back from its literal only the values that were
  coerced (an ``int`` for a ``float``, a ``dict`` for a dataclass, a ``flyte.io.DataFrame`` for a
  ``pd.DataFrame``).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import typing
from typing import Any

from flyte.types._type_engine import (
    TypeTransformerFailedError,
    _short_repr,
    is_dataclass_type,
    is_pydantic_model,
    is_union,
    strip_annotated,
    type_name,
)

__all__ = ["build_from_dict", "is_declared_type", "model_from_dict"]


@functools.lru_cache(maxsize=512)
def _field_specs(t: type) -> tuple[dict[str, Any], frozenset[str]]:
    """The init fields' types, and the names of those without a default."""
    hints = typing.get_type_hints(t, include_extras=True)
    types: dict[str, Any] = {}
    required: set[str] = set()
    for field in dataclasses.fields(t):
        if not field.init:
            continue
        types[field.name] = hints.get(field.name, Any)
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            required.add(field.name)
    return types, frozenset(required)


def _mismatch(t: Any, value: Any, where: str) -> TypeTransformerFailedError:
    return TypeTransformerFailedError(
        f"{where}: expected {type_name(t)}, got {_short_repr(value)} of type {type_name(type(value))}"
    )


def build_from_dict(t: Any, data: dict[str, Any], where: str = "") -> Any:
    """Return an instance of dataclass ``t`` built from ``data``, nested dicts included.

    Raises:
        TypeTransformerFailedError: a key is not a field, a required field is missing, or a
            value does not fit its field's type.

    Example:
        >>> @dataclasses.dataclass
        ... class Point:
        ...     x: float
        ...     label: str = "p"
        >>> build_from_dict(Point, {"x": 1})
        Point(x=1.0, label='p')
    """
    where = where or type_name(t)
    types, required = _field_specs(t)
    unknown = sorted(set(data) - set(types))
    if unknown:
        raise TypeTransformerFailedError(f"{where}: {unknown} are not fields of {type_name(t)}")
    missing = sorted(required - set(data))
    if missing:
        raise TypeTransformerFailedError(f"{where}: required fields {missing} of {type_name(t)} are missing")
    kwargs = {name: _coerce(types[name], value, f"{where}.{name}") for name, value in data.items()}
    return t(**kwargs)


def _coerce(t: Any, value: Any, where: str) -> Any:
    """``value`` as a value of ``t``: nested dicts built, ints widened to float, enum values to members."""
    t = strip_annotated(t)
    if t is Any or t is object or t is inspect.Parameter.empty:
        return value
    if is_union(t):
        args = typing.get_args(t)
        if value is None and type(None) in args:
            return None
        for arg in args:  # a variant the value already is wins over a coercion
            if arg is not type(None) and is_declared_type(value, arg):
                return value
        for arg in args:
            try:
                return _coerce(arg, value, where)
            except TypeTransformerFailedError:
                continue
        raise _mismatch(t, value, where)
    if t is type(None):
        if value is not None:
            raise _mismatch(t, value, where)
        return None
    if is_dataclass_type(t):
        if isinstance(value, t):
            return value
        if isinstance(value, dict):
            return build_from_dict(t, value, where)
        raise _mismatch(t, value, where)
    if is_pydantic_model(t):
        return _validate_model(t, value, where)
    if t is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _mismatch(t, value, where)
    if t is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _mismatch(t, value, where)
    if t in (str, bool, bytes):
        if not isinstance(value, t):
            raise _mismatch(t, value, where)
        return value
    if isinstance(t, type) and issubclass(t, enum.Enum):
        if isinstance(value, t):
            return value
        try:
            return t(value)
        except ValueError:
            raise _mismatch(t, value, where) from None
    origin = typing.get_origin(t)
    args = typing.get_args(t)
    if origin is list and args:
        if not isinstance(value, list):
            raise _mismatch(t, value, where)
        return [_coerce(args[0], item, f"{where}[{i}]") for i, item in enumerate(value)]
    if origin is dict and len(args) == 2:
        if not isinstance(value, dict):
            raise _mismatch(t, value, where)
        return {key: _coerce(args[1], item, f"{where}[{key!r}]") for key, item in value.items()}
    # Anything else (files, tuples, sets, datetimes, ...) is left for its transformer to judge.
    return value


def _validate_model(t: Any, value: Any, where: str) -> Any:
    if isinstance(value, t):
        return value
    if not isinstance(value, dict):
        raise _mismatch(t, value, where)
    from pydantic import ValidationError

    try:
        return t.model_validate(value)
    except ValidationError as e:
        raise TypeTransformerFailedError(f"{where}: cannot build {type_name(t)} from {_short_repr(value)}: {e}") from e


def model_from_dict(t: Any, data: dict[str, Any]) -> Any:
    """Validate ``data`` as pydantic model class ``t`` (Flyte 2 accepts a dict for a model input).

    Example:
        >>> import pydantic
        >>> class User(pydantic.BaseModel):
        ...     name: str
        >>> model_from_dict(User, {"name": "ada"})
        User(name='ada')
    """
    return _validate_model(t, data, type_name(t))


def is_declared_type(value: Any, t: Any) -> bool:
    """Whether ``value`` is already of declared type ``t``, all the way down.

    ``False`` means a transformer may have coerced it (an ``int`` in a ``list[float]``, a ``dict``
    for a dataclass), so the value a task receives must be read back from its literal. Types
    whose values cannot be checked by ``isinstance`` (``TypedDict``, ``Literal``) count as not
    declared, except for ones only their transformer understands, which count as declared.

    Example:
        >>> is_declared_type([1, 2.5], list[float])
        False
        >>> is_declared_type({"a": 1.0}, dict[str, float])
        True
    """
    cls = type(value)
    if cls is t:
        return True
    t = strip_annotated(t)
    if t is Any or t is object or t is inspect.Parameter.empty:
        return True
    if t is float:
        return cls is float or isinstance(value, float)
    if isinstance(t, type) and typing.get_origin(t) is None:
        if _is_typed_dict(t):
            return False
        try:
            return isinstance(value, t)
        except TypeError:  # a class that refuses isinstance checks (a protocol, a special form)
            return True
    if is_union(t):
        return any(is_declared_type(value, arg) for arg in typing.get_args(t))
    origin = typing.get_origin(t)
    args = typing.get_args(t)
    if origin is list:
        return isinstance(value, list) and (not args or all(is_declared_type(item, args[0]) for item in value))
    if origin is dict:
        return isinstance(value, dict) and (
            len(args) != 2 or all(is_declared_type(item, args[1]) for item in value.values())
        )
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(is_declared_type(item, args[0]) for item in value)
        return len(args) == len(value) and all(is_declared_type(v, a) for v, a in zip(value, args, strict=True))
    if origin is typing.Literal:
        return False
    return True


def _is_typed_dict(t: Any) -> bool:
    from flyte.types._tuples import is_typed_dict_type

    return is_typed_dict_type(t)

"""The type engine: a registry of transformers between Python values and Flyte literals.

Every value that crosses a task boundary is a ``flyteidl2.core.literals_pb2.Literal`` and every
declared type is a ``flyteidl2.core.types_pb2.LiteralType``. A :class:`TypeTransformer` knows how
to map one family of Python types onto those messages; :class:`TypeEngine` picks the transformer
for a Python type and caches the choice, so that converting thousands of task inputs a second
costs a dictionary lookup per value.

The families live in sibling modules (``_primitives``, ``_containers``, ``_union``, ...) and
register themselves when :mod:`flyte.types` is imported.
"""

from __future__ import annotations

import abc
import contextlib
import contextvars
import dataclasses
import enum
import sys
import types
import typing
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from flyteidl2.core import literals_pb2, types_pb2

__all__ = [
    "TypeEngine",
    "TypeTransformer",
    "TypeTransformerFailedError",
]

T = TypeVar("T")


class TypeTransformerFailedError(TypeError, ValueError):
    """A value could not be converted to or from a literal of the requested type.

    It is both a ``TypeError`` (the value has the wrong type) and a ``ValueError`` (the value or
    literal is malformed), so callers written against either keep working.

    Example:
        >>> try:
        ...     raise TypeTransformerFailedError("expected int, got str")
        ... except TypeError as e:
        ...     str(e)
        'expected int, got str'
    """


def type_name(t: Any) -> str:
    """Return a short readable name for a Python type or type hint (``int``, ``list[int]``)."""
    if isinstance(t, type) and not typing.get_args(t):
        if t.__module__ == "builtins":
            return t.__qualname__
        return f"{t.__module__}.{t.__qualname__}"
    return repr(t).replace("typing.", "")


class TypeTransformer(Generic[T], abc.ABC):
    """Converts one family of Python types to Flyte literals and back.

    Subclass it to teach the engine a new type, then register an instance with
    :meth:`TypeEngine.register`.

    Args:
        name: a human-readable name used in error messages.
        t: the Python type (or generic origin, such as ``list``) this transformer handles.
        enable_type_assertions: whether :meth:`assert_type` checks values before conversion.

    Example:
        >>> from flyteidl2.core import literals_pb2, types_pb2
        >>> class Celsius(float): ...
        >>> class CelsiusTransformer(TypeTransformer[Celsius]):
        ...     def __init__(self) -> None:
        ...         super().__init__("Celsius", Celsius)
        ...     def get_literal_type(self, t=None):
        ...         return types_pb2.LiteralType(simple=types_pb2.FLOAT)
        ...     async def to_literal(self, python_val, python_type, expected):
        ...         return literals_pb2.Literal(
        ...             scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(float_value=python_val))
        ...         )
        ...     async def to_python_value(self, lv, expected_python_type):
        ...         return Celsius(lv.scalar.primitive.float_value)
        >>> TypeEngine.register(CelsiusTransformer())
    """

    def __init__(self, name: str, t: type[T] | Any, enable_type_assertions: bool = True) -> None:
        self._name = name
        self._t = t
        self._type_assertions_enabled = enable_type_assertions

    @property
    def name(self) -> str:
        """The transformer's readable name."""
        return self._name

    @property
    def python_type(self) -> type[T]:
        """The Python type (or generic origin) this transformer handles."""
        return typing.cast("type[T]", self._t)

    @property
    def type_assertions_enabled(self) -> bool:
        """Whether :meth:`assert_type` checks values."""
        return self._type_assertions_enabled

    def assert_type(self, t: Any, v: Any) -> None:
        """Raise ``TypeTransformerFailedError`` (a ``TypeError``) when ``v`` is not a ``t``.

        Args:
            t: the declared Python type.
            v: the value about to be converted.

        Example:
            >>> TypeEngine.get_transformer(int).assert_type(int, "3")
            Traceback (most recent call last):
            ...
            flyte.types._type_engine.TypeTransformerFailedError: Expected a value of type int, got '3' of type str
        """
        if not self._type_assertions_enabled:
            return
        check = t if isinstance(t, type) else typing.get_origin(t) or t
        if isinstance(check, type) and not isinstance(v, check):
            raise TypeTransformerFailedError(
                f"Expected a value of type {type_name(t)}, got {_short_repr(v)} of type {type_name(type(v))}"
            )

    @abc.abstractmethod
    def get_literal_type(self, t: Any = None) -> types_pb2.LiteralType:
        """Return the ``LiteralType`` that declares ``t`` on the wire."""

    @abc.abstractmethod
    async def to_literal(
        self, python_val: T, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        """Convert ``python_val`` (declared as ``python_type``) to a ``Literal`` of type ``expected``."""

    @abc.abstractmethod
    async def to_python_value(self, lv: literals_pb2.Literal, expected_python_type: Any) -> T | None:
        """Convert the literal ``lv`` back to a value of ``expected_python_type``."""

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any:
        """Return a Python type for ``literal_type``, or raise ``ValueError`` if this transformer cannot."""
        raise ValueError(f"Transformer {self.name} cannot reverse {literal_type}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r}, type={type_name(self._t)})"


def _short_repr(v: Any, limit: int = 60) -> str:
    text = repr(v)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# A resolver looks at a type hint the exact-type registry does not know (a dataclass, an enum, a
# generic alias) and returns the transformer for it, or None to let the next resolver try.
Resolver = Callable[[Any], "TypeTransformer[Any] | None"]


class TypeEngine:
    """The registry that converts Python values to Flyte literals and back.

    All methods are class methods: there is one engine per process. Lookups by Python type are
    cached, so repeated conversions of the same declared type cost one dictionary lookup.

    Example:
        >>> import asyncio
        >>> lt = TypeEngine.to_literal_type(list[int])
        >>> lit = asyncio.run(TypeEngine.to_literal([1, 2], list[int], lt))
        >>> asyncio.run(TypeEngine.to_python_value(lit, list[int]))
        [1, 2]
    """

    _registry: typing.ClassVar[dict[Any, TypeTransformer[Any]]] = {}
    _resolvers: typing.ClassVar[list[tuple[int, Resolver]]] = []
    _fallback: typing.ClassVar[TypeTransformer[Any] | None] = None
    _transformer_cache: typing.ClassVar[dict[Any, TypeTransformer[Any]]] = {}
    _literal_type_cache: typing.ClassVar[dict[Any, types_pb2.LiteralType]] = {}
    _guessers: typing.ClassVar[list[TypeTransformer[Any]]] = []
    _by_origin: typing.ClassVar[set[Any]] = set()

    @classmethod
    def register(cls, transformer: TypeTransformer[Any], additional_types: typing.Iterable[Any] = ()) -> None:
        """Register ``transformer`` for its ``python_type`` (and any ``additional_types``).

        A later registration for the same type replaces the earlier one.

        Args:
            transformer: the transformer to register.
            additional_types: more Python types the same transformer handles.

        Example:
            >>> TypeEngine.register(TypeEngine.get_transformer(int))
        """
        for t in (transformer.python_type, *additional_types):
            cls._registry[t] = transformer
        cls._clear_caches()

    @classmethod
    def register_resolver(cls, resolver: Resolver, priority: int = 100) -> None:
        """Register a function that finds a transformer for types not registered exactly.

        Resolvers run in ascending ``priority`` order after the exact-type lookup and before the
        MRO walk; the first that returns a transformer wins. This is the extension point for
        families that are recognised by shape rather than by class (dataclasses, enums, pydantic
        models, ``flyte.io`` files and data frames).

        Args:
            resolver: called with the type hint; returns a transformer or ``None``.
            priority: lower runs earlier.

        Example:
            >>> TypeEngine.register_resolver(lambda t: None, priority=500)
        """
        cls._resolvers.append((priority, resolver))
        cls._resolvers.sort(key=lambda item: item[0])
        cls._clear_caches()

    @classmethod
    def register_fallback(cls, transformer: TypeTransformer[Any]) -> None:
        """Set the transformer used for types nothing else handles (the pickle transformer)."""
        cls._fallback = transformer
        cls._clear_caches()

    @classmethod
    def _clear_caches(cls) -> None:
        cls._transformer_cache.clear()
        cls._literal_type_cache.clear()

    @classmethod
    def get_transformer(cls, python_type: Any) -> TypeTransformer[Any]:
        """Return the transformer that handles ``python_type``.

        The lookup order is: the exact type, registered resolvers (generics, ``Annotated``,
        dataclasses, enums, pydantic models, tuples), the type's MRO, and finally the pickle
        fallback.

        Args:
            python_type: a Python type or type hint, such as ``int`` or ``dict[str, list[int]]``.

        Example:
            >>> TypeEngine.get_transformer(int).name
            'int'
        """
        key = _cache_key(python_type)
        try:
            return cls._transformer_cache[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable hint, e.g. Annotated with a dict in it
            return cls._find_transformer(python_type)
        transformer = cls._find_transformer(python_type)
        cls._transformer_cache[key] = transformer
        return transformer

    @classmethod
    def _find_transformer(cls, python_type: Any) -> TypeTransformer[Any]:
        from flyte.types._plugins import load_plugin_type_transformers, may_need_plugins

        if may_need_plugins(python_type):  # plugins' transformers take part from the first such lookup
            load_plugin_type_transformers()
        try:
            found = cls._registry.get(python_type)
        except TypeError:
            found = None
        if found is not None:
            return found
        origin = typing.get_origin(python_type)
        if origin is not None and origin in cls._by_origin:
            return cls._registry[origin]
        for _, resolver in cls._resolvers:
            candidate = resolver(python_type)
            if candidate is not None:
                return candidate
        if isinstance(python_type, type):
            for base in python_type.__mro__[1:]:
                if base is object:
                    break
                found = cls._registry.get(base)
                if found is not None:
                    return found
        if cls._fallback is None:
            raise TypeTransformerFailedError(f"No transformer registered for {type_name(python_type)}")
        return cls._fallback

    @classmethod
    def to_literal_type(cls, python_type: Any) -> types_pb2.LiteralType:
        """Return the ``LiteralType`` that declares ``python_type`` in a task interface.

        The result is cached and shared: do not mutate it (copy it first).

        Args:
            python_type: a Python type or type hint.

        Example:
            >>> TypeEngine.to_literal_type(int).simple == types_pb2.INTEGER
            True
        """
        key = _cache_key(python_type)
        try:
            return cls._literal_type_cache[key]
        except KeyError:
            pass
        except TypeError:
            return cls.get_transformer(python_type).get_literal_type(python_type)
        lt = cls.get_transformer(python_type).get_literal_type(python_type)
        cls._literal_type_cache[key] = lt
        return lt

    @classmethod
    async def to_literal(
        cls, python_val: Any, python_type: Any, expected: types_pb2.LiteralType | None = None
    ) -> literals_pb2.Literal:
        """Convert ``python_val``, declared as ``python_type``, to a ``Literal``.

        Args:
            python_val: the value.
            python_type: its declared type.
            expected: the declared ``LiteralType``; computed from ``python_type`` when omitted.

        Raises:
            TypeTransformerFailedError: the value does not match the declared type.

        Example:
            >>> import asyncio
            >>> asyncio.run(TypeEngine.to_literal(3, int)).scalar.primitive.integer
            3
        """
        if type(python_val) is python_type:  # a class, so always hashable
            fast = _FAST_ENCODERS.get(python_type)
            if fast is not None:
                return fast(python_val)
        transformer = cls.get_transformer(python_type)
        if expected is None:
            expected = cls.to_literal_type(python_type)
        return await transformer.to_literal(python_val, python_type, expected)

    @classmethod
    async def to_python_value(cls, lv: literals_pb2.Literal, expected_python_type: Any) -> Any:
        """Convert the literal ``lv`` to a value of ``expected_python_type``.

        Args:
            lv: the literal.
            expected_python_type: the Python type the caller declared.

        Raises:
            TypeTransformerFailedError: the literal cannot be read as that type.

        Example:
            >>> import asyncio
            >>> lit = asyncio.run(TypeEngine.to_literal("hi", str))
            >>> asyncio.run(TypeEngine.to_python_value(lit, str))
            'hi'
        """
        transformer = cls.get_transformer(expected_python_type)
        return await transformer.to_python_value(lv, expected_python_type)

    @classmethod
    def guess_python_type(cls, literal_type: types_pb2.LiteralType) -> Any:
        """Return a Python type that a literal of ``literal_type`` can be read as.

        Used when only the wire interface is known (a remote task). Transformers are asked in
        registration order; the first that understands the type wins.

        Args:
            literal_type: the declared literal type.

        Raises:
            ValueError: no transformer understands it.

        Example:
            >>> TypeEngine.guess_python_type(types_pb2.LiteralType(simple=types_pb2.INTEGER))
            <class 'int'>
        """
        seen: set[int] = set()
        candidates = [*cls._guessers, *cls._registry.values()]
        if cls._fallback is not None:
            candidates.append(cls._fallback)
        for transformer in candidates:
            if id(transformer) in seen:
                continue
            seen.add(id(transformer))
            try:
                return transformer.guess_python_type(literal_type)
            except (ValueError, TypeError, NotImplementedError):
                continue
        raise ValueError(f"No Python type known for literal type {literal_type}")

    @classmethod
    def register_additional_type(
        cls, transformer: TypeTransformer[Any], additional_type: Any, override: bool = False
    ) -> None:
        """Make ``transformer`` handle ``additional_type`` too (and its parameterisations, such as
        ``pandera.typing.DataFrame[Schema]`` for ``pandera.typing.DataFrame``).

        Args:
            transformer: the transformer.
            additional_type: the extra Python type.
            override: replace a transformer already registered for the type.
        """
        if additional_type not in cls._registry or override:
            cls._registry[additional_type] = transformer
            cls._by_origin.add(additional_type)
            cls._clear_caches()

    @classmethod
    def register_guesser(cls, transformer: TypeTransformer[Any]) -> None:
        """Ask ``transformer`` first when guessing a Python type from a literal type.

        Resolver-based transformers (dataclasses, enums, ...) are not in the exact-type registry,
        so they register here to take part in :meth:`guess_python_type`.
        """
        if transformer not in cls._guessers:
            cls._guessers.append(transformer)


# While set, transformers accept only values already of the declared type: no int for a float,
# no dict for a dataclass. A union encodes under it first, so that a value that fits one
# variant as it is never turns into another by coercion (3 in Union[float, int] stays an int).
_STRICT: contextvars.ContextVar[bool] = contextvars.ContextVar("flyte_types_strict", default=False)


def coercion_allowed() -> bool:
    """Whether a transformer may convert a value of another type (int → float, dict → dataclass)."""
    return not _STRICT.get()


@contextlib.contextmanager
def strict_types() -> Iterator[None]:
    """Within the block, transformers refuse values that would need a coercion.

    Example:
        >>> import asyncio
        >>> with strict_types():
        ...     asyncio.run(TypeEngine.to_literal(3, float))
        Traceback (most recent call last):
        ...
        flyte.types._type_engine.TypeTransformerFailedError: Expected a value of type float, got 3 of type int
    """
    token = _STRICT.set(True)
    try:
        yield
    finally:
        _STRICT.reset(token)


def _cache_key(t: Any) -> Any:
    # Plain classes are their own key. Type hints compare equal across orderings
    # (Union[int, float] == Union[float, int]) although Flyte encodes variant order, so
    # their key includes the spelled-out form.
    if type(t) is type:
        return t
    return (t, repr(t))


# Exact-type encoders for the hottest path: a value whose type *is* the declared primitive type.
# Filled by the primitives module; kept here so TypeEngine.to_literal needs no extra import.
_FAST_ENCODERS: dict[Any, Callable[[Any], literals_pb2.Literal]] = {}


def strip_annotated(t: Any) -> Any:
    """Return the underlying type of ``Annotated[X, ...]`` (or ``t`` itself)."""
    while typing.get_origin(t) is typing.Annotated:
        t = typing.get_args(t)[0]
    return t


def is_union(t: Any) -> bool:
    """Return whether ``t`` is ``Union[...]``, ``Optional[...]`` or ``X | Y``."""
    origin = typing.get_origin(t)
    return origin is typing.Union or origin is types.UnionType


def is_dataclass_type(t: Any) -> bool:
    """Return whether ``t`` is a dataclass class (not an instance)."""
    return isinstance(t, type) and dataclasses.is_dataclass(t)


def is_enum_type(t: Any) -> bool:
    """Return whether ``t`` is an ``enum.Enum`` subclass."""
    return isinstance(t, type) and issubclass(t, enum.Enum)


def is_pydantic_model(t: Any) -> bool:
    """Return whether ``t`` is a pydantic ``BaseModel`` subclass, without importing pydantic."""
    if not isinstance(t, type):
        return False
    pydantic = sys.modules.get("pydantic")
    if pydantic is None:
        return False
    return issubclass(t, pydantic.BaseModel)

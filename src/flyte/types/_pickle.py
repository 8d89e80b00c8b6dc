"""The fallback transformer: any Python object, pickled with cloudpickle.

Flyte 2 declares a pickled type as a union of a ``PythonPickle`` blob and a ``BINARY`` scalar
(both tagged ``FlytePickle``) with the Python class name in the type's metadata, and sends the
pickle inline as an untagged ``Binary`` scalar. Blob literals (a pickle file at a URI, as older
SDKs wrote them) are still read.

A ``set`` or ``frozenset`` also gets a content hash in the literal's ``hash`` field, because its
pickle bytes depend on the process's string hash seed.

Pickles only round-trip between identical Python and library versions, so using this transformer
logs a warning once per type.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from typing import Any

import cloudpickle
from flyteidl2.core import literals_pb2, types_pb2

from flyte.types import _storage_hooks
from flyte.types._type_engine import TypeEngine, TypeTransformer, TypeTransformerFailedError, _short_repr, type_name

__all__ = ["PICKLE_FORMAT", "PICKLE_TAG", "PickleTransformer", "register_pickle"]

PICKLE_TAG = "FlytePickle"
PICKLE_FORMAT = "PythonPickle"

logger = logging.getLogger("flyte")


class PickleTransformer(TypeTransformer[Any]):
    """Pickles values of types no other transformer handles.

    Example:
        >>> class Opaque: ...
        >>> TypeEngine.get_transformer(Opaque).name
        'FlytePickle'
    """

    def __init__(self) -> None:
        super().__init__(PICKLE_TAG, object)
        self._warned: set[str] = set()

    def get_literal_type(self, t: Any = None) -> types_pb2.LiteralType:
        class_name = str(t)
        # An unannotated input was already reported by the interface, in the user's words.
        if class_name not in self._warned and t is not inspect.Parameter.empty:
            self._warned.add(class_name)
            logger.warning(
                "Unsupported type %s: Flyte will pickle it. Pickles only load under the same Python and "
                "library versions; prefer a type Flyte supports.",
                class_name,
            )
        lt = types_pb2.LiteralType(
            union_type=types_pb2.UnionType(
                variants=[
                    types_pb2.LiteralType(
                        blob=types_pb2.BlobType(format=PICKLE_FORMAT),
                        structure=types_pb2.TypeStructure(tag=PICKLE_TAG),
                    ),
                    types_pb2.LiteralType(simple=types_pb2.BINARY, structure=types_pb2.TypeStructure(tag=PICKLE_TAG)),
                ]
            )
        )
        lt.metadata.fields["python_class_name"].string_value = class_name
        return lt

    def assert_type(self, t: Any, v: Any) -> None:
        # Anything picklable is acceptable; a declared class is checked when it is a real class
        # (an unannotated input is declared as ``inspect.Parameter.empty`` and takes anything).
        if t is Any or t is object or t is inspect.Parameter.empty or not isinstance(t, type):
            return
        if not isinstance(v, t):
            raise TypeTransformerFailedError(
                f"Expected a value of type {type_name(t)}, got {_short_repr(v)} of type {type_name(type(v))}"
            )

    async def to_literal(
        self, python_val: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        self.assert_type(python_type, python_val)
        try:
            data = cloudpickle.dumps(python_val)
        except Exception as e:  # cloudpickle raises many types (PicklingError, TypeError, ...)
            raise TypeTransformerFailedError(f"Cannot pickle {_short_repr(python_val)}: {e}") from e
        literal = literals_pb2.Literal(scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=data)))
        if isinstance(python_val, (set, frozenset)):
            literal.hash = _set_hash(python_val)
        return literal

    async def to_python_value(self, lv: literals_pb2.Literal, expected_python_type: Any) -> Any:
        scalar = lv.scalar
        kind = scalar.WhichOneof("value")
        if kind == "union":
            return await self.to_python_value(scalar.union.value, expected_python_type)
        if kind == "binary":
            data = scalar.binary.value
        elif kind == "blob":
            data = await _storage_hooks.read_bytes(scalar.blob.uri)
        else:
            raise TypeTransformerFailedError(
                f"Cannot unpickle {type_name(expected_python_type)} from literal {_short_repr(lv, 200)}"
            )
        return cloudpickle.loads(data)

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any:
        if literal_type.WhichOneof("type") == "union_type":
            variants = literal_type.union_type.variants
            if variants and all(v.structure.tag == PICKLE_TAG for v in variants):
                return object
        if literal_type.WhichOneof("type") == "blob" and literal_type.blob.format == PICKLE_FORMAT:
            return object
        raise ValueError(f"{self.name} cannot reverse {literal_type}")


def _set_hash(value: set[Any] | frozenset[Any]) -> str:
    """A content hash for a set, or ``""`` when its elements cannot be ordered.

    A set's pickle follows its iteration order, which for strings changes with the per-process
    hash seed; the MD5 of the pickled sorted elements does not. Flyte 2 writes the same value.
    """
    try:
        ordered = sorted(value)
    except TypeError:
        return ""
    return hashlib.md5(cloudpickle.dumps(ordered), usedforsecurity=False).hexdigest()


_PICKLE = PickleTransformer()


def register_pickle() -> None:
    """Install the pickle transformer as the engine's fallback."""
    TypeEngine.register_fallback(_PICKLE)

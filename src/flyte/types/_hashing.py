"""Deterministic hashes of task inputs and cache keys, identical to Flyte 2's.

The inputs hash names a call among its siblings (local call counters, child action names) and
feeds the cache key, so it must not depend on the process, the machine or dict ordering:

* ``hash_inputs``: base64 of sha256 over ``name:`` + the literal's hash material + ``;`` for each
  input in the order given (the interface's declaration order); ``""`` when there are none. A
  literal's hash material is, in order of precedence: its ``hash`` field when set (pickled sets);
  for a collection, its elements' material concatenated; for a map, each key followed by its
  value's material, by key; for a msgpack ``Binary``, the deterministic bytes of the literal with
  the msgpack re-packed so every map's keys are sorted by their packed bytes (at any depth);
  otherwise the literal's deterministic bytes.
* ``hash_interface``: base64 of sha256 over the deterministic ``TypedInterface`` bytes.
* ``cache_key``: base64 of sha256 over ``inputs_hash + task_name + interface_hash + cache_version``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

import msgpack
from flyteidl2.core import interface_pb2, literals_pb2

__all__ = ["cache_key", "hash_inputs", "hash_interface", "hash_literal"]


def _b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def hash_literal(literal: literals_pb2.Literal) -> str:
    """Return the base64 sha256 of one literal's deterministic serialization.

    Example:
        >>> hash_literal(literals_pb2.Literal())
        '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='
    """
    return _b64_sha256(literal.SerializeToString(deterministic=True))


def _sorted_maps(value: Any) -> Any:
    if isinstance(value, dict):
        ordered = sorted(value.items(), key=lambda item: msgpack.packb(item[0]))
        return {key: _sorted_maps(item) for key, item in ordered}
    if isinstance(value, list):
        return [_sorted_maps(item) for item in value]
    return value


def _hash_material(literal: literals_pb2.Literal) -> bytes:
    """What one literal contributes to the inputs hash (see the module docstring)."""
    recorded: str = literal.hash
    if recorded:
        return recorded.encode("utf-8")
    kind = literal.WhichOneof("value")
    if kind == "collection":
        return b"".join(_hash_material(item) for item in literal.collection.literals)
    if kind == "map":
        entries = literal.map.literals
        return b"".join(key.encode("utf-8") + _hash_material(entries[key]) for key in sorted(entries))
    if kind == "scalar" and literal.scalar.WhichOneof("value") == "binary" and literal.scalar.binary.tag == "msgpack":
        # Encoders write keys in field order; the hash must not depend on it.
        canonical = literals_pb2.Literal()
        canonical.CopyFrom(literal)
        data = msgpack.unpackb(literal.scalar.binary.value, strict_map_key=False)
        canonical.scalar.binary.value = msgpack.packb(_sorted_maps(data))
        literal = canonical
    serialized: bytes = literal.SerializeToString(deterministic=True)
    return serialized


def hash_inputs(literals: Mapping[str, literals_pb2.Literal]) -> str:
    """Return the inputs hash Flyte 2 uses for call identity and cache keys.

    The order of ``literals`` is significant: pass them in the interface's declaration order
    (which :func:`flyte.types._interface.convert_inputs_to_literals` produces). No inputs hash
    to the empty string.

    Example:
        >>> from flyteidl2.core import literals_pb2 as lp
        >>> x = lp.Literal(scalar=lp.Scalar(primitive=lp.Primitive(integer=0)))
        >>> hash_inputs({"x": x})
        'A0hhwU+2u5bbJozjAgV3Mc5vkuOyBNGcyeHZCv5z0lU='
        >>> hash_inputs({})
        ''
    """
    if not literals:
        return ""
    h = hashlib.sha256()
    for name, literal in literals.items():
        h.update(name.encode("utf-8"))
        h.update(b":")
        h.update(_hash_material(literal))
        h.update(b";")
    return base64.b64encode(h.digest()).decode("ascii")


def hash_interface(interface: interface_pb2.TypedInterface) -> str:
    """Return the base64 sha256 of a typed interface's deterministic serialization.

    Example:
        >>> hash_interface(interface_pb2.TypedInterface())
        '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='
    """
    return _b64_sha256(interface.SerializeToString(deterministic=True))


def cache_key(inputs_hash: str, task_name: str, interface: interface_pb2.TypedInterface, cache_version: str) -> str:
    """Return the cache key of a call: sha256 over inputs hash, task name, interface hash, version.

    Args:
        inputs_hash: :func:`hash_inputs` of the call's inputs.
        task_name: the fully qualified task name (``"env.task"``).
        interface: the task's typed interface.
        cache_version: the cache (discovery) version.

    Example:
        >>> len(cache_key("", "demo.t", interface_pb2.TypedInterface(), "v1"))
        44
    """
    material = inputs_hash + task_name + hash_interface(interface) + cache_version
    return _b64_sha256(material.encode("utf-8"))

"""Offloading: literals too large to travel inline are stored as files and referenced.

An offloaded literal carries only ``offloaded_metadata`` (the URI of the serialized ``Literal``,
its size and its literal type) and a ``hash`` of the original, so cache keys and call identities
do not change when a value is offloaded. Flyte 2 reads such literals by fetching the URI and
parsing it as a ``Literal``, which is what :func:`load_offloaded` does.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from flyte.storage._filesystem import random_remote_path
from flyte.storage._transfer import put_stream

if TYPE_CHECKING:
    from flyteidl2.core import literals_pb2, types_pb2

__all__ = ["OFFLOADED_FILE_NAME", "load_offloaded", "offload_literal"]

OFFLOADED_FILE_NAME = "literal.pb"
"""The file name of an offloaded literal under its fresh raw-data location."""


async def offload_literal(
    literal: literals_pb2.Literal,
    max_bytes: int,
    *,
    inferred_type: types_pb2.LiteralType | None = None,
    to_path: str | None = None,
) -> literals_pb2.Literal:
    """Return ``literal`` itself when it serializes to at most ``max_bytes``, else an offloaded copy.

    The offloaded literal has ``offloaded_metadata`` (``uri``, ``size_bytes``, ``inferred_type``)
    and ``hash`` set; the original literal, serialized, is written to ``uri``.

    Args:
        literal: the value to send.
        max_bytes: the task's ``max_inline_io_bytes``; ``0`` or less never offloads.
        inferred_type: the declared literal type, recorded in the metadata.
        to_path: where to write it; a fresh location under the raw-data path when omitted.

    Example:
        >>> import asyncio
        >>> from flyteidl2.core import literals_pb2
        >>> big = literals_pb2.Literal(scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=b"x" * 100)))
        >>> small = asyncio.run(offload_literal(big, 10))
        >>> small.WhichOneof("value"), small.offloaded_metadata.size_bytes
        ('offloaded_metadata', 106)
        >>> asyncio.run(load_offloaded(small)) == big
        True
    """
    if max_bytes <= 0 or literal.WhichOneof("value") == "offloaded_metadata":
        return literal
    size = literal.ByteSize()
    if size <= max_bytes:
        return literal
    from flyteidl2.core import literals_pb2

    data = literal.SerializeToString(deterministic=True)
    uri = await put_stream(data, to_path=to_path or random_remote_path(OFFLOADED_FILE_NAME))
    metadata = literals_pb2.LiteralOffloadedMetadata(uri=uri, size_bytes=len(data))
    if inferred_type is not None:
        metadata.inferred_type.CopyFrom(inferred_type)
    digest = literal.hash or base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
    return literals_pb2.Literal(offloaded_metadata=metadata, hash=digest, metadata=literal.metadata)


async def offload_literals(
    literals: Mapping[str, literals_pb2.Literal], max_bytes: int
) -> dict[str, literals_pb2.Literal]:
    """:func:`offload_literal` for each of a task's inputs or outputs (by name).

    Example:
        >>> import asyncio
        >>> from flyteidl2.core import literals_pb2
        >>> asyncio.run(offload_literals({"o0": literals_pb2.Literal()}, 10))["o0"] == literals_pb2.Literal()
        True
    """
    return {name: await offload_literal(literal, max_bytes) for name, literal in literals.items()}


async def load_offloaded(literal: literals_pb2.Literal) -> literals_pb2.Literal:
    """Return the literal an offloaded literal refers to (any other literal is returned as is).

    Example:
        >>> import asyncio
        >>> from flyteidl2.core import literals_pb2
        >>> asyncio.run(load_offloaded(literals_pb2.Literal())) == literals_pb2.Literal()
        True
    """
    if literal.WhichOneof("value") != "offloaded_metadata":
        return literal
    from flyteidl2.core import literals_pb2

    from flyte.storage._transfer import get_stream

    chunks = [chunk async for chunk in get_stream(literal.offloaded_metadata.uri)]
    loaded = literals_pb2.Literal()
    loaded.ParseFromString(b"".join(chunks))
    return loaded

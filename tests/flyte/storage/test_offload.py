"""Offloaded literals: large values travel as a reference to a serialized Literal."""

from __future__ import annotations

from flyteidl2.core import literals_pb2

import flyte.storage
from flyte.types import TypeEngine


async def test_small_literals_stay_inline_and_large_ones_are_offloaded() -> None:
    small = await TypeEngine.to_literal("x", str)
    assert await flyte.storage.offload_literal(small, 1000) is small
    big_type = TypeEngine.to_literal_type(list[str])
    big = await TypeEngine.to_literal(["y" * 100] * 50, list[str], big_type)
    offloaded = await flyte.storage.offload_literal(big, 1000, inferred_type=big_type)
    assert offloaded.WhichOneof("value") == "offloaded_metadata"
    meta = offloaded.offloaded_metadata
    assert meta.size_bytes == big.ByteSize() and meta.inferred_type == big_type
    assert offloaded.hash
    assert await flyte.storage.load_offloaded(offloaded) == big
    loaded = await flyte.storage.load_offloaded(offloaded)
    assert await TypeEngine.to_python_value(loaded, list[str]) == ["y" * 100] * 50


async def test_offloading_is_deterministic_in_hash_and_disabled_by_zero() -> None:
    big = literals_pb2.Literal(scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=b"z" * 5000)))
    first = await flyte.storage.offload_literal(big, 100)
    second = await flyte.storage.offload_literal(big, 100)
    assert first.offloaded_metadata.uri != second.offloaded_metadata.uri
    assert first.hash == second.hash
    assert await flyte.storage.offload_literal(big, 0) is big
    assert await flyte.storage.load_offloaded(big) is big

"""Property tests: nested containers round-trip, and hashes ignore dict insertion order."""

from __future__ import annotations

import asyncio
import math
from typing import Any, Optional

from flyteidl2.core import literals_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from flyte.types import TypeEngine
from flyte.types._hashing import hash_inputs

ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
floats = st.floats(allow_nan=False)
texts = st.text(max_size=8)
keys = st.text(max_size=5)

# (python type, strategy) pairs, nested a few levels deep.
leaf_types: list[tuple[Any, st.SearchStrategy[Any]]] = [
    (int, ints),
    (float, floats),
    (str, texts),
    (bool, st.booleans()),
    (Optional[int], st.none() | ints),  # noqa: UP045
]


def _nest(inner: tuple[Any, st.SearchStrategy[Any]]) -> st.SearchStrategy[tuple[Any, st.SearchStrategy[Any]]]:
    t, strategy = inner
    return st.sampled_from(
        [
            (list[t], st.lists(strategy, max_size=4)),  # type: ignore[valid-type]
            (dict[str, t], st.dictionaries(keys, strategy, max_size=4)),  # type: ignore[valid-type]
            (Optional[list[t]], st.none() | st.lists(strategy, max_size=3)),  # type: ignore[valid-type]  # noqa: UP045
        ]
    )


typed_strategies = st.recursive(st.sampled_from(leaf_types), lambda s: s.flatmap(_nest), max_leaves=4)


@settings(max_examples=150, deadline=None)
@given(typed_strategies.flatmap(lambda ts: st.tuples(st.just(ts[0]), ts[1])))
def test_nested_containers_round_trip(type_and_value: tuple[Any, Any]) -> None:
    python_type, value = type_and_value

    async def go() -> Any:
        lit = await TypeEngine.to_literal(value, python_type)
        wire = literals_pb2.Literal.FromString(lit.SerializeToString(deterministic=True))
        return await TypeEngine.to_python_value(wire, python_type)

    assert asyncio.run(go()) == value


def _reordered(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(v) for v in value]
    return value


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(keys, st.dictionaries(keys, st.lists(floats, max_size=3), max_size=4), max_size=4))
def test_hash_ignores_typed_dict_insertion_order(value: dict[str, dict[str, list[float]]]) -> None:
    t = dict[str, dict[str, list[float]]]

    async def go(v: Any) -> str:
        return hash_inputs({"x": await TypeEngine.to_literal(v, t)})

    assert asyncio.run(go(value)) == asyncio.run(go(_reordered(value)))


@settings(max_examples=50, deadline=None)
@given(floats)
def test_float_hash_depends_only_on_the_value(x: float) -> None:
    async def go(v: float) -> str:
        return hash_inputs({"x": await TypeEngine.to_literal(v, float)})

    same = float(repr(x))
    assert asyncio.run(go(x)) == asyncio.run(go(same))
    if x != 0 and not math.isinf(x):
        assert asyncio.run(go(x)) != asyncio.run(go(-x))

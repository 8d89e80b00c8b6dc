"""Inputs hashes and cache keys equal the ones Flyte 2.12.1 computes.

The pinned values were read from PyPI ``flyte==2.12.1`` itself (not from this package): inputs
hashes from its local-mode call counters (``flyte.ctx()._call_counter`` keys ``'demo.<task>:<hash>:'``
after the child calls), and the cache key from the ``task_cache`` table of its local cache
(``flyte.init(local_persistence=True)``, ``Cache(behavior="override", version_override="v7")``).
"""

from __future__ import annotations

import datetime
import subprocess
import sys
from typing import Optional, TypedDict

from flyte.types._hashing import cache_key, hash_inputs, hash_interface
from flyte.types._interface import NativeInterface, convert_inputs_to_literals


def sq(x: int) -> int: ...
def sq2(x: int, y: str = "a") -> int: ...
def ba(b: int, a: int, c: Optional[float] = None) -> tuple[int, str]: ...  # noqa: UP045
def noin() -> int: ...
def ints(v: list[int]) -> int: ...
def counts(v: dict[str, int]) -> int: ...
def untyped(v: dict) -> int: ...  # type: ignore[type-arg]
def nested(v: dict[str, list[dict[str, int]]]) -> int: ...
def int_set(s: set[int]) -> int: ...
def str_set(s: set[str]) -> int: ...
def sets(v: list[set[int]]) -> int: ...
def span(d: datetime.timedelta) -> int: ...


class Movie(TypedDict):
    title: str
    year: int


def movie(v: Movie) -> int: ...


async def _hash(func: object, **kwargs: object) -> str:
    iface = NativeInterface.from_callable(func)  # type: ignore[arg-type]
    return hash_inputs(await convert_inputs_to_literals(iface, kwargs))


async def test_inputs_hash_matches_the_reference() -> None:
    # Observed in flyte 2.12.1 local-mode call counters ('demo.sq:<hash>:').
    assert await _hash(sq, x=0) == "A0hhwU+2u5bbJozjAgV3Mc5vkuOyBNGcyeHZCv5z0lU="
    assert await _hash(sq, x=1) == "mwz8D2D27AaNIuSl3c0hyVeHhgDGpyQZdtnWBWKxGAc="
    assert await _hash(sq2, x=5, y="hello") == "2i822AXPJ41cjeG/Ktd1jyT4WCt+E4LM2n44oFykjRw="
    assert await _hash(sq2, x=5) == "aLgrPnmVqlkR3hZBzQqmj0kDuWcWrmVDQ7Q+TGcDA6Y="
    assert await _hash(ba, b=1, a=2) == "/n61rGc89iZdUGRadBBjPBngoI+9C0J7zJUDqcF1G3M="
    assert await _hash(noin) == ""


async def test_inputs_hash_of_containers_sets_and_msgpack_matches_the_reference() -> None:
    # Collections and maps hash their elements' material (a list of one int hashes like the int).
    assert await _hash(ints, v=[1, 2]) == "67QOdOzYDRWKNNUIHlQN4LXyWc3UiSEzf8yo9HrF2Jo="
    assert await _hash(counts, v={"a": 1}) == "fkVV9CVvDvHIQv/811XsjkSyAdUQWUg/FiWMCl+vbcs="
    assert await _hash(nested, v={"b": [{"y": 1, "x": 2}], "a": []}) == "4WeS6X/Wm2o7W85kWk+a9kK9YKJzmBJUVL3CCsY74sM="
    # Msgpack maps are hashed with keys sorted by their packed bytes ("year" before "title").
    assert await _hash(movie, v={"title": "x", "year": 1}) == "fRoqVUy7inN85k/Ygm3Qenn3dprUNPCS2bOJ+5P4H30="
    mixed = {"x": {3: "a", 1: "b", -1: "c", 200: "d"}, "\u00e9": 1, "e": 2}
    assert await _hash(untyped, v=mixed) == "IGGAKgOfkniG4UV4aJnQt80EGHuIrBl/9BGUpVySAm0="
    # Pickled sets hash by the literal's content hash, not the seed-dependent pickle bytes.
    assert await _hash(int_set, s={1, 2}) == "9JlDo1NKdbZzFoLFRIxLj26gnYIPBTN5Svn+v4zsKT0="
    assert await _hash(str_set, s={"a", "b", "c"}) == "yLLz922ZNHcgOtDsByJEFagjyhzFJbru/Zrm0bcExzE="
    assert await _hash(sets, v=[{1, 2}, {3}]) == "Eu1IJTJfNEdu4a6mtqhhnLwTAb0GLpwArchTcE7sAPg="
    # A negative duration uses protobuf's canonical form (seconds and nanos share a sign).
    negative = datetime.timedelta(seconds=-1, microseconds=1)
    assert await _hash(span, d=negative) == "YspkHoETfACZvuNMIoZtuvvlnRI7H0Y6zS2t1PbbrcQ="


async def test_cache_key_matches_the_reference() -> None:
    iface = NativeInterface.from_callable(ba)
    typed = iface.to_typed_interface()
    assert hash_interface(typed) == "SAJotg6u8fZLVxjbB2mfxuC2Od1x15WdA2VnZRHEVvA="
    inputs_hash = hash_inputs(await convert_inputs_to_literals(iface, {"b": 1, "a": 2}))
    assert cache_key(inputs_hash, "demo.ba", typed, "v7") == "GB3PVXbGiqkLEeRR22wXEGEhBbwIFl/PQWzirQ+kpfc="


async def test_hash_does_not_depend_on_keyword_order() -> None:
    assert await _hash(ba, a=2, b=1) == await _hash(ba, b=1, a=2)


async def test_hash_is_the_same_in_another_process() -> None:
    code = (
        "import asyncio\n"
        "from flyte.types._hashing import hash_inputs\n"
        "from flyte.types._interface import NativeInterface, convert_inputs_to_literals\n"
        "def f(x: dict[str, float], y: dict, z: list[str]) -> None: ...\n"
        "lits = asyncio.run(convert_inputs_to_literals(NativeInterface.from_callable(f),"
        " {'x': {'b': 0.1, 'a': 1e300}, 'y': {'k': [1, 2.5]}, 'z': ['q']}))\n"
        "print(hash_inputs(lits))\n"
    )
    here = await _hash_f()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == here


def f(x: dict[str, float], y: dict, z: list[str]) -> None: ...  # type: ignore[type-arg]


async def _hash_f() -> str:
    return await _hash(f, x={"a": 1e300, "b": 0.1}, y={"k": [1, 2.5]}, z=["q"])

"""Inputs hashes and cache keys equal the ones Flyte 2.12.1 computes (values pinned from it)."""

from __future__ import annotations

import subprocess
import sys
from typing import Optional

from flyte.types._hashing import cache_key, hash_inputs, hash_interface
from flyte.types._interface import NativeInterface, convert_inputs_to_literals


def sq(x: int) -> int: ...
def sq2(x: int, y: str = "a") -> int: ...
def ba(b: int, a: int, c: Optional[float] = None) -> tuple[int, str]: ...  # noqa: UP045
def noin() -> int: ...


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

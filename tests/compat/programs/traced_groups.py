"""``@flyte.trace`` helpers and ``flyte.group`` around fan-outs, as the user guide shows them."""

import asyncio

import flyte

env = flyte.TaskEnvironment(name="compat_traced")


@flyte.trace
async def fetch(i: int) -> int:
    return i * 10


@env.task
async def add_one(x: int) -> int:
    return x + 1


@env.task
async def main(n: int = 3) -> list[int]:
    with flyte.group("fetching"):
        fetched = [await fetch(i) for i in range(n)]
    with flyte.group("adding"):
        added = await asyncio.gather(*(add_one(value) for value in fetched))
    return list(added)


INPUTS = {"n": 3}
EXPECTED = {"phase": "SUCCEEDED", "outputs": [[1, 11, 21]]}

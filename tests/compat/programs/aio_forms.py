"""The ``.aio`` forms: sync tasks awaited from an async parent, ``flyte.map.aio``, gathered calls."""

import asyncio

import flyte

env = flyte.TaskEnvironment(name="compat_aio")


@env.task
def square(x: int) -> int:
    return x * x


@env.task
async def main(n: int = 3) -> list[int]:
    first = await square.aio(5)
    gathered = await asyncio.gather(*(square.aio(i) for i in range(n)))
    mapped = [value async for value in flyte.map.aio(square, range(n))]
    return [first, *gathered, *mapped]


INPUTS = {"n": 3}
EXPECTED = {"phase": "SUCCEEDED", "outputs": [[25, 0, 1, 4, 0, 1, 4]]}

"""Caching across separate processes: run this file twice; the second run is served from the cache.

Prints how many times the cached task body executed in this process.
"""

import asyncio
import sys

import flyte

env = flyte.TaskEnvironment(name="caching")
EXECUTED = []


@env.task(cache=flyte.Cache(behavior="auto", ignored_inputs=("comment",)))
async def slow_square(x: int, comment: str) -> int:
    EXECUTED.append(x)
    return x * x


@env.task
async def main(n: int, comment: str) -> int:
    return sum(await asyncio.gather(*(slow_square(i, comment) for i in range(n))))


if __name__ == "__main__":
    flyte.init()
    comment = sys.argv[1] if len(sys.argv) > 1 else "first"
    print(flyte.run(main, n=5, comment=comment).outputs().o0, "executed:", len(EXECUTED))

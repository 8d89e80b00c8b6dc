"""A cached task without inputs, called twice: the cache key of an empty input set."""

import flyte

env = flyte.TaskEnvironment(name="compat_cached")


@env.task(cache="auto")
async def expensive() -> int:
    return 42


@env.task
async def main() -> int:
    first = await expensive()
    second = await expensive()
    return first + second


INPUTS: dict = {}
EXPECTED = {"phase": "SUCCEEDED", "outputs": [84]}

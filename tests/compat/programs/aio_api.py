"""The ``.aio`` forms of the API around a run: ``run``, ``wait``, ``outputs``, ``Run.get``, ``Run.listall``."""

import flyte

env = flyte.TaskEnvironment(name="compat_aio_api")


@env.task
async def main(x: int = 2) -> int:
    return x * 21


SCENARIO = "aio"
INPUTS = {"x": 2}
EXPECTED = {"phase": "SUCCEEDED", "outputs": [42]}

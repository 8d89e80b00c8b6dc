"""``flyte.durable``: a replay-safe sleep and clock inside a task."""

import flyte
import flyte.durable

env = flyte.TaskEnvironment(name="compat_durable")


@env.task
async def main(seconds: float = 0.2) -> bool:
    started = flyte.durable.time()
    await flyte.durable.sleep.aio(seconds)
    flyte.durable.sleep(seconds)
    return flyte.durable.time() - started >= 2 * seconds and flyte.durable.now().year >= 2024


INPUTS = {"seconds": 0.2}
EXPECTED = {"phase": "SUCCEEDED", "outputs": [True]}

"""``flyte.rerun``: the same task again with one input changed, the others as stored."""

import flyte

env = flyte.TaskEnvironment(name="compat_rerun")


@env.task
async def main(x: int = 1, y: int = 10) -> int:
    return x + y


SCENARIO = "rerun"
INPUTS = {"x": 1, "y": 20}
RERUN_INPUTS = {"x": 5}
EXPECTED = {"phase": "SUCCEEDED", "outputs": [25]}
# Flyte 2 reruns remote runs only.
EXPECTED_LOCAL = {"phase": "FAILED", "error": "NotImplementedError"}

"""Deploy an environment (``flyte.deploy.aio``) and run its deployed zero-input task."""

import flyte

env = flyte.TaskEnvironment(name="compat_deploy")


@env.task
async def stamp() -> str:
    return "deployed"


@env.task
async def main() -> str:
    return (await stamp()) + " and run"


SCENARIO = "deploy"
INPUTS: dict = {}
EXPECTED = {"phase": "SUCCEEDED", "outputs": ["deployed and run"]}
# Deploying needs a control plane, in Flyte 2 as here.
EXPECTED_LOCAL = {"phase": "FAILED", "error": "ClientNotInitializedError"}

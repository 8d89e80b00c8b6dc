"""A task without inputs that calls another task without inputs."""

import flyte

env = flyte.TaskEnvironment(name="compat_hello")


@env.task
async def greeting() -> str:
    return "hello"


@env.task
async def main() -> str:
    word = await greeting()
    return f"{word}, world"


INPUTS: dict = {}
EXPECTED = {"phase": "SUCCEEDED", "outputs": ["hello, world"]}

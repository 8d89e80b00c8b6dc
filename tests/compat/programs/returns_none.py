"""Tasks annotated ``-> None``: a run with no outputs, children with none either."""

import flyte

env = flyte.TaskEnvironment(name="compat_none")


@env.task
async def log_line(text: str) -> None:
    print(text)


@env.task
async def main() -> None:
    for word in ("one", "two"):
        await log_line(word)


INPUTS: dict = {}
EXPECTED = {"phase": "SUCCEEDED", "outputs": [None]}

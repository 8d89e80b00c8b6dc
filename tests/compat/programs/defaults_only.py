"""A run that passes no inputs to a task whose inputs all have defaults."""

import flyte

env = flyte.TaskEnvironment(name="compat_defaults")


@env.task
def main(count: int = 2, word: str = "ha", loud: bool = False) -> str:
    text = " ".join([word] * count)
    return text.upper() if loud else text


INPUTS: dict = {}
EXPECTED = {"phase": "SUCCEEDED", "outputs": ["ha ha"]}

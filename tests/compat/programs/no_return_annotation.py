"""Functions without a return annotation are tasks without outputs, as in Flyte 2."""

import flyte

env = flyte.TaskEnvironment(name="compat_unannotated")


@env.task
def record(x: int):
    print(f"record {x}")


@env.task
def main(n: int = 2):
    for i in range(n):
        record(i)


INPUTS = {"n": 3}
EXPECTED = {"phase": "SUCCEEDED", "outputs": [None]}

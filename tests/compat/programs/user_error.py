"""A child raises: the parent catches one failure and the run fails on the next."""

import flyte
import flyte.errors

env = flyte.TaskEnvironment(name="compat_errors")


@env.task
async def divide(a: int, b: int) -> float:
    if b == 0:
        raise ValueError("cannot divide by zero")
    return a / b


@env.task
async def main(a: int = 6) -> float:
    try:
        await divide(a, 0)
    except flyte.errors.RuntimeUserError as error:
        print(f"caught {error.code}")
    return await divide(a, -0)


INPUTS = {"a": 6}
EXPECTED = {"phase": "FAILED", "error": "ValueError"}

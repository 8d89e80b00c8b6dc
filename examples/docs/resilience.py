"""Retries of a flaky task, NonRecoverableError, traces and errors caught with their code."""

import tempfile
from pathlib import Path

import flyte
import flyte.errors

env = flyte.TaskEnvironment(name="resilience")
COUNTER = Path(tempfile.mkdtemp()) / "attempts"


@env.task(retries=3)
async def flaky() -> str:
    attempts = int(COUNTER.read_text()) + 1 if COUNTER.exists() else 1
    COUNTER.write_text(str(attempts))
    if attempts < 3:
        raise ConnectionError(f"attempt {attempts} failed")
    return f"succeeded on attempt {attempts}"


@env.task(retries=3)
async def corrupt() -> str:
    raise flyte.errors.NonRecoverableError("input is corrupt")


@env.task
async def divide(a: int, b: int) -> float:
    return a / b


@flyte.trace
async def shout(text: str) -> str:
    return text.upper() + "!"


@env.task
async def main() -> list[str]:
    lines = [await flyte_call(flaky), await shout("traced")]
    for failing in (corrupt(), divide(1, 0)):
        try:
            await failing
        except flyte.errors.RuntimeUserError as error:
            lines.append(f"{type(error).__name__} code={error.code} message={error}")
    return lines


async def flyte_call(task):  # type: ignore[no-untyped-def]
    return await task()


if __name__ == "__main__":
    flyte.init()
    for line in flyte.run(main).outputs().o0:
        print(line)
    try:
        flyte.run(divide, a=1, b=0)
    except flyte.errors.RuntimeUserError as error:
        print("top-level:", error.code, error)

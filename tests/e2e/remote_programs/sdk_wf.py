"""Workflows of the remote SDK and CLI end-to-end tests (public ``flyte`` API only: the PyPI
runtime executes them on the session server)."""

import asyncio

import flyte

env = flyte.TaskEnvironment(name="sdk_e2e", description="Remote SDK end-to-end tests")
helpers = flyte.TaskEnvironment(name="sdk_helpers")
env.add_dependency(helpers)


@helpers.task
async def square(x: int) -> int:
    return x * x


@env.task
async def fan_out(n: int, scale: int = 1) -> list[int]:
    """Square 0..n-1 in parallel, times scale."""
    return [scale * value for value in await asyncio.gather(*[square(i) for i in range(n)])]


@env.task
async def two_outputs(text: str) -> tuple[str, int]:
    return text.upper(), len(text)


@env.task
async def shout(text: str) -> str:
    print(f"SHOUT-LOG {text}", flush=True)
    return text.upper()


@env.task
async def fails(x: int) -> int:
    raise ValueError(f"bad input {x}")


@env.task
async def sleeper(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


@env.task(
    triggers=flyte.Trigger("hourly", flyte.Cron("0 * * * *"), inputs={"n": 2}, auto_activate=False),
)
async def scheduled(n: int, scale: int = 3) -> list[int]:
    return await fan_out(n, scale)

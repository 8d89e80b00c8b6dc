"""Tasks of the replica tests: children that leave one mark per execution."""

import asyncio
import os

import flyte

env = flyte.TaskEnvironment(name="replicas")


@env.task
async def mark(marker_dir: str, i: int, seconds: float) -> int:
    """Appends one mark per execution to ``<i>.count`` (two marks: it ran twice)."""
    with open(os.path.join(marker_dir, f"{i}.count"), "a") as out:
        out.write("x")
    await asyncio.sleep(seconds)
    return i


@env.task
async def marked_fan_out(marker_dir: str, n: int, seconds: float) -> int:
    with open(os.path.join(marker_dir, "root.count"), "a") as out:
        out.write("x")
    values = await asyncio.gather(*[mark(marker_dir, i, seconds) for i in range(n)])
    return sum(values)


@env.task
async def nap(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


@env.task
async def stamp(marker_dir: str) -> int:
    """A scheduled task: one mark per execution in ``fires.count``."""
    with open(os.path.join(marker_dir, "fires.count"), "a") as out:
        out.write("x")
    return 1

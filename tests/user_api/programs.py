"""Task programs in the style of Flyte 2's documentation, shared by the black-box tests."""

from __future__ import annotations

import asyncio
import enum
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pydantic

import flyte
import flyte.errors

env = flyte.TaskEnvironment(name="programs")


@env.task
async def square(x: int) -> int:
    return x * x


@env.task
async def fan_out(n: int) -> list[int]:
    return list(await asyncio.gather(*(square(i) for i in range(n))))


@env.task
async def fib(n: int) -> int:
    if n < 2:
        return n
    a, b = await asyncio.gather(fib(n - 1), fib(n - 2))
    return a + b


@env.task
def double(x: int) -> int:
    return 2 * x


@env.task
def sync_chain(x: int) -> int:
    # A sync task calling sync tasks, three levels deep.
    return double(double(x)) + sync_leaf_sum(x)


@env.task
def sync_leaf_sum(x: int) -> int:
    return sum(double(i) for i in range(x))


@env.task
def sleepy(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@env.task
def map_sleepy(n: int, concurrency: int) -> list[float]:
    return list(flyte.map(sleepy, [0.5] * n, concurrency=concurrency))


@env.task
def map_double(xs: list[int]) -> list[int]:
    return list(flyte.map(double, xs))


@env.task
async def map_aio(xs: list[int]) -> list[int]:
    return [r async for r in flyte.map.aio(square, xs, concurrency=2)]


@env.task
def boom(x: int) -> int:
    raise ValueError(f"bad {x}")


@env.task
async def catch_child_error(x: int) -> str:
    try:
        await boom.aio(x)
    except flyte.errors.RuntimeUserError as error:
        return f"{error.code}: {error}"
    return "no error"


@env.task
def map_with_failures(xs: list[int]) -> list[str]:
    return [type(r).__name__ if isinstance(r, Exception) else str(r) for r in flyte.map(boom_if_odd, xs)]


@env.task
def boom_if_odd(x: int) -> int:
    if x % 2:
        raise KeyError(x)
    return x


@env.task
async def grouped() -> list[int]:
    with flyte.group("first"):
        a = await square(3)
    with flyte.group("second"):
        b = await square(3)
    return [a, b, await square(3)]


def _bump(path: str) -> int:
    counter = Path(path)
    count = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(count))
    return count


@env.task(retries=3)
async def flaky(counter_file: str, fail_times: int) -> int:
    attempt = _bump(counter_file)
    if attempt <= fail_times:
        raise ConnectionError(f"attempt {attempt} failed")
    return attempt


@env.task(retries=5)
async def hopeless(counter_file: str) -> int:
    _bump(counter_file)
    raise flyte.errors.NonRecoverableError("the input is corrupt")


@flyte.trace
async def expensive_call(prompt: str, counter_file: str) -> str:
    _bump(counter_file)
    return prompt.upper()


@env.task(retries=1)
async def traced_then_fail(prompt: str, counter_file: str, fail_file: str) -> str:
    answer = await expensive_call(prompt, counter_file)
    if _bump(fail_file) == 1:
        raise RuntimeError("fail after the trace, once")
    return answer


@env.task(timeout=1)
async def too_slow_async() -> None:
    await asyncio.sleep(30)


@env.task(timeout=1)
def too_slow_sync() -> None:
    for _ in range(300):
        time.sleep(0.1)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Point:
    x: int
    y: float


class Settings(pydantic.BaseModel):
    name: str
    tags: list[str] = []


@env.task
async def typed(
    point: Point, settings: Settings, color: Color, when: datetime, gap: timedelta, maybe: int | None, either: int | str
) -> tuple[Point, str, datetime]:
    shifted = Point(x=point.x + 1, y=point.y * 2)
    label = f"{settings.name}:{','.join(settings.tags)}:{color.value}:{maybe}:{either}"
    return shifted, label, when + gap


@env.task(cache="auto")
async def cached_square(x: int, counter_file: str) -> int:
    _bump(counter_file)
    return x * x


@env.task(cache=flyte.Cache(behavior="auto", ignored_inputs=("note",)))
async def cached_ignoring(x: int, note: str, counter_file: str) -> int:
    _bump(counter_file)
    return x + 1


@env.task
async def call_cached(xs: list[int], counter_file: str) -> list[int]:
    return list(await asyncio.gather(*(cached_square(x, counter_file) for x in xs)))


@env.task
async def whoami() -> dict[str, str]:
    context = flyte.ctx()
    assert context is not None
    return {
        "action": context.action.name,
        "run": context.action.run_name or "",
        "env": os.environ.get("PROGRAMS_GREETING", ""),
        **context.custom_context,
    }


@env.task
async def child_names() -> list[str]:
    names = await asyncio.gather(whoami(), whoami())
    return [n["action"] for n in names]


@env.task
async def calls_sync_without_aio() -> int:
    return double(2)

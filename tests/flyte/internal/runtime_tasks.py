"""Tasks the runtime tests ship in a code bundle and run through ``a0`` (imported by the tests too).

Side effects that must survive across processes (how often a traced call really ran) go to the
file named by ``RT_SIDE_EFFECTS``.
"""

from __future__ import annotations

import asyncio
import os
from typing import NamedTuple

import flyte
import flyte.report

env = flyte.TaskEnvironment(name="rt", env_vars={"RT_ENV": "from-env"})


def _note(text: str) -> None:
    path = os.environ.get("RT_SIDE_EFFECTS")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")


@flyte.trace
async def add_one(x: int) -> int:
    _note(f"add_one({x})")
    return x + 1


@env.task
async def square(x: int) -> int:
    return x * x


@env.task
def sync_double(x: int) -> int:
    return 2 * x


@env.task
async def boom(x: int) -> int:
    raise ValueError(f"bad {x}")


@env.task
async def refuse(x: int) -> int:
    raise flyte.errors.NonRecoverableError(f"never {x}")


@env.task
async def nothing() -> None:
    return None


class Stats(NamedTuple):
    total: int
    label: str


@env.task
async def fan_out(n: int = 3) -> list[int]:
    """Traces, a group of concurrent children, a sync child and flyte.map."""
    first = await add_one(n)
    with flyte.group("squares"):
        squares = await asyncio.gather(*(square(i) for i in range(n)))
    doubled = await sync_double.aio(first)
    mapped = [value async for value in flyte.map.aio(square, [5, 6])]
    await nothing()
    return [*squares, first, doubled, *mapped]


@env.task
async def calls_boom(x: int) -> int:
    return await boom(x)


@env.task
async def catches_boom(x: int) -> str:
    try:
        await boom(x)
    except flyte.errors.RuntimeUserError as error:
        return f"{type(error).__name__}:{error.code}:{error}"
    return "no error"


@env.task(retries=2)
async def flaky(x: int) -> int:
    if flyte.ctx().attempt_number == 0:
        raise ValueError("first attempt fails")
    return x + 100


@env.task(retries=2)
async def refuses_once(x: int) -> int:
    raise flyte.errors.NonRecoverableError("do not retry me")


@env.task(retries=1)
async def recovers(x: int) -> int:
    """Calls a child and a trace, then fails on the first attempt; the retry must reuse both."""
    child = await square(x)
    traced = await add_one(x)
    if flyte.ctx().attempt_number == 0:
        raise ValueError("fail after the children")
    return child + traced


@env.task(report=True)
async def reports(name: str) -> Stats:
    context = flyte.ctx()
    assert context is not None
    flyte.report.log(f"<p>hello {name}</p>")
    details = ",".join(
        [
            context.mode,
            context.action.name,
            context.action.run_name or "",
            context.action.project or "",
            str(context.attempt_number),
            context.custom_context.get("team", ""),
            os.environ.get("RT_ENV", ""),
            "out-ok" if context.output_path.endswith("/1") else context.output_path,
        ]
    )
    return Stats(total=len(name), label=details)


@env.task
def triple(x: int) -> int:
    return x * 3


@env.task
def sync_outer(x: int) -> int:
    """A sync task calling another task synchronously (through the loop from its worker thread)."""
    return triple(x) + 1


@env.task(max_inline_io_bytes=256)
async def big_text(n: int) -> str:
    return "x" * n


@env.task(max_inline_io_bytes=256)
async def text_length(text: str) -> int:
    return len(text)


@env.task
async def pass_big_values(n: int) -> int:
    # The child's output and the next child's input both exceed 256 bytes: both travel offloaded.
    return await text_length(await big_text(n))

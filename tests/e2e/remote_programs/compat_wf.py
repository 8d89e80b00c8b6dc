"""User programs run three ways by ``test_compat_both_ways.py``: locally, remotely with our SDK and
runtime, remotely with the PyPI SDK and runtime. Public ``flyte`` API only (both SDKs import it).

Every task is deterministic given its inputs (attempt counters live in files named by an input),
so the three ways must give the same outputs.
"""

import asyncio
import pathlib
import tempfile
from dataclasses import dataclass

import flyte
import flyte.errors
import flyte.io

env = flyte.TaskEnvironment(name="compat")


@dataclass
class Stats:
    count: int
    total: int
    label: str


@env.task
async def square(x: int) -> int:
    return x * x


@env.task
async def fan_out(n: int) -> list[int]:
    return list(await asyncio.gather(*[square(i) for i in range(n)]))


@env.task
async def nested(n: int) -> Stats:
    """Two levels: nested -> fan_out -> square; a dataclass out."""
    values = await fan_out(n)
    return Stats(count=len(values), total=sum(values), label=f"n={n}")


@flyte.trace
async def add_one(x: int) -> int:
    return x + 1


@env.task
async def traced(x: int) -> int:
    return await add_one(x) + await add_one(x * 10)


def _bump(marker: str) -> int:
    path = pathlib.Path(marker)
    count = int(path.read_text()) if path.exists() else 0
    path.write_text(str(count + 1))
    return count + 1


@env.task(retries=3)
async def flaky(marker: str) -> int:
    attempt = _bump(marker)
    if attempt < 3:
        raise ConnectionError(f"attempt {attempt} failed")
    return attempt


@env.task
async def divide(a: int, b: int) -> float:
    return a / b


@env.task
async def catches(a: int) -> str:
    """A child fails; the parent sees the error's code and carries on."""
    try:
        await divide(a, 0)
    except flyte.errors.RuntimeUserError as error:
        return f"caught {error.code}"
    return "not caught"


@env.task
async def fails(x: int) -> int:
    raise ValueError(f"bad input {x}")


@env.task
async def write_file(text: str) -> flyte.io.File:
    # A temp file, not one in the working directory: with local storage the PyPI runtime
    # references local files in place, and the server removes an action's working directory.
    path = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
    path.write_text(text)
    return await flyte.io.File.from_local(str(path))


@env.task
async def read_file(file: flyte.io.File) -> str:
    async with file.open("rb") as handle:
        data = await handle.read()
    return data.decode() if isinstance(data, bytes) else str(data)


@env.task
async def files(text: str) -> str:
    """A file written by one action and read by another."""
    note = await write_file(text)
    return (await read_file(note)).upper()

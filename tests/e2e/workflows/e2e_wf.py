"""Workflows the end-to-end tests run on the real server with the PyPI SDK (``flyte==2.12.1``).

This file is bundled and executed by the reference runtime, so it uses only the public ``flyte`` API.
"""

import asyncio
import os
import pathlib

import flyte
import flyte.errors

env = flyte.TaskEnvironment(name="e2e")


@env.task
async def square(x: int) -> int:
    return x * x


@env.task
async def fan_out(n: int) -> list[int]:
    return list(await asyncio.gather(*[square(i) for i in range(n)]))


@env.task
async def chain(n: int) -> int:
    total = 0
    for i in range(n):
        total += await square(i)
    return total


@env.task
async def outer(n: int) -> int:
    """Two levels of nesting: outer -> fan_out -> square."""
    values = await fan_out(n)
    return sum(values)


def _bump(marker: str) -> int:
    path = pathlib.Path(marker)
    count = int(path.read_text()) if path.exists() else 0
    path.write_text(str(count + 1))
    return count


@env.task(retries=3)
async def flaky(marker: str, failures: int) -> int:
    attempt = _bump(marker)
    if attempt < failures:
        raise ValueError(f"flaky failure number {attempt + 1}")
    return attempt + 1


@env.task(retries=3)
async def hopeless(marker: str) -> int:
    _bump(marker)
    raise flyte.errors.NonRecoverableError("this cannot work, do not retry")


@env.task(timeout=2)
async def slow(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


@env.task
async def napper(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


@env.task
async def nap_fan_out(n: int, seconds: float) -> list[float]:
    return list(await asyncio.gather(*[napper(seconds) for _ in range(n)]))


@env.task(cache=flyte.Cache(behavior="override", version_override="v1"))
async def cached_square(x: int, marker: str) -> int:
    _bump(marker)
    return x * x


@env.task
async def shout(text: str) -> str:
    print(f"LOG-LINE {text}", flush=True)
    return text.upper()


@flyte.trace
async def traced_add(x: int) -> int:
    return x + 1


@env.task
async def with_trace(x: int) -> int:
    return await traced_add(x) + await traced_add(x + 10)


@env.task
async def env_probe(name: str) -> str:
    return os.environ.get(name, "<unset>")


@env.task
async def counted(marker_dir: str, i: int, seconds: float) -> int:
    with open(os.path.join(marker_dir, f"{i}.count"), "a") as out:
        out.write("x")
    await asyncio.sleep(seconds)
    return i


@env.task
async def slow_chain(marker_dir: str, n: int, seconds: float) -> int:
    total = 0
    for i in range(n):
        total += await counted(marker_dir, i, seconds)
    return total


@env.task(report=True)
async def reporter(title: str) -> str:
    import flyte.report

    flyte.report.log(f"<h1>{title}</h1>", do_flush=True)
    return title


@env.task
async def marked_nap(marker_dir: str, i: int, seconds: float) -> int:
    """Writes ``<i>.started``, naps, then writes ``<i>.finished`` (which an abort must prevent)."""
    pathlib.Path(marker_dir, f"{i}.started").write_text("x")
    await asyncio.sleep(seconds)
    pathlib.Path(marker_dir, f"{i}.finished").write_text("x")
    return i


@env.task
async def marked_nap_fan_out(marker_dir: str, n: int, seconds: float) -> list[int]:
    return list(await asyncio.gather(*[marked_nap(marker_dir, i, seconds) for i in range(n)]))


@env.task
async def worker_pid(i: int) -> int:
    await asyncio.sleep(0.05)
    return os.getpid()


@env.task
async def worker_pids(n: int) -> list[int]:
    return list(await asyncio.gather(*[worker_pid(i) for i in range(n)]))


@env.task
async def shout_many(n: int) -> list[str]:
    return list(await asyncio.gather(*[shout(f"voice-{i}") for i in range(n)]))


@env.task(timeout=1)
def spin(seconds: float) -> float:
    """A synchronous busy loop: it cannot be cancelled, only killed."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass
    return seconds


@env.task
async def crash(code: int) -> int:
    os._exit(code)


@env.task
async def tally(marker_dir: str, i: int) -> int:
    """Appends one mark per execution to ``<i>.count`` (a second mark means it ran twice)."""
    with open(os.path.join(marker_dir, f"{i}.count"), "a") as out:
        out.write("x")
    await asyncio.sleep(0.02)
    return i


@env.task
async def tallied_fan_out(marker_dir: str, n: int) -> int:
    with open(os.path.join(marker_dir, "root.count"), "a") as out:
        out.write("x")
    values = await asyncio.gather(*[tally(marker_dir, i) for i in range(n)])
    return sum(values)


def _marks(marker_dir: str, name: str) -> int:
    """Adds one mark to ``<name>.count``; how many there were before."""
    path = pathlib.Path(marker_dir, f"{name}.count")
    before = len(path.read_text()) if path.exists() else 0
    with open(path, "a") as out:
        out.write("x")
    return before


@env.task
async def tally_nap(marker_dir: str, i: int, seconds: float) -> int:
    _marks(marker_dir, str(i))
    await asyncio.sleep(seconds)
    return i


@env.task(retries=1)
async def fails_once_while_children_run(marker_dir: str, n: int, seconds: float) -> int:
    """The first attempt fails while its children run; the retry must find them, not aborted ones."""
    first = _marks(marker_dir, "root") == 0
    calls = [asyncio.ensure_future(tally_nap(marker_dir, i, seconds)) for i in range(n)]
    if first:
        while len(list(pathlib.Path(marker_dir).glob("*.count"))) < n + 1:
            await asyncio.sleep(0.05)
        raise RuntimeError("the first attempt fails while its children run")
    return sum(await asyncio.gather(*calls))


impatient = flyte.TaskEnvironment(name="e2e_impatient", env_vars={"_F_CP_TIMEOUT_S": "1"}, depends_on=[env])


@impatient.task
async def impatient_fan_out(marker_dir: str, n: int, seconds: float) -> int:
    """Each control-plane call times out after 1 s: a stalled server makes enqueues time out."""
    _marks(marker_dir, "root")
    return sum(await asyncio.gather(*[tally_nap(marker_dir, i, seconds) for i in range(n)]))


async def _spawn_and_wait(marker_dir: str, i: int, seconds: float) -> int:
    """Starts three long sleeps (Popen, asyncio, and a grandchild of a shell), records their pids, naps."""
    import subprocess

    pids = [subprocess.Popen(["sleep", "300"]).pid]
    process = await asyncio.create_subprocess_exec("sleep", "301")
    pids.append(process.pid)
    grandchild = pathlib.Path(marker_dir, f"{i}.grandchild")
    subprocess.Popen(["sh", "-c", f"sleep 302 & echo $! > {grandchild}; wait"])
    while not grandchild.exists() or not grandchild.read_text().strip():
        await asyncio.sleep(0.02)
    pids.append(int(grandchild.read_text()))
    pathlib.Path(marker_dir, f"{i}.pids").write_text(" ".join(map(str, pids)))
    await asyncio.sleep(seconds)
    return i


@env.task
async def spawner(marker_dir: str, i: int, seconds: float) -> int:
    return await _spawn_and_wait(marker_dir, i, seconds)


@env.task
async def spawner_fan_out(marker_dir: str, n: int, seconds: float) -> list[int]:
    return list(await asyncio.gather(*[spawner(marker_dir, i, seconds) for i in range(n)]))


@env.task(timeout=3)
async def spawner_timing_out(marker_dir: str) -> int:
    return await _spawn_and_wait(marker_dir, 0, 120.0)


@env.task
async def big_after_nap(marker_dir: str, seconds: float, size: int) -> str:
    """Naps, then returns ``size`` characters: too large to travel inline, so outputs.pb is written."""
    pathlib.Path(marker_dir, "big.started").write_text("x")
    await asyncio.sleep(seconds)
    return "y" * size

"""flyte.durable: sleep/time/now recorded like traces, so a retried attempt neither sleeps again
nor reads a new time (local mode here; remote mode in tests/e2e/test_surface_remote.py)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path

import flyte
import flyte.durable

env = flyte.TaskEnvironment(name="durable-tests")


@env.task(retries=1)
async def sleeps_then_crashes(marker: str) -> list[float]:
    first_time = await flyte.durable.time.aio()
    started = time.monotonic()
    await flyte.durable.sleep.aio(1.5)
    slept = time.monotonic() - started
    if flyte.ctx().attempt_number == 0:
        Path(marker).write_text(repr(first_time))
        raise RuntimeError("crash after the sleep")
    return [first_time, slept]


@env.task(retries=1)
def sync_sleeps_then_crashes(marker: str) -> list[float]:
    first_time = flyte.durable.time()
    now = flyte.durable.now()
    started = time.monotonic()
    flyte.durable.sleep(1.5)
    slept = time.monotonic() - started
    if flyte.ctx().attempt_number == 0:
        Path(marker).write_text(f"{first_time!r} {now.timestamp()!r}")
        raise RuntimeError("crash after the sleep")
    return [first_time, now.timestamp(), slept]


def test_a_retried_async_task_gets_the_same_time_and_does_not_sleep_again(tmp_path: Path) -> None:
    flyte.init(local_cache_dir=tmp_path / "cache")
    marker = tmp_path / "first"
    first_time, slept = flyte.run(sleeps_then_crashes, str(marker)).outputs().o0
    assert first_time == float(marker.read_text())
    assert slept < 1.0, f"the retry slept {slept:.2f}s again"


def test_a_retried_sync_task_gets_the_same_time_and_now_and_does_not_sleep_again(tmp_path: Path) -> None:
    flyte.init(local_cache_dir=tmp_path / "cache")
    marker = tmp_path / "first"
    first_time, now_ts, slept = flyte.run(sync_sleeps_then_crashes, str(marker)).outputs().o0
    recorded_time, recorded_now = (float(v) for v in marker.read_text().split())
    assert (first_time, now_ts) == (recorded_time, recorded_now)
    assert slept < 1.0


def test_outside_a_task_they_are_the_plain_clock() -> None:
    before = time.time()
    started = time.monotonic()
    flyte.durable.sleep(0.2)
    assert time.monotonic() - started >= 0.2
    assert flyte.durable.time() >= before
    assert isinstance(flyte.durable.now(), datetime)
    assert asyncio.run(flyte.durable.time.aio()) >= before

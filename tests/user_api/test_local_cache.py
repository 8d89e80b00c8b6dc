"""The local cache persists across processes, versions by function body, and can be cleared."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest

import flyte

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "docs"


def run_script(script: Path, *args: str, cache_dir: Path) -> str:
    environment = {**os.environ, "FLYTE_LOCAL_CACHE_DIR": str(cache_dir)}
    done = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, env=environment, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_cache_is_shared_between_processes_and_ignores_ignored_inputs(tmp_path: Path) -> None:
    script = EXAMPLES / "caching.py"
    assert run_script(script, "first", cache_dir=tmp_path) == "30 executed: 5"
    assert run_script(script, "a different comment", cache_dir=tmp_path) == "30 executed: 0"


def test_auto_cache_version_follows_the_function_body(tmp_path: Path) -> None:
    program = textwrap.dedent(
        """
        import flyte
        env = flyte.TaskEnvironment(name="versioned")
        CALLS = []

        @env.task(cache="auto")
        async def compute(x: int) -> int:
            CALLS.append(x)
            return x + OFFSET

        if __name__ == "__main__":
            print(flyte.run(compute, x=1).outputs().o0, len(CALLS))
        """
    )
    script = tmp_path / "versioned.py"
    script.write_text(program.replace("OFFSET", "10"))
    assert run_script(script, cache_dir=tmp_path / "cache") == "11 1"
    assert run_script(script, cache_dir=tmp_path / "cache") == "11 0"
    script.write_text(program.replace("OFFSET", "20"))
    assert run_script(script, cache_dir=tmp_path / "cache") == "21 1"


def test_version_override_pins_the_cache(tmp_path: Path) -> None:
    program = textwrap.dedent(
        """
        import flyte
        env = flyte.TaskEnvironment(name="pinned")
        CALLS = []

        @env.task(cache=flyte.Cache(behavior="override", version_override="v1"))
        async def compute(x: int) -> int:
            CALLS.append(x)
            return x + OFFSET

        if __name__ == "__main__":
            print(flyte.run(compute, x=1).outputs().o0, len(CALLS))
        """
    )
    script = tmp_path / "pinned.py"
    script.write_text(program.replace("OFFSET", "10"))
    assert run_script(script, cache_dir=tmp_path / "cache") == "11 1"
    script.write_text(program.replace("OFFSET", "20"))
    assert run_script(script, cache_dir=tmp_path / "cache") == "11 0"  # same version: the old result


env = flyte.TaskEnvironment(name="cache-serialize")
EXECUTIONS: list[int] = []


@env.task(cache=flyte.Cache(behavior="auto", serialize=True))
async def slow_once(x: int) -> int:
    EXECUTIONS.append(x)
    await asyncio.sleep(0.2)
    return x * 10


@env.task
async def many_identical_calls(n: int) -> list[int]:
    return list(await asyncio.gather(*(slow_once(7) for _ in range(n))))


def test_serialized_cache_runs_identical_concurrent_calls_once() -> None:
    EXECUTIONS.clear()
    assert flyte.run(many_identical_calls, n=5).outputs().o0 == [70] * 5
    assert EXECUTIONS == [7]


def test_clearing_the_cache(tmp_path: Path) -> None:
    EXECUTIONS.clear()
    flyte.init(local_cache_dir=tmp_path)
    flyte.run(slow_once, x=1)
    flyte.run(slow_once, x=1)
    assert EXECUTIONS == [1]
    from flyte._initialize import get_init_config

    assert get_init_config().local_cache().clear() == 1
    flyte.run(slow_once, x=1)
    assert EXECUTIONS == [1, 1]


@pytest.mark.parametrize("value", [0, -1])
def test_invalid_cache_requests_fail_at_decoration(value: int) -> None:
    with pytest.raises((TypeError, ValueError)):
        env.task(cache=value)(lambda: None)  # type: ignore[arg-type]


@env.task(cache=flyte.Cache(behavior="auto", max_age=timedelta(seconds=1)))
async def short_lived(x: int) -> int:
    EXECUTIONS.append(x)
    return x


def test_entries_older_than_max_age_are_recomputed() -> None:
    EXECUTIONS.clear()
    flyte.run(short_lived, x=5)
    flyte.run(short_lived, x=5)
    assert EXECUTIONS == [5]
    time.sleep(1.2)
    flyte.run(short_lived, x=5)
    assert EXECUTIONS == [5, 5]

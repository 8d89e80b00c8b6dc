"""Fixtures for the CLI tests: an isolated home, cache and working directory, and a task file."""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from flyte.cli.main import flyte_group

TASKS = '''
import asyncio
import enum
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

import flyte

env = flyte.TaskEnvironment(name="cli_tests")


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclass
class Opts:
    scale: int
    label: str


@env.task(cache="auto")
async def child(name: str, scale: int) -> str:
    return name * scale


@env.task
async def main(x: int, names: list[str], opts: Opts, flag: bool = False) -> str:
    """Join scaled names.

    Args:
        x: a number to print first.
        names: the names to scale.
    """
    parts = await asyncio.gather(*(child(n, opts.scale) for n in names))
    return f"{x} {'-'.join(parts)} {opts.label} {flag}"


@env.task
async def kinds(
    ratio: float = 1.5,
    color: Color = Color.RED,
    limit: Optional[int] = None,
    loud: bool = True,
    when: datetime = datetime(2024, 1, 1),
    wait: timedelta = timedelta(seconds=3),
    counts: dict[str, int] = {"a": 1},
    word_list: list[str] = [],
) -> tuple[str, int]:
    return f"{ratio} {color.name} {limit} {loud} {when.isoformat()} {wait.total_seconds()} {counts} {word_list}", 7


@env.task
async def fail(x: int) -> int:
    raise ValueError(f"bad {x}")


@env.task
async def read_env(key: str) -> str:
    return os.environ.get(key, "<unset>")
'''


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run each test in its own folder, with its own home (no user config file) and cache."""
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("FLYTE_LOCAL_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("UCTL_CONFIG", "FLYTECTL_CONFIG", "FLYTE_ADMIN_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def write_file(isolated: Path) -> Callable[[str, str], Path]:
    """Write a Python file into the test's folder and return its path."""

    def write(name: str, source: str) -> Path:
        path = isolated / name
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    return write


@pytest.fixture
def tasks_file(write_file: Callable[[str, str], Path], request: pytest.FixtureRequest) -> Path:
    """The sample task file, under a module name unique to the test."""
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:10]
    return write_file(f"wf_{digest}.py", TASKS)


@pytest.fixture
def flyte_cli() -> Callable[..., Result]:
    """Invoke ``flyte ARGS...`` in-process; the result has ``exit_code``, ``stdout`` and ``stderr``."""
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(flyte_group, list(args), prog_name="flyte", catch_exceptions=False)

    return invoke

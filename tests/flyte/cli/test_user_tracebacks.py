"""A task failure shows the user's traceback, not the SDK's machinery (issue 15: CLI seams)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROGRAM = textwrap.dedent(
    """
    import flyte

    env = flyte.TaskEnvironment(name="tracebacks")


    def helper(x):
        raise ValueError(f"bad value {x}")


    @env.task
    async def main(x: int = 1) -> int:
        return helper(x)
    """
)


@pytest.fixture
def failing_program(tmp_path: Path) -> Path:
    path = tmp_path / "failing.py"
    path.write_text(PROGRAM)
    return path


def _flyte(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(cwd), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "flyte", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def test_local_failure_prints_the_users_frames_then_one_error_line(failing_program: Path) -> None:
    done = _flyte("run", "--local", str(failing_program), "main", "--x", "3", cwd=failing_program.parent)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-1] == "Error: ValueError: bad value 3"
    assert lines[-2] == "ValueError: bad value 3"
    # Only the program's own frames: main, then helper, and nothing of the SDK or asyncio.
    frames = [line for line in lines if line.lstrip().startswith('File "')]
    assert [frame.rsplit(" in ", 1)[1] for frame in frames] == ["main", "helper"]
    assert all(str(failing_program) in frame for frame in frames)
    assert "During handling" not in done.stderr and "no running event loop" not in done.stderr


def test_verbose_failure_shows_everything(failing_program: Path) -> None:
    done = _flyte("-v", "run", "--local", str(failing_program), "main", "--x", "3", cwd=failing_program.parent)
    assert done.returncode == 1
    assert "flyte" + os.sep + "_internal" in done.stderr  # the SDK's frames, for debugging the SDK
    assert "in helper" in done.stderr
    # The sync wrapper's own "no running event loop" probe is not part of the user's error.
    assert "no running event loop" not in done.stderr

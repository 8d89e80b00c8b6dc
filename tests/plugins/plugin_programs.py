"""Running the plugin test programs with our SDK or PyPI flyte's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROGRAMS = Path(__file__).parent / "programs"


def program_env(**extra: str) -> dict[str, str]:
    """The environment of a program run: no PYTHONPATH (it could point at our flyte for the reference)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0", PYTHONWARNINGS="ignore", **extra)
    return env


def run_program(
    program: str, *args: str, python: str = sys.executable, prefix: list[str] | None = None, timeout: float = 300
) -> tuple[dict, str]:
    """Run ``programs/<program>`` and return the JSON after its ``REPORT`` line, and its output."""
    result = subprocess.run(
        [*(prefix or []), python, str(PROGRAMS / program), *args],
        cwd=PROGRAMS,
        env=program_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = result.stdout + result.stderr
    reports = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert result.returncode == 0 and reports, f"{program} failed ({result.returncode}):\n{output[-4000:]}"
    return json.loads(reports[-1][len("REPORT ") :]), output

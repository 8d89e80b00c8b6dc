"""Shared pieces of the plugin tests: the programs, a runner, and PyPI flyte with the plugins."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

PROGRAMS = Path(__file__).parent / "programs"
REFPLUGINS_VENV = "refplugins-2.12.1"


@pytest.fixture(scope="session")
def refplugins_python() -> str:
    """PyPI flyte 2.12.1 with the five PyPI plugins (``$FLYTE_REFPLUGINS_PYTHON`` or the cached venv)."""
    configured = os.environ.get("FLYTE_REFPLUGINS_PYTHON")
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    python = Path(configured) if configured else home / ".cache" / "flyte-ours" / REFPLUGINS_VENV / "bin" / "python"
    if not python.exists():
        pytest.skip(f"no PyPI flyte + plugins venv at {python.parent.parent} (build it with pip install flyte==2.12.1 flyteplugins-*)")
    return str(python)


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

"""Shared pieces of the plugin tests: the programs, a runner, and PyPI flyte with the plugins."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

REFPLUGINS_VENV = "refplugins-2.12.1"


@pytest.fixture(scope="session")
def refplugins_python() -> str:
    """PyPI flyte 2.12.1 with the five PyPI plugins (``$FLYTE_REFPLUGINS_PYTHON`` or the cached venv)."""
    configured = os.environ.get("FLYTE_REFPLUGINS_PYTHON")
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    python = Path(configured) if configured else home / ".cache" / "flyte-ours" / REFPLUGINS_VENV / "bin" / "python"
    if not python.exists():
        pytest.skip(
            f"no PyPI flyte + plugins venv at {python.parent.parent} (pip install flyte==2.12.1 flyteplugins-*)"
        )
    return str(python)

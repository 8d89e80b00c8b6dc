"""Locate or create a virtualenv with PyPI ``flyte`` 2.12.1, the reference our benchmarks compare with."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REFERENCE_VERSION = "2.12.1"
# Shared with the compatibility tests (tests/compat), so the venv is built once per machine.
VENV_DIR = Path(
    os.environ.get("FLYTE_REFERENCE_VENV", Path.home() / ".cache" / "flyte-ours" / f"refvenv-{REFERENCE_VERSION}")
)


def reference_python(create: bool = True) -> str | None:
    """The interpreter of a venv with the reference SDK: ``$FLYTE_REFERENCE_PYTHON``, else the shared venv.

    Creates the venv when missing and ``create`` is true; returns ``None`` when that fails
    (no registry access, for instance).
    """
    configured = os.environ.get("FLYTE_REFERENCE_PYTHON")
    if configured:
        return configured
    python = VENV_DIR / "bin" / "python"
    if python.exists():
        return str(python)
    if not create:
        return None
    print(f"creating {VENV_DIR} with flyte=={REFERENCE_VERSION} (one time) ...", file=sys.stderr)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV_DIR)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"flyte=={REFERENCE_VERSION}"],
            check=True,
            timeout=900,
        )
    except (subprocess.SubprocessError, OSError) as error:
        print(f"could not create the reference venv: {error}", file=sys.stderr)
        return None
    return str(python)

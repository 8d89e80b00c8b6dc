"""The reference SDK: a virtualenv with PyPI ``flyte==2.12.1``, shared by the compat and e2e suites.

Found or built once per machine:

* ``$FLYTE_REFERENCE_PYTHON``: a Python interpreter that already has ``flyte==2.12.1``; or
* a cached venv at ``$FLYTE_REFERENCE_VENV`` (default ``~/.cache/flyte-ours/refvenv-2.12.1``),
  created with ``python -m venv`` and ``pip install flyte==2.12.1``.

Tests that need it skip only when pip cannot reach the package index.
"""

from __future__ import annotations

import functools
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

__all__ = [
    "PLUGIN_PACKAGES",
    "REFERENCE_VERSION",
    "find_reference_plugins_python",
    "find_reference_python",
    "reference_env",
]

REFERENCE_VERSION = "2.12.1"

_NETWORK_MARKERS = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "ConnectTimeoutError",
    "ProxyError",
)


def reference_env() -> dict[str, str]:
    """The environment for reference processes: without PYTHONPATH, which could point at our ``flyte``."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


REFERENCE_EXTRAS = ("pandas", "fastapi")
"""Installed with the reference SDK: the e2e programs (deployed by either SDK) use data frames; the app
spec comparison (tests/apps) serializes FastAPI apps."""


def _has_reference(python: str) -> bool:
    modules = ", ".join(("flyte", *REFERENCE_EXTRAS))
    probe = f"import {modules}, sys; sys.exit(0 if flyte.__version__ == {REFERENCE_VERSION!r} else 1)"
    return subprocess.run([python, "-c", probe], capture_output=True, env=reference_env()).returncode == 0


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


@functools.cache
def find_reference_python() -> str:
    """A Python interpreter with ``flyte==2.12.1`` (built once, then cached); skips without network."""
    configured = os.environ.get("FLYTE_REFERENCE_PYTHON")
    if configured and _has_reference(configured):
        return configured
    # The account's home, not $HOME: tests give their subprocesses (and themselves) a fresh HOME,
    # and the venv must not be rebuilt under each of them.
    default_dir = Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "flyte-ours" / f"refvenv-{REFERENCE_VERSION}"
    venv = Path(os.environ.get("FLYTE_REFERENCE_VENV", default_dir))
    python = _venv_python(venv)
    if python.exists() and _has_reference(str(python)):
        return str(python)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, capture_output=True)
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"flyte=={REFERENCE_VERSION}", *REFERENCE_EXTRAS],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0:
        output = result.stdout + result.stderr
        if any(marker in output for marker in _NETWORK_MARKERS):
            pytest.skip(f"pip cannot reach the package index to install flyte=={REFERENCE_VERSION}")
        raise RuntimeError(f"Installing flyte=={REFERENCE_VERSION} failed:\n{output[-3000:]}")
    return str(python)


PLUGIN_PACKAGES = ("ray", "dask", "spark", "polars", "pandera")
"""The PyPI plugins (``flyteplugins-NAME``) of the second reference venv."""


def _has_reference_plugins(python: str) -> bool:
    modules = ", ".join(f"flyteplugins.{name}" for name in PLUGIN_PACKAGES)
    probe = f"import flyte, {modules}, sys; sys.exit(0 if flyte.__version__ == {REFERENCE_VERSION!r} else 1)"
    return subprocess.run([python, "-c", probe], capture_output=True, env=reference_env()).returncode == 0


@functools.cache
def find_reference_plugins_python() -> str:
    """A Python with ``flyte==2.12.1`` and the five PyPI plugins at that version (built once, then cached).

    ``$FLYTE_REFERENCE_PLUGINS_PYTHON``, or the venv ``~/.cache/flyte-ours/refplugins-2.12.1``; skips
    when pip cannot reach the package index to build it.
    """
    configured = os.environ.get("FLYTE_REFERENCE_PLUGINS_PYTHON")
    if configured and _has_reference_plugins(configured):
        return configured
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    venv = home / ".cache" / "flyte-ours" / f"refplugins-{REFERENCE_VERSION}"
    python = _venv_python(venv)
    if python.exists() and _has_reference_plugins(str(python)):
        return str(python)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, capture_output=True)
    packages = [
        f"flyte=={REFERENCE_VERSION}",
        *REFERENCE_EXTRAS,
        *(f"flyteplugins-{name}=={REFERENCE_VERSION}" for name in PLUGIN_PACKAGES),
    ]
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *packages],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if result.returncode != 0:
        output = result.stdout + result.stderr
        if any(marker in output for marker in _NETWORK_MARKERS):
            pytest.skip("pip cannot reach the package index to install flyte and its plugins")
        raise RuntimeError(f"Installing flyte=={REFERENCE_VERSION} and its plugins failed:\n{output[-3000:]}")
    return str(python)

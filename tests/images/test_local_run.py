"""``flyte run --local``: a task's image packages are importable (a venv of the image on ``sys.path``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROGRAMS = Path(__file__).parent / "programs"


def _run_local(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    environ.update({"HOME": str(tmp_path), "FLYTE_VENV_CACHE": str(tmp_path / "venvs"), **env})
    return subprocess.run(
        [sys.executable, "-m", "flyte", "run", "--local", str(PROGRAMS / "images_app.py"), *args],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_local_run_imports_a_package_of_the_tasks_image(tmp_path: Path) -> None:
    done = _run_local(tmp_path, "commas", "--n", "1234567")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "1,234,567" in done.stdout
    assert list((tmp_path / "venvs").glob("*-inproc-*"))


def test_local_run_reports_or_refuses_layers_that_need_a_container(tmp_path: Path) -> None:
    done = _run_local(tmp_path, "apt_commas", "--n", "1000")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "not reproduced without a container: apt packages 'git'" in done.stderr
    strict = _run_local(tmp_path, "apt_commas", "--n", "1000", FLYTE_STRICT_IMAGES="1")
    assert strict.returncode == 1
    assert "needs a container for: apt packages 'git'" in strict.stderr


def test_local_run_fails_on_an_unbuildable_image(tmp_path: Path) -> None:
    done = _run_local(tmp_path, "broken")
    assert done.returncode == 1
    assert "flyte-test-no-such-package-h3" in done.stderr

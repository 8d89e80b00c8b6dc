"""Images as virtualenvs: an Image's Python layers materialised with uv, cached by the image tag.

Real uv, real PyPI (reachable from this machine): ``humanize`` is not in the project venv, so
importing it proves the image's venv is used; ``flyte`` is importable there too (the worker
environment is visible after the venv's own packages). One cache per session: the humanize venv
is built once.
"""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from flyte import Image
from flyte._internal.venvs import _READY, materialize, plan_venv
from flyte.errors import ImageBuildError

HUMANIZE = Image.from_debian_base(python_version=(3, 11)).with_pip_packages("humanize")


@pytest.fixture(scope="session")
def venv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("image-venvs")


def test_humanize_is_not_in_the_project_environment() -> None:
    # The premise of the venv tests: the package comes from the image's venv, not from here.
    done = subprocess.run([sys.executable, "-c", "import humanize"], capture_output=True)
    assert done.returncode != 0


def test_plan_keeps_python_layers_and_names_the_rest(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("humanize\n")
    image = (
        Image.from_debian_base(python_version=(3, 11))
        .with_apt_packages("git")
        .with_pip_packages("a", index_url="https://idx.example/simple", pre=True)
        .with_requirements(req)
        .with_commands(["echo hi"])
        .with_env_vars({"MODE": "venv"})
    )
    plan = plan_venv(image)
    assert plan.tag == image.identifier
    assert plan.steps[0][-4:] == ["--index-url", "https://idx.example/simple", "--prerelease=allow", "a"]
    assert plan.steps[1][-2:] == ["-r", str(req.resolve())]
    assert plan.env == {"MODE": "venv"}
    assert plan.skipped == ["apt packages 'git'", "commands 'echo hi'"]


def test_cold_build_then_warm_reuse(venv_cache: Path) -> None:
    plan = plan_venv(HUMANIZE)
    venv = materialize(plan, base_python=sys.executable, cache_dir=venv_cache)
    ready = (venv / _READY).read_text()
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import humanize, flyte; print(humanize.intcomma(1234567))"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1,234,567"
    started = time.monotonic()
    again = materialize(plan_venv(HUMANIZE), base_python=sys.executable, cache_dir=venv_cache)
    assert again == venv and (venv / _READY).read_text() == ready  # reused, not rebuilt
    assert time.monotonic() - started < 5
    assert not list(venv_cache.glob(".build-*"))


def _build_in_process(cache: str) -> str:
    return str(materialize(plan_venv(HUMANIZE.with_env_vars({"RACE": "1"})), cache_dir=Path(cache)))


def test_concurrent_builds_make_one_venv(tmp_path: Path) -> None:
    with ProcessPoolExecutor(max_workers=2) as pool:
        paths = list(pool.map(_build_in_process, [str(tmp_path)] * 2))
    assert paths[0] == paths[1]
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == [Path(paths[0]).name]


def test_an_unknown_package_fails_with_uv_output_and_leaves_nothing(tmp_path: Path) -> None:
    image = Image.from_debian_base(python_version=(3, 11)).with_pip_packages("flyte-test-no-such-package-h3")
    with pytest.raises(ImageBuildError) as caught:
        materialize(plan_venv(image), cache_dir=tmp_path)
    message = str(caught.value)
    assert "installing the image's packages" in message
    assert "flyte-test-no-such-package-h3" in message
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]


def test_a_python_version_the_worker_lacks_is_named() -> None:
    from flyte._internal.venvs import check_python

    other = (3, 10) if sys.version_info[:2] != (3, 10) else (3, 12)
    plan = plan_venv(Image.from_debian_base(python_version=other).with_pip_packages("humanize"))
    check_python(plan, sys.executable)
    assert plan.skipped == [f"Python {other[0]}.{other[1]} (runs on the worker's Python 3.{sys.version_info[1]})"]
    same = plan_venv(HUMANIZE)
    check_python(same, sys.executable)
    assert same.skipped == []

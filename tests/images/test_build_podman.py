"""The image builder with real podman: ``flyte build`` produces an image podman can run.

The Debian base comes from the ``debian_base`` fixture (``FLYTE_DEBIAN_BASE``), the registry is the
session's loopback ``image_registry``. Built images carry the name ``flyte-test-h3`` and are
removed from the local store at the end (the uv and apt cache mounts stay, so later sessions are
quick).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flyte import Image
from flyte._build import build
from flyte._internal.imagebuild.engine import RegistryChecker
from flyte.errors import ImageBuildError

pytestmark = pytest.mark.podman

NAME = "flyte-test-h3"


@pytest.fixture(scope="module")
def builder_env(debian_base: str, image_registry: str) -> Iterator[dict[str, str]]:
    env = {"FLYTE_DEBIAN_BASE": debian_base, "FLYTE_CONTAINER_TOOL": "podman"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield {**env, "REGISTRY": image_registry}
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    listed = subprocess.run(
        ["podman", "images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", f"reference=*{NAME}*"],
        capture_output=True,
        text=True,
    )
    refs = [r for r in listed.stdout.split() if NAME in r]
    if refs:
        subprocess.run(["podman", "rmi", "--force", *refs], capture_output=True)


def _app(tmp_path: Path, registry: str) -> Path:
    app = tmp_path / "app.py"
    app.write_text(
        "import flyte\n"
        "env = flyte.TaskEnvironment('hum', image=flyte.Image.from_debian_base(python_version=(3, 11), "
        f"registry='{registry}', name='{NAME}').with_pip_packages('humanize'))\n"
        "@env.task\n"
        "async def commas(n: int) -> str:\n"
        "    import humanize\n"
        "    return humanize.intcomma(n)\n"
    )
    return app


def _flyte(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "flyte", "--output-format", "json", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_flyte_build_pushes_an_image_podman_runs(builder_env: dict[str, str], tmp_path: Path) -> None:
    registry = builder_env["REGISTRY"]
    app = _app(tmp_path, registry)
    done = _flyte("build", str(app), "hum", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    uri = Image.from_debian_base(python_version=(3, 11), registry=registry, name=NAME).with_pip_packages("humanize").uri
    assert uri in done.stdout
    repository, _, tag = uri.rpartition(":")
    assert asyncio.run(RegistryChecker.image_exists(repository, tag)) == uri

    # What podman runs is what the registry holds: drop the local copy and pull it back.
    subprocess.run(["podman", "rmi", "--force", uri], capture_output=True)
    pulled = subprocess.run(["podman", "pull", "--tls-verify=false", uri], capture_output=True, text=True)
    assert pulled.returncode == 0, pulled.stderr
    ran = subprocess.run(
        ["podman", "run", "--rm", "--label", "flyte-test=h3", "--network", "none", uri, "python", "-c",
         "import humanize, flyte; print(humanize.intcomma(1234567))"],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "1,234,567"

    # The registry has it now: a second build is skipped.
    again = _flyte("build", str(app), "hum", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-4000:]
    assert '"exists"' in again.stdout


def test_an_unknown_package_fails_the_build_with_the_builders_output(builder_env: dict[str, str]) -> None:
    image = Image.from_debian_base(python_version=(3, 11), name=NAME).with_pip_packages("flyte-test-no-such-package-h3")
    with pytest.raises(ImageBuildError) as caught:
        build(image)
    message = str(caught.value)
    assert message.startswith(f"building image {image.uri} with podman failed")
    assert "flyte-test-no-such-package-h3" in message


def test_a_broken_dockerfile_fails_the_build_in_one_block(builder_env: dict[str, str], tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {builder_env['FLYTE_DEBIAN_BASE']}\nRUN echo flyte-test-broken-step && exit 7\n")
    image = Image.from_dockerfile(dockerfile, registry=builder_env["REGISTRY"], name=NAME)
    with pytest.raises(ImageBuildError) as caught:
        build(image)
    message = str(caught.value)
    assert "failed (exit" in message and "flyte-test-broken-step" in message


def test_cli_reports_a_failed_build_on_one_line_of_error(builder_env: dict[str, str], tmp_path: Path) -> None:
    app = tmp_path / "bad.py"
    app.write_text(
        "import flyte\n"
        f"env = flyte.TaskEnvironment('bad', image=flyte.Image.from_debian_base(python_version=(3, 11), name='{NAME}')"
        ".with_pip_packages('flyte-test-no-such-package-h3'))\n"
    )
    done = _flyte("build", str(app), "bad", cwd=tmp_path)
    assert done.returncode == 1
    assert "The image of environment 'bad' did not build" in done.stderr
    assert "Traceback" not in done.stderr


def test_flyte_build_on_a_terminal_shows_the_build_steps_with_elapsed_time(
    builder_env: dict[str, str], tmp_path: Path
) -> None:
    from e2e.helpers import run_in_pty

    (tmp_path / "Dockerfile").write_text(
        f"FROM {builder_env['FLYTE_DEBIAN_BASE']}\n"
        "RUN sleep 2 && echo flyte-test-progress > /progress\nENV H3_PROGRESS=1\n"
    )
    (tmp_path / "app.py").write_text(
        "from pathlib import Path\nimport flyte\n"
        "env = flyte.TaskEnvironment('steps', image=flyte.Image.from_dockerfile("
        f"Path(__file__).parent / 'Dockerfile', registry='{builder_env['REGISTRY']}', name='{NAME}'))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update({"COLUMNS": "160", "TERM": "xterm"})
    env.pop("NO_COLOR", None)
    code, screen = run_in_pty(
        [sys.executable, "-m", "flyte", "build", "--force", "app.py", "steps"], tmp_path, env, timeout=600
    )
    assert code == 0, screen
    # A bar per image with the step that runs (podman's "STEP n/3") and the elapsed time.
    assert f"Building {builder_env['REGISTRY']}/{NAME}" in screen, screen
    assert "step 2/3: RUN sleep 2" in screen, screen
    assert re.search(r"0:00:0\d", screen), screen
    assert "built" in screen  # the summary table after the bar is gone

"""Issue 13's acceptance on ``--executor podman``: a task's built image is the container it runs in.

``Image.from_debian_base().with_pip_packages("humanize")`` (humanize is not in the server's
environment) is built with ``flyte build`` into the local image store (the image names no
registry), on the session's Debian test base; then the task runs on the podman server with our SDK
and with PyPI flyte as the client, and imports humanize inside that image.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from containers.conftest import containers_of
from e2e.helpers import ServerProcess

pytestmark = pytest.mark.podman

PROGRAMS = Path(__file__).parent.parent / "images" / "programs"


def _env(home: Path | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("PYTEST_")}
    if home is not None:
        env["HOME"] = str(home)
    env.update(extra)
    return env


def _rmi(ref: str) -> None:
    subprocess.run(["podman", "rmi", "--force", "--ignore", ref], capture_output=True, check=False)


@pytest.fixture(scope="module")
def humanize_image(debian_base: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``flyte build images_app.py images-humanize``: the image of the acceptance, in podman's local store."""
    from flyte import Image

    uri = Image.from_debian_base().with_pip_packages("humanize").uri
    ref = f"localhost/{uri}"
    _rmi(ref)  # an image of an earlier session carries that session's flyte
    home = tmp_path_factory.mktemp("build-home")
    done = subprocess.run(
        [sys.executable, "-m", "flyte", "--output-format", "json", "build", "images_app.py", "images-humanize"],
        cwd=PROGRAMS,
        env=_env(home, FLYTE_DEBIAN_BASE=debian_base, FLYTE_CONTAINER_TOOL="podman"),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert uri in done.stdout, done.stdout
    try:
        yield uri
    finally:
        _rmi(ref)


def _drive(python: str, server: ServerProcess, home: Path, task: str, **inputs: Any) -> dict[str, Any]:
    home.mkdir(parents=True, exist_ok=True)
    request = {"endpoint": server.endpoint, "task": task, "inputs": inputs}
    done = subprocess.run(
        [python, str(PROGRAMS / "driver.py"), json.dumps(request)],
        cwd=PROGRAMS,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"driver failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    parsed: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return parsed


def test_humanize_is_not_in_the_servers_environment() -> None:
    probe = subprocess.run([sys.executable, "-c", "import humanize"], capture_output=True)
    assert probe.returncode != 0, "the test means nothing if the server's Python has humanize"


@pytest.mark.parametrize("sdk", ["ours", "pypi"])
def test_a_task_runs_in_the_image_flyte_build_made(
    sdk: str, humanize_image: str, podman_server: ServerProcess, reference_python: str, tmp_path: Path
) -> None:
    python = sys.executable if sdk == "ours" else reference_python
    result = _drive(python, podman_server, tmp_path / "home", "commas", n=1234567)
    assert result.get("phase") == "SUCCEEDED", f"{result}\n{podman_server.log_tail()}"
    assert result["output"] == "1,234,567"
    run = result["url"].rstrip("/").rsplit("/", 1)[-1]
    assert not containers_of(podman_server, run=run), "the finished attempt's container is removed"
    events = subprocess.run(
        ["podman", "events", "--stream=false", "--since", "10m", "--filter", "event=start",
         "--filter", f"label=flyte.run={run}", "--format", "{{.Image}}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert humanize_image in events.stdout, f"the attempt ran in {events.stdout!r}, not {humanize_image}"


def test_a_run_whose_image_was_never_built_fails_fast(
    podman_server: ServerProcess, reference_python: str, tmp_path: Path
) -> None:
    """``broken``'s image (an unknown package) cannot be built, so it is not in any store: the run fails, not hangs."""
    result = _drive(reference_python, podman_server, tmp_path / "home", "broken")
    assert result["phase"] == "FAILED", result
    assert "podman run failed" in result["error"], result
    assert result["seconds"] < 150, result

"""``flyte start server`` with its default (local) executor runs a task in its image's virtualenv.

The acceptance of issue 13 for the venv executor: a task whose environment declares
``Image.from_debian_base().with_pip_packages("humanize")`` (humanize is not in the server's
environment) imports it and succeeds, with PyPI flyte and with our SDK as the client; an image
that cannot be built fails the run fast with uv's message; layers that need a container are
reported in the task log.
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
from tests.e2e.helpers import ServerProcess

PROGRAMS = Path(__file__).parent / "programs"


@pytest.fixture(scope="module")
def images_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("images-server")
    server = ServerProcess(data_dir=root / "data", worker_python=sys.executable, workers=4)
    server.start()
    yield server
    server.stop()


def _drive(python: str, server: ServerProcess, tmp_path: Path, task: str, **inputs: Any) -> dict[str, Any]:
    home = tmp_path / f"home-{Path(python).parent.parent.name}-{task}"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("PYTEST_")}
    env["HOME"] = str(home)
    request = {"endpoint": server.endpoint, "task": task, "inputs": inputs}
    done = subprocess.run(
        [python, str(PROGRAMS / "driver.py"), json.dumps(request)],
        cwd=PROGRAMS,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"driver failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return json.loads(lines[-1].removeprefix("RESULT "))


@pytest.mark.parametrize("sdk", ["reference", "ours"])
def test_task_imports_a_package_of_its_image(
    sdk: str, images_server: ServerProcess, reference_python: str, tmp_path: Path
) -> None:
    python = reference_python if sdk == "reference" else sys.executable
    result = _drive(python, images_server, tmp_path, "commas", n=1234567)
    assert result.get("phase") == "SUCCEEDED", result
    assert result["output"] == "1,234,567"


@pytest.mark.parametrize("sdk", ["reference", "ours"])
def test_an_image_that_cannot_be_built_fails_the_run_fast(
    sdk: str, images_server: ServerProcess, reference_python: str, tmp_path: Path
) -> None:
    python = reference_python if sdk == "reference" else sys.executable
    result = _drive(python, images_server, tmp_path, "broken")
    assert result["phase"] == "FAILED", result
    assert "flyte-test-no-such-package-h3" in result["error"]
    assert "installing the image's packages" in result["error"]
    assert result["seconds"] < 120  # failed, not retried into a hang


def test_layers_that_need_a_container_are_reported(images_server: ServerProcess, tmp_path: Path) -> None:
    result = _drive(sys.executable, images_server, tmp_path, "apt_commas", n=1000)
    assert result.get("phase") == "SUCCEEDED", result
    assert result["output"] == "1,000"
    run = result["url"].rstrip("/").rsplit("/", 1)[-1]
    logs = list((images_server.data_dir / "logs").glob(f"*/*/{run}/*/*.log"))
    text = "".join(log.read_text(errors="replace") for log in logs)
    assert "not reproduced without a container: apt packages 'git'" in text, text[-2000:]


def test_strict_images_refuse_layers_that_need_a_container(tmp_path: Path) -> None:
    server = ServerProcess(
        data_dir=tmp_path / "strict", worker_python=sys.executable, workers=2, extra_env={"FLYTE_STRICT_IMAGES": "1"}
    )
    server.start()
    try:
        result = _drive(sys.executable, server, tmp_path, "apt_commas", n=1000)
        assert result["phase"] == "FAILED", result
        assert "needs a container for: apt packages 'git'" in result["error"]
        assert "--strict-images" in result["error"]
        ok = _drive(sys.executable, server, tmp_path, "commas", n=1000)  # pip packages alone are fine
        assert ok.get("output") == "1,000", ok
    finally:
        server.stop()

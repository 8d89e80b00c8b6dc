"""``flyte.extras.ContainerTask`` on the container executor: any image, a command, inputs and outputs as files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from containers.conftest import drive
from e2e.helpers import DOMAIN, PROJECT, ServerProcess

pytestmark = pytest.mark.podman


@pytest.mark.parametrize("sdk", ["ours", "pypi"])
def test_a_container_task_round_trips_its_inputs_and_outputs_as_files(
    sdk: str, podman_server: ServerProcess, programs_dir: Path, reference_python: str, tmp_path: Path
) -> None:
    python = sys.executable if sdk == "ours" else reference_python
    direct = drive(python, podman_server, programs_dir, tmp_path / "a", task="greet", inputs={"name": "bob", "n": 5})
    assert direct["phase"] == "SUCCEEDED", podman_server.log_tail()
    assert direct["values"] == ["hello bob", 10], "{{.inputs.name}} substituted, /var/inputs/n read, outputs read back"
    log = podman_server.data_dir / "logs" / PROJECT / DOMAIN / direct["run"] / "a0" / "1.log"
    assert "container-task-ran" in log.read_text()
    nested = drive(python, podman_server, programs_dir, tmp_path / "b", task="greet_twice", inputs={"name": "ann"})
    assert nested["phase"] == "SUCCEEDED", podman_server.log_tail()
    assert nested["values"] == ["hello ann|42"], "a Python task calls the container task and gets its outputs"


def test_a_failing_command_fails_the_action_with_its_status(
    podman_server: ServerProcess, programs_dir: Path, tmp_path: Path
) -> None:
    result = drive(sys.executable, podman_server, programs_dir, tmp_path / "home", task="broken", inputs={"n": 1})
    assert result["phase"] == "FAILED"
    log = podman_server.data_dir / "logs" / PROJECT / DOMAIN / result["run"] / "a0" / "1.log"
    text = log.read_text()
    assert "about to fail" in text and "exited with status 3" in text

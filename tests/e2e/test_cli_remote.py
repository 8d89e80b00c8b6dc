"""The ``flyte`` command against the real server: in-process (click's CliRunner) and as a subprocess.

Remote runs (start, ``--wait``, ``--follow``, failures), ``get``, ``deploy``, ``run deployed-task``,
``abort``, triggers, secrets, projects, ``whoami``, JSON output, and the exit codes: 0 ok,
1 failed/aborted run or unreachable server, 3 not found.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from flyte.cli.main import flyte_group

from .helpers import DOMAIN, PROJECT, ServerProcess, free_port

PROGRAMS = Path(__file__).parent / "remote_programs"

Cli = Callable[..., Result]


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("cli-remote") / "project"
    shutil.copytree(PROGRAMS, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture
def cli(server: ServerProcess, project_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """``flyte --endpoint <server> --insecure ARGS...`` in-process, from the project folder."""
    monkeypatch.chdir(project_dir)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    runner = CliRunner()

    def invoke(*args: str, endpoint: str | None = None) -> Result:
        prefix = ["--endpoint", endpoint or server.endpoint, "--insecure"]
        return runner.invoke(flyte_group, [*prefix, *args], prog_name="flyte", catch_exceptions=False)

    return invoke


SCOPE = ("-p", PROJECT, "-d", DOMAIN)


def test_remote_runs_from_a_file(cli: Cli) -> None:
    started = cli("run", *SCOPE, "sdk_wf.py", "fan_out", "--n", "3")
    assert started.exit_code == 0, started.output
    name = started.stdout.strip()
    assert name.startswith("r") and f"/runs/{name}" in started.stderr

    waited = cli("run", *SCOPE, "--wait", "sdk_wf.py", "fan_out", "--n", "3", "--scale", "2")
    assert waited.exit_code == 0, waited.output
    assert waited.stdout == "o0: [0, 2, 8]\n"

    as_json = cli("-of", "json", "run", *SCOPE, "--wait", "sdk_wf.py", "two_outputs", "--text", "ab")
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout)
    assert document["phase"] == "SUCCEEDED" and document["outputs"] == {"o0": "AB", "o1": 2}

    followed = cli("run", *SCOPE, "--follow", "sdk_wf.py", "shout", "--text", "hi")
    assert followed.exit_code == 0, followed.output
    assert "SHOUT-LOG hi" in followed.stdout and followed.stdout.endswith("o0: HI\n")

    failed = cli("run", *SCOPE, "--wait", "sdk_wf.py", "fails", "--x", "2")
    assert failed.exit_code == 1
    [line] = failed.stderr.splitlines()[-1:]
    assert line.startswith("Error: Run r") and line.endswith("FAILED: ValueError: bad input 2")


def test_get_run_action_logs_and_io(cli: Cli) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    ran = cli("run", *SCOPE, "--wait", "--name", name, "-e", "MARK=1", "sdk_wf.py", "shout", "--text", "io")
    assert ran.exit_code == 0, ran.output

    listed = cli("-of", "table-simple", "get", "run", *SCOPE, "--task-name", "sdk_e2e.shout")
    assert listed.exit_code == 0 and name in listed.stdout
    one = cli("-of", "json", "get", "run", *SCOPE, name)
    details = json.loads(one.stdout)
    assert details["action"]["phase"] == "SUCCEEDED" and details["env_vars"]["MARK"] == "1"
    actions = cli("-of", "json", "get", "action", *SCOPE, name)
    assert [action["name"] for action in json.loads(actions.stdout)] == ["a0"]
    root = cli("get", "action", *SCOPE, name, "a0")
    assert root.exit_code == 0 and "SUCCEEDED" in root.stdout
    logs = cli("get", "logs", *SCOPE, name)
    assert "SHOUT-LOG io" in logs.stdout
    io = cli("-of", "json", "get", "io", *SCOPE, name)
    assert json.loads(io.stdout) == {"inputs": {"text": "io"}, "outputs": {"o0": "IO"}}

    missing = cli("get", "run", *SCOPE, "no-such-run")
    assert missing.exit_code == 3
    assert missing.stderr == "Error: Run 'no-such-run' in flytesnacks/development was not found\n"
    missing_action = cli("get", "action", *SCOPE, name, "nope")
    assert missing_action.exit_code == 3


def test_deploy_deployed_tasks_and_triggers(cli: Cli) -> None:
    deployed = cli("-of", "json", "deploy", *SCOPE, "sdk_wf.py", "sdk_e2e")
    assert deployed.exit_code == 0, deployed.output
    [deployment] = json.loads(deployed.stdout)
    version = deployment["version"]
    assert {env["name"] for env in deployment["environments"]} == {"sdk_e2e", "sdk_helpers"}

    tasks = cli("get", "task", *SCOPE, "sdk_e2e.fan_out")
    assert tasks.exit_code == 0 and version in tasks.stdout
    shown = cli("-of", "json", "get", "task", *SCOPE, "sdk_e2e.fan_out", version)
    assert json.loads(shown.stdout)["defaults"] == {"scale": 1}

    ran = cli("run", *SCOPE, "--wait", "deployed-task", "sdk_e2e.fan_out", "--n", "2")
    assert ran.exit_code == 0, ran.output
    assert ran.stdout == "o0: [0, 1]\n"
    pinned = cli("run", *SCOPE, "--wait", "deployed-task", f"sdk_e2e.fan_out:{version}", "--n", "3", "--scale", "2")
    assert pinned.stdout == "o0: [0, 2, 8]\n"
    listing = cli("run", *SCOPE, "deployed-task")
    assert "sdk_e2e.fan_out" in listing.stdout
    unknown = cli("run", *SCOPE, "deployed-task", "sdk_e2e.nope", "--n", "1")
    assert unknown.exit_code == 3 and "No deployed task named 'sdk_e2e.nope'" in unknown.stderr

    triggers = cli("-of", "json", "get", "trigger", *SCOPE, "sdk_e2e.scheduled")
    assert [t["name"] for t in json.loads(triggers.stdout)] == ["hourly"]
    assert cli("update", "trigger", *SCOPE, "hourly", "sdk_e2e.scheduled", "--activate").exit_code == 0
    assert json.loads(cli("-of", "json", "get", "trigger", *SCOPE, "sdk_e2e.scheduled", "hourly").stdout)["active"]
    assert cli("update", "trigger", *SCOPE, "hourly", "sdk_e2e.scheduled", "--deactivate").exit_code == 0
    created = cli("create", "trigger", *SCOPE, "sdk_e2e.scheduled", "on-demand", "--no-auto-activate")
    assert created.exit_code == 0, created.output
    assert cli("delete", "trigger", *SCOPE, "on-demand", "sdk_e2e.scheduled").exit_code == 0
    assert cli("delete", "trigger", *SCOPE, "on-demand", "sdk_e2e.scheduled").exit_code == 3


def test_secrets_projects_and_whoami(cli: Cli) -> None:
    secret = f"s{uuid.uuid4().hex[:8]}"
    assert cli("create", "secret", *SCOPE, secret, "--value", "v").exit_code == 0
    assert secret in cli("get", "secret", *SCOPE).stdout
    assert cli("delete", "secret", *SCOPE, secret).exit_code == 0
    assert cli("get", "secret", *SCOPE, secret).exit_code == 3

    project = f"p{uuid.uuid4().hex[:8]}"
    assert cli("create", "project", project, "--description", "cli").exit_code == 0
    assert json.loads(cli("-of", "json", "get", "project", project).stdout)["description"] == "cli"
    assert cli("get", "project", "no-such-project").exit_code == 3
    whoami = cli("-of", "json", "whoami")
    assert whoami.exit_code == 0 and json.loads(whoami.stdout)["subject"]


def test_unreachable_server_is_one_line(cli: Cli) -> None:
    port = free_port()
    result = cli("get", "run", *SCOPE, endpoint=f"127.0.0.1:{port}")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: Cannot reach the Flyte control plane at http://127.0.0.1:{port} (")
    assert result.stderr.count("\n") == 1


def test_as_a_subprocess_an_aborted_run_exits_1(
    server: ServerProcess, project_dir: Path, tmp_path: Path, cli: Cli
) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env["HOME"] = str(tmp_path / "sub-home")
    base = [sys.executable, "-m", "flyte", "--endpoint", server.endpoint, "--insecure"]
    ok = subprocess.run(
        [*base, "run", *SCOPE, "--wait", "sdk_wf.py", "fan_out", "--n", "2"],
        cwd=project_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, (ok.stdout, ok.stderr)
    assert ok.stdout == "o0: [0, 1]\n"

    name = f"abort-{uuid.uuid4().hex[:8]}"
    waiting = subprocess.Popen(
        [*base, "run", *SCOPE, "--wait", "--name", name, "sdk_wf.py", "sleeper", "--seconds", "60"],
        cwd=project_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while cli("get", "run", *SCOPE, name).exit_code != 0:
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.2)
        aborted = cli("abort", "run", *SCOPE, name)
        assert aborted.exit_code == 0 and aborted.stdout == f"Aborted run {name}\n"
        _, stderr = waiting.communicate(timeout=60)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 1
    assert stderr.splitlines()[-1].startswith(f"Error: Run {name} ABORTED: ")

"""The CLI's seams (issue 15): the live status line of ``flyte run --wait`` on a terminal (its elapsed
time advances while the run is quiet, and the end prints one duration, the run's own), and
``flyte get logs`` telling "no output" from "not yet"."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import DOMAIN, PROJECT, ServerProcess, run_in_pty

PROGRAMS = Path(__file__).parent / "remote_programs"


def test_wait_line_elapsed_time_advances_and_one_duration_is_printed(server: ServerProcess, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(PROGRAMS, project, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "HOME": str(tmp_path / "home"), "COLUMNS": "120", "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    argv = [
        sys.executable,
        "-m",
        "flyte",
        "--endpoint",
        server.endpoint,
        "--insecure",
        "run",
        "-p",
        PROJECT,
        "-d",
        DOMAIN,
        "--wait",
        "sdk_wf.py",
        "sleeper",
        "--seconds",
        "4",
    ]
    code, screen = run_in_pty(argv, project, env, timeout=120)
    assert code == 0, screen
    # The live line redraws with the elapsed time: several distinct values while the task sleeps.
    seen = sorted(set(re.findall(r"0:00:0(\d)", screen)))
    assert len(seen) >= 3, screen
    # One duration at the end, the same on the phase line and the summary.
    durations = re.findall(r"SUCCEEDED.* in (\d+\.\d\d)s", screen)
    assert len(durations) == 2 and durations[0] == durations[1], screen
    assert "o0: 4.0" in screen


def test_get_logs_of_a_finished_silent_action_says_there_was_no_output(server: ServerProcess, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(PROGRAMS, project, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    base = [sys.executable, "-m", "flyte", "--endpoint", server.endpoint, "--insecure"]
    started = subprocess.run(
        [*base, "run", "-p", PROJECT, "-d", DOMAIN, "--wait", "sdk_wf.py", "sleeper", "--seconds", "0"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 0, started.stderr
    run_name = started.stderr.split("Run ", 1)[1].split()[0]
    logs = subprocess.run(
        [*base, "get", "logs", "-p", PROJECT, "-d", DOMAIN, run_name, "--filter-system"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout == ""
    assert f"No output: action a0 of run {run_name} ended (SUCCEEDED) without writing to its log." in logs.stderr


def _tree_labels(node) -> list[str]:  # type: ignore[no-untyped-def]
    found = []
    for child in node.children:
        found.append(str(child.label))
        found.extend(_tree_labels(child))
    return found


async def test_tui_shows_a_remote_runs_tree_and_an_actions_log(server: ServerProcess, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(PROGRAMS, project, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    base = [sys.executable, "-m", "flyte", "--endpoint", server.endpoint, "--insecure"]
    started = subprocess.run(
        [*base, "run", "-p", PROJECT, "-d", DOMAIN, "--wait", "sdk_wf.py", "shout", "--text", "tui"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 0, started.stderr
    run_name = started.stderr.split("Run ", 1)[1].split()[0]

    from textual.widgets import DataTable, RichLog, Tree

    import flyte
    from flyte.cli._tui import RemoteSource, RunExplorer

    flyte.init(endpoint=server.endpoint, insecure=True, project=PROJECT, domain=DOMAIN)
    app = RunExplorer(RemoteSource(PROJECT, DOMAIN), poll_interval=0.5, select_run=run_name)
    async with app.run_test(size=(140, 40)) as pilot:
        labels: list[str] = []
        for _ in range(100):
            await pilot.pause(0.2)
            labels = _tree_labels(app.query_one("#tree", Tree).root)
            if labels:
                break
        assert len(labels) == 1 and "SUCCEEDED" in labels[0] and "sdk_e2e.shout" in labels[0], labels
        assert run_name in app.query_one("#runs", DataTable).rows
        # Select the action: its log follows in the lower pane.
        tree = app.query_one("#tree", Tree)
        tree.select_node(tree.root.children[0])
        await pilot.press("enter")
        text = ""
        for _ in range(100):
            await pilot.pause(0.2)
            text = "\n".join(str(line.text) for line in app.query_one("#log", RichLog).lines)
            if "SHOUT-LOG tui" in text:
                break
        assert "SHOUT-LOG tui" in text
        await pilot.press("q")


pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")

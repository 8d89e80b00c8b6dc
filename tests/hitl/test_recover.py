"""Recover: a failed fan-out run started again with ``--recover`` reruns only the failed children;
the others are RECOVERED from the source run's outputs."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from e2e.helpers import DOMAIN, PROJECT, ServerProcess

from .conftest import Drive, outputs_of


def _executions(marks: Path) -> Counter[int]:
    return Counter(int(path.name.split("-")[1]) for path in marks.glob("ran-*"))


@pytest.mark.parametrize(("which", "n"), [("ours", 100), ("ref", 10)])
def test_recover_reruns_only_the_failed_children(
    which: str, n: int, request: pytest.FixtureRequest, drive: Drive, reference_python: str, tmp_path: Path
) -> None:
    server: ServerProcess = request.getfixturevalue(f"{which}_server")
    python = sys.executable if which == "ours" else reference_python
    marks = tmp_path / "marks"
    marks.mkdir()
    marks.chmod(0o777)
    source = drive(python, server, {"op": "run", "task": "whole", "inputs": {"n": n, "marks": str(marks)}})["run"]
    failed = outputs_of(server, source)
    assert "parts failed" in failed[0], failed
    broken = {i for i in range(n) if i % 10 == 3}
    assert _executions(marks) == Counter(range(n))

    (marks / "fixed").write_text("")
    if which == "ours":
        command = [sys.executable, "-m", "flyte", "--endpoint", server.endpoint, "--insecure", "rerun"]
        started = subprocess.run(
            [*command, "-p", PROJECT, "-d", DOMAIN, source, "--recover"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert started.returncode == 0, started.stderr
        import flyte
        import flyte.remote

        flyte.init(endpoint=server.endpoint, insecure=True, project=PROJECT, domain=DOMAIN)
        recovered = [run.name for run in flyte.remote.Run.listall() if run.name != source]
        new = next(name for name in recovered if name in started.stdout)
    else:
        new = drive(python, server, {"op": "recover", "run": source})["run"]
    assert outputs_of(server, new) == [sum(i * i for i in range(n))]
    assert _executions(marks) == Counter(range(n)) + Counter(broken)

    import flyte
    import flyte.remote

    flyte.init(endpoint=server.endpoint, insecure=True, project=PROJECT, domain=DOMAIN)
    phases = Counter(action.phase.name for action in flyte.remote.Action.listall(new) if action.name != "a0")
    assert phases == {"RECOVERED": n - len(broken), "SUCCEEDED": len(broken)}, phases

"""A training loop killed mid-way resumes from its last checkpoint, locally and on the server."""

from __future__ import annotations

import sys

import pytest

from e2e.helpers import ServerProcess

from .conftest import PROGRAMS, Drive, outputs_of


def test_local_retry_resumes_from_the_checkpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    import flyte
    from flyte.cli._loader import load_module

    monkeypatch.syspath_prepend(str(PROGRAMS))
    module = load_module(PROGRAMS / "hitl_wf.py")
    flyte.init()
    assert flyte.run(module.train, steps=6, die_at=4).outputs()[0] == "4->6"


@pytest.mark.parametrize("which", ["ours", "ref"])
def test_killed_worker_resumes_from_the_checkpoint(
    which: str, request: pytest.FixtureRequest, drive: Drive, reference_python: str
) -> None:
    server: ServerProcess = request.getfixturevalue(f"{which}_server")
    python = sys.executable if which == "ours" else reference_python
    run = drive(python, server, {"op": "run", "task": "train", "inputs": {"steps": 5, "die_at": 3}})["run"]
    assert outputs_of(server, run) == ["3->5"]

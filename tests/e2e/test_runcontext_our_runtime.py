"""The log options of ``flyte.with_runcontext`` reach tasks that run on our runtime (``a0``)."""

from __future__ import annotations

import json
import logging
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import flyte
from flyte.cli._loader import load_module

from .helpers import DOMAIN, PROJECT, ServerProcess

PROGRAMS = Path(__file__).parent / "remote_programs"


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A fresh server whose workers run our ``a0`` (so the first attempt sets the worker's logging)."""
    process = ServerProcess(
        data_dir=tmp_path_factory.mktemp("runcontext-ours") / "server", worker_python=sys.executable
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
def wf(ours: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    project = tmp_path / "project"
    shutil.copytree(PROGRAMS, project, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(project)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    flyte.init(endpoint=ours.endpoint, insecure=True, project=PROJECT, domain=DOMAIN)
    yield load_module(project / "remote_api_wf.py")


def test_log_level_format_and_user_level_reach_the_task(wf: ModuleType) -> None:
    runner = flyte.with_runcontext(log_level=logging.INFO, user_log_level=logging.DEBUG, log_format="json")
    run = runner.run(wf.logs_at_levels, text="marker")
    assert run.outputs().o0 == "marker"
    documents = []
    for line in run.get_logs():
        try:
            documents.append(json.loads(line))
        except ValueError:
            continue
    messages = {(doc.get("logger"), doc.get("message")) for doc in documents if isinstance(doc, dict)}
    assert ("flyte.user", "user-debug marker") in messages, run.get_logs()
    assert ("flyte", "flyte-info marker") in messages

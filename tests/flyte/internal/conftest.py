"""Fixtures for the runtime, controller and serde tests: a fake control plane and a code bundle."""

from __future__ import annotations

import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fake_plane import FakePlane

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A ``.tar.gz`` code bundle holding ``runtime_tasks.py``, as a deploy would upload it."""
    path = tmp_path_factory.mktemp("bundle") / "fast-runtime-tasks.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        archive.add(HERE / "runtime_tasks.py", arcname="runtime_tasks.py")
    return str(path)


@pytest.fixture
def side_effects(tmp_path: Path) -> Path:
    """The file ``runtime_tasks`` appends a line to whenever a traced call really runs."""
    return tmp_path / "side-effects.txt"


@pytest.fixture
async def plane(tmp_path: Path, side_effects: Path) -> AsyncIterator[FakePlane]:
    async with FakePlane(tmp_path / "plane", worker_env={"RT_SIDE_EFFECTS": str(side_effects)}) as fake:
        yield fake

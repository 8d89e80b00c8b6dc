"""Every config test runs in an empty working directory with an empty home directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from flyte.config import CONFIG_FILE_ENV_VARS, ENV_OVERRIDES


@dataclass(frozen=True, kw_only=True)
class Dirs:
    """The isolated directories a test runs in."""

    work: Path
    """The current working directory (not inside any git repository)."""
    home: Path
    """``$HOME``."""
    root: Path
    """The test's ``tmp_path``, holding both."""

    def write(self, path: Path, text: str) -> Path:
        """Write ``text`` to ``path`` (relative paths are under the working directory)."""
        path = self.work / path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def project_file(self, path: Path, project: str) -> Path:
        """A config file whose only setting is a project name, to tell which file was read."""
        return self.write(path, f"task:\n  project: {project}\n")


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Dirs:
    work = tmp_path / "work"
    home = tmp_path / "home"
    work.mkdir()
    home.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(home))
    # Keep git from finding a repository above the test directory.
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for var in (*CONFIG_FILE_ENV_VARS, *ENV_OVERRIDES, "FLYTE_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    return Dirs(work=work, home=home, root=tmp_path)

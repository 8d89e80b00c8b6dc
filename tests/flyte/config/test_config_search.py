"""Which config file `flyte.config.auto()` reads."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from flyte.config import Config, auto, find_config_file
from flyte.errors import InitializationError

if TYPE_CHECKING:
    from conftest import Dirs  # the fixture's type, from this folder's conftest.py


def test_no_file_anywhere_gives_empty_config(dirs: Dirs) -> None:
    assert auto() == Config()
    assert auto().source is None
    assert find_config_file() is None


def test_cwd_config_yaml_beats_cwd_dot_flyte(dirs: Dirs) -> None:
    dirs.project_file(Path("config.yaml"), "plain")
    dirs.project_file(Path(".flyte/config.yaml"), "dotflyte")
    cfg = auto()
    assert cfg.task.project == "plain"
    assert cfg.source == Path("config.yaml")


def test_cwd_dot_flyte_beats_home(dirs: Dirs) -> None:
    dirs.project_file(Path(".flyte/config.yaml"), "local")
    dirs.project_file(dirs.home / ".flyte/config.yaml", "home")
    assert auto().task.project == "local"


def test_home_union_beats_home_flyte(dirs: Dirs) -> None:
    dirs.project_file(dirs.home / ".union/config.yaml", "union")
    dirs.project_file(dirs.home / ".flyte/config.yaml", "flyte")
    assert auto().task.project == "union"
    (dirs.home / ".union/config.yaml").unlink()
    cfg = auto()
    assert cfg.task.project == "flyte"
    assert cfg.source == dirs.home / ".flyte/config.yaml"


def test_parent_directories_are_not_searched_outside_a_git_repository(
    dirs: Dirs, monkeypatch: pytest.MonkeyPatch
) -> None:
    dirs.project_file(Path(".flyte/config.yaml"), "parent")
    (dirs.work / "child").mkdir()
    monkeypatch.chdir(dirs.work / "child")
    assert auto().task.project is None


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_root_dot_flyte_is_found_from_a_subdirectory(dirs: Dirs, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = dirs.work / "repo"
    (repo / "pkg" / "sub").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    dirs.project_file(repo / ".flyte/config.yaml", "gitroot")
    dirs.project_file(dirs.home / ".flyte/config.yaml", "home")
    dirs.write(Path("UCTL.yaml"), "task:\n  project: uctl\n")
    monkeypatch.setenv("UCTL_CONFIG", str(dirs.work / "UCTL.yaml"))
    monkeypatch.chdir(repo / "pkg" / "sub")
    assert auto().task.project == "gitroot"
    # Only the git root: a .flyte folder in an intermediate directory is not looked at.
    dirs.project_file(repo / "pkg" / ".flyte/config.yaml", "intermediate")
    assert auto().task.project == "gitroot"
    # The working directory still comes first.
    dirs.project_file(repo / "pkg" / "sub" / ".flyte/config.yaml", "cwd")
    assert auto().task.project == "cwd"


def test_uctl_config_beats_flytectl_config_and_home(dirs: Dirs, monkeypatch: pytest.MonkeyPatch) -> None:
    uctl = dirs.project_file(dirs.root / "envs/uctl.yaml", "uctl")
    flytectl = dirs.project_file(dirs.root / "envs/flytectl.yaml", "flytectl")
    dirs.project_file(dirs.home / ".union/config.yaml", "home")
    monkeypatch.setenv("UCTL_CONFIG", str(uctl))
    monkeypatch.setenv("FLYTECTL_CONFIG", str(flytectl))
    assert auto().task.project == "uctl"
    monkeypatch.delenv("UCTL_CONFIG")
    assert auto().task.project == "flytectl"
    monkeypatch.setenv("UCTL_CONFIG", "")  # empty means unset
    assert auto().task.project == "flytectl"


def test_files_in_the_working_directory_beat_the_environment_variables(
    dirs: Dirs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UCTL_CONFIG", str(dirs.project_file(dirs.root / "uctl.yaml", "uctl")))
    dirs.project_file(Path("config.yaml"), "cwd")
    assert auto().task.project == "cwd"


def test_variable_naming_a_missing_file_is_an_error(dirs: Dirs, monkeypatch: pytest.MonkeyPatch) -> None:
    dirs.project_file(dirs.home / ".flyte/config.yaml", "home")
    monkeypatch.setenv("FLYTECTL_CONFIG", str(dirs.root / "nope.yaml"))
    with pytest.raises(InitializationError, match=r"nope\.yaml \(from \$FLYTECTL_CONFIG\) does not exist"):
        auto()


def test_flyte_config_variable_is_not_consulted(dirs: Dirs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_CONFIG", str(dirs.project_file(dirs.root / "f.yaml", "flyte_config")))
    assert auto().task.project is None


def test_explicit_path_beats_every_other_file(dirs: Dirs) -> None:
    dirs.project_file(Path("config.yaml"), "cwd")
    explicit = dirs.project_file(dirs.root / "explicit.yaml", "explicit")
    assert auto(explicit).task.project == "explicit"
    assert auto(str(explicit)).source == explicit


def test_explicit_path_expands_home(dirs: Dirs) -> None:
    dirs.project_file(dirs.home / ".flyte/config.yaml", "home")
    cfg = auto("~/.flyte/config.yaml")
    assert cfg.task.project == "home"
    assert cfg.source == dirs.home / ".flyte/config.yaml"


def test_missing_explicit_path_is_an_error_naming_it(dirs: Dirs) -> None:
    dirs.project_file(Path("config.yaml"), "cwd")
    with pytest.raises(InitializationError, match=r"Config file missing\.yaml does not exist") as info:
        auto("missing.yaml")
    assert "\n" not in str(info.value)


def test_explicit_directory_is_an_error(dirs: Dirs) -> None:
    (dirs.work / "adir").mkdir()
    with pytest.raises(InitializationError, match="adir is a directory"):
        auto("adir")


def test_environment_overrides_need_a_file(dirs: Dirs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_TASK_PROJECT", "from-env")
    monkeypatch.setenv("FLYTE_ADMIN_ENDPOINT", "dns:///env.example.com")
    assert auto() == Config()

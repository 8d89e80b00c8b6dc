"""Code bundles: which files go in, deterministic archives, pickles, and the upload cache."""

from __future__ import annotations

import gzip
import io
import logging
import sys
import tarfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flyte._internal.bundle import (
    BundleCache,
    build_code_bundle,
    build_pkl,
    build_tgz,
    select_files,
    sys_path_entries,
)
from flyte.errors import CodeBundleError


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    _write(
        root,
        {
            "bundlepkg/__init__.py": "",
            "bundlepkg/flows.py": "import flyte\nenv = flyte.TaskEnvironment(name='bundled')\n\n"
            "@env.task\nasync def hello(x: int) -> int:\n    return x\n",
            "bundle_ignored.py": "VALUE = 1\n",
            "data/big.csv": "a,b\n",
            "notes.secret": "shh",
            "readme.md": "# project",
            ".gitignore": "bundle_ignored.py\ndata/\n",
            ".flyteignore": "*.secret\n",
            "sub/.gitignore": "local.txt\n",
            "sub/local.txt": "mine",
            "sub/kept.txt": "shared",
            ".venv/pyvenv.cfg": "home = /usr\n",
            ".venv/lib/site.py": "x = 1\n",
            "env2/pyvenv.cfg": "home = /usr\n",
            "env2/lib/mod.py": "x = 1\n",
        },
    )
    return root


@pytest.fixture
def imported(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The project's modules imported, as a program using them would have."""
    monkeypatch.syspath_prepend(str(project))
    import importlib

    importlib.import_module("bundlepkg.flows")
    importlib.import_module("bundle_ignored")
    yield project
    for name in ("bundlepkg", "bundlepkg.flows", "bundle_ignored"):
        sys.modules.pop(name, None)


def test_every_file_except_ignored_ones_and_environments(project: Path) -> None:
    names = [name for _, name in select_files(project, "all").files]
    assert names == [
        ".flyteignore",
        ".gitignore",
        "bundlepkg/__init__.py",
        "bundlepkg/flows.py",
        "readme.md",
        "sub/.gitignore",
        "sub/kept.txt",
    ]


def test_loaded_modules_under_the_root_only(imported: Path) -> None:
    selected = select_files(imported, "loaded_modules")
    assert [name for _, name in selected.files] == ["bundlepkg/__init__.py", "bundlepkg/flows.py"]
    assert selected.total_bytes == sum(path.stat().st_size for path, _ in selected.files)


def test_a_task_file_is_always_included(imported: Path) -> None:
    flows = sys.modules["bundlepkg.flows"]
    bundle = build_code_bundle([flows.hello], imported, "loaded_modules")
    assert "bundlepkg/flows.py" in bundle.names
    with pytest.raises(CodeBundleError, match="outside the code root"):
        select_files(imported / "sub", "loaded_modules", extra=[imported / "readme.md"])


def test_archives_are_deterministic(project: Path) -> None:
    first = build_tgz(select_files(project, "all"))
    time.sleep(0.01)
    (project / "readme.md").write_text("# project")  # same bytes, new mtime
    second = build_tgz(select_files(project, "all"))
    assert second.digest == first.digest and second.data == first.data
    assert first.filename == f"fast{first.digest}.tar.gz" and len(first.md5) == 16
    assert first.data[4:8] == b"\0\0\0\0", "no gzip timestamp"
    with tarfile.open(fileobj=io.BytesIO(first.data), mode="r:gz") as archive:
        members = archive.getmembers()
    assert [m.name for m in members] == list(first.names)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.mode) for m in members} == {(0, 0, 0, "", 0o644)}

    (project / "readme.md").write_text("# changed")
    assert build_tgz(select_files(project, "all")).digest != first.digest


def test_a_home_directory_or_the_filesystem_root_is_not_bundled_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(CodeBundleError, match="Refusing to bundle every file of your home directory"):
        select_files(home, "all")
    assert select_files(home, "loaded_modules").files == ()


def test_a_large_bundle_is_warned_about(project: Path, caplog: pytest.LogCaptureFixture) -> None:
    (project / "model.bin").write_bytes(b"\0" * (11 * 1024 * 1024))
    with caplog.at_level(logging.WARNING, logger="flyte"):
        select_files(project, "all")
    assert any("add a .flyteignore" in record.getMessage() for record in caplog.records)


def test_a_pickled_task_carries_its_module(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cloudpickle

    monkeypatch.syspath_prepend(str(project))
    import importlib

    flows = importlib.import_module("bundlepkg.flows")
    bundle = build_pkl(flows.hello)
    assert bundle.kind == "pkl" and bundle.filename == f"{bundle.digest}.pkl.gz"
    for name in ("bundlepkg", "bundlepkg.flows"):
        sys.modules.pop(name, None)
    monkeypatch.setattr(sys, "path", [entry for entry in sys.path if entry != str(project)])
    task = cloudpickle.loads(gzip.decompress(bundle.data))  # the module is gone: it travelled by value
    assert task.name == "bundled.hello"


def test_the_upload_cache(tmp_path: Path) -> None:
    cache = BundleCache(tmp_path / "cache.sqlite3")
    uploaded = tmp_path / "blobs" / "fastabc.tar.gz"
    uploaded.parent.mkdir()
    uploaded.write_bytes(b"x")
    cache.put("http://a:1", "p", "d", "abc", str(uploaded))
    assert cache.get("http://a:1", "p", "d", "abc") == str(uploaded)
    assert cache.get("http://b:1", "p", "d", "abc") is None, "keyed by endpoint"
    cache.put("http://a:1", "p", "d", "s3", "s3://bucket/fasts3.tar.gz")
    assert cache.get("http://a:1", "p", "d", "s3") == "s3://bucket/fasts3.tar.gz"
    uploaded.unlink()
    assert cache.get("http://a:1", "p", "d", "abc") is None, "a local upload that vanished is stale"
    expired = BundleCache(tmp_path / "cache.sqlite3", ttl_s=0.0)
    time.sleep(0.01)
    assert expired.get("http://a:1", "p", "d", "s3") is None


def test_sys_path_entries_under_the_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "src" / "app").mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [str(tmp_path / "src"), str(tmp_path), "/usr/lib/python3", ""])
    assert sys_path_entries(tmp_path) == "./src"

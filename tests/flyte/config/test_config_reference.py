"""Config files are interchangeable with the reference Flyte 2 SDK.

These tests run only where a reference install exists: ``$FLYTE_REFERENCE_PYTHON`` (the python of
a virtual environment with PyPI ``flyte`` installed) or ``/tmp/refvenv/bin/python``. They use
its public API and its ``flyte create config`` command, in subprocesses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from flyte.config import CONFIG_FILE_ENV_VARS, ENV_OVERRIDES, auto, write_config

if TYPE_CHECKING:
    from conftest import Dirs  # the fixture's type, from this folder's conftest.py


def _reference_python() -> Path:
    """The reference interpreter (built once per machine, see ``tests/reference.py``)."""
    from reference import find_reference_python

    return Path(find_reference_python())


# Prints, for each argument (a path, or "-" for the search), the configuration that auto() reads.
READ_SCRIPT = """
import dataclasses, json, sys
import flyte.config
out = []
for arg in sys.argv[1:]:
    cfg = flyte.config.auto(None if arg == "-" else arg)
    row = {"source": str(cfg.source) if cfg.source else None}
    for section in ("platform", "task", "image", "local"):
        row[section] = dataclasses.asdict(getattr(cfg, section))
    out.append(row)
print(json.dumps(out))
"""


def _clean_env(dirs: Dirs, extra: dict[str, str] | None = None) -> dict[str, str]:
    dropped = {*CONFIG_FILE_ENV_VARS, *ENV_OVERRIDES, "FLYTE_CONFIG", "PYTHONPATH"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(HOME=str(dirs.home), GIT_CEILING_DIRECTORIES=str(dirs.root), **(extra or {}))
    return env


def _read(python: str, dirs: Dirs, args: list[str], cwd: Path, extra_env: dict[str, str] | None = None) -> Any:
    env = _clean_env(dirs, extra_env)
    if python == sys.executable:
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    done = subprocess.run(
        [python, "-c", READ_SCRIPT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _reference_read(dirs: Dirs, args: list[str], cwd: Path, extra_env: dict[str, str] | None = None) -> Any:
    return _read(str(_reference_python()), dirs, args, cwd, extra_env)


def _our_read(dirs: Dirs, args: list[str], cwd: Path, extra_env: dict[str, str] | None = None) -> Any:
    return _read(sys.executable, dirs, args, cwd, extra_env)


WRITE_CASES: list[dict[str, Any]] = [
    {"endpoint": "localhost:30080", "insecure": True, "project": "flytesnacks", "domain": "development"},
    {"endpoint": "https://flyte.example.com", "org": "acme", "builder": "remote", "registry": "ghcr.io/acme"},
    {"endpoint": "dns:///flyte.example.com:443", "auth_type": "ClientSecret", "project": "p", "domain": "d"},
    {"endpoint": None, "org": "acme", "local_persistence": True, "local_tracked": True},
]


def _write_kwargs(case: dict[str, Any]) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "insecure": False,
        "project": None,
        "domain": None,
        "org": None,
        "builder": None,
        "force": False,
    }
    return defaults | case


@pytest.mark.parametrize("case", WRITE_CASES)
def test_reference_reads_what_we_write(dirs: Dirs, case: dict[str, Any]) -> None:
    path = write_config(dirs.work / "ours.yaml", **_write_kwargs(case))
    (theirs,) = _reference_read(dirs, [str(path)], dirs.work)
    ours = auto(path)
    assert theirs["platform"]["endpoint"] == ours.platform.endpoint
    assert theirs["platform"]["insecure"] == ours.platform.insecure
    assert theirs["platform"]["auth_mode"] == ours.platform.auth_mode
    assert theirs["task"] == {"org": ours.task.org, "project": ours.task.project, "domain": ours.task.domain}
    assert theirs["image"]["builder"] == ours.image.builder
    assert theirs["image"]["registry"] == ours.image.registry
    assert theirs["local"]["persistence"] == ours.local.persistence
    assert theirs["local"]["tracked"] == ours.local.tracked


def _cli_args(case: dict[str, Any]) -> list[str]:
    args: list[str] = []
    flags = {"endpoint": "--endpoint", "project": "--project", "domain": "--domain", "org": "--org"}
    flags |= {"builder": "--image-builder", "registry": "--registry", "auth_type": "--auth-type"}
    for key, flag in flags.items():
        if case.get(key):
            args += [flag, str(case[key])]
    for key, flag in {"insecure": "--insecure", "local_persistence": "--local-persistence"}.items():
        if case.get(key):
            args.append(flag)
    if case.get("local_tracked"):
        args.append("--local-tracked")
    return args


@pytest.mark.parametrize(
    "case",
    [
        *WRITE_CASES[:2],
        {"endpoint": "http://h.example.com:8080/", "auth_type": "headless", "domain": "production"},
        {"endpoint": "dns:///flyte.example.com:443", "auth_type": "client-secret", "project": "p", "domain": "d"},
        {"endpoint": "https://my-org.hosted.example.cloud", "builder": "local-podman", "local_tracked": True},
        WRITE_CASES[3],
    ],
)
def test_we_write_what_create_config_writes_and_read_it_the_same(dirs: Dirs, case: dict[str, Any]) -> None:
    cli = _reference_python().parent / "flyte"
    done = subprocess.run(
        [str(cli), "create", "config", *_cli_args(case), "-o", "theirs.yaml"],
        cwd=dirs.work,
        env=_clean_env(dirs),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    theirs_path = dirs.work / "theirs.yaml"
    ours_path = write_config(dirs.work / "ours.yaml", **_write_kwargs(case))
    assert ours_path.read_text() == theirs_path.read_text()

    ours = auto(theirs_path)
    (theirs,) = _reference_read(dirs, [str(theirs_path)], dirs.work)
    assert theirs["platform"]["endpoint"] == ours.platform.endpoint
    assert theirs["task"] == {"org": ours.task.org, "project": ours.task.project, "domain": ours.task.domain}
    assert theirs["image"]["builder"] == ours.image.builder


def _search_layout(dirs: Dirs) -> tuple[Path, list[Path], dict[str, str]]:
    """Every candidate file, each naming itself; returns the cwd, the files in search order, and env."""
    repo = dirs.root / "repo"
    cwd = repo / "sub"
    cwd.mkdir(parents=True, exist_ok=True)
    candidates = [cwd / "config.yaml", cwd / ".flyte/config.yaml"]
    if shutil.which("git") is not None:
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        candidates.append(repo / ".flyte/config.yaml")
    candidates += [dirs.root / "envs/uctl.yaml", dirs.root / "envs/flytectl.yaml"]
    candidates += [dirs.home / ".union/config.yaml", dirs.home / ".flyte/config.yaml"]
    decoys = [repo / "config.yaml", dirs.home / ".flyte/config", dirs.root / "envs/flyte_config.yaml"]
    for number, path in enumerate(candidates + decoys):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"task:\n  project: candidate{number}\n")
    env = {
        "UCTL_CONFIG": str(dirs.root / "envs/uctl.yaml"),
        "FLYTECTL_CONFIG": str(dirs.root / "envs/flytectl.yaml"),
        "FLYTE_CONFIG": str(dirs.root / "envs/flyte_config.yaml"),
    }
    return cwd, candidates, env


def test_search_order_matches_the_reference(dirs: Dirs) -> None:
    projects: dict[str, list[str | None]] = {}
    for who, read in (("reference", _reference_read), ("ours", _our_read)):
        cwd, candidates, env = _search_layout(dirs)
        seen: list[str | None] = []
        for path in [*candidates, None]:
            (row,) = read(dirs, ["-"], cwd, env)
            seen.append(row["task"]["project"])
            if path is not None:
                path.unlink()
                # A variable naming a removed file is an error, so unset it along with its file.
                env = {k: v for k, v in env.items() if v != str(path)}
        projects[who] = seen
    assert projects["ours"] == projects["reference"]
    # Each candidate in turn, then none: the layout lists them in the order the search uses.
    assert projects["ours"] == [f"candidate{n}" for n in range(len(projects["ours"]) - 1)] + [None]


def test_environment_overrides_match_the_reference(dirs: Dirs) -> None:
    dirs.write(
        Path("c.yaml"),
        "admin:\n  endpoint: dns:///file\n  command: [file]\ntask:\n  project: file\n  domain: file\n",
    )
    env = {
        "FLYTE_ADMIN_ENDPOINT": "dns:///env:81",
        "FLYTE_TASK_PROJECT": "env-project",
        "FLYTE_TASK_DOMAIN": "",
        "FLYTE_TASK_ORG": "env-org",
        "FLYTE_AUTH_COMMAND": "get-token --aud 'a b'",
        "FLYTE_ADMIN_SCOPES": "all, offline",
        "FLYTE_IMAGE_BUILDER": "remote",
        "FLYTE_IMAGE_REGISTRY": "ghcr.io/env",
        "FLYTE_ADMIN_CLIENTID": "env-client",
    }
    (theirs,) = _reference_read(dirs, ["c.yaml"], dirs.work, env)
    (ours,) = _our_read(dirs, ["c.yaml"], dirs.work, env)
    assert ours["task"] == theirs["task"]
    for key in ("endpoint", "command", "scopes", "client_id"):
        assert ours["platform"][key] == theirs["platform"][key], key
    assert (ours["image"]["builder"], ours["image"]["registry"]) == (
        theirs["image"]["builder"],
        theirs["image"]["registry"],
    )

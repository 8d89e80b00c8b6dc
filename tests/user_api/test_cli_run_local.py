"""Black-box tests of the ``flyte`` command: the installed console script, run as a subprocess."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HELLO = REPO / "examples" / "hello.py"
ACCEPTANCE = ["main", "--x", "3", "--names", '["a","b"]', "--opts", '{"scale":2,"label":"L"}', "--flag"]
EXPECTED = "L: HELLO A!!!!!!; L: HELLO B!!!!!!"


def _flyte_command() -> list[str]:
    script = Path(sys.executable).with_name("flyte")
    if script.exists():
        return [str(script)]
    found = shutil.which("flyte")
    return [found] if found else [sys.executable, "-m", "flyte.cli.main"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of the subprocess: its own home (no config file) and cache."""
    home = tmp_path / "home"
    home.mkdir()
    variables = {k: v for k, v in os.environ.items() if k not in ("UCTL_CONFIG", "FLYTECTL_CONFIG")}
    variables.update(HOME=str(home), FLYTE_LOCAL_CACHE_DIR=str(tmp_path / "cache"), COLUMNS="200")
    return variables


def run_flyte(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_flyte_command(), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60, check=False
    )


def test_acceptance_invocation(env: dict[str, str], tmp_path: Path) -> None:
    result = run_flyte(env, REPO, "run", "--local", "examples/hello.py", *ACCEPTANCE)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"o0: {EXPECTED}\n"
    assert "SUCCEEDED" in result.stderr and "3 actions" in result.stderr


def test_second_run_hits_the_cache_until_it_is_deleted(env: dict[str, str], tmp_path: Path) -> None:
    args = ["run", "--local", str(HELLO), *ACCEPTANCE]
    assert "0 cached" in run_flyte(env, tmp_path, *args).stderr
    assert "2 cached" in run_flyte(env, tmp_path, *args).stderr
    deleted = run_flyte(env, tmp_path, "delete", "local-cache")
    assert deleted.returncode == 0 and deleted.stdout.startswith("Removed 2 entries")
    assert "0 cached" in run_flyte(env, tmp_path, *args).stderr


def test_json_output(env: dict[str, str], tmp_path: Path) -> None:
    result = run_flyte(env, tmp_path, "-of", "json", "run", "--local", "--name", "hello-json", str(HELLO), *ACCEPTANCE)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["name"] == "hello-json"
    assert document["outputs"] == {"o0": EXPECTED}


def test_listing_and_help(env: dict[str, str]) -> None:
    listing = run_flyte(env, REPO, "run", "examples/hello.py")
    assert listing.returncode == 0
    assert "main   (x: int, names: list[str], opts: Opts, flag: bool = False) -> str" in listing.stdout
    help_text = run_flyte({**env, "COLUMNS": "200"}, REPO, "run", "examples/hello.py", "main", "--help").stdout
    assert re.search(r"--opts\s+JSON_OBJECT", help_text) and '{"scale": int, "label": str}' in help_text


def test_usage_error_exit_code_and_no_traceback(env: dict[str, str]) -> None:
    result = run_flyte(env, REPO, "run", "--local", "examples/hello.py", "main", "--x", "three")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "Error: Invalid value for '--x': 'three' is not a valid integer."


def test_example_runs_as_a_plain_program(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, str(HELLO)], capture_output=True, text=True, env=env, cwd=REPO, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"ActionOutputs(o0='{EXPECTED}')\n"


def test_version(env: dict[str, str], tmp_path: Path) -> None:
    import flyte

    result = run_flyte(env, tmp_path, "--version")
    assert result.returncode == 0
    assert result.stdout == f"Flyte SDK version: {flyte.__version__}\n"

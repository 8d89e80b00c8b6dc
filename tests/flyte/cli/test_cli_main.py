"""The ``flyte`` root command: version, help, global options, import cost."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

import flyte

Cli = Callable[..., Result]


def test_version_prints_the_sdk_version(flyte_cli: Cli) -> None:
    result = flyte_cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"Flyte SDK version: {flyte.__version__}\n"


def test_help_lists_commands_and_global_options(flyte_cli: Cli) -> None:
    result = flyte_cli("--help")
    assert result.exit_code == 0
    for text in ("run ", "create ", "delete ", "--endpoint", "--config", "-of, --output-format", "-v, --verbose"):
        assert text in result.stdout


def test_unknown_command_is_a_usage_error(flyte_cli: Cli) -> None:
    result = flyte_cli("launch")
    assert result.exit_code == 2
    assert "No such command 'launch'" in result.stderr


def test_bad_output_format_is_a_usage_error(flyte_cli: Cli) -> None:
    result = flyte_cli("--output-format", "xml", "run")
    assert result.exit_code == 2
    assert "'xml' is not one of" in result.stderr


def test_missing_config_file_is_a_usage_error(flyte_cli: Cli) -> None:
    result = flyte_cli("--config", "nowhere.yaml", "run")
    assert result.exit_code == 2
    assert "nowhere.yaml" in result.stderr


def test_importing_the_cli_does_not_import_rich_or_user_code() -> None:
    code = "import sys, flyte.cli.main; print(sorted(m for m in ('rich', 'pydantic', 'yaml') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_output_format_after_the_verb_applies_like_before_it(tmp_path: Path) -> None:
    program = tmp_path / "late_of.py"
    program.write_text(
        "import flyte\nenv = flyte.TaskEnvironment(name='late_of')\n\n"
        "@env.task\nasync def main(x: int = 1) -> int:\n    return x + 1\n"
    )
    env = {**__import__("os").environ, "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "flyte", "run", "--local", str(program), "main", "--x", "3", "-of", "json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    import json

    assert json.loads(done.stdout)["outputs"] == {"o0": 4}


def test_help_is_rendered_by_rich_click_with_grouped_options(tmp_path: Path) -> None:
    env = {**__import__("os").environ, "HOME": str(tmp_path), "COLUMNS": "100"}
    env.pop("FLYTE_PLAIN_HELP", None)
    top = subprocess.run([sys.executable, "-m", "flyte", "--help"], capture_output=True, text=True, env=env)
    assert top.returncode == 0, top.stderr
    assert "╭─ Control plane" in top.stdout and "╭─ Output" in top.stdout
    run_help = subprocess.run([sys.executable, "-m", "flyte", "run", "--help"], capture_output=True, text=True, env=env)
    assert "╭─ Where it runs" in run_help.stdout and "--wait" in run_help.stdout

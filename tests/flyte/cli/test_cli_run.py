"""``flyte run``: listing tasks, options built from signatures, running, and its errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

Cli = Callable[..., Result]


def test_run_without_task_lists_tasks_with_signatures(flyte_cli: Cli, tasks_file: Path) -> None:
    result = flyte_cli("run", "--local", tasks_file.name)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"Tasks in {tasks_file.name}:"
    main_line = next(line for line in lines if line.strip().startswith("main "))
    assert "(x: int, names: list[str], opts: Opts, flag: bool = False) -> str" in main_line
    assert "Join scaled names." in main_line
    assert {line.split()[0] for line in lines[1:] if line.startswith("  ")} == {
        "child",
        "fail",
        "kinds",
        "main",
        "read_env",
    }


def test_file_help_lists_tasks(flyte_cli: Cli, tasks_file: Path) -> None:
    result = flyte_cli("run", tasks_file.name, "--help")
    assert result.exit_code == 0
    assert "Tasks:" in result.stdout
    assert "Join scaled names." in result.stdout


def test_task_help_lists_inputs_defaults_and_required(flyte_cli: Cli, tasks_file: Path) -> None:
    result = flyte_cli("run", tasks_file.name, "main", "--help")
    assert result.exit_code == 0
    out = result.stdout
    assert "--x INTEGER" in out and "a number to print first." in out
    assert "--names JSON_LIST" in out
    assert "--opts JSON_OBJECT" in out and '{"scale": int, "label": str}' in out
    assert "--flag / --no-flag" in out and "[default: False]" in out
    assert out.count("[required]") == 3


def test_task_help_shows_choices_and_defaults_as_typed(flyte_cli: Cli, tasks_file: Path) -> None:
    out = flyte_cli("run", tasks_file.name, "kinds", "--help").stdout
    assert "--color [RED|GREEN]" in out and "[default: RED]" in out
    assert "[default: 1.5]" in out
    assert '[default: {"a": 1}]' in out
    assert "[default: 2024-01-01T00:00:00]" in out
    assert "[default: 3s]" in out
    assert "--word_list" in out and "--word-list" in out
    assert "[required]" not in out


def test_run_parses_json_inputs_and_prints_outputs(flyte_cli: Cli, tasks_file: Path) -> None:
    result = flyte_cli(
        "run",
        "--local",
        tasks_file.name,
        "main",
        "--x",
        "3",
        "--names",
        '["a","b"]',
        "--opts",
        '{"scale":2,"label":"L"}',
        "--flag",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "o0: 3 aa-bb L True\n"
    assert "SUCCEEDED" in result.stderr
    assert "3 actions, 0 cached" in result.stderr


def test_second_run_reports_cache_hits_and_overwrite_cache_ignores_them(flyte_cli: Cli, tasks_file: Path) -> None:
    args = [tasks_file.name, "main", "--x", "1", "--names", '["a","b"]', "--opts", '{"scale":1,"label":"L"}']
    assert "0 cached" in flyte_cli("run", "--local", *args).stderr
    assert "2 cached" in flyte_cli("run", "--local", *args).stderr
    assert "0 cached" in flyte_cli("run", "--local", "--overwrite-cache", *args).stderr


def test_defaults_apply_and_every_kind_of_input_parses(flyte_cli: Cli, tasks_file: Path) -> None:
    result = flyte_cli("run", "--local", tasks_file.name, "kinds")
    assert result.exit_code == 0, result.output
    assert result.stdout == "o0: 1.5 RED None True 2024-01-01T00:00:00 3.0 {'a': 1} []\no1: 7\n"

    result = flyte_cli(
        "run",
        "--local",
        tasks_file.name,
        "kinds",
        "--ratio",
        "2",
        "--color",
        "GREEN",
        "--limit",
        "4",
        "--no-loud",
        "--when",
        "2025-03-04T05:06:07",
        "--wait",
        "1h30m",
        "--counts",
        '{"b": 2}',
        "--word-list",
        '["w"]',
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "o0: 2.0 GREEN 4 False 2025-03-04T05:06:07 5400.0 {'b': 2} ['w']\no1: 7\n"


def test_structured_inputs_from_json_and_yaml_files(flyte_cli: Cli, tasks_file: Path, isolated: Path) -> None:
    (isolated / "names.json").write_text('["p", "q"]')
    (isolated / "opts.yaml").write_text("scale: 3\nlabel: Y\n")
    result = flyte_cli(
        "run", "--local", tasks_file.name, "main", "--x", "0", "--names", "names.json", "--opts", "opts.yaml"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "o0: 0 ppp-qqq Y False\n"


def test_json_output_format(flyte_cli: Cli, tasks_file: Path) -> None:
    result = flyte_cli("--output-format", "json", "run", "--local", "--name", "my-run", tasks_file.name, "kinds")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["name"] == "my-run"
    assert document["phase"] == "SUCCEEDED"
    assert document["actions"] == 1
    assert document["outputs"]["o1"] == 7
    assert document["outputs"]["o0"].startswith("1.5 RED")


def test_env_option_reaches_the_task(flyte_cli: Cli, tasks_file: Path) -> None:
    result = flyte_cli(
        "run", "--local", "-e", "CLI_TEST_VAR=hello", tasks_file.name, "read_env", "--key", "CLI_TEST_VAR"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "o0: hello\n"


def test_malformed_env_option_is_a_usage_error(flyte_cli: Cli, tasks_file: Path) -> None:
    result = flyte_cli("run", "--local", "-e", "NOEQUALS", tasks_file.name, "kinds")
    assert result.exit_code == 2
    assert "'NOEQUALS' is not KEY=VALUE" in result.stderr


def _error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--x", "abc"], "Invalid value for '--x': 'abc' is not a valid integer."),
        (["--x", "1", "--names", "[oops"], "Invalid value for '--names': '[oops' is not valid JSON"),
        (["--x", "1", "--names", '{"a": 1}'], "Invalid value for '--names': not a valid list[str]"),
        (["--x", "1", "--names", "[]", "--opts", '{"scale": 1}'], "Invalid value for '--opts': not a valid Opts"),
        (["--x", "1", "--names", "[]", "--opts", "missing.json"], "file 'missing.json' does not exist"),
        (["--x", "1", "--names", "[]"], "Missing option '--opts'."),
        (["--x", "1", "--bogus", "2"], "No such option '--bogus'"),
    ],
)
def test_bad_inputs_are_usage_errors(flyte_cli: Cli, tasks_file: Path, extra: list[str], message: str) -> None:
    result = flyte_cli("run", "--local", tasks_file.name, "main", *extra)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    errors = _error_lines(result)
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"Usage: flyte run {tasks_file.name} main [OPTIONS]")


def test_unknown_enum_member_is_a_usage_error(flyte_cli: Cli, tasks_file: Path) -> None:
    result = flyte_cli("run", "--local", tasks_file.name, "kinds", "--color", "BLUE")
    assert result.exit_code == 2
    assert "'BLUE' is not one of 'RED', 'GREEN'" in result.stderr


def test_task_failure_exits_1_with_code_and_message(flyte_cli: Cli, tasks_file: Path) -> None:
    result = flyte_cli("run", "--local", tasks_file.name, "fail", "--x", "3")
    assert result.exit_code == 1
    assert result.stdout == ""
    # The user's traceback (their frames only), then the one-line error.
    assert result.stderr.startswith("Traceback (most recent call last):\n")
    assert result.stderr.strip().endswith("ValueError: bad 3\nError: ValueError: bad 3")


def test_verbose_task_failure_shows_the_traceback(flyte_cli: Cli, tasks_file: Path) -> None:
    result = flyte_cli("-v", "run", "--local", tasks_file.name, "fail", "--x", "3")
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert result.stderr.rstrip().endswith("Error: ValueError: bad 3")


def test_unknown_task_is_a_usage_error(flyte_cli: Cli, tasks_file: Path) -> None:
    result = flyte_cli("run", "--local", tasks_file.name, "nosuch")
    assert result.exit_code == 2
    assert _error_lines(result) == [
        f"Error: No task named 'nosuch' in {tasks_file.name} (its tasks: child, fail, kinds, main, read_env)"
    ]


def test_missing_file_is_a_usage_error(flyte_cli: Cli) -> None:
    result = flyte_cli("run", "--local", "nofile.py", "main")
    assert result.exit_code == 2
    assert _error_lines(result) == [
        "Error: No such file: 'nofile.py'; give the path of a Python file that defines tasks"
    ]


def test_syntax_error_in_file_is_one_line(flyte_cli: Cli, write_file: Callable[[str, str], Path]) -> None:
    write_file("broken_syntax.py", "import flyte\ndef f(:\n")
    result = flyte_cli("run", "--local", "broken_syntax.py", "f")
    assert result.exit_code == 1
    assert (
        result.stderr == "Error: Cannot load broken_syntax.py: SyntaxError: invalid syntax (broken_syntax.py, line 2)\n"
    )


def test_import_error_in_file_is_one_line(flyte_cli: Cli, write_file: Callable[[str, str], Path]) -> None:
    write_file("broken_import.py", "import flyte\nimport no_such_module_anywhere\n")
    result = flyte_cli("run", "--local", "broken_import.py")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Cannot load broken_import.py: ModuleNotFoundError: No module named 'no_such_module_anywhere'\n"
    )


def test_file_named_like_an_installed_module_is_refused(flyte_cli: Cli, write_file: Callable[[str, str], Path]) -> None:
    write_file("json.py", "x = 1\n")
    result = flyte_cli("run", "--local", "json.py")
    assert result.exit_code == 1
    assert "an installed module has that name; rename the file" in result.stderr


def test_two_files_with_the_same_name_in_different_folders(
    flyte_cli: Cli, write_file: Callable[[str, str], Path], isolated: Path
) -> None:
    source = """
        import flyte
        env = flyte.TaskEnvironment(name="same_name_{n}")
        @env.task
        async def which() -> str:
            return "{n}"
    """
    for n in ("one", "two"):
        (isolated / n).mkdir()
        write_file(f"{n}/same_name_wf.py", source.replace("{n}", n))
    assert flyte_cli("run", "--local", "one/same_name_wf.py", "which").stdout == "o0: one\n"
    assert flyte_cli("run", "--local", "two/same_name_wf.py", "which").stdout == "o0: two\n"


def test_package_module_is_imported_by_its_dotted_name(
    flyte_cli: Cli, write_file: Callable[[str, str], Path], isolated: Path
) -> None:
    (isolated / "clipkg").mkdir()
    write_file("clipkg/__init__.py", "")
    write_file(
        "clipkg/flows.py",
        """
        import flyte
        env = flyte.TaskEnvironment(name="clipkg")
        @env.task
        async def where() -> str:
            return __name__
        """,
    )
    result = flyte_cli("run", "--local", "clipkg/flows.py", "where")
    assert result.exit_code == 0, result.output
    assert result.stdout == "o0: clipkg.flows\n"


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_configured_endpoint_runs_remotely_unless_local(flyte_cli: Cli, tasks_file: Path) -> None:
    port = _closed_port()
    endpoint = ["--endpoint", f"127.0.0.1:{port}", "--insecure"]
    result = flyte_cli(*endpoint, "run", tasks_file.name, "kinds")
    assert result.exit_code == 1
    assert (
        result.stderr == "Error: No project is configured; pass -p/--project or set task.project in the config file\n"
    )

    result = flyte_cli(*endpoint, "run", "-p", "flytesnacks", "-d", "development", tasks_file.name, "kinds")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: Cannot reach the Flyte control plane at http://127.0.0.1:{port} (")
    assert result.stderr.count("\n") == 1

    result = flyte_cli(*endpoint, "run", "--local", tasks_file.name, "kinds")
    assert result.exit_code == 0, result.output


def test_endpoint_from_config_file_is_used(flyte_cli: Cli, tasks_file: Path, isolated: Path) -> None:
    port = _closed_port()
    config = isolated / "my-config.yaml"
    config.write_text(
        f"admin:\n  endpoint: dns:///127.0.0.1:{port}\n  insecure: true\n"
        "task:\n  project: flytesnacks\n  domain: development\n"
    )
    result = flyte_cli("--config", str(config), "run", tasks_file.name, "kinds")
    assert result.exit_code == 1
    assert f"Cannot reach the Flyte control plane at http://127.0.0.1:{port}" in result.stderr


def test_run_without_file_shows_help(flyte_cli: Cli) -> None:
    result = flyte_cli("run")
    assert "Usage: flyte run [OPTIONS] FILE TASK [INPUTS]..." in result.output


def test_run_options_are_accepted_after_the_task_inputs(flyte_cli: Cli, tasks_file: Path) -> None:
    result = flyte_cli(
        "-of", "json", "run", tasks_file.name, "kinds", "--ratio", "2.5", "--local", "--name", "late-opts"
    )
    assert result.exit_code == 0, result.stderr
    import json

    assert json.loads(result.stdout)["name"] == "late-opts"
    # The task's help says so, without repeating every option.
    help_text = flyte_cli("run", tasks_file.name, "kinds", "--help").stdout
    assert "accepted here too" in help_text and "--overwrite-cache" not in help_text


def test_a_task_input_named_like_a_run_option_keeps_its_name(flyte_cli: Cli, tasks_file: Path) -> None:
    # `child` has an input called `name`: --name after the task is the input, not the run's name.
    result = flyte_cli("-of", "json", "run", "--local", tasks_file.name, "child", "--name", "ab", "--scale", "2")
    assert result.exit_code == 0, result.stderr
    import json

    document = json.loads(result.stdout)
    assert document["outputs"] == {"o0": "abab"} and document["name"] != "ab"

"""Commands and options added for issue 10 that need no control plane: ``gen docs``, ``get config``,
``run hello``, time arguments, and the usage errors (exit 2) of the remote commands, which are
caught before anything is sent.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from flyte.cli._moment import parse_moment

Cli = Callable[..., Result]
REMOTE = ("--endpoint", "localhost:1", "--insecure")
"""An endpoint nobody listens on: a command that got past its usage checks would exit 1, not 2."""
SCOPE = ("-p", "flytesnacks", "-d", "development")


NOW = dt.datetime(2026, 5, 10, 15, 30, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05-01", dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc)),
        ("2026-05-01T12:00:00", dt.datetime(2026, 5, 1, 12, tzinfo=dt.timezone.utc)),
        ("2026-05-01T12:00:00+02:00", dt.datetime(2026, 5, 1, 10, tzinfo=dt.timezone.utc)),
        ("now", NOW),
        ("today", dt.datetime(2026, 5, 10, tzinfo=dt.timezone.utc)),
        ("now - 1 day", NOW - dt.timedelta(days=1)),
        ("now - 2 hours", NOW - dt.timedelta(hours=2)),
        ("today - PT6H", dt.datetime(2026, 5, 9, 18, tzinfo=dt.timezone.utc)),
        ("2026-05-01 - 90m", dt.datetime(2026, 4, 30, 22, 30, tzinfo=dt.timezone.utc)),
    ],
)
def test_times_on_the_command_line(text: str, expected: dt.datetime) -> None:
    assert parse_moment(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday-ish", "now - soon", "2026-13-01", ""])
def test_what_is_not_a_time(text: str) -> None:
    assert parse_moment(text, now=NOW) is None


def test_a_bad_time_is_a_usage_error_naming_the_option(flyte_cli: Cli) -> None:
    result = flyte_cli(*REMOTE, "get", "run", *SCOPE, "--created-after", "last week")
    assert result.exit_code == 2
    assert "Invalid value for '--created-after': 'last week' is not a time" in result.stderr


def test_a_bad_label_filter_is_a_usage_error(flyte_cli: Cli) -> None:
    result = flyte_cli(*REMOTE, "get", "run", *SCOPE, "--with-label", "team")
    assert result.exit_code == 2
    assert "'team' is not KEY=VALUE" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("get", "io", *SCOPE, "r1", "-i", "-o"), "--inputs-only and --outputs-only cannot be used together"),
        (("get", "code", *SCOPE, "r1", "--no-extract"), "--no-extract keeps the archive, so it needs --dest"),
        (("update", "project", "ml"), "Nothing to change"),
        (("update", "project", "ml", "--label", "oops"), "'oops' is not KEY=VALUE"),
        (("create", "project"), "Missing the project id"),
        (("create", "project", "a", "--id", "b"), "Two ids given"),
        (
            ("rerun", *SCOPE, "r1", "--recover", "--action-name", "a1"),
            "--action-name cannot be combined with --recover",
        ),
        (("rerun", *SCOPE, "r1", "--force-rerun-action", "a1"), "--force-rerun-action needs --recover"),
        (("gen", "docs"), "Missing option '--type'"),
        (("gen", "docs", "--type", "html"), "'html' is not one of"),
        (("run", "hello", "--x_list", "[1, 'a']"), "is not JSON"),
        (("run", "hello", "--x_list", '["a"]'), "is not a JSON list of integers"),
        (("deploy", "--image", "=x", "."), "'=x' is not NAME=URI"),
    ],
)
def test_usage_errors_exit_2_with_one_line(flyte_cli: Cli, args: tuple[str, ...], message: str) -> None:
    result = flyte_cli(*REMOTE, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert sum(line.startswith("Error:") for line in result.stderr.splitlines()) == 1


def test_deploy_of_a_directory_needs_all_or_recursive(flyte_cli: Cli, isolated: Path) -> None:
    (isolated / "pkg").mkdir()
    result = flyte_cli(*REMOTE, "deploy", "pkg")
    assert result.exit_code == 2
    assert "pkg is a directory; add --all (its files) or --recursive (its tree)" in result.stderr


def test_deploy_of_a_directory_names_the_files_it_cannot_load(
    flyte_cli: Cli, write_file: Callable[[str, str], Path], isolated: Path
) -> None:
    (isolated / "tree" / "deeper").mkdir(parents=True)
    write_file("tree/broken.py", "raise RuntimeError('no import for you')\n")
    write_file("tree/deeper/empty.py", "X = 1\n")
    stopped = flyte_cli(*REMOTE, "deploy", "--recursive", "tree")
    assert stopped.exit_code == 1
    assert stopped.stderr == "Error: Cannot load broken.py: RuntimeError: no import for you\n"
    skipped = flyte_cli(*REMOTE, "deploy", "--recursive", "--ignore-load-errors", "tree")
    assert skipped.exit_code == 1
    assert skipped.stderr.splitlines() == [
        "Skipped broken.py (Cannot load broken.py: RuntimeError: no import for you)",
        "Error: the Python files of tree defines no environment; create one with flyte.TaskEnvironment(name=...)",
    ]


def test_gen_docs_markdown_covers_every_command(flyte_cli: Cli) -> None:
    result = flyte_cli("gen", "docs", "--type", "markdown")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("# `flyte` command reference")
    for heading in ("## `flyte`", "### `flyte rerun`", "#### `flyte get logs`", "#### `flyte run hello`"):
        assert f"\n#{heading}\n" in text or f"\n{heading}\n" in text, heading
    assert "| `--show-ts` | flag | Start each line with its timestamp (UTC). |" in text
    assert "| `-of`, `--output-format` | table, json, table-simple, json-raw |" in text
    assert "`--help`" not in text  # every command has it; the reference leaves it out
    for line in text.splitlines():
        if line.startswith("| `-"):  # an option row: exactly three cells
            assert line.replace("\\|", "").count("|") == 4, line


def test_gen_docs_json_is_one_record_per_command(flyte_cli: Cli) -> None:
    result = flyte_cli("gen", "docs", "--type", "json")
    assert result.exit_code == 0, result.output
    records = {record["path"]: record for record in json.loads(result.stdout)}
    assert {"flyte", "flyte get", "flyte get config", "flyte signal condition", "flyte update project"} <= set(records)
    io = {name for param in records["flyte get io"]["params"] for name in param["declarations"]}
    assert {"--inputs-only", "-i", "--outputs-only", "-o", "RUN_NAME"} - io == {"RUN_NAME"}
    assert {"code", "condition", "config"} <= set(records["flyte get"]["subcommands"])


def test_get_config_shows_the_file_and_the_overrides_but_no_secret(
    flyte_cli: Cli, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = isolated / "my-config.yaml"
    config.write_text(
        "admin:\n  endpoint: dns:///flyte.example.com\n  clientId: app\n"
        "  clientSecretEnvVar: MY_SECRET\ntask:\n  project: ml\n  domain: development\n"
    )
    monkeypatch.setenv("MY_SECRET", "hunter2")
    assert flyte_cli("-c", str(config), "get", "config", "extra").exit_code == 2  # it takes no argument
    result = flyte_cli("-c", str(config), "--org", "acme", "-of", "json", "get", "config")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["config file"] == str(config)
    assert shown["endpoint"] == "dns:///flyte.example.com"
    assert shown["project"] == "ml" and shown["org"] == "acme"
    assert shown["client_credentials_secret"] == "(set)" and "hunter2" not in result.stdout


def test_get_config_without_a_file_says_local_mode(flyte_cli: Cli) -> None:
    result = flyte_cli("-of", "table-simple", "get", "config")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "config file  -",
        "mode         local (no endpoint: runs happen in this process)",
    ]


def test_run_hello_runs_the_built_in_example_and_shows_its_source(flyte_cli: Cli) -> None:
    result = flyte_cli("run", "--local", "hello", "--x_list", "[1, 2, 3]")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"o0: {(1 + 4 + 9) / 3}\n"
    [source_line] = [line for line in result.stderr.splitlines() if line.startswith("The example's source: ")]
    source = Path(source_line.removeprefix("The example's source: "))
    assert source.name == "hello.py" and "flyte.map" in source.read_text()


def test_run_help_lists_the_built_in_commands(flyte_cli: Cli) -> None:
    result = flyte_cli("run", "--help")
    assert result.exit_code == 0
    for name in ("deployed-task", "hello", "python-script"):
        assert f"\n  {name} " in result.stdout


def test_signal_without_a_control_plane_is_one_line(flyte_cli: Cli) -> None:
    result = flyte_cli("signal", "condition", "r1", "a1", "true")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: No Flyte endpoint is configured")


def test_python_script_refuses_what_this_implementation_lacks_on_one_line(
    flyte_cli: Cli, write_file: Callable[[str, str], Path]
) -> None:
    script = write_file("train.py", "print('training')\n")
    both = flyte_cli(*REMOTE, "run", *SCOPE, "python-script", str(script), "--image", "x", "--packages", "y")
    assert both.exit_code == 2 and "--image and --packages cannot be used together" in both.stderr
    local = flyte_cli(*REMOTE, "run", "--local", "python-script", str(script))
    assert local.exit_code == 1
    assert local.stderr == "Error: python-script runs on a control plane; --local cannot be used with it\n"
    clustered = flyte_cli(*REMOTE, "run", *SCOPE, "python-script", str(script), "--clustered")
    assert clustered.exit_code == 1
    assert clustered.stderr.startswith("Error: run_python_script: clustered not supported")
    assert clustered.stderr.count("\n") == 1
    cluster_only = flyte_cli(
        *REMOTE, "run", *SCOPE, "python-script", str(script), "--replicas", "2", "--rdzv-backend", "c10d"
    )
    assert cluster_only.exit_code == 2 and "--replicas, --rdzv-backend: only with --clustered" in cluster_only.stderr
    missing = flyte_cli(*REMOTE, "run", *SCOPE, "python-script", "nope.py")
    assert missing.exit_code == 2 and "'nope.py' does not exist" in missing.stderr


def test_run_debug_runs_and_tracked_is_refused_on_one_line(flyte_cli: Cli) -> None:
    debugged = flyte_cli("run", "--local", "--debug", "hello", "--x_list", "[3]")
    assert debugged.exit_code == 0 and debugged.stdout == "o0: 9.0\n"
    tracked = flyte_cli("run", "--tracked", "hello")
    assert tracked.exit_code == 1
    assert tracked.stderr == (
        "Error: --tracked: tracked local runs (reported to the control plane) are not supported by this "
        "implementation\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--value", "v", "--registry", "ghcr.io"), "--value and --registry cannot be used together"),
        (("--from-docker-config", "--registry", "ghcr.io"), "--from-docker-config and --registry cannot be used"),
        (("--registries", "ghcr.io", "--value", "v"), "--registries needs --from-docker-config"),
        (("--username", "me", "--value", "v"), "--username needs --registry"),
        (("--registry", "ghcr.io"), "--registry needs --username"),
        (("--type", "regular", "--registry", "ghcr.io", "--username", "u"), "make image pull secrets"),
    ],
)
def test_image_pull_secret_usage_errors(flyte_cli: Cli, args: tuple[str, ...], message: str) -> None:
    result = flyte_cli(*REMOTE, "create", "secret", *SCOPE, "pull", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_docker_config_logins_become_the_pull_secret(isolated: Path) -> None:
    import base64

    from click import ClickException

    from flyte.cli._pull_secret import from_credentials, from_docker_config

    config = isolated / "config.json"
    auth = base64.b64encode(b"me:token").decode()
    config.write_text(json.dumps({"auths": {"ghcr.io": {"auth": auth}, "docker.io": {"auth": "eDp5"}, "quay.io": {}}}))
    assert json.loads(from_docker_config(config, ["ghcr.io"])) == {"auths": {"ghcr.io": {"auth": auth}}}
    with pytest.raises(ClickException, match=r"no login for gcr\.io"):
        from_docker_config(config, ["gcr.io"])
    with pytest.raises(ClickException, match=r"quay\.io are kept by a credential helper"):
        from_docker_config(config, None)
    with pytest.raises(ClickException, match="Cannot read the Docker config"):
        from_docker_config(isolated / "missing.json", None)
    assert json.loads(from_credentials("ghcr.io", "me", "token"))["auths"]["ghcr.io"]["auth"] == auth

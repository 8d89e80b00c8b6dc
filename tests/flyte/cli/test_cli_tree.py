"""Our ``flyte`` command has every command (and the options issue 10 names) of PyPI flyte 2.12.1.

The reference's command tree is read from its own venv (a subprocess walks its click groups);
each command path must exist in ours unless the list below names the issue that owns it.
"""

from __future__ import annotations

import json
import subprocess
import textwrap

import click
import pytest

from flyte.cli.main import flyte_group

# Commands of PyPI flyte that other issues build, with the issue that owns each.
OWNED_ELSEWHERE = {
    "flyte build": "issue 13 (images)",
    "flyte serve hello": "issue 17 (apps): not a subcommand here; `flyte serve hello` is FILE=hello, the example",
    "flyte proxy": "issue 17 (apps): apps answer at /apps/<name>/ on the server's port, no tunnel needed",
    "flyte proxy app": "issue 17 (apps): apps answer at /apps/<name>/ on the server's port, no tunnel needed",
    "flyte start devbox": "issue 13 (images: a local cluster)",
    "flyte stop": "issue 13 (images: a local cluster)",
    "flyte stop devbox": "issue 13 (images: a local cluster)",
    "flyte get devbox": "issue 13 (images: a local cluster)",
    "flyte delete devbox": "issue 13 (images: a local cluster)",
    "flyte create artifact": "not planned: Union's artifact service",
    "flyte get artifact": "not planned: Union's artifact service",
    "flyte edit": "not planned: Union's settings service",
    "flyte edit settings": "not planned: Union's settings service",
    "flyte get settings": "not planned: Union's settings service",
    "flyte prefetch": "not planned: Union's model prefetching",
    "flyte prefetch hf-model": "not planned: Union's model prefetching",
}

# The options issue 10 asks for, by command path.
REQUIRED_OPTIONS = {
    "flyte get run": [
        "--created-after",
        "--created-before",
        "--updated-after",
        "--updated-before",
        "--with-label",
        "--with-label-key",
        "--only-mine",
        "--paused-only",
    ],
    "flyte get logs": ["--lines", "-l", "--show-ts", "--filter-system", "--pretty", "--attempt"],
    "flyte get io": ["--inputs-only", "-i", "--outputs-only", "-o"],
    "flyte deploy": [
        "--all",
        "--recursive",
        "-r",
        "--image",
        "--ignore-load-errors",
        "-i",
        "--no-sync-local-sys-paths",
    ],
    "flyte create project": ["--id", "--name", "--description", "--label", "-l"],
    "flyte get project": ["--archived"],
    "flyte update project": ["--name", "--description", "--label", "-l", "--archive", "--unarchive"],
    "flyte rerun": [
        "--name",
        "--env",
        "--label",
        "--follow",
        "--recover",
        "--action-name",
        "--force-rerun-action",
        "--allow-missing-outputs",
    ],
    "flyte get code": ["--dest", "-o", "--no-extract", "--attempt", "-a"],
    "flyte gen docs": ["--type"],
    "flyte create secret": [
        "--from-docker-config",
        "--docker-config-path",
        "--registries",
        "--registry",
        "--username",
        "--password",
        "--cluster-pool",
    ],
    "flyte run": [
        "--debug",
        "--tracked",
        "--tracked-strict",
        "--run-project",
        "--run-domain",
        "--no-sync-local-sys-paths",
    ],
    "flyte run deployed-task": ["-p", "--project", "-d", "--domain"],
}

WALKER = textwrap.dedent(
    """
    import json, click
    from flyte.cli.main import main as root

    found = {}

    def walk(command, path, parent):
        ctx = click.Context(command, info_name=path[-1], parent=parent)
        found[" ".join(path)] = sorted(o for p in command.params for o in [*p.opts, *p.secondary_opts])
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                if path == ["flyte", "run"] and name not in ("hello", "python-script", "deployed-task"):
                    continue
                try:
                    sub = command.get_command(ctx, name)
                except Exception:
                    sub = None
                if sub is None:
                    found[" ".join([*path, name])] = []
                elif " ".join([*path, name]) != "flyte run deployed-task":
                    walk(sub, [*path, name], ctx)
                else:  # its subcommands are the deployed tasks: listing them needs a control plane
                    options = [o for p in sub.params for o in [*p.opts, *p.secondary_opts]]
                    found["flyte run deployed-task"] = sorted(options)

    walk(root, ["flyte"], None)
    print(json.dumps(found))
    """
)


@pytest.fixture(scope="module")
def reference_tree(reference_python: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    from reference import reference_env

    folder = tmp_path_factory.mktemp("empty")  # `flyte run` lists the files of its directory
    done = subprocess.run(
        [reference_python, "-c", WALKER],
        capture_output=True,
        text=True,
        cwd=folder,
        env=reference_env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    tree: dict[str, list[str]] = json.loads(done.stdout)
    return tree


def _ours(path: str) -> click.Command | None:
    command: click.Command = flyte_group
    ctx = click.Context(flyte_group, info_name="flyte")
    for name in path.split()[1:]:
        if not isinstance(command, click.Group):
            return None
        sub = command.get_command(ctx, name)
        if sub is None:
            return None
        ctx = click.Context(sub, info_name=name, parent=ctx)
        command = sub
    return command


def test_the_reference_has_the_commands_we_expect(reference_tree: dict[str, list[str]]) -> None:
    """A guard on the walk itself: it saw the reference's groups and its 61 commands."""
    assert {"flyte run", "flyte get run", "flyte rerun", "flyte gen docs"} <= set(reference_tree)
    assert len(reference_tree) >= 60


def test_every_reference_command_exists_in_ours(reference_tree: dict[str, list[str]]) -> None:
    missing = [path for path in reference_tree if path not in OWNED_ELSEWHERE and _ours(path) is None]
    assert not missing, f"commands of PyPI flyte that ours lacks (add them, or name the owning issue): {missing}"


def test_commands_owned_elsewhere_are_still_commands_of_the_reference(reference_tree: dict[str, list[str]]) -> None:
    stale = [path for path in OWNED_ELSEWHERE if path not in reference_tree]
    assert not stale, f"no longer reference commands: {stale}"


@pytest.mark.parametrize("path", sorted(REQUIRED_OPTIONS))
def test_issue_options_exist_in_ours_and_in_the_reference(path: str, reference_tree: dict[str, list[str]]) -> None:
    command = _ours(path)
    assert command is not None, path
    ours = {option for param in command.params for option in [*param.opts, *param.secondary_opts]}
    for option in REQUIRED_OPTIONS[path]:
        assert option in reference_tree[path], f"{path} {option} is not an option of the reference"
        assert option in ours, f"{path} lacks {option}"


def test_every_command_has_help(reference_tree: dict[str, list[str]]) -> None:
    from click.testing import CliRunner

    runner = CliRunner()
    for path in reference_tree:
        if path in OWNED_ELSEWHERE or path == "flyte run deployed-task":
            continue
        result = runner.invoke(flyte_group, [*path.split()[1:], "--help"], prog_name="flyte")
        assert result.exit_code == 0, f"{path} --help: {result.output}"
        assert "Usage: flyte" in result.output

"""Issue 10's commands and options against the real server: ``rerun``, ``get code``, ``get run``
filters, ``get logs``/``get io`` options, projects (``--id``, ``update``, ``--archived``),
``deploy --recursive``, conditions, ``run hello``; and a failed deploy that prints one line.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from flyte.cli.main import flyte_group

from .helpers import DOMAIN, PROJECT, ServerProcess

PROGRAMS = Path(__file__).parent / "remote_programs"
SCOPE = ("-p", PROJECT, "-d", DOMAIN)

Cli = Callable[..., Result]


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("cli-wave2") / "project"
    shutil.copytree(PROGRAMS, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture
def cli(server: ServerProcess, project_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """``flyte --endpoint <server> --insecure ARGS...`` in-process, from the project folder."""
    monkeypatch.chdir(project_dir)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(
            flyte_group, ["--endpoint", server.endpoint, "--insecure", *args], prog_name="flyte", catch_exceptions=False
        )

    return invoke


def _run(cli: Cli, *args: str) -> str:
    name = f"w2-{uuid.uuid4().hex[:8]}"
    result = cli("run", *SCOPE, "--wait", "--name", name, *args)
    assert result.exit_code == 0, result.output
    return name


def test_get_run_filters_by_time_and_label(cli: Cli) -> None:
    tag = uuid.uuid4().hex[:6]
    labelled = _run(cli, "--label", f"team={tag}", "--label", f"k{tag}=1", "sdk_wf.py", "fan_out", "--n", "1")
    other = _run(cli, "--label", f"team=x{tag}", "sdk_wf.py", "fan_out", "--n", "1")

    def names(*options: str) -> set[str]:
        result = cli("-of", "json", "get", "run", *SCOPE, "--limit", "500", *options)
        assert result.exit_code == 0, result.output
        return {run["name"] for run in json.loads(result.stdout)}

    assert labelled in names("--with-label", f"team={tag}")
    assert other not in names("--with-label", f"team={tag}")
    assert names("--with-label-key", f"k{tag}") == {labelled}
    assert {labelled, other} <= names("--created-after", "now - 1 hour", "--updated-after", "today")
    assert not ({labelled, other} & names("--created-before", "now - 1 hour"))
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert not ({labelled, other} & names("--created-after", later))
    assert {labelled, other} <= names("--updated-before", later)
    assert {labelled, other} <= names("--only-mine")
    assert not ({labelled, other} & names("--paused-only"))  # no run waits on a condition
    assert not ({labelled, other} & names("--in-phase", "paused"))


def test_get_io_and_logs_options(cli: Cli) -> None:
    name = _run(cli, "sdk_wf.py", "shout", "--text", "hey")
    inputs = cli("-of", "json", "get", "io", *SCOPE, name, "--inputs-only")
    assert json.loads(inputs.stdout) == {"inputs": {"text": "hey"}}
    outputs = cli("-of", "json", "get", "io", *SCOPE, name, "-o")
    assert json.loads(outputs.stdout) == {"outputs": {"o0": "HEY"}}

    every = cli("get", "logs", *SCOPE, name)
    assert every.exit_code == 0 and "SHOUT-LOG hey" in every.stdout
    last = cli("get", "logs", *SCOPE, name, "--lines", "1")
    assert last.exit_code == 0 and last.stdout == every.stdout.splitlines(keepends=True)[-1]
    stamped = cli("get", "logs", *SCOPE, name, "--show-ts", "--filter-system")
    shout = [line for line in stamped.stdout.splitlines() if "SHOUT-LOG hey" in line]
    assert len(shout) == 1
    stamp = dt.datetime.fromisoformat(shout[0].split(" ", 1)[0].replace("Z", "+00:00"))
    assert abs(dt.datetime.now(dt.timezone.utc) - stamp) < dt.timedelta(hours=1)


def test_get_code_lists_and_downloads_the_bundle(cli: Cli, tmp_path: Path, project_dir: Path) -> None:
    name = _run(cli, "sdk_wf.py", "fan_out", "--n", "1")
    listed = cli("get", "code", *SCOPE, name)
    assert listed.exit_code == 0, listed.output
    assert "sdk_wf.py" in listed.stdout.splitlines()

    dest = tmp_path / "code"
    kept = cli("get", "code", *SCOPE, name, "--dest", str(dest))
    assert kept.exit_code == 0, kept.output
    assert (dest / "sdk_wf.py").read_text() == (project_dir / "sdk_wf.py").read_text()

    archive_dir = tmp_path / "archive"
    archive = cli("get", "code", *SCOPE, name, "--dest", str(archive_dir), "--no-extract")
    assert archive.exit_code == 0, archive.output
    [tarball] = list(archive_dir.iterdir())
    assert tarball.name.endswith(".tar.gz")

    missing = cli("get", "code", *SCOPE, "no-such-run")
    assert missing.exit_code == 3


def test_rerun_with_the_same_and_with_changed_inputs(cli: Cli) -> None:
    source = _run(cli, "sdk_wf.py", "fan_out", "--n", "3", "--scale", "2")

    same = cli("rerun", *SCOPE, source, "--follow")
    assert same.exit_code == 0, same.output
    assert same.stdout.endswith("o0: [0, 2, 8]\n")

    named = f"re-{uuid.uuid4().hex[:6]}"
    changed = cli("-of", "json", "rerun", *SCOPE, source, "--name", named, "--n", "2")
    assert changed.exit_code == 0, changed.output
    assert json.loads(changed.stdout)["name"] == named
    io = cli("-of", "json", "get", "io", *SCOPE, named, "-i")
    assert json.loads(io.stdout) == {"inputs": {"n": 2, "scale": 2}}

    helped = cli("rerun", *SCOPE, source, "--help")
    assert helped.exit_code == 0
    assert f"Inputs of {source}, action a0:" in helped.stdout and "--scale INTEGER" in helped.stdout

    bad = cli("rerun", *SCOPE, source, "--n", "three")
    assert bad.exit_code == 2 and "Invalid value for '--n': 'three' is not a valid integer" in bad.stderr
    unknown_input = cli("rerun", *SCOPE, source, "--nope", "1")
    assert unknown_input.exit_code == 2 and "No such option '--nope'" in unknown_input.stderr
    assert cli("rerun", *SCOPE, "no-such-run").exit_code == 3
    recover = cli("rerun", *SCOPE, source, "--recover")
    assert recover.exit_code == 0, recover.stderr  # a new run that reuses what succeeded (tests/hitl)


def test_projects_by_id_update_and_archive(cli: Cli) -> None:
    project = f"p{uuid.uuid4().hex[:8]}"
    created = cli("create", "project", "--id", project, "--name", "Wave two", "-l", "team=ml")
    assert created.exit_code == 0 and created.stdout == f"Created project {project}\n"

    updated = cli("update", "project", project, "--description", "changed", "--label", "team=data")
    assert updated.exit_code == 0, updated.output
    shown = json.loads(cli("-of", "json", "get", "project", project).stdout)
    assert shown["name"] == "Wave two" and shown["description"] == "changed" and shown["labels"] == {"team": "data"}

    assert cli("update", "project", project, "--archive").stdout == f"Updated project {project} (archived)\n"
    active = {p["id"] for p in json.loads(cli("-of", "json", "get", "project").stdout)}
    archived = {p["id"] for p in json.loads(cli("-of", "json", "get", "project", "--archived").stdout)}
    assert project in archived and project not in active
    assert cli("update", "project", project, "--unarchive").exit_code == 0
    assert project in {p["id"] for p in json.loads(cli("-of", "json", "get", "project").stdout)}

    assert cli("update", "project", "no-such-project", "--archive").exit_code == 3


def test_deploy_a_directory_recursively(cli: Cli, project_dir: Path) -> None:
    tree = project_dir / f"tree_{uuid.uuid4().hex[:6]}"
    (tree / "inner").mkdir(parents=True)
    suffix = tree.name
    (tree / "top.py").write_text(
        textwrap.dedent(
            f"""
            import flyte
            env = flyte.TaskEnvironment(name="top_{suffix}")
            @env.task
            async def hi() -> str:
                return "top"
            """
        )
    )
    (tree / "inner" / "deep.py").write_text(
        (tree / "top.py").read_text().replace(f"top_{suffix}", f"deep_{suffix}").replace('"top"', '"deep"')
    )
    (tree / "inner" / "broken.py").write_text("raise ImportError('missing dependency')\n")

    flat = cli("-of", "json", "deploy", *SCOPE, "--all", str(tree))
    assert flat.exit_code == 0, flat.output
    assert [env["name"] for d in json.loads(flat.stdout) for env in d["environments"]] == [f"top_{suffix}"]

    stopped = cli("deploy", *SCOPE, "--recursive", str(tree))
    assert stopped.exit_code == 1 and "Cannot load broken.py: ImportError: missing dependency" in stopped.stderr

    deep = cli("-of", "json", "deploy", *SCOPE, "-r", "-i", str(tree))
    assert deep.exit_code == 0, deep.output
    deployed = {env["name"] for d in json.loads(deep.stdout) for env in d["environments"]}
    assert deployed == {f"top_{suffix}", f"deep_{suffix}"}
    assert deep.stderr.startswith(f"Skipped {Path('inner') / 'broken.py'} (Cannot load broken.py")

    # -p/-d may also follow deployed-task, as in PyPI flyte.
    ran = cli("run", "--wait", "deployed-task", *SCOPE, f"deep_{suffix}.hi")
    assert ran.exit_code == 0 and ran.stdout == "o0: deep\n"


def test_a_failed_deploy_prints_one_line(server: ServerProcess, project_dir: Path, tmp_path: Path) -> None:
    """Several DeployTask calls in flight, one refused: the others are cancelled quietly."""
    tasks = "\n".join(f"@env.task\nasync def t{index}(x: int) -> int:\n    return x\n" for index in range(8))
    long_name = "n" * 300
    (project_dir / "many_tasks.py").write_text(
        "import flyte\nenv = flyte.TaskEnvironment(name='many')\n"
        + tasks
        + f"@env.task\nasync def {long_name}(x: int) -> int:\n    return x\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env["HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [sys.executable, "-m", "flyte", "--endpoint", server.endpoint, "--insecure", "deploy", *SCOPE, "many_tasks.py"],
        cwd=project_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr[:3000]
    assert done.stderr.startswith("Error: INVALID_ARGUMENT: The control plane failed on deploying task many.nnn")


def test_conditions_on_a_control_plane_without_them(cli: Cli) -> None:
    name = _run(cli, "sdk_wf.py", "fan_out", "--n", "1")
    listed = cli("get", "condition", *SCOPE, name)
    assert listed.exit_code == 0 and listed.stderr == f"No conditions of run {name} found.\n"
    signalled = cli("signal", "condition", *SCOPE, name, "a0", "true")
    assert signalled.exit_code == 1
    assert signalled.stderr == f"Error: Action a0 of run {name} is not a condition: nothing waits for a signal there\n"
    assert cli("signal", "condition", *SCOPE, name, "a9", "true").exit_code == 3


def test_run_hello_on_the_control_plane(cli: Cli) -> None:
    result = cli("run", *SCOPE, "--wait", "hello", "--x_list", "[2, 4]")
    assert result.exit_code == 0, result.output
    assert result.stdout == "o0: 10.0\n"


def test_filter_system_leaves_only_the_tasks_own_lines(cli: Cli, project_dir: Path) -> None:
    (project_dir / "noisy_wf.py").write_text(
        textwrap.dedent(
            """
            import flyte
            env = flyte.TaskEnvironment(name="noisy")

            @env.task
            async def noisy() -> int:
                print("USER-LINE one", flush=True)
                print("  USER-LINE indented", flush=True)
                raise ValueError("boom")
            """
        )
    )
    name = f"w2-{uuid.uuid4().hex[:8]}"
    failed = cli("run", *SCOPE, "--wait", "--name", name, "noisy_wf.py", "noisy")
    assert failed.exit_code == 1
    every = cli("get", "logs", *SCOPE, name)
    assert every.exit_code == 0, every.output
    assert any(line.startswith("[flyte] ") for line in every.stdout.splitlines())
    assert "Traceback (most recent call last):" in every.stdout
    user = cli("get", "logs", *SCOPE, name, "--filter-system")
    assert user.exit_code == 0
    assert user.stdout.startswith("USER-LINE one\n  USER-LINE indented\n")
    # Flyte's records and tracebacks are gone (PyPI flyte's runtime, in these workers, writes some
    # records over several unindented lines; those continuation lines cannot be told from output).
    assert "[flyte]" not in user.stdout and "Traceback" not in user.stdout and "File " not in user.stdout


def test_pypi_flytes_get_code_works_against_our_server(
    cli: Cli, server: ServerProcess, reference_python: str, project_dir: Path, tmp_path: Path
) -> None:
    """PyPI flyte asks for a link by action attempt (CreateDownloadLink, CODE_BUNDLE); on this
    machine it could also read the store directly, so ``test_get_code_lists_and_downloads_the_bundle``
    (our client, the data proxy only) is the one that pins the server's answer."""
    from reference import reference_env

    name = _run(cli, "sdk_wf.py", "fan_out", "--n", "1")
    dest = tmp_path / "pypi-code"
    env = {**reference_env(), "HOME": str(tmp_path / "pypi-home")}
    pypi_flyte = [str(Path(reference_python).parent / "flyte"), "--endpoint", server.endpoint, "--insecure"]
    done = subprocess.run(
        [*pypi_flyte, "get", "code", name, *SCOPE, "--dest", str(dest)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (dest / "sdk_wf.py").read_text() == (project_dir / "sdk_wf.py").read_text()


def test_image_pull_secrets_from_docker_logins_and_cluster_pools(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "docker.json"
    config.write_text(json.dumps({"auths": {"ghcr.io": {"auth": "bWU6dG9rZW4="}, "docker.io": {"auth": "eDp5"}}}))
    name = f"pull-{uuid.uuid4().hex[:6]}"
    created = cli(
        "create", "secret", *SCOPE, name, "--from-docker-config", "--docker-config-path", str(config),
        "--registries", "ghcr.io",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    shown = json.loads(cli("-of", "json", "get", "secret", *SCOPE, name).stdout)
    assert shown["type"] == "image_pull"

    given = cli("create", "secret", *SCOPE, f"{name}-b", "--registry", "ghcr.io", "--username", "me", "--password", "t")
    assert given.exit_code == 0, given.output

    pooled = cli("get", "secret", *SCOPE, name, "--cluster-pool", "gpu")
    assert pooled.exit_code == 1
    assert pooled.stderr.startswith("Error: cluster_pool='gpu': this control plane has no cluster pools")
    assert cli("delete", "secret", *SCOPE, name).exit_code == 0


def test_a_deployed_task_runs_in_another_project(cli: Cli) -> None:
    deployed = cli("deploy", *SCOPE, "sdk_wf.py", "sdk_e2e")
    assert deployed.exit_code == 0, deployed.output
    other = f"p{uuid.uuid4().hex[:8]}"
    assert cli("create", "project", other).exit_code == 0
    name = f"w2-{uuid.uuid4().hex[:8]}"
    ran = cli(
        "run", *SCOPE, "--run-project", other, "--wait", "--name", name,
        "deployed-task", "sdk_e2e.fan_out", "--n", "2",
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert ran.stdout == "o0: [0, 1]\n"
    assert cli("get", "run", "-p", other, "-d", DOMAIN, name).exit_code == 0
    assert cli("get", "run", *SCOPE, name).exit_code == 3

    misplaced = cli("run", *SCOPE, "--run-project", other, "sdk_wf.py", "fan_out", "--n", "1")
    assert misplaced.exit_code == 2
    assert "--run-project and --run-domain apply to deployed-task runs only" in misplaced.stderr


def test_no_sync_local_sys_paths_leaves_the_workers_without_the_sessions_folders(cli: Cli, project_dir: Path) -> None:
    """A file in a folder that is not a package is imported with that folder on sys.path; the
    workers get the same entry unless --no-sync-local-sys-paths says not to."""
    folder = project_dir / "nested" / f"app_{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    suffix = folder.name
    (folder / f"helper_{suffix}.py").write_text("def double(x: int) -> int:\n    return 2 * x\n")
    (folder / f"wf_{suffix}.py").write_text(
        textwrap.dedent(
            f"""
            import flyte
            from helper_{suffix} import double

            env = flyte.TaskEnvironment(name="nested_{suffix}")

            @env.task
            async def main(x: int) -> int:
                return double(x)
            """
        )
    )
    path = str(folder.relative_to(project_dir) / f"wf_{suffix}.py")
    synced = cli("run", *SCOPE, "--wait", path, "main", "--x", "21")
    assert synced.exit_code == 0, synced.output
    assert synced.stdout == "o0: 42\n"
    unsynced = cli("run", *SCOPE, "--wait", "--no-sync-local-sys-paths", path, "main", "--x", "21")
    assert unsynced.exit_code == 1
    assert "ModuleNotFoundError" in unsynced.stderr or "No module named" in unsynced.stderr

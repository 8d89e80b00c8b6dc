"""``flyte deploy [OPTIONS] FILE|DIR [ENV]``: register the tasks of environments on the control plane."""

from __future__ import annotations

from pathlib import Path

import click

from flyte.cli._common import (
    copy_style_option,
    emit_rows,
    fail,
    get_cli_config,
    init_remote,
    remote_errors,
    root_dir_option,
)

__all__ = ["deploy"]


def _python_files(folder: Path, recursive: bool) -> list[Path]:
    """The ``.py`` files of ``folder`` (and, ``recursive``, its sub-folders; hidden ones, caches and
    virtualenvs left out), sorted."""
    if not recursive:
        return sorted(path for path in folder.glob("*.py") if path.is_file())
    found: list[Path] = []
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(folder).parts[:-1]
        if any(part.startswith(".") or part == "__pycache__" for part in relative):
            continue
        if any((folder.joinpath(*relative[: index + 1]) / "pyvenv.cfg").exists() for index in range(len(relative))):
            continue
        found.append(path)
    return found


def _image_refs(ctx: click.Context, values: tuple[str, ...]) -> dict[str, str]:
    images: dict[str, str] = {}
    for item in values:
        name, sep, uri = item.partition("=")
        if not sep:
            name, uri = "default", item
        if not name.strip() or not uri.strip():
            raise click.BadParameter(f"{item!r} is not NAME=URI", ctx=ctx, param_hint="--image")
        images[name.strip()] = uri.strip()
    return images


@click.command("deploy")
@click.argument("path", metavar="FILE|DIR", type=click.Path(exists=True, path_type=Path))
@click.argument("env_name", metavar="[ENV]", required=False)
@click.option("-p", "--project", help="Project to deploy to; overrides the config file.")
@click.option("-d", "--domain", help="Domain to deploy to; overrides the config file.")
@click.option("--version", help="Version to register; default: computed from the code, images and task names.")
@click.option("--dry-run", "--dryrun", "dry_run", is_flag=True, help="Show what would be deployed; send nothing.")
@copy_style_option()
@root_dir_option()
@click.option(
    "-r", "--recursive", is_flag=True, help="DIR: deploy every environment of every Python file under it, at any depth."
)
@click.option(
    "--all",
    "deploy_all",
    is_flag=True,
    help="Every environment: of FILE (ENV not needed), or of the Python files directly in DIR.",
)
@click.option(
    "-i",
    "--ignore-load-errors",
    is_flag=True,
    help="With a DIR: skip (and name on stderr) the files that fail to load, and deploy the rest.",
)
@click.option(
    "--no-sync-local-sys-paths",
    "no_sync_local_sys_paths",
    is_flag=True,
    help="Do not give the workers this session's sys.path entries under the code root.",
)
@click.option(
    "--image",
    "images",
    multiple=True,
    metavar="NAME=URI",
    help="Use URI for the image named NAME (a URI alone: the default image); repeatable.",
)
@click.pass_context
def deploy(
    ctx: click.Context,
    path: Path,
    env_name: str | None,
    project: str | None,
    domain: str | None,
    version: str | None,
    dry_run: bool,
    copy_style: str,
    root_dir: Path | None,
    recursive: bool,
    deploy_all: bool,
    ignore_load_errors: bool,
    no_sync_local_sys_paths: bool,
    images: tuple[str, ...],
) -> None:
    """Deploy the environment ENV of FILE (every environment of FILE when ENV is left out), or
    with --all/--recursive every environment of the Python files in DIR.

    Each task is registered under one version, with the environments it depends on and its
    triggers; run it afterwards with flyte run deployed-task ENV.TASK.

    \b
        flyte deploy hello.py hello_env
        flyte deploy --version v1 --project ml hello.py
        flyte deploy --recursive --ignore-load-errors ./src
    """
    import flyte
    from flyte._task_environment import Environment
    from flyte.cli._loader import ModuleLoadFailure, load_module
    from flyte.cli._run_remote import code_root_for

    cli = get_cli_config(ctx)
    image_refs = _image_refs(ctx, images)
    if path.is_dir():
        if not (recursive or deploy_all):
            raise click.UsageError(f"{path} is a directory; add --all (its files) or --recursive (its tree)", ctx)
        if env_name is not None:
            raise click.UsageError("ENV cannot be given with a directory; every environment is deployed", ctx)
        files = _python_files(path, recursive)
        root: Path | None
        resolved, cwd = path.resolve(), Path.cwd().resolve()
        # Module names are relative to the source root: --root-dir, else the current directory
        # when DIR is inside it, else DIR itself.
        root = root_dir or (cwd if resolved == cwd or cwd in resolved.parents else resolved)
    else:
        files, root = [path], root_dir
    envs: dict[str, Environment] = {}
    skipped: list[str] = []
    for file in files:
        try:
            module = load_module(file, root if path.is_dir() else root_dir)
        except ModuleLoadFailure as error:
            if path.is_dir() and ignore_load_errors:
                skipped.append(f"{file.relative_to(path)} ({error.message})")
                continue
            fail(error.message, error=error.cause or error, verbose=cli.verbose)
        for value in vars(module).values():
            if isinstance(value, Environment):
                other = envs.setdefault(value.name, value)
                if other is not value:
                    fail(f"Two different environments are named {value.name!r} (one in {file}); rename one")
    for message in skipped:
        click.echo(f"Skipped {message}", err=True)
    if not envs:
        where = f"{path}" if path.is_file() else f"the Python files of {path}"
        fail(f"{where} defines no environment; create one with flyte.TaskEnvironment(name=...)")
    if env_name is not None and not deploy_all:
        if env_name not in envs:
            fail(f"No environment named {env_name!r} in {path} (its environments: {', '.join(sorted(envs))})")
        chosen = [envs[env_name]]
    else:
        chosen = list(envs.values())
    code_root = root if path.is_dir() else code_root_for(path, root_dir)
    if image_refs:
        image_refs = {**(cli.init_kwargs(project=project, domain=domain).get("images") or {}), **image_refs}
    init_remote(
        cli,
        project=project,
        domain=domain,
        root_dir=code_root,
        images=image_refs or None,
        sync_local_sys_paths=not no_sync_local_sys_paths,
    )
    from flyte.cli._common import activity, stderr_console

    console = stderr_console()
    names = ", ".join(env.name for env in chosen)
    with (
        remote_errors(cli),
        activity(console, f"Deploying {names}...", enabled=cli.progress and console.is_terminal and not cli.wants_json),
    ):
        deployments = flyte.deploy(*chosen, dry_run=dry_run, version=version, copy_style=copy_style)
    rows = [
        {"environment": env.name, "task": task.name, "version": task.version, "triggers": list(task.triggers)}
        for deployment in deployments
        for env in deployment.environments
        for task in env.tasks
    ]
    title = "Would deploy" if dry_run else "Deployed"
    emit_rows(
        cli,
        f"{title} tasks",
        [("environment", "Environment"), ("task", "Task"), ("version", "Version"), ("triggers", "Triggers")],
        rows,
        [deployment.to_dict() for deployment in deployments],
    )
    if not cli.wants_json:
        for deployment in deployments:
            for app in deployment.apps:
                click.echo(f"App {app.env.name}: {app.deployed_app.endpoint}")
            click.echo(deployment.summary(), err=True)

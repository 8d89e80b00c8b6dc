"""``flyte deploy [OPTIONS] FILE [ENV]``: register the tasks of environments on the control plane."""

from __future__ import annotations

from pathlib import Path

import click

from flyte.cli._common import emit_rows, fail, get_cli_config, init_remote, remote_errors

__all__ = ["deploy"]


@click.command("deploy")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("env_name", metavar="[ENV]", required=False)
@click.option("-p", "--project", help="Project to deploy to; overrides the config file.")
@click.option("-d", "--domain", help="Domain to deploy to; overrides the config file.")
@click.option("--version", help="Version to register; default: computed from the code, images and task names.")
@click.option("--dry-run", "--dryrun", "dry_run", is_flag=True, help="Show what would be deployed; send nothing.")
@click.option(
    "--copy-style",
    type=click.Choice(["loaded_modules", "all", "none"]),
    default="loaded_modules",
    show_default=True,
    help="Which files to ship: the imported modules, every file under the root, or none (code in the image).",
)
@click.option(
    "--root-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Source root of your code (decides module names); helpful in monorepos.",
)
@click.pass_context
def deploy(
    ctx: click.Context,
    file: Path,
    env_name: str | None,
    project: str | None,
    domain: str | None,
    version: str | None,
    dry_run: bool,
    copy_style: str,
    root_dir: Path | None,
) -> None:
    """Deploy the environment ENV of FILE (every environment of FILE when ENV is left out).

    Each task is registered under one version, with the environments it depends on and its
    triggers; run it afterwards with flyte run deployed-task ENV.TASK.

    \b
        flyte deploy hello.py hello_env
        flyte deploy --version v1 --project ml hello.py
    """
    import flyte
    from flyte._task_environment import Environment
    from flyte.cli._loader import ModuleLoadFailure, load_module
    from flyte.cli._run_remote import code_root_for

    cli = get_cli_config(ctx)
    try:
        module = load_module(file, root_dir)
    except ModuleLoadFailure as error:
        fail(error.message, error=error.cause or error, verbose=cli.verbose)
    envs = {value.name: value for value in vars(module).values() if isinstance(value, Environment)}
    if not envs:
        fail(f"{file} defines no environment; create one with flyte.TaskEnvironment(name=...)")
    if env_name is not None:
        if env_name not in envs:
            fail(f"No environment named {env_name!r} in {file} (its environments: {', '.join(sorted(envs))})")
        chosen = [envs[env_name]]
    else:
        chosen = list(envs.values())
    init_remote(cli, project=project, domain=domain, root_dir=code_root_for(file, root_dir))
    with remote_errors(cli):
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
            click.echo(deployment.summary(), err=True)

"""``flyte update trigger|app|project``: activate or deactivate a trigger or an app; change or archive a project."""

from __future__ import annotations

from typing import Literal

import click

from flyte.cli._common import get_cli_config, init_remote, remote_errors

__all__ = ["update"]


@click.group("update", help="Change resources on the control plane: triggers, apps and projects.")
def update() -> None:
    pass


@update.command("trigger")
@click.argument("name")
@click.argument("task_name")
@click.option("--activate/--deactivate", required=True, help="Let the trigger fire, or stop it.")
@click.option("-p", "--project", help="Project of the task; overrides the config file.")
@click.option("-d", "--domain", help="Domain of the task; overrides the config file.")
@click.pass_context
def update_trigger(
    ctx: click.Context, name: str, task_name: str, activate: bool, project: str | None, domain: str | None
) -> None:
    """Activate or deactivate the trigger NAME of TASK_NAME.

    \b
        flyte update trigger nightly my_env.main --deactivate
    """
    import flyte.remote

    cli = get_cli_config(ctx)
    init_remote(cli, project=project, domain=domain)
    with remote_errors(cli):
        if activate:
            flyte.remote.Trigger.activate(name, task_name)
        else:
            flyte.remote.Trigger.deactivate(name, task_name)
    click.echo(f"{'Activated' if activate else 'Deactivated'} trigger {name} of {task_name}")


@update.command("app")
@click.argument("name")
@click.option("--activate/--deactivate", required=True, help="Start the app, or stop it (it stays deployed).")
@click.option("--wait", is_flag=True, help="Wait until the app is active (or stopped).")
@click.option("-p", "--project", help="Project of the app; overrides the config file.")
@click.option("-d", "--domain", help="Domain of the app; overrides the config file.")
@click.pass_context
def update_app(
    ctx: click.Context, name: str, activate: bool, wait: bool, project: str | None, domain: str | None
) -> None:
    """Activate or deactivate the app NAME.

    \b
        flyte update app hello-api --deactivate --wait
    """
    import flyte.remote

    cli = get_cli_config(ctx)
    init_remote(cli, project=project, domain=domain)
    with remote_errors(cli):
        app = flyte.remote.App.get(name)
        app = app.activate(wait=wait) if activate else app.deactivate(wait=wait)
    click.echo(f"{'Activated' if activate else 'Deactivated'} app {name} ({app.deployment_status})")


@update.command("project")
@click.argument("project_id", metavar="ID")
@click.option("--name", help="The new display name.")
@click.option("--description", help="The new description.")
@click.option(
    "-l",
    "--label",
    "labels",
    multiple=True,
    metavar="KEY=VALUE",
    help="A label; repeat for several. They replace all current labels.",
)
@click.option("--archive/--unarchive", "archive", default=None, help="Archive the project, or make it active again.")
@click.pass_context
def update_project(
    ctx: click.Context,
    project_id: str,
    name: str | None,
    description: str | None,
    labels: tuple[str, ...],
    archive: bool | None,
) -> None:
    """Change the name, description, labels or archive state of the project ID.

    \b
        flyte update project ml --description "Model training"
        flyte update project ml --label team=ml --label tier=gold
        flyte update project ml --archive
    """
    import flyte.remote

    parsed: dict[str, str] = {}
    for item in labels:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", ctx=ctx, param_hint="--label")
        parsed[key.strip()] = value
    if name is None and description is None and not labels and archive is None:
        raise click.UsageError("Nothing to change: give --name, --description, --label or --archive/--unarchive", ctx)
    cli = get_cli_config(ctx)
    init_remote(cli, need_scope=False)
    state: Literal["archived", "active"] | None = None if archive is None else "archived" if archive else "active"
    with remote_errors(cli):
        project = flyte.remote.Project.update(
            project_id, name=name, description=description, labels=parsed if labels else None, state=state
        )
    click.echo(f"Updated project {project.id}" + (" (archived)" if project.archived else ""))

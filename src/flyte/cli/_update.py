"""``flyte update trigger``: activate or deactivate a deployed trigger."""

from __future__ import annotations

import click

from flyte.cli._common import get_cli_config, init_remote, remote_errors

__all__ = ["update"]


@click.group("update", help="Change resources on the control plane: triggers.")
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

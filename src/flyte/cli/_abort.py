"""``flyte abort run|action``: stop a run (and everything it started) or one action."""

from __future__ import annotations

import click

from flyte.cli._common import get_cli_config, init_remote, remote_errors

__all__ = ["abort"]


@click.group("abort", help="Abort a run or an action on the control plane.")
def abort() -> None:
    pass


@abort.command("run")
@click.argument("name")
@click.option("--reason", default="Aborted from the flyte CLI.", show_default=True, help="Why it is aborted.")
@click.option("-p", "--project", help="Project of the run; overrides the config file.")
@click.option("-d", "--domain", help="Domain of the run; overrides the config file.")
@click.pass_context
def abort_run(ctx: click.Context, name: str, reason: str, project: str | None, domain: str | None) -> None:
    """Abort the run NAME and every action it started (a finished run is left as it is)."""
    import flyte.remote

    cli = get_cli_config(ctx)
    init_remote(cli, project=project, domain=domain)
    with remote_errors(cli):
        run = flyte.remote.Run.get(name)
        already = run.done()
        run.abort(reason)
    click.echo(f"Run {name} had already ended ({run.phase})" if already else f"Aborted run {name}")


@abort.command("action")
@click.argument("run_name")
@click.argument("action_name")
@click.option("--reason", default="Aborted from the flyte CLI.", show_default=True, help="Why it is aborted.")
@click.option("-p", "--project", help="Project of the run; overrides the config file.")
@click.option("-d", "--domain", help="Domain of the run; overrides the config file.")
@click.pass_context
def abort_action(
    ctx: click.Context, run_name: str, action_name: str, reason: str, project: str | None, domain: str | None
) -> None:
    """Abort the action ACTION_NAME of run RUN_NAME and the actions it started."""
    import flyte.remote

    cli = get_cli_config(ctx)
    init_remote(cli, project=project, domain=domain)
    with remote_errors(cli):
        action = flyte.remote.Action.get(run_name, action_name)
        action.abort(reason)
    click.echo(f"Aborted action {action_name} of run {run_name}")

"""``flyte start tui``: browse the runs of a control plane in a terminal UI (Textual)."""

from __future__ import annotations

from pathlib import Path

import click

from flyte.cli._common import fail, get_cli_config

__all__ = ["tui"]


@click.command("tui")
@click.option(
    "-c",
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The config file to use (default: the global --config, then the usual search).",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0.2),
    default=2.0,
    show_default=True,
    help="Seconds between refreshes of the runs and the selected run.",
)
@click.option("-p", "--project", help="Project whose runs to show; overrides the config file.")
@click.option("-d", "--domain", help="Domain whose runs to show; overrides the config file.")
@click.pass_context
def tui(
    ctx: click.Context, config_file: Path | None, poll_interval: float, project: str | None, domain: str | None
) -> None:
    """Browse runs in a terminal UI: the runs, the action tree of the selected run with live
    phases, and the selected action's log (follows a running one). Keys: arrows and Enter to
    select, r to refresh, q to quit.

    Local runs are not recorded between processes here; watch one live with
    `flyte run --local --tui FILE TASK`.
    """
    import dataclasses

    from flyte.cli._common import init_remote

    cli = get_cli_config(ctx)
    if config_file is not None:
        cli = dataclasses.replace(cli, config_file=config_file)
    if not cli.init_kwargs(project=project, domain=domain).get("endpoint"):
        fail(
            "flyte start tui browses a control plane, and no endpoint is configured "
            "(--endpoint, or a config file); to watch a local run use: flyte run --local --tui FILE TASK"
        )
    kwargs = cli.init_kwargs(project=project, domain=domain)
    init_remote(cli, project=project, domain=domain)
    from flyte.cli._tui import RemoteSource, RunExplorer

    RunExplorer(RemoteSource(kwargs.get("project"), kwargs.get("domain")), poll_interval=poll_interval).run()

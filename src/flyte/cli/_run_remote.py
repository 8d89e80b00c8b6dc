"""The remote side of ``flyte run``: start a run on the control plane, optionally follow it.

* ``flyte run FILE TASK --x 1`` (an endpoint configured, no ``--local``): uploads the code,
  starts the run and prints its name and URL; ``--wait`` waits for it and prints the outputs,
  ``--follow`` also streams the root action's log.
* ``flyte run deployed-task NAME[:VERSION] --x 1``: runs a deployed task (latest version unless
  given); its options come from the deployed interface.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flyte.cli._common import CLIConfig, emit_rows, error_message, fail, get_cli_config, init_remote, remote_errors

if TYPE_CHECKING:
    from flyte.cli._run import RunOptions

__all__ = ["DeployedTaskGroup", "code_root_for", "execute_remote"]


def code_root_for(path: Path | None, root_dir: Path | None) -> Path | None:
    """The code root of a run from ``path``: ``--root-dir``; else the current directory when the
    file is inside it (``None``); else the folder the loader put on ``sys.path`` for it."""
    if root_dir is not None or path is None:
        return root_dir
    resolved = path.resolve()
    if Path.cwd().resolve() in resolved.parents:
        return None
    from flyte.cli._loader import module_name_for

    return module_name_for(resolved)[1]


def _show_outputs(cli: CLIConfig, run: Any, outputs: tuple[Any, ...], names: list[str], seconds: float) -> None:
    from flyte.cli._run import _to_json

    named = dict(zip(names, outputs, strict=True))
    if cli.wants_json:
        import json

        document = {
            "name": run.name,
            "phase": run.phase,
            "url": run.url,
            "duration_seconds": round(seconds, 3),
            "outputs": {key: _to_json(value) for key, value in named.items()},
        }
        click.echo(json.dumps(document, indent=None if cli.output_format == "json-raw" else 2))
        return
    from flyte.cli._common import stderr_console

    stderr_console().print(f"[green]✔[/green] Run [bold]{run.name}[/bold] {run.phase} in {seconds:.2f}s", markup=True)
    for key, value in named.items():
        click.echo(f"{key}: {value}")


def _follow_logs(run: Any) -> None:
    from flyte.errors import LogsNotYetAvailableError

    run.wait(quiet=True, wait_for="logs-ready")
    try:
        for line in run.tail_logs():
            click.echo(line)
    except LogsNotYetAvailableError as error:
        run.sync()
        if not run.done():  # an attempt that ended without printing leaves no log: nothing to say
            click.echo(f"(no logs: {error})", err=True)


def execute_remote(
    ctx: click.Context, task: Any, inputs: dict[str, Any], options: RunOptions, path: Path | None
) -> None:
    """Start ``task`` on the control plane; with ``--wait``/``--follow`` wait and print its outputs.

    Exit code 1 with a one-line message when the run fails, times out or is aborted, or the
    control plane is unreachable; 3 when a deployed task does not exist.
    """
    from flyte.cli._common import activity, stderr_console

    cli = get_cli_config(ctx)
    extra = dict(options.extra)
    init_remote(
        cli,
        project=options.project,
        domain=options.domain,
        root_dir=code_root_for(path, options.root_dir),
        sync_local_sys_paths=extra.get("sync_local_sys_paths", True),
    )
    runner = options.runner(
        "remote",
        copy_style=extra.get("copy_style") or "loaded_modules",
        interactive_mode=True if extra.get("pkl") else None,
        service_account=extra.get("service_account"),
    )
    console = stderr_console()
    interactive = cli.progress and console.is_terminal and not cli.wants_json
    task_name = getattr(task, "name", ctx.info_name or "task")
    started = time.monotonic()
    with remote_errors(cli):
        with activity(console, f"Starting {task_name} on the control plane...", enabled=interactive):
            run: Any = runner.run(task, **inputs)  # a flyte.remote.Run
    if options.tui:
        from flyte.cli._tui import RemoteSource, RunExplorer

        RunExplorer(RemoteSource(run.project, run.domain), poll_interval=1.0, select_run=run.name).run()
        return
    if not (options.follow or options.wait):
        if cli.wants_json:
            import json

            click.echo(json.dumps({"name": run.name, "phase": run.phase, "url": run.url}))
        else:
            console.print(f"Started run [bold]{run.name}[/bold] of {task_name}", markup=True)
            console.print(f"  URL: {run.url}", markup=False, soft_wrap=True)
            click.echo(run.name)
        return
    if not cli.wants_json:
        console.print(f"Run [bold]{run.name}[/bold] of {task_name}: {run.url}", markup=True, soft_wrap=True)
    with remote_errors(cli):
        if options.follow:
            _follow_logs(run)
        run.wait(quiet=not interactive)
        if run.phase != "SUCCEEDED":
            try:
                run.raise_for_status()
            except Exception as error:  # the run's own failure, reported on one line below
                fail(f"Run {run.name} {run.phase}: {error_message(error)}", error=error, verbose=cli.verbose)
            fail(f"Run {run.name} ended in phase {run.phase}")
        outputs = tuple(run.outputs())
    from flyte.cli._run import _output_names

    # The run's own duration, as the control plane recorded it (the wait line printed the same).
    duration = getattr(run.action, "duration", None)
    seconds = duration.total_seconds() if duration is not None else time.monotonic() - started
    _show_outputs(cli, run, outputs, _output_names(task, len(outputs)), seconds)


class DeployedTaskCommand(click.Command):
    """``flyte run deployed-task NAME[:VERSION]``: one option per input of the deployed interface."""

    def __init__(self, name: str, details: Any) -> None:
        from flyte.cli._params import input_options
        from flyte.cli._run import TRAILING_OPTIONS_EPILOG, RunOptions, trailing_run_options

        self.details = details
        self.input_names = set(details.interface.inputs)
        signature = ", ".join(f"{key}: {value}" for key, value in details.inputs.items())
        outputs = ", ".join(details.outputs.values()) or "None"
        summary = details.description or f"Run the deployed task {details.name} ({details.version})."
        super().__init__(
            name=name,
            params=[*input_options(details.interface.inputs, {}), *trailing_run_options(self.input_names)],
            callback=self._run,
            help=f"{summary}\n\nSignature: ({signature}) -> {outputs}",
            epilog=TRAILING_OPTIONS_EPILOG,
        )
        self._options_class = RunOptions

    def _run(self, **values: Any) -> None:
        import dataclasses

        from flyte.cli._run import apply_trailing_run_options

        ctx = click.get_current_context()
        values = apply_trailing_run_options(ctx, values)
        options = ctx.find_object(self._options_class) or self._options_class()
        group = ctx.parent.params if ctx.parent is not None else {}
        options = dataclasses.replace(
            options, project=group.get("project") or options.project, domain=group.get("domain") or options.domain
        )
        if options.local:
            fail("--local cannot run a deployed task; it runs on the control plane")
        # The task was looked up in -p/-d; --run-project/--run-domain say where the run starts.
        options = dataclasses.replace(
            options,
            project=options.run_project or options.project,
            domain=options.run_domain or options.domain,
            run_project=None,
            run_domain=None,
        )
        inputs = {key: value for key, value in values.items() if value is not None}
        execute_remote(ctx, self.details, inputs, options, None)


class DeployedTaskGroup(click.Group):
    """``flyte run deployed-task``: its subcommands are deployed task names (``NAME[:VERSION]``)."""

    def __init__(self) -> None:
        super().__init__(
            name="deployed-task",
            help="Run a deployed task: flyte run deployed-task NAME[:VERSION] --input value. "
            "Without a version the latest is run; without a name the deployed tasks are listed.",
            invoke_without_command=True,
            subcommand_metavar="NAME[:VERSION] [INPUTS]...",
            callback=self._list,
            params=[
                click.Option(["-p", "--project"], help="Project of the task and the run; overrides flyte run -p."),
                click.Option(["-d", "--domain"], help="Domain of the task and the run; overrides flyte run -d."),
            ],
        )

    def _init(self, ctx: click.Context) -> None:
        from flyte.cli._run import RunOptions

        options = ctx.find_object(RunOptions) or RunOptions()
        project = ctx.params.get("project") or options.project
        domain = ctx.params.get("domain") or options.domain
        init_remote(get_cli_config(ctx), project=project, domain=domain)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return []

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        import flyte.remote

        self._init(ctx)
        name, _, version = cmd_name.partition(":")
        if version:
            reference = flyte.remote.Task.get(name, version=version)
        else:
            reference = flyte.remote.Task.get(name, auto_version="latest")
        with remote_errors(get_cli_config(ctx)):
            details = reference.fetch()
        return DeployedTaskCommand(cmd_name, details)

    def _list(self, project: str | None = None, domain: str | None = None) -> None:
        import flyte.remote

        ctx = click.get_current_context()
        if ctx.invoked_subcommand is not None:
            return
        self._init(ctx)
        cli = get_cli_config(ctx)
        with remote_errors(cli):
            tasks = flyte.remote.Task.listall(limit=200)
        latest: dict[str, Any] = {}
        for task in tasks:
            latest.setdefault(task.name, task)
        rows = [{"name": t.name, "version": t.version, "deployed_at": t.deployed_at} for t in latest.values()]
        emit_rows(
            cli,
            "Deployed tasks",
            [("name", "Name"), ("version", "Latest version"), ("deployed_at", "Deployed at")],
            rows,
            [t.to_dict() for t in latest.values()],
        )
        if rows and not cli.wants_json:
            click.echo("\nRun one: flyte run deployed-task NAME[:VERSION] --help", err=True)
        sys.stdout.flush()

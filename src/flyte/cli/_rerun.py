"""``flyte rerun RUN_NAME [OPTIONS] [--input value ...]``: start a stored run again (``flyte.rerun``).

The new run uses the code and inputs the control plane kept for RUN_NAME (no local files);
inputs given after RUN_NAME replace the stored ones. Their options are built from the source
action's interface, so ``flyte rerun RUN_NAME --help`` lists them.
"""

from __future__ import annotations

import time
from typing import Any

import click

from flyte.cli._common import CLIConfig, error_message, fail, get_cli_config, init_remote, remote_errors

__all__ = ["rerun"]

_HELP = """Run RUN_NAME again, as a new run, with the code and inputs it ran with.

Nothing local is needed: the task and its inputs come from the control plane. Inputs given
after RUN_NAME replace the stored ones (each is an option built from the task's interface; see
flyte rerun RUN_NAME --help); every input left out keeps RUN_NAME's value. --action-name roots
the new run at one action of RUN_NAME, with the inputs that action received.

\b
    flyte rerun r3x9k2
    flyte rerun r3x9k2 --name retry-1 --follow
    flyte rerun r3x9k2 --n 10 --cfg '{"lr": 0.1}'
    flyte rerun r3x9k2 --action-name a3

Exit codes: 0 the run started (or, with --follow, succeeded); 1 it failed, or the control plane
refused; 2 a bad option or input value; 3 RUN_NAME (or the action) does not exist.
"""


def _key_values(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", ctx=ctx, param=param)
        result[key.strip()] = value
    return result


def _source_inputs(cli: CLIConfig, run_name: str, action_name: str) -> dict[str, Any]:
    """The source action's inputs: name → Python type, from the interface the control plane kept."""
    from flyte._internal.syncify import run_sync
    from flyte.remote._action import fetch_details
    from flyte.remote._common import scope
    from flyte.types import TypeEngine

    project, domain = scope(None, None)
    with remote_errors(cli):
        details = run_sync(fetch_details(project, domain, run_name, action_name))
    if not details.HasField("task"):
        fail(f"Action {action_name} of run {run_name} has no task to run again", exit_code=3)
    variables = details.task.task_template.interface.inputs.variables
    return {entry.key: TypeEngine.guess_python_type(entry.value.type) for entry in variables}


def _input_command(types: dict[str, Any], run_name: str) -> click.Command:
    """A command whose options are the source task's inputs, none required, none defaulted."""
    import inspect

    from flyte.cli._params import input_options

    options = input_options({name: (tp, None) for name, tp in types.items()}, {})
    for option in options:
        option.default_display = "RUN_NAME's value"  # type: ignore[attr-defined]
    return click.Command(name=run_name, params=options, help=inspect.cleandoc(_HELP))


class RerunCommand(click.Command):
    """Parses the fixed options first; what is left are the task's inputs, parsed once the
    source run's interface is known (and ``--help`` after RUN_NAME lists them)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        without_help = [arg for arg in args if arg not in ("--help", "-h")]
        if len(without_help) == len(args):
            return super().parse_args(ctx, args)
        try:
            rest = super().parse_args(ctx, without_help)
        except click.UsageError:  # no RUN_NAME (or a bad option): the plain help
            return super().parse_args(ctx, args)
        self._show_help_with_inputs(ctx)
        return rest

    def _show_help_with_inputs(self, ctx: click.Context) -> None:
        cli = get_cli_config(ctx)
        init_remote(cli, project=ctx.params.get("project"), domain=ctx.params.get("domain"))
        run_name, action_name = ctx.params["run_name"], ctx.params.get("action_name") or "a0"
        click.echo(self.get_help(ctx))
        types = _source_inputs(cli, run_name, action_name)
        inputs = _input_command(types, run_name)
        with click.Context(inputs, info_name=run_name, parent=ctx) as sub:
            formatter = sub.make_formatter()
            rows = [record for param in inputs.get_params(sub) if (record := param.get_help_record(sub))]
            rows = [row for row in rows if "--help" not in row[0]]
            with formatter.section(f"Inputs of {run_name}, action {action_name}"):
                formatter.write_dl(rows or [("(none)", "the task takes no inputs")])
            click.echo(formatter.getvalue().rstrip())
        ctx.exit(0)


@click.command(
    "rerun",
    cls=RerunCommand,
    help=_HELP,
    short_help="Run a stored run again, with its code and inputs.",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.argument("run_name")
@click.option("-p", "--project", help="Project of RUN_NAME and the new run; overrides the config file.")
@click.option("-d", "--domain", help="Domain of RUN_NAME and the new run; overrides the config file.")
@click.option("--name", help="Name of the new run; a random name is generated when not given.")
@click.option(
    "-e", "--env", "env_vars", multiple=True, callback=_key_values, metavar="KEY=VALUE", help="Environment variable."
)
@click.option("--label", "labels", multiple=True, callback=_key_values, metavar="KEY=VALUE", help="Label of the run.")
@click.option("-f", "--follow", is_flag=True, help="Wait for the new run, streaming its log, and print its outputs.")
@click.option(
    "--recover",
    is_flag=True,
    help="Reuse RUN_NAME's succeeded actions and run only the rest (needs a control plane that supports it).",
)
@click.option("--action-name", help="Rerun only this action of RUN_NAME, with the inputs it received.")
@click.option(
    "--force-rerun-action",
    "force_rerun_actions",
    multiple=True,
    help="With --recover: an action to run again although it succeeded; repeatable.",
)
@click.option(
    "--allow-missing-outputs",
    is_flag=True,
    help="Go ahead when RUN_NAME's stored data was cleaned up, passing its inputs location as is.",
)
@click.pass_context
def rerun(
    ctx: click.Context,
    run_name: str,
    project: str | None,
    domain: str | None,
    name: str | None,
    env_vars: dict[str, str],
    labels: dict[str, str],
    follow: bool,
    recover: bool,
    action_name: str | None,
    force_rerun_actions: tuple[str, ...],
    allow_missing_outputs: bool,
) -> None:
    import flyte

    if recover and action_name:
        raise click.UsageError("--action-name cannot be combined with --recover", ctx)
    if force_rerun_actions and not recover:
        raise click.UsageError("--force-rerun-action needs --recover", ctx)
    cli = get_cli_config(ctx)
    init_remote(cli, project=project, domain=domain)
    source_action = action_name or "a0"
    inputs: dict[str, Any] = {}
    if ctx.args:
        command = _input_command(_source_inputs(cli, run_name, source_action), run_name)
        try:
            # No parent context: the usage line of an input error reads "flyte rerun RUN [INPUTS]".
            with command.make_context(f"{ctx.command_path} {run_name}", list(ctx.args)) as sub:
                inputs = {key: value for key, value in sub.params.items() if value is not None}
        except click.exceptions.Exit:
            return
    runner = flyte.with_runcontext(
        name=name, env_vars=env_vars or None, labels=labels or None, project=project, domain=domain
    )
    started = time.monotonic()
    try:
        with remote_errors(cli):
            run = runner.rerun(
                run_name,
                action_name=source_action,
                recover=recover,
                force_rerun_actions=list(force_rerun_actions) or None,
                allow_missing_source_outputs=allow_missing_outputs,
                **inputs,
            )
    except NotImplementedError as error:
        fail(error_message(error), error=error, verbose=cli.verbose)
    _report(cli, run, follow, started)


def _report(cli: CLIConfig, run: Any, follow: bool, started: float) -> None:
    import json

    from flyte.cli._common import stderr_console

    if not follow:
        if cli.wants_json:
            click.echo(json.dumps({"name": run.name, "phase": run.phase, "url": run.url}))
            return
        stderr_console().print(f"Started run {run.name}", markup=False)
        stderr_console().print(f"  URL: {run.url}", markup=False)
        click.echo(run.name)
        return
    from flyte.cli._run_remote import _follow_logs, _show_outputs

    with remote_errors(cli):
        _follow_logs(run)
        run.wait(quiet=True)
        if run.phase != "SUCCEEDED":
            try:
                run.raise_for_status()
            except Exception as error:  # the run's own failure, reported on one line below
                fail(f"Run {run.name} {run.phase}: {error_message(error)}", error=error, verbose=cli.verbose)
            fail(f"Run {run.name} ended in phase {run.phase}")
        outputs = tuple(run.outputs())
    _show_outputs(cli, run, outputs, [f"o{index}" for index in range(len(outputs))], time.monotonic() - started)

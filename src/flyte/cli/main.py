"""The ``flyte`` command: ``flyte [GLOBAL OPTIONS] VERB NOUN ...``.

Exit codes:

* 0 — success;
* 1 — a run failed, timed out or was aborted; the control plane is unreachable or failed a
  request; the configuration or code cannot be used (one line on stderr, ``-v`` for a traceback);
* 2 — a usage error: a wrong option, argument or input value (click's message);
* 3 — the run, action, task, project, trigger or secret named does not exist.

Example:
    $ flyte run --local examples/hello.py main --x 3
    $ flyte --endpoint localhost:8090 --insecure run --wait examples/hello.py main --x 3
    $ flyte get run
    $ flyte --version
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from flyte.cli._abort import abort
from flyte.cli._api_key import register as register_api_key_commands
from flyte.cli._build import build
from flyte.cli._common import AUTH_TYPES, IMAGE_BUILDERS, OUTPUT_FORMATS, CLIConfig
from flyte.cli._create import create
from flyte.cli._delete import delete
from flyte.cli._deploy import deploy
from flyte.cli._gen import gen
from flyte.cli._get import get
from flyte.cli._rerun import rerun
from flyte.cli._run import run
from flyte.cli._serve import serve
from flyte.cli._signal import condition_of_get, signal
from flyte.cli._start import start
from flyte.cli._start_tui import tui as start_tui
from flyte.cli._update import update
from flyte.cli._user import whoami

__all__ = ["flyte_group", "main"]

_HELP = """The command line of Flyte: run tasks locally or on a control plane, deploy them, and
inspect and manage runs, tasks, projects, triggers and secrets.

Commands follow a verb/noun structure: the verb is the command (run, get, create, delete), the
noun its subcommand (flyte delete local-cache, flyte start server). Global options go before the verb:

\b
    flyte -v run --local hello.py main --x 3
    flyte --config ./my-config.yaml run hello.py main
    flyte --output-format json run --local hello.py main --x 3
"""


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from flyte._version import __version__

    click.echo(f"Flyte SDK version: {__version__}")
    ctx.exit()


def _setup_logging(verbose: int) -> None:
    if verbose <= 0:
        return
    logger = logging.getLogger("flyte")
    # Replace (not keep) an earlier handler of this CLI: sys.stderr may have changed since
    # (the command invoked again in one process, as tests do).
    for handler in [h for h in logger.handlers if getattr(h, "_flyte_cli", False)]:
        logger.removeHandler(handler)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler._flyte_cli = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose >= 2 else logging.INFO)


@click.group("flyte", help=_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
@click.option("--endpoint", help="The control plane to connect to; overrides the config file.")
@click.option("--insecure", is_flag=True, help="Connect to the endpoint without TLS.")
@click.option(
    "--image-builder",
    "--builder",
    "image_builder",
    type=click.Choice(IMAGE_BUILDERS),
    help="Image builder to use; overrides image.builder of the config file.",
)
@click.option("--auth-type", type=click.Choice(AUTH_TYPES), help="How to authenticate to the control plane.")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Show tracebacks of errors (-v) and Flyte's debug logs (-vv).",
)
@click.option("--org", help="The organization the command applies to.")
@click.option(
    "-c",
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The config file to use instead of the usual search (./config.yaml, .flyte/config.yaml, ~/.flyte/...).",
)
@click.option(
    "-of",
    "--output-format",
    type=click.Choice(OUTPUT_FORMATS),
    default="table",
    show_default=True,
    help="Output format of commands that print results.",
)
@click.option(
    "--log-format",
    type=click.Choice(["console", "json"]),
    default="console",
    show_default=True,
    help="Format of log lines.",
)
@click.option(
    "--user-log-level",
    type=click.Choice(["debug", "info", "warning", "error", "critical"]),
    default="info",
    show_default=True,
    help="Log level of task (user) logs, independent of -v.",
)
@click.option("--reset-root-logger", is_flag=True, help="Route all log records through Flyte's log format.")
@click.option("--no-progress", is_flag=True, help="Do not show a progress spinner (for CI logs).")
@click.pass_context
def flyte_group(
    ctx: click.Context,
    endpoint: str | None,
    insecure: bool,
    image_builder: str | None,
    auth_type: str | None,
    verbose: int,
    org: str | None,
    config_file: Path | None,
    output_format: str,
    log_format: str,
    user_log_level: str,
    reset_root_logger: bool,
    no_progress: bool,
) -> None:
    _setup_logging(verbose)
    ctx.obj = CLIConfig(
        verbose=verbose,
        config_file=config_file,
        endpoint=endpoint,
        insecure=insecure,
        org=org,
        image_builder=image_builder,
        auth_type=auth_type,
        output_format=output_format,
        log_format=log_format,
        user_log_level=user_log_level,
        reset_root_logger=reset_root_logger,
        progress=not no_progress,
    )


flyte_group.add_command(run)
flyte_group.add_command(rerun)
flyte_group.add_command(deploy)
flyte_group.add_command(serve)
flyte_group.add_command(build)
flyte_group.add_command(get)
flyte_group.add_command(abort)
flyte_group.add_command(create)
flyte_group.add_command(update)
flyte_group.add_command(delete)
flyte_group.add_command(start)
flyte_group.add_command(whoami)
flyte_group.add_command(gen)
flyte_group.add_command(signal)
get.add_command(condition_of_get)
start.add_command(start_tui)
register_api_key_commands(create, get, delete)


def main() -> None:
    """Entry point of the ``flyte`` console script (``flyte = "flyte.cli.main:main"``).

    Example:
        >>> main()  # doctest: +SKIP  (parses sys.argv, exits the process)
    """
    import sys

    flyte_group(args=hoist_global_options(sys.argv[1:]), prog_name="flyte")


_HOISTED_VALUE_OPTIONS = ("-of", "--output-format")
_HOISTED_FLAGS = ("--no-progress",)


def hoist_global_options(args: list[str]) -> list[str]:
    """Move ``-of/--output-format`` and ``--no-progress`` given after the verb to before it.

    ``flyte get run -of json`` then means ``flyte -of json get run``. Nothing after ``--`` moves.

    Example:
        >>> hoist_global_options(["get", "run", "-of", "json"])
        ['-of', 'json', 'get', 'run']
        >>> hoist_global_options(["--endpoint", "localhost:8090", "get", "run", "-of", "json"])
        ['--endpoint', 'localhost:8090', '-of', 'json', 'get', 'run']
    """
    takes_value = {
        opt
        for param in flyte_group.params
        if isinstance(param, click.Option) and not param.is_flag and not param.count
        for opt in param.opts
    }
    verb = None
    position = 0
    while position < len(args):
        if not args[position].startswith("-"):
            verb = position
            break
        position += 2 if args[position] in takes_value else 1
    if verb is None:
        return args
    hoisted: list[str] = []
    rest: list[str] = []
    index = verb
    tail = args[verb:]
    while index - verb < len(tail):
        arg = tail[index - verb]
        if arg == "--":
            rest.extend(tail[index - verb :])
            break
        if arg in _HOISTED_VALUE_OPTIONS and index - verb + 1 < len(tail):
            hoisted.extend(tail[index - verb : index - verb + 2])
            index += 2
            continue
        if arg.startswith("--output-format=") or arg in _HOISTED_FLAGS:
            hoisted.append(arg)
        else:
            rest.append(arg)
        index += 1
    return [*args[:verb], *hoisted, *rest]


if __name__ == "__main__":
    main()

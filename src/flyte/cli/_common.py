"""What every ``flyte`` command shares: the global options, error reporting, consoles, output.

Exit codes (also in the ``flyte`` module docstring and the README): 0 success; 1 a run failed,
timed out or was aborted, the control plane failed or is unreachable, or the configuration is
unusable; 2 a usage error (click); 3 the run, action, task, project, trigger or secret named
does not exist.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "EXIT_FAILED",
    "EXIT_NOT_FOUND",
    "CLIConfig",
    "CommandFailure",
    "NotFoundFailure",
    "copy_style_option",
    "emit_one",
    "emit_rows",
    "fail",
    "get_cli_config",
    "init_remote",
    "remote_errors",
    "root_dir_option",
    "stderr_console",
    "stdout_console",
]

F = TypeVar("F", bound=Callable[..., Any])

EXIT_FAILED = 1
"""A run failed or was aborted, the control plane failed or is unreachable, or the setup is unusable."""
EXIT_NOT_FOUND = 3
"""The run, action, task, project, trigger or secret named does not exist."""

OUTPUT_FORMATS = ("table", "json", "table-simple", "json-raw")
IMAGE_BUILDERS = ("local", "local-podman", "remote")
AUTH_TYPES = (
    "client-secret",
    "client_secret",
    "clientsecret",
    "app-credential",
    "app_credential",
    "headless",
    "device-flow",
    "device_flow",
    "pkce",
    "external-command",
    "external_command",
    "externalcommand",
    "command",
    "custom",
)


@dataclass(frozen=True, kw_only=True)
class CLIConfig:
    """The global options of ``flyte``, available to every subcommand as ``ctx.obj``."""

    verbose: int = 0
    """How many ``-v`` were given: tracebacks from 1, debug logs from 2."""
    config_file: Path | None = None
    """The config file from ``--config``; ``None`` means the usual search."""
    endpoint: str | None = None
    """The control plane from ``--endpoint``; overrides the config file."""
    insecure: bool = False
    """``--insecure``: connect without TLS."""
    org: str | None = None
    """The organisation from ``--org``."""
    image_builder: str | None = None
    """``--image-builder``: overrides ``image.builder`` of the config file."""
    auth_type: str | None = None
    """``--auth-type``: how to authenticate to the control plane."""
    output_format: str = "table"
    """``--output-format``: ``table``, ``table-simple``, ``json`` or ``json-raw``."""
    log_format: str = "console"
    """``--log-format``: ``console`` or ``json``."""
    user_log_level: str = "info"
    """``--user-log-level``: the level of task (user) logs."""
    reset_root_logger: bool = False
    """``--reset-root-logger``: route every log record through Flyte's handler."""
    progress: bool = True
    """Whether to show a spinner while waiting (off with ``--no-progress``)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Room for options that later commands add."""

    @property
    def wants_json(self) -> bool:
        """Whether output should be JSON rather than a human-readable table."""
        return self.output_format in ("json", "json-raw")

    def init_kwargs(self, *, project: str | None = None, domain: str | None = None) -> dict[str, Any]:
        """The keyword arguments of ``flyte.init``: the config file, overridden by the global options.

        Raises:
            click.ClickException: the config file cannot be read.
        """
        from flyte.config import auto, config_to_init_kwargs
        from flyte.errors import InitializationError

        try:
            kwargs = config_to_init_kwargs(auto(self.config_file))
        except InitializationError as e:
            raise click.ClickException(str(e)) from e
        overrides = {
            "endpoint": self.endpoint,
            "org": self.org,
            "project": project,
            "domain": domain,
            "image_builder": self.image_builder,
            "auth_type": self.auth_type,
        }
        kwargs.update({key: value for key, value in overrides.items() if value is not None})
        if self.insecure:
            kwargs["insecure"] = True
        from flyte.cli._api_key import apply_api_key_env

        apply_api_key_env(kwargs, explicit_endpoint=self.endpoint)
        return kwargs


def root_dir_option() -> Callable[[F], F]:
    """``--root-dir DIR``: the source root of the user's code (module names are relative to it)."""
    return click.option(
        "--root-dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="Source root of your code (decides module names); helpful in monorepos.",
    )


def copy_style_option(
    help: str = "Which files to ship: the imported modules, every file under the root, or none (code in the image).",
    choices: tuple[str, ...] = ("loaded_modules", "all", "none"),
) -> Callable[[F], F]:
    """``--copy-style``: which files a code bundle holds (default: the modules the program imported)."""
    return click.option(
        "--copy-style", type=click.Choice(choices), default="loaded_modules", show_default=True, help=help
    )


def get_cli_config(ctx: click.Context) -> CLIConfig:
    """The :class:`CLIConfig` of the root command (defaults when a command runs on its own)."""
    obj = ctx.find_object(CLIConfig)
    return obj if obj is not None else CLIConfig()


def stderr_console() -> Console:
    """A rich console on stderr, for progress and summaries."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def stdout_console() -> Console:
    """A rich console on stdout, for results a script may read."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


@contextlib.contextmanager
def activity(console: Console, description: str, *, enabled: bool) -> Iterator[None]:
    """A spinner with ``description`` while the block runs, a bar for each upload it makes and one
    for each image it builds locally (its build steps), each with its elapsed time.

    Uploads (code bundles, files) report through ``flyte._internal.retrying.UPLOAD_PROGRESS``, image
    builds through ``flyte._internal.imagebuild.engine.BUILD_PROGRESS``. Nothing is shown when
    ``enabled`` is false (not a terminal, JSON output, ``--no-progress``).
    """
    if not enabled:
        yield
        return
    from rich.filesize import decimal
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from flyte._internal.imagebuild.engine import BUILD_PROGRESS
    from flyte._internal.retrying import UPLOAD_PROGRESS

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[amount]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    bars: dict[str, Any] = {}

    def uploaded(what: str, done: int, total: int) -> None:
        if what not in bars:
            bars[what] = progress.add_task(f"Uploading {what}", total=total, amount="")
        progress.update(bars[what], completed=done, total=total, amount=f"{decimal(done)}/{decimal(total)}")

    def built(image: str, step: int, steps: int, line: str) -> None:
        key = f"image {image}"
        if key not in bars:
            bars[key] = progress.add_task(f"Building {image}", total=steps, amount="")
        # A step is done when the next one starts; the line says what runs now.
        progress.update(bars[key], completed=step - 1, total=steps, amount=f"step {step}/{steps}: {line[:40]}")

    upload_token = UPLOAD_PROGRESS.set(uploaded)
    build_token = BUILD_PROGRESS.set(built)
    try:
        with progress:
            progress.add_task(description, total=None, amount="")
            yield
    finally:
        BUILD_PROGRESS.reset(build_token)
        UPLOAD_PROGRESS.reset(upload_token)


class CommandFailure(click.ClickException):
    """``Error: <message>`` on stderr and exit code 1."""

    exit_code = EXIT_FAILED


class NotFoundFailure(CommandFailure):
    """``Error: <message>`` on stderr and exit code 3: the thing named does not exist."""

    exit_code = EXIT_NOT_FOUND


def fail(
    message: str, *, error: BaseException | None = None, verbose: int = 0, exit_code: int = EXIT_FAILED
) -> NoReturn:
    """Stop the command with ``Error: <message>`` on stderr and ``exit_code`` (default 1).

    With ``-v`` the traceback of ``error`` is printed first, for debugging.
    """
    if error is not None and verbose > 0:
        import traceback

        traceback.print_exception(error, file=sys.stderr)
    failure = NotFoundFailure if exit_code == EXIT_NOT_FOUND else CommandFailure
    raise failure(message) from error


def error_message(error: BaseException) -> str:
    """One line for an SDK error: ``<code>: <message>`` for task failures, the message otherwise."""
    from flyte.errors import BaseRuntimeError, ControlPlaneError, InitializationError

    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if isinstance(error, BaseRuntimeError) and not isinstance(error, (ControlPlaneError, InitializationError)):
        if error.code and error.code != type(error).__name__ and not text.startswith(error.code):
            return f"{error.code}: {text}"
    return text


@contextlib.contextmanager
def remote_errors(cli: CLIConfig) -> Iterator[None]:
    """Turn SDK errors of remote calls into one-line messages with the documented exit codes."""
    from flyte.errors import NotFoundError, RunAlreadyExistsError

    try:
        yield
    except click.ClickException:
        raise
    except NotFoundError as error:
        fail(error_message(error), error=error, verbose=cli.verbose, exit_code=EXIT_NOT_FOUND)
    except (RuntimeError, ValueError, TypeError, OSError) as error:
        if isinstance(error, RunAlreadyExistsError):
            fail(str(error), error=error, verbose=cli.verbose)
        fail(error_message(error), error=error, verbose=cli.verbose)


def init_remote(
    cli: CLIConfig,
    *,
    project: str | None = None,
    domain: str | None = None,
    need_scope: bool = True,
    **extra: Any,
) -> None:
    """``flyte.init`` for a command that needs the control plane (and, with ``need_scope``, a
    project and domain).

    Raises:
        CommandFailure: no endpoint (or project/domain) is configured, or the configuration is
            unusable (exit 1).
    """
    import flyte
    from flyte.errors import InitializationError

    kwargs = cli.init_kwargs(project=project, domain=domain)
    kwargs.update({key: value for key, value in extra.items() if value is not None})
    if not kwargs.get("endpoint"):
        fail(
            "No Flyte endpoint is configured; pass --endpoint localhost:8090 --insecure, or write a config "
            "with flyte create config --endpoint localhost:8090 --insecure"
        )
    if need_scope:
        for option, key in (("-p/--project", "project"), ("-d/--domain", "domain")):
            if not kwargs.get(key):
                fail(f"No {key} is configured; pass {option} or set task.{key} in the config file")
    try:
        flyte.init(**kwargs)
    except InitializationError as error:
        fail(str(error), error=error, verbose=cli.verbose)


def _table_console() -> Console:
    """stdout for tables: a terminal's width, or unlimited when piped (values are never folded)."""
    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() else 1000)


def print_plain_columns(lines: Sequence[Sequence[str]], *, indent: int = 0) -> None:
    """Print rows as aligned plain-text columns (no borders, no colour), two spaces apart.

    Example:
        >>> print_plain_columns([["NAME", "PHASE"], ["r1", "SUCCEEDED"]])
        NAME  PHASE
        r1    SUCCEEDED
    """
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, show_header=False, show_edge=False, pad_edge=False, padding=(0, 2, 0, 0))
    for _ in lines[0] if lines else ():
        table.add_column(no_wrap=True)
    for line in lines:
        table.add_row(*line)
    console = Console(width=100_000, no_color=True, highlight=False, markup=False, emoji=False)
    with console.capture() as captured:
        console.print(table, markup=False)
    for text in captured.get().splitlines():
        click.echo((" " * indent + text).rstrip())


def _cell(value: Any) -> str:
    import datetime as dt

    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.timedelta):
        return f"{value.total_seconds():.1f}s"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(item) for item in value) or "-"
    return str(value)


def _json_default(value: Any) -> Any:
    import datetime as dt

    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return str(value)


def _emit_json(cli: CLIConfig, document: Any) -> None:
    import json

    indent = None if cli.output_format == "json-raw" else 2
    click.echo(json.dumps(document, indent=indent, default=_json_default))


def emit_rows(
    cli: CLIConfig,
    title: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[dict[str, Any]],
    documents: Sequence[dict[str, Any]] | None = None,
) -> None:
    """Print a listing: a rich table (``table``), plain columns (``table-simple``) or JSON.

    ``columns`` are ``(key, header)`` pairs read from each row; JSON prints ``documents`` (the
    handles' ``to_dict()``) when given, else the rows.
    """
    if cli.wants_json:
        _emit_json(cli, list(documents if documents is not None else rows))
        return
    if not rows:
        click.echo(f"No {title.lower()} found.", err=True)
        return
    if cli.output_format == "table-simple":
        print_plain_columns(
            [[header for _, header in columns], *([_cell(row.get(key)) for key, _ in columns] for row in rows)]
        )
        return
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold")
    for index, (_, header) in enumerate(columns):
        # Names (the first column) are copied into other commands: never wrap them.
        table.add_column(header, overflow="fold", no_wrap=index == 0)
    for row in rows:
        table.add_row(*(_cell(row.get(key)) for key, _ in columns))
    _table_console().print(table)


def emit_one(cli: CLIConfig, title: str, fields: dict[str, Any], document: dict[str, Any] | None = None) -> None:
    """Print one object: a two-column table of its fields, or JSON (``document`` when given)."""
    if cli.wants_json:
        _emit_json(cli, document if document is not None else fields)
        return
    if cli.output_format == "table-simple":
        print_plain_columns([[key, _cell(value)] for key, value in fields.items()])
        return
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in fields.items():
        table.add_row(key, _cell(value))
    _table_console().print(table)

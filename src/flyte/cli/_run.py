"""``flyte run [OPTIONS] FILE TASK [--input value ...]``: run a task from a Python file.

The command is three nested click levels, so that each level has its own ``--help``:

* ``flyte run``: the run options (``--local``, ``--name``, ``-e KEY=VAL``, ...);
* ``flyte run FILE``: loads the file and lists its tasks;
* ``flyte run FILE TASK``: one option per task input, built from the task's signature.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flyte.cli._common import CLIConfig, copy_style_option, fail, get_cli_config, root_dir_option, stderr_console

if TYPE_CHECKING:
    from flyte._run import Mode, Runner

__all__ = ["RunOptions", "run"]

_RUN_HELP = """Run a task from a Python file.

\b
    flyte run --local hello.py main --x 3 --names '["a", "b"]'

Options of the run itself come before the file name; the task's inputs come after the task
name. Leave out the task name to list the tasks of a file, and add --help after it to see the
inputs of a task:

\b
    flyte run hello.py
    flyte run hello.py main --help

Inputs are given as --name value: numbers and text as they are, booleans as --name/--no-name,
enums by member name, lists, dicts, dataclasses and pydantic models as JSON text or the path
of a .json or .yaml file, dates in ISO 8601, durations as seconds, 1h30m or PT1H30M.

Without a configured endpoint (or with --local) the task runs in this process. With one
(--endpoint, or a config file), the code is uploaded and the run starts on the control plane:
the command prints the run's name and URL; --wait waits for it and prints the outputs;
--follow also streams the task's log. A deployed task runs with

\b
    flyte run deployed-task my_env.main --x 3
"""


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """The options given to ``flyte run`` before the file name."""

    local: bool = False
    """Run in this process even when an endpoint is configured."""
    name: str | None = None
    """The run's name; generated when ``None``."""
    overwrite_cache: bool = False
    """Run cached tasks again and replace their cache entries."""
    env_vars: dict[str, str] = field(default_factory=dict)
    """Environment variables set for the run (``-e KEY=VAL``)."""
    labels: dict[str, str] = field(default_factory=dict)
    """Labels of the run (``--label KEY=VAL``)."""
    follow: bool = False
    """Wait for a remote run and stream its log (a local run always finishes first)."""
    wait: bool = False
    """Wait for a remote run and print its outputs."""
    project: str | None = None
    """The project of the run; overrides the config file."""
    domain: str | None = None
    """The domain of the run; overrides the config file."""
    version: str | None = None
    """The code version to report."""
    root_dir: Path | None = None
    """The source root, which decides the module name of the file."""
    raw_data_path: str | None = None
    """Where offloaded data is written."""
    queue: str | None = None
    """The queue every action of the run is scheduled on."""
    max_action_concurrency: int | None = None
    """How many actions may run at once."""
    images: tuple[str, ...] = ()
    """``--image name=uri`` mappings (used when building images for remote runs)."""
    debug: bool = False
    """Run the root task as a debug task (``flyte.with_runcontext(debug=True)``)."""
    run_project: str | None = None
    """``deployed-task`` only: start the run in this project (the task is looked up in ``project``)."""
    run_domain: str | None = None
    """``deployed-task`` only: start the run in this domain."""
    tui: bool = False
    """Show the run in the terminal UI (``--tui``)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Options accepted for compatibility that local runs do not use."""

    def runner(self, mode: Mode, **extra: Any) -> Runner:
        """``flyte.with_runcontext`` with these options; ``extra`` adds the remote-only settings."""
        import flyte

        return flyte.with_runcontext(
            mode=mode,
            name=self.name,
            version=self.version,
            raw_data_path=self.raw_data_path,
            overwrite_cache=self.overwrite_cache,
            project=self.project,
            domain=self.domain,
            env_vars=self.env_vars or None,
            labels=self.labels or None,
            queue=self.queue,
            max_action_concurrency=self.max_action_concurrency,
            debug=self.debug,
            **extra,
        )


def _key_values(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", ctx=ctx, param=param)
        result[key.strip()] = value
    return result


class RunGroup(click.Group):
    """``flyte run``: its subcommands are Python files, resolved from the path given."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_BUILT_IN)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _BUILT_IN and not Path(cmd_name).exists():
            return _built_in(cmd_name)
        path = Path(cmd_name).expanduser()
        if path.is_dir():
            raise click.UsageError(f"{cmd_name!r} is a directory; give the path of a Python file", ctx)
        if not path.is_file():
            raise click.UsageError(
                f"No such file: {cmd_name!r}; give the path of a Python file that defines tasks", ctx
            )
        root_dir = ctx.params.get("root_dir")
        return FileGroup(cmd_name, path, Path(root_dir) if root_dir else None)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Arguments"):
            formatter.write_dl(
                [
                    ("FILE", "A Python file that defines tasks (with @env.task), or a command below."),
                    ("TASK", "The task to run; leave it out to list the file's tasks."),
                    ("INPUTS", "The task's inputs, as --name value (see FILE TASK --help)."),
                ]
            )
        with formatter.section("Commands"):
            formatter.write_dl(list(_BUILT_IN.items()))


_BUILT_IN = {
    "deployed-task": "Run a task deployed on the control plane: deployed-task NAME[:VERSION] --x 1.",
    "hello": "Run a built-in first workflow (no files needed).",
    "python-script": "Run a plain Python script as a task on the control plane.",
}


def _built_in(name: str) -> click.Command:
    if name == "deployed-task":
        from flyte.cli._run_remote import DeployedTaskGroup

        return DeployedTaskGroup()
    from flyte.cli._run_builtin import hello, python_script

    return hello if name == "hello" else python_script


def _summary(doc: str | None) -> str:
    """The part of a docstring before its first section (``Args:``, ``Returns:``, ...)."""
    if not doc:
        return ""
    import inspect

    lines: list[str] = []
    for line in inspect.cleandoc(doc).splitlines():
        if line.strip().endswith(":") and line.strip()[:-1] in (
            "Args",
            "Arguments",
            "Parameters",
            "Returns",
            "Raises",
            "Yields",
            "Example",
            "Examples",
        ):
            break
        lines.append(line)
    return "\n".join(lines).strip()


def _signature(task: Any) -> str:
    from flyte.cli._params import short_signature

    try:
        interface = task.interface
        return short_signature(interface.inputs, interface.outputs)
    except (TypeError, NameError) as e:
        return f"(cannot read the signature: {e})"


class FileGroup(click.Group):
    """``flyte run FILE``: the tasks of one file; without a task it lists them."""

    def __init__(self, name: str, path: Path, root_dir: Path | None) -> None:
        super().__init__(
            name=name,
            help=f"Run a task defined in {name}. Without TASK, list the tasks.",
            invoke_without_command=True,
            subcommand_metavar="TASK [INPUTS]...",
            callback=self._list_tasks,
        )
        self.path = path
        self.root_dir = root_dir
        self._tasks: dict[str, Any] | None = None

    def tasks(self, ctx: click.Context) -> dict[str, Any]:
        """The file's tasks by name, loading the file on first use."""
        if self._tasks is None:
            from flyte.cli._loader import ModuleLoadFailure, find_tasks, load_module

            try:
                self._tasks = find_tasks(load_module(self.path, self.root_dir))
            except ModuleLoadFailure as e:
                fail(e.message, error=e.cause or e, verbose=get_cli_config(ctx).verbose)
        return self._tasks

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.tasks(ctx))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        tasks = self.tasks(ctx)
        task = tasks.get(cmd_name)
        if task is None:
            known = ", ".join(tasks) or "none"
            raise click.UsageError(f"No task named {cmd_name!r} in {self.name} (its tasks: {known})", ctx)
        return TaskCommand(cmd_name, task)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [
            (name, _summary(_task_doc(task)).split("\n")[0] or _signature(task))
            for name, task in self.tasks(ctx).items()
        ]
        if rows:
            with formatter.section("Tasks"):
                formatter.write_dl(rows)

    def _list_tasks(self) -> None:
        ctx = click.get_current_context()
        if ctx.invoked_subcommand is not None:
            return
        tasks = self.tasks(ctx)
        if not tasks:
            click.echo(f"No tasks found in {self.name}; define them with @env.task.")
            return
        if get_cli_config(ctx).wants_json:
            listing = [
                {"name": name, "task": getattr(task, "name", name), "signature": _signature(task)}
                for name, task in tasks.items()
            ]
            click.echo(json.dumps(listing, indent=2))
            return
        from flyte.cli._common import print_plain_columns

        click.echo(f"Tasks in {self.name}:")
        print_plain_columns(
            [[name, _signature(task), _summary(_task_doc(task)).split("\n")[0]] for name, task in tasks.items()],
            indent=2,
        )
        click.echo(f"\nShow the inputs of a task: flyte run {self.name} TASK --help")


def _task_doc(task: Any) -> str | None:
    func = getattr(task, "func", None)
    return getattr(func, "__doc__", None) if func is not None else getattr(task, "__doc__", None)


class TaskCommand(click.Command):
    """``flyte run FILE TASK``: one option per task input."""

    def __init__(self, name: str, task: Any) -> None:
        from flyte.cli._params import input_options, parse_docstring_args

        doc = _task_doc(task)
        try:
            inputs = task.interface.inputs
        except (TypeError, NameError) as e:
            raise click.ClickException(f"Cannot read the inputs of task {name!r}: {e}") from e
        summary = _summary(doc)
        self.input_names = set(inputs)
        super().__init__(
            name=name,
            params=[*input_options(inputs, parse_docstring_args(doc)), *trailing_run_options(self.input_names)],
            callback=self._run,
            help=(summary + "\n\n" if summary else "") + f"Signature: {_signature(task)}",
            epilog=TRAILING_OPTIONS_EPILOG,
            short_help=summary.split("\n")[0] if summary else None,
            no_args_is_help=False,
        )
        self.task = task

    def _run(self, **values: Any) -> None:
        ctx = click.get_current_context()
        values = apply_trailing_run_options(ctx, values)
        inputs = {key: value for key, value in values.items() if value is not None}
        path = getattr(ctx.parent.command, "path", None) if ctx.parent is not None else None
        execute(ctx, self.task, inputs, path=path)


def _init_flyte(cli: CLIConfig, options: RunOptions, task_name: str) -> None:
    import flyte
    from flyte.errors import InitializationError

    kwargs = cli.init_kwargs(project=options.project, domain=options.domain)
    kwargs.pop("endpoint", None)  # a local run: the control plane is not used
    if options.root_dir is not None:
        kwargs["root_dir"] = options.root_dir
    try:
        flyte.init(**kwargs)
    except InitializationError as e:
        fail(str(e), error=e, verbose=cli.verbose)


def _output_names(task: Any, count: int) -> list[str]:
    try:
        names = list(task.interface.outputs)
    except (TypeError, NameError):
        names = []
    return names if len(names) == count else [f"o{index}" for index in range(count)]


def _to_json(value: Any) -> Any:
    import dataclasses
    import datetime as dt
    import enum

    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_to_json(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _print_result(cli: CLIConfig, task: Any, run: Any, seconds: float) -> None:
    actions = run.actions()
    cached = sum(1 for action in actions if getattr(action, "cache_status", "") == "CACHE_HIT")
    outputs = tuple(run.outputs()) if task.interface.outputs else ()
    named = dict(zip(_output_names(task, len(outputs)), outputs, strict=True))
    if cli.wants_json:
        document = {
            "name": run.name,
            "phase": run.phase,
            "url": run.url,
            "duration_seconds": round(seconds, 3),
            "actions": len(actions),
            "cache_hits": cached,
            "outputs": {key: _to_json(value) for key, value in named.items()},
        }
        indent = None if cli.output_format == "json-raw" else 2
        click.echo(json.dumps(document, indent=indent))
        return
    console = stderr_console()
    noun = "action" if len(actions) == 1 else "actions"
    console.print(
        f"[green]✔[/green] Run [bold]{run.name}[/bold] {run.phase} in {seconds:.2f}s "
        f"· {len(actions)} {noun}, {cached} cached",
        markup=True,
    )
    console.print(f"  Path: {run.url}", markup=False)
    for key, value in named.items():
        click.echo(f"{key}: {value}")


def execute(ctx: click.Context, task: Any, inputs: dict[str, Any], path: Path | None = None) -> None:
    """Run ``task`` with ``inputs`` (remotely when an endpoint is configured and ``--local`` is
    not given) and print the summary and outputs.

    Raises:
        click.ClickException: the task failed (exit code 1).
    """
    from flyte.errors import BaseRuntimeError

    cli = get_cli_config(ctx)
    options = ctx.find_object(RunOptions) or RunOptions()
    if options.run_project or options.run_domain:
        raise click.UsageError("--run-project and --run-domain apply to deployed-task runs only", ctx)
    if not options.local and cli.init_kwargs(project=options.project, domain=options.domain).get("endpoint"):
        from flyte.cli._run_remote import execute_remote

        execute_remote(ctx, task, inputs, options, path)
        return
    task_name = getattr(task, "name", ctx.info_name or "task")
    _init_flyte(cli, options, task_name)
    # The task's image: its Python packages are installed into a venv put on sys.path (docs/images.md).
    if "FLYTE_LOCAL_IMAGE_VENVS" not in os.environ:
        os.environ["FLYTE_LOCAL_IMAGE_VENVS"] = "1"
        ctx.call_on_close(lambda: os.environ.pop("FLYTE_LOCAL_IMAGE_VENVS", None))
    runner = options.runner("local")
    console = stderr_console()
    started = time.monotonic()
    if options.tui:
        run = _run_local_in_tui(cli, task_name, lambda: runner.run(task, **inputs))
        _print_result(cli, task, run, time.monotonic() - started)
        return
    try:
        if cli.progress and console.is_terminal and not cli.wants_json:
            with console.status(f"Running {task_name} locally..."):
                run = runner.run(task, **inputs)
        else:
            run = runner.run(task, **inputs)
    except BaseRuntimeError as e:
        _print_user_traceback(e, cli.verbose)
        fail(f"{e.code}: {e}", error=e, verbose=cli.verbose)
    except Exception as e:
        # Errors that never reached the task (a bad input value, a misconfigured task):
        # reported on one line like task failures, with the traceback under -v.
        fail(f"{type(e).__name__}: {e}", error=e, verbose=cli.verbose)
    _print_result(cli, task, run, time.monotonic() - started)


def _run_local_in_tui(cli: CLIConfig, task_name: str, start: Any) -> Any:
    """Run locally while the terminal UI shows the run; the run (or a one-line failure) after it exits."""
    from flyte.cli._tui import LocalRunWithTui

    driver = LocalRunWithTui(task_name, start)
    driver.app.run()
    if not driver.finished.is_set():
        fail(f"The terminal UI was closed before the local run of {task_name} ended; it was not waited for")
    if driver.error is not None:
        from flyte.errors import BaseRuntimeError

        error = driver.error
        _print_user_traceback(error, cli.verbose)
        code = error.code if isinstance(error, BaseRuntimeError) else type(error).__name__
        fail(f"{code}: {error}", error=error, verbose=cli.verbose)
    return driver.run


def _print_user_traceback(error: BaseException, verbose: int) -> None:
    """A task failure's traceback trimmed to the user's frames (``-v`` prints the whole one instead)."""
    if verbose > 0:
        return
    from flyte._internal.tracebacks import user_traceback

    text = user_traceback(error)
    if text:
        click.echo(text, err=True)


@click.group(
    "run",
    cls=RunGroup,
    help=_RUN_HELP,
    short_help="Run a task from a Python file.",
    subcommand_metavar="FILE TASK [INPUTS]...",
    no_args_is_help=True,
)
@click.option("--local", is_flag=True, help="Run the task in this process, even when an endpoint is configured.")
@click.option("--name", help="Name of the run; a random name is generated when not given.")
@click.option("--overwrite-cache", is_flag=True, help="Run cached tasks again and replace their cache entries.")
@click.option(
    "-e",
    "--env",
    "env_vars",
    multiple=True,
    callback=_key_values,
    metavar="KEY=VALUE",
    help="An environment variable for the run; repeat for several, e.g. -e LOG_LEVEL=debug -e FOO=bar.",
)
@click.option(
    "--label",
    "labels",
    multiple=True,
    callback=_key_values,
    metavar="KEY=VALUE",
    help="A label of the run; repeat for several.",
)
@click.option("-f", "--follow", is_flag=True, help="Wait for a remote run and stream its log, then print the outputs.")
@click.option("-w", "--wait", is_flag=True, help="Wait for a remote run and print its outputs (local runs always do).")
@click.option("-p", "--project", help="Project of the run; overrides the config file.")
@click.option("-d", "--domain", help="Domain of the run; overrides the config file.")
@click.option("--version", "run_version", help="Code version to report for the run.")
@root_dir_option()
@click.option("--raw-data-path", help="Where offloaded data (files, dataframes) is written.")
@click.option("--queue", help="Queue to schedule every action of the run on.")
@click.option(
    "--max-action-concurrency",
    type=click.IntRange(min=1),
    help="How many actions of the run may run at once.",
)
@click.option("--image", "images", multiple=True, metavar="[NAME=]URI", help="Image for the run; repeatable.")
@copy_style_option("Which files a remote run ships: the imported modules, every file under the root, or none.")
@click.option("--pkl", is_flag=True, help="Ship the task as a pickle instead of a code bundle (remote runs).")
@click.option("--service-account", help="Kubernetes service account of a remote run.")
@click.option(
    "--debug",
    is_flag=True,
    help="Run the root task as a debug task (PyPI flyte's runtime starts a VS Code server in it).",
)
@click.option(
    "--no-sync-local-sys-paths",
    "no_sync_local_sys_paths",
    is_flag=True,
    help="Do not give the workers this session's sys.path entries under the code root (remote runs).",
)
@click.option("--run-project", help="deployed-task only: start the run in this project (the task's stays -p).")
@click.option("--run-domain", help="deployed-task only: start the run in this domain (the task's stays -d).")
@click.option(
    "--tui",
    is_flag=True,
    help="Show the run in a terminal UI (Textual): the action tree with live phases, and logs.",
)
@click.option(
    "--tracked",
    "--tracked-strict",
    "tracked",
    is_flag=True,
    help="Run locally while reporting to the control plane (not supported by this implementation).",
)
@click.pass_context
def run(
    ctx: click.Context,
    local: bool,
    name: str | None,
    overwrite_cache: bool,
    env_vars: dict[str, str],
    labels: dict[str, str],
    follow: bool,
    wait: bool,
    project: str | None,
    domain: str | None,
    run_version: str | None,
    root_dir: Path | None,
    raw_data_path: str | None,
    queue: str | None,
    max_action_concurrency: int | None,
    images: tuple[str, ...],
    copy_style: str,
    pkl: bool,
    service_account: str | None,
    debug: bool,
    no_sync_local_sys_paths: bool,
    run_project: str | None,
    run_domain: str | None,
    tracked: bool,
    tui: bool,
) -> None:
    ctx.obj = _options_from(ctx.params)


def _options_from(params: dict[str, Any]) -> RunOptions:
    """The :class:`RunOptions` of ``flyte run``'s option values (by parameter name)."""
    if params.get("tracked"):
        fail("--tracked: tracked local runs (reported to the control plane) are not supported by this implementation")
    return RunOptions(
        debug=params["debug"],
        run_project=params["run_project"],
        run_domain=params["run_domain"],
        local=params["local"],
        name=params["name"],
        overwrite_cache=params["overwrite_cache"],
        env_vars=params["env_vars"],
        labels=params["labels"],
        follow=params["follow"],
        wait=params["wait"],
        project=params["project"],
        domain=params["domain"],
        version=params["run_version"],
        root_dir=params["root_dir"],
        raw_data_path=params["raw_data_path"],
        queue=params["queue"],
        max_action_concurrency=params["max_action_concurrency"],
        images=params["images"],
        tui=params.get("tui", False),
        extra={
            "copy_style": params["copy_style"],
            "service_account": params["service_account"],
            "pkl": params["pkl"],
            "sync_local_sys_paths": not params["no_sync_local_sys_paths"],
        },
    )


TRAILING_OPTIONS_EPILOG = (
    "The options of `flyte run` (--local, --wait, --follow, -p, -d, --name, ...) are accepted here too, "
    "before or after the inputs; see `flyte run --help`."
)


def trailing_run_options(input_names: set[str]) -> list[click.Parameter]:
    """``flyte run``'s options, also accepted after the task name (``flyte run f.py main --x 1 --wait``).

    An option is left out when a task input has the same name (the input wins).
    """
    import copy

    taken = {name.replace("_", "-") for name in input_names}
    params: list[click.Parameter] = []
    for param in run.params:
        if not isinstance(param, click.Option):
            continue
        flags = {opt.lstrip("-") for opt in (*param.opts, *param.secondary_opts)}
        if (param.name or "") in input_names or flags & taken:
            continue
        trailing = copy.copy(param)
        trailing.hidden = True  # listed once, in `flyte run --help`; the task's help says they work here
        params.append(trailing)
    return params


def apply_trailing_run_options(ctx: click.Context, values: dict[str, Any]) -> dict[str, Any]:
    """Take the run options given after the task name out of ``values``; update the run's options.

    Returns:
        The remaining values: the task's inputs.
    """
    from click.core import ParameterSource

    input_names = _input_names(ctx)
    run_names = {param.name for param in run.params} - input_names
    given = {
        name: value
        for name, value in values.items()
        if name in run_names and ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE
    }
    inputs = {name: value for name, value in values.items() if name not in run_names}
    if given:
        run_ctx: click.Context | None = ctx
        while run_ctx is not None and run_ctx.command is not run:
            run_ctx = run_ctx.parent
        if run_ctx is not None:
            merged = {**run_ctx.params, **given}
            if "env_vars" in given or "labels" in given:
                for key in ("env_vars", "labels"):
                    merged[key] = {**run_ctx.params.get(key, {}), **given.get(key, {})}
            run_ctx.params.update(merged)
            # Sub-contexts hold the same RunOptions object: update it in place.
            options = run_ctx.find_object(RunOptions)
            updated = _options_from(merged)
            if options is None:
                run_ctx.obj = updated
            else:
                for field_ in dataclasses.fields(updated):
                    object.__setattr__(options, field_.name, getattr(updated, field_.name))  # frozen dataclass
    return inputs


def _input_names(ctx: click.Context) -> set[str]:
    return set(getattr(ctx.command, "input_names", ()))

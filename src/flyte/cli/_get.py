"""``flyte get run|action|logs|io|task|project|trigger|secret``: read from the control plane.

Without a name each noun lists (a table, or JSON with ``--output-format json``); with one it
shows that object.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from flyte.cli._common import CLIConfig, emit_one, emit_rows, get_cli_config, init_remote, remote_errors
from flyte.cli._moment import MomentType

__all__ = ["get"]

_PHASES = [
    "queued",
    "waiting_for_resources",
    "initializing",
    "running",
    "paused",
    "succeeded",
    "failed",
    "aborted",
    "timed_out",
    "recovered",
]


def _scope_options(command: Any) -> Any:
    command = click.option("-d", "--domain", help="Domain; overrides the config file.")(command)
    return click.option("-p", "--project", help="Project; overrides the config file.")(command)


def _connect(ctx: click.Context, project: str | None, domain: str | None, *, need_scope: bool = True) -> CLIConfig:
    cli = get_cli_config(ctx)
    init_remote(cli, project=project, domain=domain, need_scope=need_scope)
    return cli


@click.group(
    "get",
    help="Read runs, actions, logs, inputs/outputs, code, tasks, projects, triggers, secrets and the configuration.",
)
def get() -> None:
    pass


def _labels(ctx: click.Context, option: str, values: tuple[str, ...]) -> dict[str, str]:
    """``KEY=VALUE`` items as a dict; a malformed one is a usage error (exit 2)."""
    labels: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", ctx=ctx, param_hint=option)
        labels[key.strip()] = value
    return labels


def _run_row(run: Any) -> dict[str, Any]:
    return {
        "name": run.name,
        "task": run.task_name,
        "phase": run.phase,
        "start": run.start_time,
        "duration": run.action.duration,
    }


@get.command("run")
@click.argument("name", required=False)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="How many runs to list.")
@click.option("--in-phase", "phases", multiple=True, type=click.Choice(_PHASES), help="Only runs in these phases.")
@click.option("--task-name", help="Only runs of this task.")
@click.option("--task-version", help="Only runs of this task version.")
@click.option("--created-after", type=MomentType(), help="Only runs created at or after this time (UTC).")
@click.option("--created-before", type=MomentType(), help="Only runs created before this time (UTC).")
@click.option("--updated-after", type=MomentType(), help="Only runs last updated at or after this time (UTC).")
@click.option("--updated-before", type=MomentType(), help="Only runs last updated before this time (UTC).")
@click.option(
    "--with-label",
    "with_labels",
    multiple=True,
    metavar="KEY=VALUE",
    help="Only runs with this label; repeat for several (all must match).",
)
@click.option("--with-label-key", "with_label_keys", multiple=True, help="Only runs with a label of this key.")
@click.option("--only-mine", is_flag=True, help="Only runs you started (as flyte whoami names you).")
@click.option(
    "--paused-only", is_flag=True, help="Only running runs with an action paused on a condition (waiting for input)."
)
@_scope_options
@click.pass_context
def get_run(
    ctx: click.Context,
    name: str | None,
    limit: int,
    phases: tuple[str, ...],
    task_name: str | None,
    task_version: str | None,
    created_after: dt.datetime | None,
    created_before: dt.datetime | None,
    updated_after: dt.datetime | None,
    updated_before: dt.datetime | None,
    with_labels: tuple[str, ...],
    with_label_keys: tuple[str, ...],
    only_mine: bool,
    paused_only: bool,
    project: str | None,
    domain: str | None,
) -> None:
    """List runs (newest first), or show the run NAME.

    Times are ISO dates or datetimes (UTC), now, today, or one of them minus a duration:

    \b
        flyte get run --created-after today
        flyte get run --updated-after 'now - 2 hours' --in-phase failed
        flyte get run --with-label team=ml --with-label-key nightly
    """
    import flyte.remote

    labels = _labels(ctx, "--with-label", with_labels)
    cli = _connect(ctx, project, domain)
    with remote_errors(cli):
        if name is None:
            runs = flyte.remote.Run.listall(
                in_phase=phases or None,
                task_name=task_name,
                task_version=task_version,
                created_after=created_after,
                created_before=created_before,
                updated_after=updated_after,
                updated_before=updated_before,
                with_labels=labels or None,
                with_label_keys=list(with_label_keys) or None,
                created_by_subject=str(flyte.remote.User.get().subject) if only_mine else None,
                paused_actions_only=paused_only,
                limit=limit,
            )
            columns = [
                ("name", "Name"),
                ("task", "Task"),
                ("phase", "Phase"),
                ("start", "Started"),
                ("duration", "Duration"),
            ]
            emit_rows(cli, "Runs", columns, [_run_row(run) for run in runs], [run.to_dict() for run in runs])
            return
        run = flyte.remote.Run.get(name)
        details = run.details()
    action = details.action
    fields = {
        **_run_row(run),
        "url": run.url,
        "end": action.end_time,
        "attempts": action.attempts,
        "error": f"{action.error.code}: {action.error.message}" if action.error else None,
        "aborted": action.abort_reason,
        "labels": ", ".join(f"{k}={v}" for k, v in details.labels.items()) or None,
        # The server's notification delivery log (flyte.notify), one "phase kind target: status" per rule.
        "notifications": "; ".join(
            text for key, text in sorted(details.annotations.items()) if key.startswith("flyte.notify/")
        )
        or None,
    }
    emit_one(cli, f"Run {name}", fields, details.to_dict())


@get.command("action")
@click.argument("run_name")
@click.argument("action_name", required=False)
@click.option("--in-phase", "phases", multiple=True, type=click.Choice(_PHASES), help="Only actions in these phases.")
@_scope_options
@click.pass_context
def get_action(
    ctx: click.Context,
    run_name: str,
    action_name: str | None,
    phases: tuple[str, ...],
    project: str | None,
    domain: str | None,
) -> None:
    """List the actions of run RUN_NAME, or show its action ACTION_NAME with every attempt."""
    import flyte.remote

    cli = _connect(ctx, project, domain)
    with remote_errors(cli):
        if action_name is None:
            actions = flyte.remote.Action.listall(run_name, in_phase=phases or None)
            rows = [
                {
                    "name": a.name,
                    "parent": a.parent,
                    "task": a.task_name,
                    "kind": a.kind,
                    "phase": a.phase.name,
                    "attempts": a.attempts,
                    "cache": a.cache_status,
                    "duration": a.duration,
                }
                for a in actions
            ]
            columns = [
                ("name", "Name"),
                ("parent", "Parent"),
                ("task", "Task"),
                ("kind", "Kind"),
                ("phase", "Phase"),
                ("attempts", "Attempts"),
                ("cache", "Cache"),
                ("duration", "Duration"),
            ]
            emit_rows(cli, f"Actions of run {run_name}", columns, rows, [a.to_dict() for a in actions])
            return
        action = flyte.remote.Action.get(run_name, action_name)
    fields: dict[str, Any] = {
        "name": action.name,
        "run": action.run_name,
        "parent": action.parent,
        "task": action.task_name,
        "phase": action.phase.name,
        "start": action.start_time,
        "end": action.end_time,
        "attempts": action.attempts,
        "cache": action.cache_status,
        "error": f"{action.error.code}: {action.error.message}" if action.error else None,
    }
    for attempt in action.attempt_history:
        fields[f"attempt {attempt.attempt}"] = attempt.phase.name + (
            f" ({attempt.error.code}: {attempt.error.message})" if attempt.error else ""
        )
    emit_one(cli, f"Action {action_name} of run {run_name}", fields, action.to_dict())


@get.command("logs")
@click.argument("run_name")
@click.argument("action_name", default="a0", required=False)
@click.option("-a", "--attempt", type=click.IntRange(min=1), help="Attempt to show; default: the latest.")
@click.option(
    "-l", "--lines", type=click.IntRange(min=1), help="Show only the last N lines (the box size with --pretty)."
)
@click.option("--show-ts", is_flag=True, help="Start each line with its timestamp (UTC).")
@click.option("--filter-system", is_flag=True, help="Leave out the lines Flyte itself wrote (keep the task's).")
@click.option("--pretty", is_flag=True, help="On a terminal, show the log in a box that scrolls (--lines high).")
@_scope_options
@click.pass_context
def get_logs(
    ctx: click.Context,
    run_name: str,
    action_name: str,
    attempt: int | None,
    lines: int | None,
    show_ts: bool,
    filter_system: bool,
    pretty: bool,
    project: str | None,
    domain: str | None,
) -> None:
    """Print the log of an action (the run's root action by default), following it while it runs.

    \b
        flyte get logs my_run
        flyte get logs my_run a1 --lines 20 --show-ts
    """
    import flyte.remote
    from flyte.cli._logs import print_logs

    cli = _connect(ctx, project, domain)
    with remote_errors(cli):
        action = flyte.remote.Action.get(run_name, action_name)
        print_logs(action, attempt=attempt, lines=lines, show_ts=show_ts, filter_system=filter_system, pretty=pretty)


@get.command("io")
@click.argument("run_name")
@click.argument("action_name", default="a0", required=False)
@click.option("-i", "--inputs-only", is_flag=True, help="Show only the inputs.")
@click.option("-o", "--outputs-only", is_flag=True, help="Show only the outputs.")
@_scope_options
@click.pass_context
def get_io(
    ctx: click.Context,
    run_name: str,
    action_name: str,
    inputs_only: bool,
    outputs_only: bool,
    project: str | None,
    domain: str | None,
) -> None:
    """Show the inputs and outputs of an action (the run's root action by default).

    \b
        flyte get io my_run
        flyte get io my_run a1 --outputs-only
    """
    import flyte.remote
    from flyte.cli._run import _to_json

    if inputs_only and outputs_only:
        raise click.UsageError("--inputs-only and --outputs-only cannot be used together", ctx)
    cli = _connect(ctx, project, domain)
    with remote_errors(cli):
        action = flyte.remote.Action.get(run_name, action_name)
        inputs = action.inputs() if not outputs_only else None
        outputs = tuple(action.outputs()) if not inputs_only and action.phase.is_success else None
    document: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    if inputs is not None:
        document["inputs"] = {key: _to_json(value) for key, value in inputs.items()}
        fields.update({f"input {key}": value for key, value in inputs.items()} or {"inputs": "none"})
    if not inputs_only:
        document["outputs"] = (
            {f"o{index}": _to_json(value) for index, value in enumerate(outputs)} if outputs is not None else None
        )
        if outputs is None:
            fields["outputs"] = f"none ({action.phase.name})"
        else:
            fields.update({f"output o{index}": value for index, value in enumerate(outputs)} or {"outputs": "none"})
    what = "Inputs" if inputs_only else "Outputs" if outputs_only else "Inputs and outputs"
    emit_one(cli, f"{what} of {action_name} in run {run_name}", fields, document)


@get.command("code")
@click.argument("run_name")
@click.argument("action_name", default="a0", required=False)
@click.option(
    "-o",
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to download the code into (kept); without it the files are only listed.",
)
@click.option("--no-extract", is_flag=True, help="Keep the downloaded archive instead of unpacking it (needs --dest).")
@click.option("-a", "--attempt", type=click.IntRange(min=1), help="Attempt whose code to fetch; default: the latest.")
@_scope_options
@click.pass_context
def get_code(
    ctx: click.Context,
    run_name: str,
    action_name: str,
    dest: Path | None,
    no_extract: bool,
    attempt: int | None,
    project: str | None,
    domain: str | None,
) -> None:
    """Download the code an action ran (the run's root action by default): the bundle that
    flyte run or flyte deploy uploaded. A task whose code is in its image has none (exit 3).

    \b
        flyte get code my_run                 # list the files
        flyte get code my_run --dest ./src    # unpack them into ./src
    """
    import tempfile

    from flyte._internal.syncify import run_sync
    from flyte.remote._code_bundle import download_code_bundle
    from flyte.remote._common import scope as remote_scope

    if no_extract and dest is None:
        raise click.UsageError("--no-extract keeps the archive, so it needs --dest", ctx)
    cli = _connect(ctx, project, domain)
    scope = remote_scope(None, None)
    with remote_errors(cli), tempfile.TemporaryDirectory(prefix="flyte-code-") as scratch:
        target = dest if dest is not None else Path(scratch)
        result = run_sync(
            download_code_bundle(*scope, run_name, action_name, dest=target, extract=not no_extract, attempt=attempt)
        )
        if dest is not None:
            click.echo(f"Downloaded the code of {action_name} in run {run_name} to {result}")
            return
        if result.is_file():
            click.echo(f"The code of {action_name} in run {run_name} is a pickled task ({result.name}).")
            return
        files = sorted(str(path.relative_to(result)) for path in result.rglob("*") if path.is_file())
        if cli.wants_json:
            emit_one(cli, "Code", {"files": files}, {"run": run_name, "action": action_name, "files": files})
            return
        for name in files:
            click.echo(name)


_SECRET_KEYS = ("secret", "token", "password")


@get.command("config")
@click.pass_context
def get_config(ctx: click.Context) -> None:
    """Show the configuration the CLI uses: the config file it found (or --config) and the
    settings it passes to flyte.init, with the global options (--endpoint, --org, ...) applied.
    Secrets are never shown.

    \b
        flyte get config
        flyte --config ./prod.yaml -of json get config
    """
    from flyte.config import auto

    cli = get_cli_config(ctx)
    kwargs = cli.init_kwargs()  # an unreadable config file stops here with a one-line error
    source = auto(cli.config_file).source
    settings: dict[str, Any] = {"config file": str(source) if source else None}
    for key, value in sorted(kwargs.items()):
        if key == "source_config_path":
            continue
        if any(word in key for word in _SECRET_KEYS) and value:
            value = "(set)"
        settings[key] = value if not isinstance(value, Path) else str(value)
    if not kwargs.get("endpoint"):
        settings["mode"] = "local (no endpoint: runs happen in this process)"
    emit_one(cli, "Configuration", settings, settings)


@get.command("task")
@click.argument("name", required=False)
@click.argument("version", required=False)
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="How many to list.")
@click.option("--entrypoint", is_flag=True, help="Only entrypoint tasks.")
@_scope_options
@click.pass_context
def get_task(
    ctx: click.Context,
    name: str | None,
    version: str | None,
    limit: int,
    entrypoint: bool,
    project: str | None,
    domain: str | None,
) -> None:
    """List deployed tasks, the versions of task NAME, or show task NAME at VERSION."""
    import flyte.remote

    cli = _connect(ctx, project, domain)
    with remote_errors(cli):
        if version is None:
            tasks = flyte.remote.Task.listall(by_task_name=name, entrypoint=True if entrypoint else None, limit=limit)
            rows = [
                {"name": t.name, "version": t.version, "environment": t.environment, "deployed": t.deployed_at}
                for t in tasks
            ]
            columns = [
                ("name", "Name"),
                ("version", "Version"),
                ("environment", "Environment"),
                ("deployed", "Deployed"),
            ]
            emit_rows(cli, "Tasks", columns, rows, [t.to_dict() for t in tasks])
            return
        assert name is not None
        details = flyte.remote.Task.get(name, version=version).fetch()
    fields = {
        "name": details.name,
        "version": details.version,
        "environment": details.environment,
        "inputs": ", ".join(f"{k}: {v}" for k, v in details.inputs.items()) or None,
        "outputs": ", ".join(f"{k}: {v}" for k, v in details.outputs.items()) or None,
        "defaults": ", ".join(f"{k}={v!r}" for k, v in details.defaults.items()) or None,
        "retries": details.retries,
        "cache": details.cache_version if details.cache_enabled else "disabled",
        "image": details.image,
        "description": details.description or None,
    }
    emit_one(cli, f"Task {name}", fields, details.to_dict())


@get.command("project")
@click.argument("name", required=False)
@click.option("--archived", is_flag=True, help="List the archived projects instead of the active ones.")
@click.pass_context
def get_project(ctx: click.Context, name: str | None, archived: bool) -> None:
    """List projects (active ones unless --archived), or show the project NAME."""
    import flyte.remote

    cli = _connect(ctx, None, None, need_scope=False)
    with remote_errors(cli):
        if name is None:
            projects = flyte.remote.Project.listall(archived=archived)
            rows = [{"id": p.id, "name": p.name, "description": p.description} for p in projects]
            emit_rows(
                cli,
                "Projects",
                [("id", "Id"), ("name", "Name"), ("description", "Description")],
                rows,
                [p.to_dict() for p in projects],
            )
            return
        project = flyte.remote.Project.get(name)
    emit_one(cli, f"Project {name}", project.to_dict(), project.to_dict())


@get.command("trigger")
@click.argument("task_name", required=False)
@click.argument("name", required=False)
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="How many to list.")
@_scope_options
@click.pass_context
def get_trigger(
    ctx: click.Context, task_name: str | None, name: str | None, limit: int, project: str | None, domain: str | None
) -> None:
    """List triggers (of TASK_NAME when given), or show the trigger NAME of TASK_NAME."""
    import flyte.remote

    cli = _connect(ctx, project, domain)
    with remote_errors(cli):
        if name is None:
            triggers = flyte.remote.Trigger.listall(task_name=task_name, limit=limit)
            rows = [
                {
                    "name": t.name,
                    "task": t.task_name,
                    "active": t.active,
                    "schedule": t.schedule,
                    "fired": t.triggered_at,
                }
                for t in triggers
            ]
            columns = [
                ("name", "Name"),
                ("task", "Task"),
                ("active", "Active"),
                ("schedule", "Schedule"),
                ("fired", "Last fired"),
            ]
            emit_rows(cli, "Triggers", columns, rows, [t.to_dict() for t in triggers])
            return
        assert task_name is not None
        trigger = flyte.remote.Trigger.get(name, task_name)
    emit_one(cli, f"Trigger {name}", trigger.to_dict(), trigger.to_dict())


@get.command("app")
@click.argument("name", required=False)
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="How many to list.")
@click.option("--only-mine", is_flag=True, help="Only the apps you deployed.")
@click.option(
    "--status",
    type=click.Choice(
        [
            "unassigned",
            "assigned",
            "pending",
            "stopped",
            "started",
            "failed",
            "active",
            "scaling_up",
            "scaling_down",
            "deploying",
        ]
    ),
    help="Only the apps in this status.",
)
@_scope_options
@click.pass_context
def get_app(
    ctx: click.Context,
    name: str | None,
    limit: int,
    only_mine: bool,
    status: str | None,
    project: str | None,
    domain: str | None,
) -> None:
    """List apps, or show the app NAME (its status and URL)."""
    import flyte.remote

    cli = _connect(ctx, project, domain)
    with remote_errors(cli):
        if name is None:
            subject = None
            if only_mine:
                subject = flyte.remote.User.get().subject
            apps = flyte.remote.App.listall(created_by_subject=subject, limit=limit, in_status=status)
            rows = [
                {
                    "name": app.name,
                    "status": app.deployment_status,
                    "desired": app.desired_state,
                    "replicas": app.to_dict()["replicas"],
                    "url": app.endpoint,
                }
                for app in apps
            ]
            columns = [
                ("name", "Name"),
                ("status", "Status"),
                ("desired", "Desired"),
                ("replicas", "Replicas"),
                ("url", "URL"),
            ]
            emit_rows(cli, "Apps", columns, rows, [app.to_dict() for app in apps])
            return
        app = flyte.remote.App.get(name)
    emit_one(cli, f"App {name}", app.to_dict(), app.to_dict())


@get.command("secret")
@click.argument("name", required=False)
@click.option("--cluster-pool", help="The cluster pool the secrets are scoped to (this control plane has none).")
@_scope_options
@click.pass_context
def get_secret(
    ctx: click.Context, name: str | None, cluster_pool: str | None, project: str | None, domain: str | None
) -> None:
    """List secrets (never their values), or show the secret NAME."""
    import flyte.remote

    cli = _connect(ctx, project, domain)
    with remote_errors(cli):
        if name is None:
            secrets = flyte.remote.Secret.listall(cluster_pool=cluster_pool)
            rows = [{"name": s.name, "type": s.type, "created": s.created_at} for s in secrets]
            emit_rows(
                cli,
                "Secrets",
                [("name", "Name"), ("type", "Type"), ("created", "Created")],
                rows,
                [s.to_dict() for s in secrets],
            )
            return
        secret = flyte.remote.Secret.get(name, cluster_pool=cluster_pool)
    emit_one(cli, f"Secret {name}", secret.to_dict(), secret.to_dict())

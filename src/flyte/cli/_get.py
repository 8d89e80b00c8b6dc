"""``flyte get run|action|logs|io|task|project|trigger|secret``: read from the control plane.

Without a name each noun lists (a table, or JSON with ``--output-format json``); with one it
shows that object.
"""

from __future__ import annotations

from typing import Any

import click

from flyte.cli._common import CLIConfig, emit_one, emit_rows, get_cli_config, init_remote, remote_errors

__all__ = ["get"]

_PHASES = ["queued", "waiting_for_resources", "initializing", "running", "succeeded", "failed", "aborted", "timed_out"]


def _scope_options(command: Any) -> Any:
    command = click.option("-d", "--domain", help="Domain; overrides the config file.")(command)
    return click.option("-p", "--project", help="Project; overrides the config file.")(command)


def _connect(ctx: click.Context, project: str | None, domain: str | None, *, need_scope: bool = True) -> CLIConfig:
    cli = get_cli_config(ctx)
    init_remote(cli, project=project, domain=domain, need_scope=need_scope)
    return cli


@click.group("get", help="Read runs, actions, logs, inputs/outputs, tasks, projects, triggers and secrets.")
def get() -> None:
    pass


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
@_scope_options
@click.pass_context
def get_run(
    ctx: click.Context,
    name: str | None,
    limit: int,
    phases: tuple[str, ...],
    task_name: str | None,
    task_version: str | None,
    project: str | None,
    domain: str | None,
) -> None:
    """List runs (newest first), or show the run NAME."""
    import flyte.remote

    cli = _connect(ctx, project, domain)
    with remote_errors(cli):
        if name is None:
            runs = flyte.remote.Run.listall(
                in_phase=phases or None, task_name=task_name, task_version=task_version, limit=limit
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
@_scope_options
@click.pass_context
def get_logs(
    ctx: click.Context, run_name: str, action_name: str, attempt: int | None, project: str | None, domain: str | None
) -> None:
    """Print the log of an action (the run's root action by default), following it while it runs."""
    import flyte.remote

    cli = _connect(ctx, project, domain)
    with remote_errors(cli):
        action = flyte.remote.Action.get(run_name, action_name)
        for line in action.tail_logs(attempt):
            click.echo(line)


@get.command("io")
@click.argument("run_name")
@click.argument("action_name", default="a0", required=False)
@_scope_options
@click.pass_context
def get_io(ctx: click.Context, run_name: str, action_name: str, project: str | None, domain: str | None) -> None:
    """Show the inputs and outputs of an action (the run's root action by default)."""
    import flyte.remote
    from flyte.cli._run import _to_json

    cli = _connect(ctx, project, domain)
    with remote_errors(cli):
        action = flyte.remote.Action.get(run_name, action_name)
        inputs = action.inputs()
        outputs = tuple(action.outputs()) if action.phase.is_success else None
    document = {
        "inputs": {key: _to_json(value) for key, value in inputs.items()},
        "outputs": {f"o{index}": _to_json(value) for index, value in enumerate(outputs)}
        if outputs is not None
        else None,
    }
    fields: dict[str, Any] = {f"input {key}": value for key, value in inputs.items()}
    if outputs is None:
        fields["outputs"] = f"none ({action.phase.name})"
    else:
        fields.update({f"output o{index}": value for index, value in enumerate(outputs)})
    emit_one(cli, f"Inputs and outputs of {action_name} in run {run_name}", fields or {"inputs": "none"}, document)


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
@click.pass_context
def get_project(ctx: click.Context, name: str | None) -> None:
    """List projects, or show the project NAME."""
    import flyte.remote

    cli = _connect(ctx, None, None, need_scope=False)
    with remote_errors(cli):
        if name is None:
            projects = flyte.remote.Project.listall()
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


@get.command("secret")
@click.argument("name", required=False)
@_scope_options
@click.pass_context
def get_secret(ctx: click.Context, name: str | None, project: str | None, domain: str | None) -> None:
    """List secrets (never their values), or show the secret NAME."""
    import flyte.remote

    cli = _connect(ctx, project, domain)
    with remote_errors(cli):
        if name is None:
            secrets = flyte.remote.Secret.listall()
            rows = [{"name": s.name, "type": s.type, "created": s.created_at} for s in secrets]
            emit_rows(
                cli,
                "Secrets",
                [("name", "Name"), ("type", "Type"), ("created", "Created")],
                rows,
                [s.to_dict() for s in secrets],
            )
            return
        secret = flyte.remote.Secret.get(name)
    emit_one(cli, f"Secret {name}", secret.to_dict(), secret.to_dict())

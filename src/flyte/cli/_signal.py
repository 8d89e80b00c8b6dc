"""``flyte signal condition`` and ``flyte get condition``: conditions (human-in-the-loop pauses).

A condition is an action that waits for a value (``bool``, ``int``, ``float`` or ``str``) sent by
``RunService.SignalEvent``. A control plane without conditions has no condition actions, and
answers ``UNIMPLEMENTED`` to ``SignalEvent``; both are reported on one line (exit 1).
"""

from __future__ import annotations

from typing import Any

import click

from flyte.cli._common import emit_rows, fail, get_cli_config, init_remote, remote_errors

__all__ = ["condition_of_get", "signal"]


def _scope(command: Any) -> Any:
    command = click.option("-d", "--domain", help="Domain; overrides the config file.")(command)
    return click.option("-p", "--project", help="Project; overrides the config file.")(command)


@click.group("signal", help="Send a value to a run that waits for one (a condition).")
def signal() -> None:
    pass


def _payload_kind(condition: Any) -> str:
    from flyteidl2.core import types_pb2

    simple = condition.type.simple if condition.HasField("type") else types_pb2.SimpleType.STRING
    kinds = {
        types_pb2.SimpleType.BOOLEAN: "bool",
        types_pb2.SimpleType.INTEGER: "int",
        types_pb2.SimpleType.FLOAT: "float",
        types_pb2.SimpleType.STRING: "str",
    }
    return kinds.get(simple, "str")


def _coerce(ctx: click.Context, kind: str, value: str) -> Any:
    if kind == "bool":
        lowered = value.strip().lower()
        if lowered in ("true", "yes", "1", "y"):
            return True
        if lowered in ("false", "no", "0", "n"):
            return False
        raise click.BadParameter(f"{value!r} is not true or false", ctx=ctx, param_hint="VALUE")
    if kind in ("int", "float"):
        try:
            return int(value) if kind == "int" else float(value)
        except ValueError as error:
            raise click.BadParameter(f"{value!r} is not a{'n' if kind == 'int' else ''} {kind}", ctx=ctx) from error
    return value


def _event_payload(value: Any) -> Any:
    from flyteidl2.workflow import run_service_pb2

    if isinstance(value, bool):
        return run_service_pb2.EventPayload(bool_value=value)
    if isinstance(value, int):
        return run_service_pb2.EventPayload(int_value=value)
    if isinstance(value, float):
        return run_service_pb2.EventPayload(float_value=value)
    return run_service_pb2.EventPayload(string_value=str(value))


@signal.command("condition")
@click.argument("run_name")
@click.argument("action_name")
@click.argument("value", required=False)
@click.option("--reject", metavar="REASON", help="Reject the condition instead: the task sees ConditionFailedError.")
@_scope
@click.pass_context
def signal_condition(
    ctx: click.Context,
    run_name: str,
    action_name: str,
    value: str | None,
    reject: str | None,
    project: str | None,
    domain: str | None,
) -> None:
    """Resolve the condition ACTION_NAME of run RUN_NAME with VALUE (or reject it).

    VALUE is read as the condition's type: true/false, an integer, a decimal number or text.
    Without VALUE, on a terminal, the condition's prompt is shown and the value asked for.

    \b
        flyte signal condition r3x9k2 approve true
        flyte signal condition r3x9k2 approve --reject "not this week"

    Exit codes: 0 signalled; 1 the action is not a condition, or the control plane has no
    conditions; 2 a VALUE of the wrong type; 3 no such run or action.
    """
    import sys

    from connectrpc.code import Code
    from connectrpc.errors import ConnectError
    from flyteidl2.workflow import run_service_pb2

    from flyte._internal.syncify import run_sync
    from flyte.remote._action import action_id, fetch_details
    from flyte.remote._common import control_plane_error, get_clients, scope

    cli = get_cli_config(ctx)
    init_remote(cli, project=project, domain=domain)
    chosen_project, chosen_domain = scope(None, None)
    with remote_errors(cli):
        details = run_sync(fetch_details(chosen_project, chosen_domain, run_name, action_name))
    if not details.HasField("condition"):
        fail(f"Action {action_name} of run {run_name} is not a condition: nothing waits for a signal there")
    if reject is not None:
        if value is not None:
            raise click.UsageError("Give VALUE or --reject, not both", ctx)
        request_abort = run_service_pb2.AbortActionRequest(
            action_id=action_id(chosen_project, chosen_domain, run_name, action_name), reason=reject
        )

        async def abort() -> None:
            try:
                await get_clients().run_service.abort_action(request_abort)
            except ConnectError as error:
                raise control_plane_error(error, f"rejecting action {action_name} of run {run_name}") from error

        with remote_errors(cli):
            run_sync(abort())
        click.echo(f"Rejected condition {action_name} of run {run_name}")
        return
    kind = _payload_kind(details.condition)
    if value is None:
        if not sys.stdin.isatty():
            raise click.UsageError(f"Give VALUE (a {kind}); it can only be asked for on a terminal", ctx)
        if details.condition.prompt:
            click.echo(details.condition.prompt, err=True)
        value = click.prompt(f"Value ({kind})", err=True)
    payload = _coerce(ctx, kind, value)
    request = run_service_pb2.SignalEventRequest(
        action_id=action_id(chosen_project, chosen_domain, run_name, action_name),
        parent_action_name=details.metadata.parent,
        payload=_event_payload(payload),
    )

    async def send() -> None:
        try:
            await get_clients().run_service.signal_event(request)
        except ConnectError as error:
            if error.code == Code.UNIMPLEMENTED:
                raise RuntimeError(
                    "This control plane does not support conditions (RunService.SignalEvent is not implemented)"
                ) from error
            raise control_plane_error(error, f"signalling action {action_name} of run {run_name}") from error

    with remote_errors(cli):
        run_sync(send())
    click.echo(f"Signalled condition {action_name} of run {run_name} with {payload!r}")


@click.command("condition")
@click.argument("run_name")
@click.argument("action_name", required=False)
@_scope
@click.pass_context
def condition_of_get(
    ctx: click.Context, run_name: str, action_name: str | None, project: str | None, domain: str | None
) -> None:
    """List the conditions of run RUN_NAME (those under ACTION_NAME when given); resolve one
    with flyte signal condition RUN_NAME NAME VALUE."""
    import flyte.remote

    cli = get_cli_config(ctx)
    init_remote(cli, project=project, domain=domain)
    with remote_errors(cli):
        actions = flyte.remote.Action.listall(run_name)
    conditions = [
        action
        for action in actions
        if action.kind == "condition" and (action_name is None or action.parent == action_name)
    ]
    rows = [{"name": a.name, "parent": a.parent, "phase": a.phase.name, "started": a.start_time} for a in conditions]
    emit_rows(
        cli,
        f"Conditions of run {run_name}",
        [("name", "Name"), ("parent", "Parent"), ("phase", "Phase"), ("started", "Started")],
        rows,
        [a.to_dict() for a in conditions],
    )

"""``flyte get logs``: an action's log lines with their timestamps and origin (user or system).

``flyte.remote.Action.tail_logs`` yields the text only; the command also needs each line's
timestamp (``--show-ts``) and whether Flyte or the task wrote it (``--filter-system``), which
the control plane sends with every line of ``DataProxyService.TailLogs``.
"""

from __future__ import annotations

import collections
import datetime as dt
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import click

__all__ = ["LogLine", "print_logs"]


@dataclass(frozen=True)
class LogLine:
    """One line of an attempt's log."""

    message: str
    """The text, without its line break."""
    timestamp: dt.datetime | None
    """When the control plane says the line was written (UTC); ``None`` when it does not say."""
    system: bool
    """Whether Flyte (not the task's code) wrote it."""


async def _stream(action: Any, attempt: int | None) -> AsyncIterator[LogLine]:
    from connectrpc.code import Code
    from connectrpc.errors import ConnectError
    from flyteidl2.dataproxy import dataproxy_service_pb2

    from flyte.errors import LogsNotYetAvailableError
    from flyte.remote._common import control_plane_error, dataproxy_for

    await action.wait.aio(quiet=True, wait_for="logs-ready")
    number = attempt or max(action.attempts, 1)
    client = await dataproxy_for("OPERATION_TAIL_LOGS", action.project, action.domain)
    request = dataproxy_service_pb2.TailLogsRequest(action_id=action._proto_id(), attempt=number)
    try:
        async for response in client.tail_logs(request):
            for logs in response.logs:
                for line in logs.lines:
                    stamp = line.timestamp.ToDatetime(dt.timezone.utc) if line.HasField("timestamp") else None
                    # The originator enum: 0 unknown, 1 user, 2 system.
                    yield LogLine(line.message, stamp, int(line.originator) == 2)
    except ConnectError as error:
        if error.code == Code.NOT_FOUND and action.done():
            return  # an attempt that ended without writing a line leaves no log: nothing to show
        if error.code == Code.NOT_FOUND:
            raise LogsNotYetAvailableError(
                f"The logs of action {action.name} of run {action.run_name} (attempt {number}) are not available: "
                f"{error.message}"
            ) from error
        raise control_plane_error(error, f"the logs of action {action.name} of run {action.run_name}") from error


def _lines(action: Any, attempt: int | None) -> Iterator[LogLine]:
    """The lines, synchronously (the CLI runs on no event loop of its own)."""
    from flyte._internal.syncify import iterate_sync

    yield from iterate_sync(_stream(action, attempt))


def _render(line: LogLine, show_ts: bool) -> str:
    if show_ts and line.timestamp is not None:
        return f"{line.timestamp.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z {line.message}"
    return line.message


def print_logs(
    action: Any,
    *,
    attempt: int | None,
    lines: int | None,
    show_ts: bool,
    filter_system: bool,
    pretty: bool,
) -> None:
    """Print an action's log, following it while the action runs.

    ``lines`` keeps only the last that many lines (printed when the log ends); ``pretty`` shows
    them in a box that scrolls as lines arrive, on a terminal.
    """
    printed = 0

    def counted() -> Iterator[LogLine]:
        nonlocal printed
        for line in _lines(action, attempt):
            if not (filter_system and line.system):
                printed += 1
                yield line

    stream = counted()
    if pretty and sys.stdout.isatty():
        _print_pretty(action, stream, lines or 30, show_ts)
    elif lines is not None:
        for line in collections.deque(stream, maxlen=lines):
            click.echo(_render(line, show_ts))
    else:
        for line in stream:
            click.echo(_render(line, show_ts))
    if printed == 0 and action.done():
        # Not "not available yet": the attempt ran and ended without writing anything.
        click.echo(
            f"No output: action {action.name} of run {action.run_name} ended ({action.phase.name}) "
            "without writing to its log.",
            err=True,
        )


def _print_pretty(action: Any, stream: Iterator[LogLine], lines: int, show_ts: bool) -> None:
    from rich.live import Live
    from rich.panel import Panel
    from rich.text import Text

    from flyte.cli._common import stdout_console

    window: collections.deque[str] = collections.deque(maxlen=lines)
    title = f"{action.run_name} / {action.name}"

    def panel() -> Panel:
        return Panel(Text("\n".join(window)), title=title, height=lines + 2)

    with Live(panel(), console=stdout_console(), auto_refresh=False) as live:
        for line in stream:
            window.append(_render(line, show_ts))
            live.update(panel(), refresh=True)

"""The terminal UI (Textual): runs, the action tree of a run with live phases, and logs.

Two sources feed the same app:

* :class:`RemoteSource` — a control plane (``flyte start tui``, ``flyte run --tui`` of a remote
  run): runs from ``Run.listall``, actions from ``Action.listall``, logs from ``TailLogs``;
* :class:`LocalSource` — a local run in this process (``flyte run --local --tui``): the local
  controller's action records, read live while the run goes on; what the tasks print goes to
  the output pane.

The app polls its source (``poll_interval`` seconds) on a worker thread, so a slow control plane
never freezes the screen.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, ClassVar, Protocol

try:
    from textual import work
    from textual.app import App, ComposeResult
    from textual.binding import Binding
    from textual.containers import Horizontal, Vertical
    from textual.widgets import DataTable, Footer, Header, RichLog, Static, Tree
    from textual.widgets.tree import TreeNode
except ImportError as error:  # an optional extra
    raise ImportError("the terminal UI needs textual: pip install 'flyte[tui]'") from error

__all__ = ["ActionRow", "LocalSource", "RemoteSource", "RunExplorer", "RunRow", "Source"]

_PHASE_STYLES = {
    "SUCCEEDED": "green",
    "RECOVERED": "green",
    "FAILED": "red",
    "TIMED_OUT": "red",
    "ABORTED": "yellow",
    "RUNNING": "cyan",
}


@dataclass(frozen=True)
class RunRow:
    """One run in the runs table."""

    name: str
    task: str
    phase: str
    started: datetime | None


@dataclass(frozen=True)
class ActionRow:
    """One action of a run."""

    name: str
    parent: str | None
    task: str
    phase: str
    attempts: int
    seconds: float | None
    done: bool


class Source(Protocol):
    """Where the app reads runs, actions and logs from."""

    title: str

    def runs(self) -> list[RunRow]: ...

    def actions(self, run: str) -> list[ActionRow]: ...

    def logs(self, run: str, action: str) -> Iterable[str]: ...


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None:
        return None
    return ((end or datetime.now(timezone.utc)) - start).total_seconds()


def _phase_name(phase: Any) -> str:
    return str(getattr(phase, "name", phase))


class RemoteSource:
    """Runs of a project/domain on the control plane the SDK is initialised for."""

    def __init__(self, project: str | None = None, domain: str | None = None, *, limit: int = 200) -> None:
        self.project = project
        self.domain = domain
        self.limit = limit
        self.title = f"Flyte · {project or 'default project'}/{domain or 'default domain'}"

    def runs(self) -> list[RunRow]:
        from flyte.remote import Run

        rows = []
        for run in Run.listall(limit=self.limit, project=self.project, domain=self.domain):
            action = run.action
            rows.append(RunRow(run.name, action.task_name or "", _phase_name(action.phase), action.start_time))
        return rows

    def actions(self, run: str) -> list[ActionRow]:
        from flyte.remote import Action

        return [
            ActionRow(
                name=action.name,
                parent=action.parent,
                task=action.task_name or action.kind,
                phase=_phase_name(action.phase),
                attempts=action.attempts,
                seconds=_seconds(action.start_time, action.end_time),
                done=action.done(),
            )
            for action in Action.listall(run, project=self.project, domain=self.domain)
        ]

    def logs(self, run: str, action: str) -> Iterable[str]:
        from flyte.remote import Action

        handle = Action.get(run, action, project=self.project, domain=self.domain)
        if handle.attempts == 0 and not handle.done():
            return
        yield from handle.tail_logs()


class LocalSource:
    """One local run in this process, observed through its controller's action records."""

    def __init__(self, task_name: str) -> None:
        self.title = f"Flyte · local run of {task_name}"
        self.task_name = task_name
        self.run_name = "local"
        self.records: dict[str, Any] = {}
        self.outcome: str | None = None

    def attach(self, controller: Any, run_name: str) -> None:
        """Read this controller's records from now on (called when the local run starts)."""
        self.records = controller.records
        self.run_name = run_name

    def runs(self) -> list[RunRow]:
        root = self.records.get("a0")
        phase = self.outcome or (_phase_name(root.phase) if root is not None else "QUEUED")
        return [RunRow(self.run_name, self.task_name, phase, root.start_time if root is not None else None)]

    def actions(self, run: str) -> list[ActionRow]:
        rows = []
        for name, record in list(self.records.items()):
            phase = _phase_name(record.phase)
            rows.append(
                ActionRow(
                    name=name,
                    parent=record.parent,
                    task=record.task_name,
                    phase=phase,
                    attempts=record.attempts,
                    seconds=_seconds(record.start_time, record.end_time),
                    done=record.end_time is not None,
                )
            )
        return rows

    def logs(self, run: str, action: str) -> Iterable[str]:
        return ()  # local tasks print to this process: their output is in the output pane


class RunExplorer(App[None]):
    """Runs on the left, the selected run's action tree on the right, logs below."""

    CSS = """
    #runs { width: 40%; }
    #tree { height: 1fr; }
    #log { height: 40%; border-top: solid $accent; }
    #status { height: 1; }
    """
    BINDINGS: ClassVar[list[Binding]] = [  # type: ignore[assignment]
        Binding("q", "quit", "Quit"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(
        self,
        source: Source,
        *,
        poll_interval: float = 2.0,
        select_run: str | None = None,
        on_ready: Callable[[RunExplorer], None] | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        self.poll_interval = poll_interval
        self.selected_run: str | None = select_run
        self.selected_action: str | None = None
        self._on_ready = on_ready
        self._action_nodes: dict[str, TreeNode[str]] = {}
        self._log_generation = 0
        self.title = source.title

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield DataTable(id="runs", cursor_type="row")
            with Vertical():
                yield Tree("actions", id="tree")
                yield RichLog(id="log", wrap=True, markup=False, highlight=False)
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#runs", DataTable)
        table.add_columns("Run", "Task", "Phase", "Started")
        self.query_one("#tree", Tree).root.expand()
        self.action_refresh()
        self.set_interval(self.poll_interval, self.action_refresh)
        if self._on_ready is not None:
            self._on_ready(self)

    # --- polling (worker threads), then updating the widgets (event loop) ----------------

    def action_refresh(self) -> None:
        self._poll()

    @work(thread=True, exclusive=True, group="poll")
    def _poll(self) -> None:
        try:
            runs = self.source.runs()
            run = self.selected_run or (runs[0].name if runs else None)
            actions = self.source.actions(run) if run else []
        except Exception as error:  # shown in the status line; the next poll tries again
            self.call_from_thread(self._status, f"[red]{type(error).__name__}: {error}[/red]")
            return
        self.call_from_thread(self._show, runs, run, actions)

    def _status(self, text: str) -> None:
        self.query_one("#status", Static).update(text)

    def _show(self, runs: list[RunRow], run: str | None, actions: list[ActionRow]) -> None:
        table = self.query_one("#runs", DataTable)
        for row in runs:
            cells = (row.name, row.task, _styled(row.phase), row.started.strftime("%H:%M:%S") if row.started else "")
            if row.name in table.rows:
                for column, value in zip(table.columns, cells, strict=False):
                    table.update_cell(row.name, column, value)
            else:
                table.add_row(*cells, key=row.name)
        if run is not None and self.selected_run is None:
            self.selected_run = run
        self._show_tree(actions)
        done = sum(1 for action in actions if action.done)
        self._status(f"{self.selected_run or '-'} · {len(actions)} actions, {done} done")

    def _show_tree(self, actions: list[ActionRow]) -> None:
        tree = self.query_one("#tree", Tree)
        tree.root.set_label(self.selected_run or "actions")
        by_name = {action.name: action for action in actions}
        pending = list(actions)
        # Parents before children: repeat until every action whose parent is shown is placed.
        for _ in range(len(pending) + 1):
            if not pending:
                break
            later = []
            for action in pending:
                parent_node = tree.root if action.parent in (None, "") else self._action_nodes.get(action.parent or "")
                if parent_node is None and action.parent in by_name:
                    later.append(action)
                    continue
                label = _action_label(action)
                node = self._action_nodes.get(action.name)
                if node is None:
                    node = (parent_node or tree.root).add(label, data=action.name, expand=True)
                    self._action_nodes[action.name] = node
                else:
                    node.set_label(label)
            pending = later

    # --- selection ---------------------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        name = str(event.row_key.value)
        if name != self.selected_run:
            self.selected_run = name
            self.selected_action = None
            tree = self.query_one("#tree", Tree)
            tree.clear()
            self._action_nodes.clear()
            self.query_one("#log", RichLog).clear()
            self.action_refresh()

    def on_tree_node_selected(self, event: Tree.NodeSelected[str]) -> None:
        if event.node.data is None or self.selected_run is None:
            return
        self.selected_action = event.node.data
        log = self.query_one("#log", RichLog)
        log.clear()
        self._log_generation += 1
        self._follow_log(self.selected_run, event.node.data, self._log_generation)

    @work(thread=True, group="logs")
    def _follow_log(self, run: str, action: str, generation: int) -> None:
        try:
            for line in self.source.logs(run, action):
                if generation != self._log_generation:
                    return
                self.call_from_thread(self.query_one("#log", RichLog).write, line)
        except Exception as error:
            if generation == self._log_generation:
                self.call_from_thread(self.query_one("#log", RichLog).write, f"(logs unavailable: {error})")

    def write_output(self, text: str) -> None:
        """Append text (a local run's printed output) to the log pane."""
        self.query_one("#log", RichLog).write(text.rstrip("\n"))


def _styled(phase: str) -> str:
    style = _PHASE_STYLES.get(phase)
    return f"[{style}]{phase}[/{style}]" if style else phase


def _action_label(action: ActionRow) -> str:
    from rich.markup import escape

    took = f" · {action.seconds:.1f}s" if action.seconds is not None else ""
    attempts = f" · attempt {action.attempts}" if action.attempts > 1 else ""
    return f"{escape(action.name)} {escape(action.task)} {_styled(action.phase)}{attempts}{took}"


class LocalRunWithTui:
    """Run a local task on a worker thread while :class:`RunExplorer` shows it (``flyte run --local --tui``).

    ``start`` is the zero-argument callable that runs the task (``runner.run(task, **inputs)``).
    After the app exits, :attr:`run` holds the local run or :attr:`error` what it raised; the app
    stays open after the run ends so that its tree and output can be read (``q`` quits).
    """

    def __init__(self, task_name: str, start: Callable[[], Any], *, poll_interval: float = 0.25) -> None:
        self.source = LocalSource(task_name)
        self.app = RunExplorer(self.source, poll_interval=poll_interval, on_ready=self._begin)
        self._start = start
        self.run: Any = None
        self.error: BaseException | None = None
        self.finished = threading.Event()

    def _begin(self, app: RunExplorer) -> None:
        threading.Thread(target=self._target, name="flyte-local-run", daemon=True).start()

    def _target(self) -> None:
        import sys

        from flyte import _run

        _run.LOCAL_RUN_OBSERVERS.append(self._observe)
        # What the tasks print goes to the output pane, not over the screen.
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = _OutputPane(self.app)
        try:
            self.run = self._start()
            self.source.outcome = "SUCCEEDED"
        except BaseException as error:  # reported after the app exits
            self.error = error
            self.source.outcome = "FAILED"
        finally:
            sys.stdout.flush()
            sys.stdout, sys.stderr = saved
            _run.LOCAL_RUN_OBSERVERS.remove(self._observe)
            self.finished.set()
            try:
                self.app.call_from_thread(self.app.action_refresh)
            except RuntimeError:  # the app has exited already
                pass

    def _observe(self, controller: Any, run_name: str) -> None:
        self.source.attach(controller, run_name)
        self.app.selected_run = run_name


class _OutputPane(io.TextIOBase):
    """A text stream whose complete lines go to the app's log pane (from any thread)."""

    def __init__(self, app: RunExplorer) -> None:
        self.app = app
        self._partial = ""
        self._guard = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._guard:
            self._partial += text
            *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self._emit(line)
        return len(text)

    def flush(self) -> None:
        with self._guard:
            rest, self._partial = self._partial, ""
        if rest:
            self._emit(rest)

    def _emit(self, line: str) -> None:
        try:
            self.app.call_from_thread(self.app.write_output, line)
        except RuntimeError:  # on the app's own thread, or the app has exited
            if self.app.is_running:
                self.app.write_output(line)

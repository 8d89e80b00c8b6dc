"""The live line ``Run.wait()`` shows on a terminal: phase, attempt and time, updated as they change.

Only when stderr is a terminal and the caller did not ask for quiet; otherwise nothing is
printed (logs of CI jobs and scripts stay clean). rich is imported only when it is shown.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flyte.remote._action import Action

__all__ = ["WaitDisplay"]

_STYLES = {
    "SUCCEEDED": "green",
    "RECOVERED": "green",
    "FAILED": "red",
    "TIMED_OUT": "red",
    "ABORTED": "yellow",
}


class WaitDisplay:
    """A context manager around a wait; :meth:`update` with each new snapshot of the action.

    The live line is a ``rich.progress`` task whose elapsed-time column advances on its own
    (refreshed several times a second), not only when the action changes.
    """

    def __init__(self, what: str, *, quiet: bool = False) -> None:
        self.what = what
        self.enabled = not quiet and sys.stderr.isatty()
        self.started = time.monotonic()
        self._progress: Any = None
        self._task: Any = None
        self._console: Any = None
        self._last_phase: str | None = None

    def __enter__(self) -> WaitDisplay:
        if self.enabled:
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._console = Console(stderr=True, highlight=False)
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=self._console,
                transient=True,
                refresh_per_second=4,
            )
            self._progress.start()
            self._task = self._progress.add_task(f"Waiting for {self.what}", total=None)
        return self

    def update(self, action: Action) -> None:
        """Show the action's phase and attempt; print a line when the phase changes.

        The line of a finished action gives its duration as the control plane recorded it (the
        same figure ``flyte run --wait`` and ``flyte get run`` print).
        """
        if not self.enabled:
            return
        phase = action.phase.name
        elapsed = time.monotonic() - self.started
        attempt = f" · attempt {action.attempts}" if action.attempts > 1 else ""
        if phase != self._last_phase:
            self._last_phase = phase
            style = _STYLES.get(phase, "cyan")
            reason = f": {action.error.code}: {action.error.message}" if action.error is not None else ""
            if action.abort_reason:
                reason = f": {action.abort_reason}"
            from rich.markup import escape

            when = f"after {elapsed:.1f}s"
            if action.done():
                duration = action.duration
                if duration is not None:
                    when = f"in {duration.total_seconds():.2f}s"
            self._progress.console.print(
                f"  [{style}]{phase}[/{style}] {escape(self.what)} {when}{attempt}{escape(reason)}",
                markup=True,
            )
        if action.done():
            return
        self._progress.update(self._task, description=f"{escape_text(self.what)}: {phase}{attempt}")

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()


def escape_text(text: str) -> str:
    """``text`` with rich markup escaped."""
    from rich.markup import escape

    return escape(text)

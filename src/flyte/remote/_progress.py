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
    """A context manager around a wait; :meth:`update` with each new snapshot of the action."""

    def __init__(self, what: str, *, quiet: bool = False) -> None:
        self.what = what
        self.enabled = not quiet and sys.stderr.isatty()
        self.started = time.monotonic()
        self._status: Any = None
        self._console: Any = None
        self._last_phase: str | None = None

    def __enter__(self) -> WaitDisplay:
        if self.enabled:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False)
            self._status = self._console.status(f"Waiting for {self.what}...")
            self._status.start()
        return self

    def update(self, action: Action) -> None:
        """Show the action's phase, attempt and elapsed time; print a line when the phase changes."""
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

            self._console.print(
                f"  [{style}]{phase}[/{style}] {escape(self.what)} after {elapsed:.1f}s{attempt}{escape(reason)}",
                markup=True,
            )
        if action.done():
            return
        self._status.update(f"{self.what}: {phase}{attempt} · {elapsed:.1f}s")

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._status is not None:
            self._status.stop()

"""How attempts run: one ``Executor`` Protocol, with worker processes on this machine as the default.

The engine prepares a :class:`LaunchSpec` (command line with templates substituted, environment,
working directory, log file) and gets back a :class:`WorkerProcess` to wait on or stop. An executor
also finds its workers again after a server restart (:meth:`Executor.find_workers`,
:meth:`Executor.reattach`), which is how running attempts survive a crash of the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = ["Executor", "LaunchError", "LaunchSpec", "WorkerProcess"]


class LaunchError(RuntimeError):
    """The worker process could not be started (a system failure of the attempt)."""


@dataclass(frozen=True, kw_only=True)
class LaunchSpec:
    """Everything needed to start one attempt's worker process."""

    argv: list[str]
    """The command line, templates substituted, ``argv[0]`` an absolute path or a name on PATH."""
    env: dict[str, str]
    """The complete environment of the process."""
    cwd: Path
    """Its own working directory (the runtime extracts the code bundle into it)."""
    log_path: Path
    """Where stdout and stderr go."""
    entry: str | None = None
    """``"a0"`` when ``argv[0]`` is the worker environment's runtime entry point (warm workers can run it)."""
    labels: dict[str, str] = field(default_factory=dict)
    """Who this is for (project, domain, run, action, attempt), for logs."""


@runtime_checkable
class WorkerProcess(Protocol):
    """A running (or finished) attempt process."""

    pid: int
    """Its process id (also its process group id)."""
    start_ticks: int
    """Its start time in clock ticks since boot, telling it apart from a later process with the same pid."""

    async def wait(self) -> int | None:
        """Wait for the exit; the exit code (negative: killed by that signal), ``None`` when unknown."""
        ...

    def done(self) -> bool:
        """Whether it has exited."""
        ...

    async def terminate(self, grace: float) -> None:
        """SIGTERM its process group, then SIGKILL what is left after ``grace`` seconds."""
        ...


@runtime_checkable
class Executor(Protocol):
    """Starts and stops worker processes."""

    async def start(self) -> None:
        """Get ready to launch (warm workers, connections)."""
        ...

    async def stop(self) -> None:
        """Release what :meth:`start` acquired; running workers are left to the caller."""
        ...

    async def launch(self, spec: LaunchSpec) -> WorkerProcess:
        """Start a worker.

        Raises:
            LaunchError: it could not be started.
        """
        ...

    def find_workers(self, root: Path) -> dict[Path, WorkerProcess]:
        """Workers of attempts whose working directory lies under ``root``, by working directory.

        Live ones, and attempts known to have started in a worker that has exited since (a
        process that is ``done()``: the attempt's outcome is in its files, or it was lost).
        """
        ...

    def reattach(self, pid: int, start_ticks: int) -> WorkerProcess | None:
        """The worker still running as ``pid`` (started at ``start_ticks``), or ``None`` when it is gone."""
        ...

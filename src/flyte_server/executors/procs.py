"""Process plumbing for local workers: identity, waiting on processes that are not our children, killing groups.

A worker runs in its own session (process group id = pid), so stopping it with ``killpg`` also
stops whatever it started. After a restart the server is no longer the workers' parent: it waits
for them through a pidfd (Linux ≥ 5.3) or, failing that, by polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

__all__ = [
    "ExitTracking",
    "ExternalProcess",
    "kill_group",
    "parse_handle",
    "process_handle",
    "process_start_ticks",
    "scan_working_dirs",
]

_POLL_SECONDS = 0.2


def process_handle(pid: int, start_ticks: int) -> str:
    """The local executor's handle id of a process: ``local:<pid>:<start ticks>``."""
    return f"local:{pid}:{start_ticks}"


def parse_handle(handle_id: str) -> tuple[int, int] | None:
    """``(pid, start ticks)`` of a local handle id (anything after them is ignored), else ``None``."""
    parts = handle_id.split(":")
    if len(parts) < 3 or parts[0] != "local" or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return int(parts[1]), int(parts[2])


def process_start_ticks(pid: int) -> int | None:
    """The start time of ``pid`` (clock ticks since boot), or ``None`` when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after its closing ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        state = fields[0]
        ticks = int(fields[19])
    except (IndexError, ValueError):
        return None
    if state in ("Z", "X"):
        return None
    return ticks


def kill_group(pid: int, sig: int) -> bool:
    """Send ``sig`` to the process group ``pid``; whether anything received it."""
    try:
        os.killpg(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
            return True
        return False


def scan_working_dirs(root: Path) -> dict[Path, int]:
    """Live processes whose working directory lies under ``root``: working directory → pid.

    Only session leaders count (every worker is one), so a worker's own subprocesses in the same
    directory do not hide it.
    """
    found: dict[Path, int] = {}
    prefix = str(root.resolve()) + os.sep
    try:
        entries = os.listdir("/proc")
    except FileNotFoundError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            if os.getsid(pid) != pid:
                continue
        except (FileNotFoundError, PermissionError, ProcessLookupError, OSError):
            continue
        if cwd.startswith(prefix) and process_start_ticks(pid) is not None:
            found[Path(cwd)] = pid
    return found


async def terminate_group(pid: int, grace: float, exited: asyncio.Future[object] | None) -> None:
    """SIGTERM the group, wait up to ``grace`` for ``exited``, then SIGKILL the group."""
    kill_group(pid, signal.SIGTERM)
    if exited is not None and grace > 0:
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(exited), timeout=grace)
    elif grace > 0:
        await asyncio.sleep(grace)
    kill_group(pid, signal.SIGKILL)


class ExitTracking:
    """What the local attempt handles share: a pid, its exit code, a future set once on exit.

    Its handle id (:func:`process_handle`) is both :attr:`id` and :attr:`group`: stopping it stops
    the process group.
    """

    def __init__(self, pid: int, start_ticks: int) -> None:
        self.pid = pid
        self.start_ticks = start_ticks
        self.id = self.group = process_handle(pid, start_ticks)
        self.code: int | None = None
        self._exited: asyncio.Future[object] = asyncio.get_running_loop().create_future()

    def _set_exit(self, code: int | None) -> None:
        self.code = code
        if not self._exited.done():
            self._exited.set_result(None)

    async def wait(self) -> int | None:
        await asyncio.shield(self._exited)
        return self.code

    def abandon(self) -> None:
        """Stop following the process as this attempt, without stopping it: :meth:`wait` returns ``None``.

        For an attempt inside a reused worker that also runs other current attempts (which a
        :meth:`terminate` would take down with it).
        """
        self._set_exit(None)

    def done(self) -> bool:
        return self._exited.done()

    async def terminate(self, grace: float) -> None:
        await terminate_group(self.pid, grace, self._exited)


class ExternalProcess(ExitTracking):
    """A worker this server did not start (or whose parent is gone): waited on by pidfd or polling.

    Its exit code cannot be known, so :meth:`wait` returns ``None``.
    """

    def __init__(self, pid: int, start_ticks: int) -> None:
        super().__init__(pid, start_ticks)
        self._watch = asyncio.create_task(self._watch_exit(), name=f"watch-pid-{pid}")

    def _alive(self) -> bool:
        return process_start_ticks(self.pid) == self.start_ticks

    async def _watch_exit(self) -> None:
        loop = asyncio.get_running_loop()
        pidfd: int | None = None
        with contextlib.suppress(OSError, AttributeError):
            pidfd = os.pidfd_open(self.pid)
        try:
            if pidfd is not None and self._alive():
                readable: asyncio.Future[None] = loop.create_future()

                def exited() -> None:
                    if not readable.done():
                        readable.set_result(None)

                loop.add_reader(pidfd, exited)
                try:
                    while self._alive():
                        with contextlib.suppress(asyncio.TimeoutError):
                            await asyncio.wait_for(asyncio.shield(readable), timeout=5.0)
                            break
                finally:
                    loop.remove_reader(pidfd)
            else:
                while self._alive():
                    await asyncio.sleep(_POLL_SECONDS)
        finally:
            if pidfd is not None:
                os.close(pidfd)
            self._set_exit(None)

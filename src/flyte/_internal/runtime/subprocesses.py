"""The processes an attempt starts inside a reused worker, so that stopping the attempt stops them too.

An attempt with a process of its own is stopped by killing that process's group, which takes
everything it started along. A reused worker runs many attempts in one process (and one group), so
that is not possible there. Instead, while a reused worker runs, :class:`subprocess.Popen` (which
``asyncio``'s subprocess functions use too) records each process an attempt starts and puts the
attempt's tag (``_F_ATTEMPT``) in its environment. Stopping the attempt then stops those processes,
everything below them, and orphans of theirs that were re-parented to init but still carry the tag.
A process that leaves its session *and* clears its environment escapes; that needs a cgroup.
"""

from __future__ import annotations

import contextvars
import os
import signal
import subprocess
import time
from typing import Any

__all__ = ["TAG_VARIABLE", "AttemptProcesses", "install", "stop"]

TAG_VARIABLE = "_F_ATTEMPT"
"""Environment variable naming the attempt (``run/action/attempt``) in every process it starts."""

_current: contextvars.ContextVar[AttemptProcesses | None] = contextvars.ContextVar(
    "flyte_attempt_processes", default=None
)
_installed = False


class AttemptProcesses:
    """The processes one attempt started (recorded while it is the current context's attempt)."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.pids: list[int] = []

    def activate(self) -> None:
        """Make this the attempt of the current context (an attempt's task and its threads)."""
        _current.set(self)


def install() -> None:
    """Record and tag the processes attempts start in this process (once; a reused worker calls it)."""
    global _installed
    if _installed:
        return
    _installed = True
    original = subprocess.Popen.__init__

    def recording_init(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
        attempt = _current.get()
        if attempt is not None and len(args) < 11:  # env is the 11th positional parameter
            env = kwargs.get("env")
            kwargs["env"] = {**(os.environ if env is None else env), TAG_VARIABLE: attempt.tag}
        original(self, *args, **kwargs)
        if attempt is not None:
            attempt.pids.append(self.pid)

    subprocess.Popen.__init__ = recording_init  # type: ignore[method-assign]


def stop(attempt: AttemptProcesses, grace: float = 1.0) -> int:
    """SIGTERM what ``attempt`` started (and everything below it), SIGKILL what is left after ``grace``.

    Returns how many processes were signalled.
    """
    victims = _victims(attempt)
    for pid in victims:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    alive = victims
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [pid for pid in alive if _exists(pid)]
    for pid in alive:
        _signal(pid, signal.SIGKILL)
    return len(victims)


def _victims(attempt: AttemptProcesses) -> list[int]:
    me = os.getpid()
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            parent = _parent_of(int(entry))
            if parent is not None:
                parents[int(entry)] = parent
    # A recorded pid is still ours only while it is our (unreaped) child: pids are reused.
    roots = [pid for pid in attempt.pids if parents.get(pid) == me]
    tag = f"{TAG_VARIABLE}={attempt.tag}".encode()
    roots += [pid for pid, parent in parents.items() if parent == 1 and _has_tag(pid, tag)]
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found: list[int] = []
    pending = list(dict.fromkeys(roots))
    while pending:
        pid = pending.pop()
        if pid in found or pid == me:
            continue
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[-1].split()
    except OSError:
        return None
    if len(fields) < 2 or fields[0] in (b"Z", b"X"):
        return None
    return int(fields[1])


def _has_tag(pid: int, tag: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            return tag in environ.read().split(b"\0")
    except OSError:
        return False


def _exists(pid: int) -> bool:
    return _parent_of(pid) is not None


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass

"""How attempts run: one ``Executor`` Protocol whose implementations are peers.

The engine prepares a :class:`LaunchSpec` (command line with templates substituted, environment,
working directory, log file, image and resources, who it is for) and gets back an
:class:`AttemptHandle` to wait on or stop. The handle has an opaque, executor-defined
:attr:`~AttemptHandle.id` that the engine stores with the attempt; after a restart of the server
(or on another replica) :meth:`Executor.reattach` turns that id back into a handle, and
:meth:`Executor.find_attempts` finds attempts whose id never reached the store (a crash between
the launch and the write) by the labels they were launched with. Pids, working directories,
container ids or Ray object refs are details of each executor. See ``docs/executors.md``.

Executors: ``local`` (processes on this machine, warm and reused workers; the default),
``podman``/``docker`` (a container per attempt, :mod:`flyte_server.executors.container`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol, runtime_checkable

__all__ = [
    "AttemptHandle",
    "AttemptKey",
    "Executor",
    "FinishedAttempt",
    "LaunchError",
    "LaunchSpec",
    "Resources",
    "attempt_labels",
]


class LaunchError(RuntimeError):
    """The attempt could not be started (a system failure of the attempt, retried)."""


class AttemptKey(NamedTuple):
    """Which attempt: ``(project, domain, run, action, attempt)``."""

    project: str
    domain: str
    run: str
    action: str
    attempt: int


def attempt_labels(key: AttemptKey) -> dict[str, str]:
    """The labels an attempt is launched with (``LaunchSpec.labels``), from its key."""
    return {
        "project": key.project,
        "domain": key.domain,
        "run": key.run,
        "action": key.action,
        "attempt": str(key.attempt),
    }


@dataclass(frozen=True, kw_only=True)
class Resources:
    """What an attempt may use (the task's ``Resources`` limits, falling back to its requests)."""

    cpu: float | None = None
    """CPUs (fractions allowed)."""
    memory: int | None = None
    """Bytes."""
    gpu: int = 0
    """Whole GPUs."""
    custom: dict[str, float] = field(default_factory=dict)
    """Other resources by name (an executor that cannot honour one says so when launching)."""


@dataclass(frozen=True, kw_only=True)
class LaunchSpec:
    """Everything needed to start one attempt."""

    argv: list[str]
    """The command line, templates substituted, ``argv[0]`` an absolute path or a name on PATH."""
    env: dict[str, str]
    """The complete environment of the attempt (the local executor's process environment)."""
    cwd: Path
    """Its own working directory on this machine (the runtime extracts the code bundle into it)."""
    log_path: Path
    """Where stdout and stderr go (executors that run elsewhere copy them here as they come)."""
    entry: str | None = None
    """``"a0"`` when ``argv[0]`` is the worker environment's runtime entry point (warm workers can run it)."""
    key: AttemptKey | None = None
    """Which attempt this is; executors label what they start with it (:func:`attempt_labels`)."""
    labels: dict[str, str] = field(default_factory=dict)
    """Who this is for: :func:`attempt_labels` of :attr:`key`, plus whatever the caller adds."""
    image: str | None = None
    """The task's container image (``TaskTemplate.container.image``); executors without images ignore it."""
    resources: Resources = field(default_factory=Resources)
    """Limits of the attempt; the local executor does not enforce them."""
    secret_env: frozenset[str] = frozenset()
    """Names in :attr:`env` that hold secrets."""
    secret_files: dict[str, str] = field(default_factory=dict)
    """Secrets the task wants as files: path (``/etc/flyte/secrets/<group>/<key>``) → the name in
    :attr:`env` holding the value. Executors with their own filesystem (containers) mount them."""


@runtime_checkable
class AttemptHandle(Protocol):
    """A running (or finished) attempt, as one executor knows it.

    Optional attributes an executor may add, which the engine looks for: ``outputs`` (bytes: a
    success's outputs sent back directly instead of as ``outputs.pb``), ``acknowledge()`` (called
    once those are committed) and ``uses_work_dir`` (``False``: the engine has no working
    directory to remove afterwards).
    """

    id: str
    """Opaque and persistable: ``"<executor name>:<anything>"``; :meth:`Executor.reattach` reads it back."""
    group: str
    """What :meth:`terminate` stops, for attempts sharing one process/container (else equal to :attr:`id`)."""

    async def wait(self) -> int | None:
        """Wait for the end; the exit code (negative: killed by that signal), ``None`` when unknown."""
        ...

    def done(self) -> bool:
        """Whether it has ended."""
        ...

    async def terminate(self, grace: float) -> None:
        """Stop it: ask politely, then force after ``grace`` seconds (and release what it held)."""
        ...


class FinishedAttempt:
    """An attempt that is already over (found ended after a restart); its exit code is unknown.

    The engine then decides from the attempt's files (``outputs.pb``/``error.pb``, or none: lost).
    """

    def __init__(self, handle_id: str = "") -> None:
        self.id = handle_id
        self.group = handle_id

    async def wait(self) -> int | None:
        return None

    def done(self) -> bool:
        return True

    async def terminate(self, grace: float) -> None:
        return None


@runtime_checkable
class Executor(Protocol):
    """Starts, stops and finds attempts again; knows nothing of task types."""

    name: str
    """``local``, ``podman``, ``docker``, ``ray``...: the prefix of its handle ids."""

    async def start(self) -> None:
        """Get ready to launch (warm workers, connections, a cluster)."""
        ...

    async def stop(self) -> None:
        """Release what :meth:`start` acquired; running attempts are left to the caller."""
        ...

    async def launch(self, spec: LaunchSpec) -> AttemptHandle:
        """Start an attempt.

        Raises:
            LaunchError: it could not be started.
        """
        ...

    async def reattach(self, handle_id: str) -> AttemptHandle | None:
        """The attempt behind a stored handle id, or ``None`` when it is gone (or the id is not ours)."""
        ...

    async def find_attempts(self) -> dict[AttemptKey, AttemptHandle]:
        """Attempts this executor launched for this server, by the labels they were launched with.

        Live ones, and attempts known to have started in something that has ended since (a
        ``done()`` handle: the attempt's outcome is in its files, or it was lost).
        """
        ...

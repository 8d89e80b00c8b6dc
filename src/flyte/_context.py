"""The per-call context: which action is running, under which controller, in which group.

A ``contextvars.ContextVar`` carries it, so concurrent children on one event loop (and sync tasks
on worker threads, which get a copy of the context) each see their own.
"""

from __future__ import annotations

import contextvars
import hashlib
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

    from flyte._internal.controllers import Controller
    from flyte.models import GroupData, RawDataPath, TaskContext


@dataclass
class CallCounter:
    """Numbers repeated identical calls made by one action attempt, for deterministic child names."""

    counts: Counter[bytes] = field(default_factory=Counter)

    def next(self, call_key: str) -> int:
        """How many identical calls (same ``call_key``) this attempt made before this one.

        Keys are kept as 16-byte digests: a parent with a million distinct calls keeps ~100 bytes
        per call here instead of the ~200 of the key text.
        """
        key = hashlib.blake2b(call_key.encode(), digest_size=16).digest()
        sequence = self.counts[key]
        self.counts[key] = sequence + 1
        return sequence


@dataclass
class AttemptStatus:
    """Whether the attempt's task function has returned (or raised): what is cancelled after that is teardown."""

    over: bool = False


@dataclass(frozen=True)
class ExecutionState:
    """Everything a task call needs to know about where it is being made."""

    task_context: TaskContext
    controller: Controller
    loop: asyncio.AbstractEventLoop
    calls: CallCounter
    group: GroupData | None = None
    in_trace: bool = False
    attempt: AttemptStatus = field(default_factory=AttemptStatus)

    def with_group(self, group: GroupData | None) -> ExecutionState:
        return replace(self, group=group)


_current: contextvars.ContextVar[ExecutionState | None] = contextvars.ContextVar("flyte_execution", default=None)


def current_state() -> ExecutionState | None:
    """The execution state of the running task, or ``None`` outside any task."""
    return _current.get()


def set_state(state: ExecutionState | None) -> contextvars.Token[ExecutionState | None]:
    return _current.set(state)


def reset_state(token: contextvars.Token[ExecutionState | None]) -> None:
    _current.reset(token)


_interactive_context: TaskContext | None = None


def set_interactive_context(task_context: TaskContext | None) -> None:
    """What :func:`ctx` returns outside any task (``flyte.load_interactive_ctx``); ``None`` clears it."""
    global _interactive_context
    _interactive_context = task_context


def ctx() -> TaskContext:
    """The context of the task that is running now.

    Outside a task it is ``flyte.models.NULL_TASK_CONTEXT``, as in Flyte 2: falsy, with every field
    ``None`` (so ``if flyte.ctx():`` asks "am I in a task?", and ``flyte.ctx().action`` reads
    ``None`` rather than failing) — unless a context was loaded with ``flyte.load_interactive_ctx``.

    Example:
        >>> import flyte
        >>> bool(flyte.ctx()), flyte.ctx().action
        (False, None)
    """
    state = _current.get()
    if state is not None:
        return state.task_context
    if _interactive_context is not None:
        return _interactive_context
    from flyte.models import NULL_TASK_CONTEXT  # flyte.models imports this module

    return NULL_TASK_CONTEXT


@dataclass(frozen=True)
class InternalContext:
    """What ``internal_ctx()`` returns: the raw-data location values are written under."""

    raw_data: RawDataPath

    @property
    def has_raw_data(self) -> bool:
        """Always ``True``: outside a task, the process's raw-data prefix is used."""
        return True


def internal_ctx() -> InternalContext:
    """The private path Flyte 2's plugin encoders (polars, spark) find where to write data from:
    the running task's raw-data path, else the process's raw-data prefix."""
    from flyte.models import RawDataPath

    state = _current.get()
    if state is not None and state.task_context.raw_data_path is not None:
        return InternalContext(raw_data=state.task_context.raw_data_path)
    from flyte.storage._filesystem import raw_data_prefix

    return InternalContext(raw_data=RawDataPath(raw_data_prefix()))

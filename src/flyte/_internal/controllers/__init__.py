"""Controllers: what turns a task call inside a running task into a child action.

Two implementations share one seam, :class:`Controller`:

* ``local.LocalController`` runs every action of a run in the calling process;
* ``remote.RemoteController`` runs inside a task process on a control plane and submits each
  call to the backend (QueueService + StateService, or ActionsService), then waits for it.

Task calls (``_task.py``), ``flyte.map`` and ``@flyte.trace`` only talk to the controller of the
current :class:`flyte._context.ExecutionState` through this protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from flyte._context import ExecutionState
    from flyte._task import AsyncFunctionTaskTemplate
    from flyte.models import ActionID

__all__ = ["Controller", "TraceCall", "TraceRecord"]


@dataclass(frozen=True, kw_only=True)
class TraceCall:
    """One call of a ``@flyte.trace`` function made inside a task."""

    func: Callable[..., Any]
    """The traced function (unwrapped)."""
    identity: str
    """``module.qualname`` of the function; part of the trace action's name."""
    args: tuple[Any, ...]
    """Positional arguments of the call."""
    kwargs: dict[str, Any]
    """Keyword arguments of the call."""
    inputs_key: str
    """A digest of the arguments that does not need the type engine (see ``flyte._trace``)."""
    generator: bool = False
    """Whether the function is a (sync or async) generator; its result is the list of items."""


@dataclass(kw_only=True)
class TraceRecord:
    """What a controller answers when a traced call starts."""

    action_id: ActionID
    """The trace action's id."""
    replayed: bool
    """Whether the call already succeeded in an earlier attempt of the parent."""
    value: Any = None
    """The recorded result, when ``replayed``."""
    started_at: datetime | None = None
    """When the call started."""
    private: Any = field(default=None, repr=False)
    """Controller-specific state carried from start to finish."""


class Controller(Protocol):
    """Submits the child actions of the running task and records its trace calls."""

    supports_inline_traces: bool
    """Whether trace bookkeeping completes without suspending, so that a sync ``@flyte.trace``
    function called on the event loop's thread can be recorded inline."""

    async def submit(
        self, task: AsyncFunctionTaskTemplate[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Run ``task(*args, **kwargs)`` as a child of the current action and return its result.

        Raises:
            flyte.errors.BaseRuntimeError: the child failed (``RuntimeUserError`` with the
                original exception's class name as ``code``, a timeout or abort error, ...).
        """
        ...

    async def replay_or_record_trace(self, state: ExecutionState, call: TraceCall) -> TraceRecord:
        """Name a trace call; report whether an earlier attempt of the parent already recorded it."""
        ...

    async def finish_trace(
        self, record: TraceRecord, *, result: Any = None, error: BaseException | None = None
    ) -> None:
        """Record the outcome of a trace call started with :meth:`replay_or_record_trace`."""
        ...

    async def close(self) -> None:
        """Release what the controller holds (streams, clients, cache connections)."""
        ...

"""Running sync task functions off the event loop.

Each call gets its own daemon thread rather than a pool thread: a sync task that overruns its
timeout cannot be killed, and a daemon thread at least never keeps the interpreter from exiting.
On cancellation (timeout or abort) the thread is asked to stop by raising ``CancelledError``
inside it at its next Python instruction.
"""

from __future__ import annotations

import asyncio
import contextvars
import ctypes
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

started_threads: contextvars.ContextVar[list[threading.Thread] | None] = contextvars.ContextVar(
    "flyte_started_threads", default=None
)
"""When set (a reused worker sets it per attempt), the task threads started in this context are added to it."""


async def run_in_daemon_thread(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``func(*args, **kwargs)`` on a new daemon thread, with the caller's context vars."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def settle(setter: Callable[[Any], None], value: Any) -> None:
        if not future.done():
            setter(value)

    def target() -> None:
        try:
            result = context.run(func, *args, **kwargs)
        except BaseException as error:  # delivered to the awaiting coroutine, not swallowed
            if not loop.is_closed():
                loop.call_soon_threadsafe(settle, future.set_exception, error)
        else:
            if not loop.is_closed():
                loop.call_soon_threadsafe(settle, future.set_result, result)

    thread = threading.Thread(target=target, name=f"flyte-task-{getattr(func, '__name__', 'sync')}", daemon=True)
    thread.start()
    record = started_threads.get()
    if record is not None:
        record.append(thread)
    try:
        return await future
    except asyncio.CancelledError:
        _interrupt(thread)
        raise


def _interrupt(thread: threading.Thread) -> None:
    """Raise CancelledError in ``thread`` at its next bytecode (a blocking C call finishes first)."""
    if thread.ident is None or not thread.is_alive():
        return
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(asyncio.CancelledError))

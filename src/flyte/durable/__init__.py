"""Durable time: ``sleep``, ``time`` and ``now`` that give the same answers when a task is replayed.

``time.time()`` and ``asyncio.sleep()`` are not deterministic: a task retried after a crash would
read a new time and sleep its whole delay again. These record their readings as trace actions
(see :func:`flyte.trace`), so a retried or replayed attempt gets the recorded values back — a
``sleep(3600)`` started before a crash sleeps only what is left of the hour afterwards. Outside a
task they behave like their plain counterparts.

Each is callable from sync code and has an ``.aio`` form for async code.

Example:
    >>> import flyte, flyte.durable
    >>> env = flyte.TaskEnvironment(name="durable-docs")
    >>> @env.task
    ... async def remind() -> float:
    ...     started = await flyte.durable.time.aio()
    ...     await flyte.durable.sleep.aio(0.01)  # after a retry: only what is left of it
    ...     return started
"""

from __future__ import annotations

import asyncio
import time as _clock
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, Generic, TypeVar

from flyte._context import current_state
from flyte._trace import trace

__all__ = ["now", "sleep", "time"]

T = TypeVar("T")


@trace
async def sleep_started() -> float:
    """When the sleep began (recorded, so a replay sees the first attempt's start)."""
    return _clock.time()


@trace
def sleep_started_blocking() -> float:
    """:func:`sleep_started` for sync calls made on the task's event loop thread."""
    return _clock.time()


@trace
async def read_time() -> float:
    """The current time (recorded)."""
    return _clock.time()


@trace
def read_time_blocking() -> float:
    """:func:`read_time` for sync calls made on the task's event loop thread."""
    return _clock.time()


class _Durable(Generic[T]):
    """A durable operation: ``op(...)`` from sync code, ``await op.aio(...)`` from async code."""

    def __init__(
        self,
        name: str,
        doc: str,
        run_async: Callable[..., Coroutine[Any, Any, T]],
        run_blocking: Callable[..., T],
    ) -> None:
        self.__name__ = self.__qualname__ = name
        self.__doc__ = doc
        self.__module__ = __name__
        self._run_async = run_async
        self._run_blocking = run_blocking

    def __call__(self, *args: Any) -> T:
        state = current_state()
        if state is None:
            from flyte._internal.syncify import run_sync

            return run_sync(self._run_async(*args))
        try:
            on_loop = asyncio.get_running_loop() is state.loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            # Called without await from an async task: it can only block (as time.sleep would).
            return self._run_blocking(*args)
        # A sync task runs on a worker thread: do the work on the task's loop (the context,
        # and with it the running action, travels with the call).
        return asyncio.run_coroutine_threadsafe(self._run_async(*args), state.loop).result()

    async def aio(self, *args: Any) -> T:
        """The async form."""
        return await self._run_async(*args)

    def __repr__(self) -> str:
        return f"<flyte.durable.{self.__name__}>"


def _park_if_long(wake_at: float) -> None:
    """On a server that parks waits: end the attempt now when the sleep outlasts the grace period.

    The start of the sleep is a recorded trace, so the relaunched attempt sleeps only what is left.
    """
    from flyte._internal import parking

    grace = parking.park_after()
    state = current_state()
    if grace is None or state is None or state.in_trace:
        return
    if wake_at - _clock.time() > grace:
        raise parking.Parked(wake_at=wake_at)


async def _sleep_async(seconds: float) -> None:
    wake_at = await sleep_started() + float(seconds)
    _park_if_long(wake_at)
    remaining = wake_at - _clock.time()
    if remaining > 0:
        await asyncio.sleep(remaining)


def _sleep_blocking(seconds: float) -> None:
    wake_at = sleep_started_blocking() + float(seconds)
    _park_if_long(wake_at)
    remaining = wake_at - _clock.time()
    if remaining > 0:
        _clock.sleep(remaining)


async def _time_async() -> float:
    return await read_time()


async def _now_async() -> datetime:
    return datetime.fromtimestamp(await read_time())


def _now_blocking() -> datetime:
    return datetime.fromtimestamp(read_time_blocking())


sleep: _Durable[None] = _Durable(
    "sleep",
    "Sleep ``seconds`` in total across replays: a retried task sleeps only what is left since the "
    "first attempt began the sleep (nothing, if that time has passed).",
    _sleep_async,
    _sleep_blocking,
)
time: _Durable[float] = _Durable(
    "time",
    "``time.time()`` recorded per call: a replayed task gets the same value for the same call.",
    _time_async,
    read_time_blocking,
)
now: _Durable[datetime] = _Durable(
    "now",
    "``datetime.now()`` (local, naive) recorded per call: a replayed task gets the same value.",
    _now_async,
    _now_blocking,
)

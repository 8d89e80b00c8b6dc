"""One async implementation, a thin sync facade: ``f(...)`` blocks, ``f.aio(...)`` awaits."""

from __future__ import annotations

import contextvars
import functools
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Generic, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class Syncified(Generic[P, T]):
    """A coroutine function callable from sync code; ``.aio`` is the coroutine function itself."""

    def __init__(self, func: Callable[P, Coroutine[Any, Any, T]]) -> None:
        self.aio = func
        functools.update_wrapper(self, func)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        return run_sync(self.aio(*args, **kwargs))


def syncify(func: Callable[P, Coroutine[Any, Any, T]]) -> Syncified[P, T]:
    """Wrap ``func`` so that sync callers can call it directly and async callers use ``.aio``."""
    return Syncified(func)


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even when an event loop is already running
    in this thread (a notebook, or an async program calling a sync API): then it runs on a
    helper thread with its own loop."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    outcome: dict[str, Any] = {}
    context = contextvars.copy_context()

    def target() -> None:
        try:
            outcome["value"] = context.run(asyncio.run, coroutine)
        except BaseException as error:  # re-raised in the calling thread below
            outcome["error"] = error

    thread = threading.Thread(target=target, name="flyte-sync-bridge", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]

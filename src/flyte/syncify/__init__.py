"""``syncify``: write an API once as ``async def``, call it from sync and async code alike.

A syncified function called plainly blocks until its coroutine has finished on a background
event loop (one thread per :class:`Syncify` instance, so loop-bound resources such as clients
survive across calls); ``await f.aio(...)`` runs it on the caller's own loop. Async generators
become plain iterators, and methods, class methods and static methods work too.

Example:
    >>> from flyte.syncify import syncify
    >>> @syncify
    ... async def add(x: int, y: int) -> int:
    ...     return x + y
    >>> add(1, 2)
    3
    >>> import asyncio
    >>> asyncio.run(add.aio(2, 3))
    5
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any

__all__ = ["Syncify", "syncify"]


class _BackgroundLoop:
    """An event loop running forever on a daemon thread, started on first use."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=run, name=self.name, daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def on_loop_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        if self.on_loop_thread():
            coroutine.close()
            raise RuntimeError(
                f"A syncified function was called in a blocking way from its own event loop ({self.name}); "
                "use `await f.aio(...)` there"
            )
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop()).result()

    def iterate(self, generator: AsyncIterator[Any]) -> Iterator[Any]:
        loop = self.loop()
        iterator = generator.__aiter__()
        try:
            while True:
                try:
                    yield asyncio.run_coroutine_threadsafe(_next(iterator), loop).result()
                except StopAsyncIteration:
                    return
        finally:
            closer = getattr(iterator, "aclose", None)
            if closer is not None and loop.is_running():
                asyncio.run_coroutine_threadsafe(closer(), loop).result()


async def _next(iterator: AsyncIterator[Any]) -> Any:
    return await iterator.__anext__()


class _SyncWrapper:
    """What :class:`Syncify` returns: call it to block, ``.aio`` to await; binds like a method."""

    def __init__(self, func: Callable[..., Any], runner: _BackgroundLoop, bound: Any = None) -> None:
        self._func = func
        self._runner = runner
        self._bound = bound
        self._is_generator = inspect.isasyncgenfunction(func)
        functools.update_wrapper(self, func)

    def _args(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return args if self._bound is None else (self._bound, *args)

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        return _SyncWrapper(self._func, self._runner, bound=instance)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = self._func(*self._args(args), **kwargs)
        if self._is_generator:
            return self._runner.iterate(result)
        return self._runner.run(result)

    def aio(self, *args: Any, **kwargs: Any) -> Any:
        """The coroutine (or async iterator) itself, for async callers."""
        return self._func(*self._args(args), **kwargs)


class _SyncClassMethod:
    def __init__(self, func: Callable[..., Any], runner: _BackgroundLoop) -> None:
        self._func = func
        self._runner = runner
        functools.update_wrapper(self, func)  # type: ignore[arg-type]  # a descriptor, not a callable

    def __get__(self, instance: Any, owner: Any = None) -> _SyncWrapper:
        return _SyncWrapper(self._func, self._runner, bound=owner if owner is not None else type(instance))


class Syncify:
    """A decorator that makes ``async def`` functions callable from sync code.

    Args:
        name: the name of the background thread whose event loop runs the sync calls.

    Example:
        >>> syncify = Syncify("my_sdk")
        >>> class Client:
        ...     @syncify
        ...     async def ping(self) -> str:
        ...         return "pong"
        >>> Client().ping()
        'pong'
    """

    def __init__(self, name: str = "flyte_syncify") -> None:
        self._runner = _BackgroundLoop(name)

    def __call__(self, obj: Any) -> Any:
        if isinstance(obj, classmethod):
            return _SyncClassMethod(obj.__func__, self._runner)
        if isinstance(obj, staticmethod):
            return staticmethod(_SyncWrapper(obj.__func__, self._runner))
        if not (inspect.iscoroutinefunction(obj) or inspect.isasyncgenfunction(obj)):
            raise TypeError(f"syncify needs an async function or async generator, got {obj!r}")
        return _SyncWrapper(obj, self._runner)


syncify = Syncify()
"""The shared :class:`Syncify` instance (background thread ``flyte_syncify``)."""

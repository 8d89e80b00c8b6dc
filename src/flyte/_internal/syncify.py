"""One async implementation, a thin sync facade: ``f(...)`` blocks, ``f.aio(...)`` awaits."""

from __future__ import annotations

import contextvars
import functools
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

P = ParamSpec("P")
T = TypeVar("T")


class Syncified(Generic[P, T]):
    """A coroutine function callable from sync code; ``.aio`` is the coroutine function itself."""

    def __init__(self, func: Callable[P, Coroutine[Any, Any, T]]) -> None:
        self.aio = func
        functools.update_wrapper(self, func)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        return run_sync(self.aio(*args, **kwargs))


class SyncWithAio(Generic[P, T]):
    """A function that does its work synchronously, and also offers ``.aio`` for async callers.

    Flyte 2 gives every public entry point both forms (``flyte.init(...)`` and ``await
    flyte.init.aio(...)``); where the work never waits on I/O worth yielding for, the async form
    simply runs the sync one.

    Example:
        >>> import asyncio
        >>> double = SyncWithAio(lambda x: 2 * x)
        >>> double(2), asyncio.run(double.aio(3))
        (4, 6)
    """

    def __init__(self, func: Callable[P, T]) -> None:
        self._func = func
        functools.update_wrapper(self, func)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._func(*args, **kwargs)

    async def aio(self, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run the function from async code."""
        return self._func(*args, **kwargs)


def with_aio(func: Callable[P, T]) -> SyncWithAio[P, T]:
    """Decorate a sync function so that it also has an ``.aio`` form (see :class:`SyncWithAio`)."""
    return SyncWithAio(func)


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
        loop_running = False
    else:
        loop_running = True
    if not loop_running:
        # Outside the except block, so that errors of the coroutine do not chain onto
        # "RuntimeError: no running event loop".
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


S = TypeVar("S")
C = TypeVar("C")
Y = TypeVar("Y")


class SyncifiedMethod(Generic[S, P, T]):
    """:func:`syncify` for methods: ``obj.method(...)`` blocks, ``await obj.method.aio(...)`` awaits.

    Example:
        >>> class Handle:
        ...     @syncify_method
        ...     async def ping(self) -> str:
        ...         return "pong"
        >>> Handle().ping()
        'pong'
    """

    def __init__(self, func: Callable[Concatenate[S, P], Coroutine[Any, Any, T]]) -> None:
        self.func = func
        functools.update_wrapper(self, func)  # type: ignore[arg-type]  # a descriptor, not a callable

    @overload
    def __get__(self, obj: None, objtype: type[Any] | None = None) -> SyncifiedMethod[S, P, T]: ...

    @overload
    def __get__(self, obj: S, objtype: type[Any] | None = None) -> Syncified[P, T]: ...

    def __get__(self, obj: S | None, objtype: type[Any] | None = None) -> Syncified[P, T] | SyncifiedMethod[S, P, T]:
        if obj is None:
            return self
        return Syncified(functools.partial(self.func, obj))


class SyncifiedClassMethod(Generic[C, P, T]):
    """:func:`syncify` for class methods: ``Cls.method(...)`` blocks, ``await Cls.method.aio(...)`` awaits."""

    def __init__(self, func: Callable[Concatenate[type[C], P], Coroutine[Any, Any, T]]) -> None:
        self.func = func
        functools.update_wrapper(self, func)  # type: ignore[arg-type]  # a descriptor, not a callable

    def __get__(self, obj: Any, objtype: type[C] | None = None) -> Syncified[P, T]:
        owner: type[C] = objtype if objtype is not None else type(obj)
        return Syncified(functools.partial(self.func, owner))


def syncify_method(func: Callable[Concatenate[S, P], Coroutine[Any, Any, T]]) -> SyncifiedMethod[S, P, T]:
    """Decorate an ``async def`` method so that it can be called from sync code, with ``.aio`` for async code."""
    return SyncifiedMethod(func)


def syncify_classmethod(
    method: Callable[Concatenate[type[C], P], Coroutine[Any, Any, T]],
) -> SyncifiedClassMethod[C, P, T]:
    """Like :func:`syncify_method`, for class methods: put it above ``@classmethod``.

    Example:
        >>> class Handle:
        ...     @syncify_classmethod
        ...     @classmethod
        ...     async def named(cls, name: str) -> str:
        ...         return f"{cls.__name__}:{name}"
        >>> Handle.named("x")
        'Handle:x'
    """
    # At run time ``method`` is the classmethod object; type checkers see the function it wraps.
    return SyncifiedClassMethod(getattr(method, "__func__", method))


class SyncifiedIterator(Generic[P, Y]):
    """An async generator callable from sync code: ``f(...)`` is an iterator, ``f.aio(...)`` the async one."""

    def __init__(self, func: Callable[P, AsyncIterator[Y]]) -> None:
        self.aio = func
        functools.update_wrapper(self, func)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Iterator[Y]:
        return iterate_sync(self.aio(*args, **kwargs))


class SyncifiedIteratorMethod(Generic[S, P, Y]):
    """:class:`SyncifiedIterator` for methods (``obj.watch()`` / ``obj.watch.aio()``)."""

    def __init__(self, func: Callable[Concatenate[S, P], AsyncIterator[Y]]) -> None:
        self.func = func
        functools.update_wrapper(self, func)  # type: ignore[arg-type]  # a descriptor, not a callable

    @overload
    def __get__(self, obj: None, objtype: type[Any] | None = None) -> SyncifiedIteratorMethod[S, P, Y]: ...

    @overload
    def __get__(self, obj: S, objtype: type[Any] | None = None) -> SyncifiedIterator[P, Y]: ...

    def __get__(
        self, obj: S | None, objtype: type[Any] | None = None
    ) -> SyncifiedIterator[P, Y] | SyncifiedIteratorMethod[S, P, Y]:
        if obj is None:
            return self
        return SyncifiedIterator(functools.partial(self.func, obj))


def syncify_iterator_method(func: Callable[Concatenate[S, P], AsyncIterator[Y]]) -> SyncifiedIteratorMethod[S, P, Y]:
    """Decorate an async generator method: iterate it from sync code, or ``async for`` over ``.aio(...)``."""
    return SyncifiedIteratorMethod(func)


def iterate_sync(iterator: AsyncIterator[Y]) -> Iterator[Y]:
    """Iterate an async iterator from sync code: it runs on a helper thread with its own event loop.

    Items are handed over one at a time (the producer waits for the consumer), and leaving the
    loop early (``break``, an exception, garbage collection) cancels the async side.
    """
    import asyncio
    import queue

    items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    ready = threading.Event()
    state: dict[str, Any] = {}
    context = contextvars.copy_context()

    async def produce() -> None:
        resume = asyncio.Event()
        state["loop"], state["resume"], state["task"] = asyncio.get_running_loop(), resume, asyncio.current_task()
        ready.set()
        try:
            async for item in iterator:
                items.put(("item", item))
                await resume.wait()
                resume.clear()
            items.put(("done", None))
        except asyncio.CancelledError:
            pass
        except BaseException as error:  # handed to the consumer, which re-raises it
            items.put(("error", error))
        finally:
            closer = getattr(iterator, "aclose", None)
            if closer is not None:
                await closer()

    thread = threading.Thread(target=lambda: context.run(asyncio.run, produce()), name="flyte-iterate", daemon=True)
    thread.start()
    ready.wait()
    loop: asyncio.AbstractEventLoop = state["loop"]
    finished = False
    try:
        while True:
            kind, value = items.get()
            if kind == "done":
                finished = True
                return
            if kind == "error":
                finished = True
                raise value
            yield value
            loop.call_soon_threadsafe(state["resume"].set)
    finally:
        if not finished:
            try:
                loop.call_soon_threadsafe(state["task"].cancel)
            except RuntimeError:  # the loop has already closed
                pass
        thread.join(timeout=5)

"""``flyte.map``: call a task once per item, in parallel, and get the results in input order."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

from flyte._context import current_state
from flyte._group import group
from flyte._internal.syncify import run_sync
from flyte._task import AsyncFunctionTaskTemplate, _on_loop_thread
from flyte.errors import SyncTaskCallInAsyncContextError

__all__ = ["map"]


def _task_of(func: Any) -> AsyncFunctionTaskTemplate[Any, Any]:
    target = func.func if isinstance(func, functools.partial) else func
    if not isinstance(target, AsyncFunctionTaskTemplate):
        raise TypeError(f"flyte.map() needs a task (or a functools.partial of one), got {func!r}")
    return target


def _call(func: Any, args: tuple[Any, ...]) -> Any:
    if isinstance(func, functools.partial):
        return _task_of(func).aio(*func.args, *args, **func.keywords)
    return _task_of(func).aio(*args)


async def _map_async(
    func: Any,
    *iterables: Iterable[Any],
    group_name: str | None = None,
    concurrency: int = 0,
    return_exceptions: bool = True,
) -> AsyncIterator[Any]:
    import asyncio

    task = _task_of(func)
    if concurrency < 0:
        raise ValueError(f"concurrency must be 0 (unbounded) or positive, got {concurrency}")
    limit = asyncio.Semaphore(concurrency) if concurrency else None

    async def one(args: tuple[Any, ...]) -> Any:
        if limit is None:
            return await _call(func, args)
        async with limit:
            return await _call(func, args)

    with group(group_name or task.short_name):
        # Each call is created inside the group so its action name includes it.
        pending = [asyncio.ensure_future(one(args)) for args in zip(*iterables, strict=False)]
    try:
        for future in pending:
            try:
                yield await future
            except Exception as error:
                if not return_exceptions:
                    raise
                yield error
    finally:
        for future in pending:
            if not future.done():
                future.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


async def _collect(func: Any, iterables: tuple[Iterable[Any], ...], options: dict[str, Any]) -> list[Any]:
    return [item async for item in _map_async(func, *iterables, **options)]


class _Mapper:
    """``flyte.map(task, items, ...)`` (an iterator) and ``flyte.map.aio(...)`` (an async iterator)."""

    def __call__(
        self,
        func: Callable[..., Any] | functools.partial[Any],
        *iterables: Iterable[Any],
        group_name: str | None = None,
        concurrency: int = 0,
        return_exceptions: bool = True,
    ) -> Iterator[Any]:
        """Call ``func`` once per item of ``iterables`` (zipped, like ``map``), in parallel.

        Args:
            func: a task, or a ``functools.partial`` of one that binds the other inputs.
            *iterables: one iterable per remaining positional input.
            group_name: the group the calls are shown under (default: the task's name).
            concurrency: at most this many calls run at once; 0 means no limit.
            return_exceptions: yield a failed call's error in its place instead of raising it.

        Example:
            >>> @env.task  # doctest: +SKIP
            ... def main(items: list[int]) -> list[int]:
            ...     return list(flyte.map(double, items, concurrency=8))
        """
        _task_of(func)
        options = {"group_name": group_name, "concurrency": concurrency, "return_exceptions": return_exceptions}
        state = current_state()
        if state is not None and _on_loop_thread(state.loop):
            raise SyncTaskCallInAsyncContextError(
                "flyte.map() blocks, so it cannot be used inside an async task; "
                "use `async for result in flyte.map.aio(...)` there."
            )
        if state is not None:
            import asyncio

            results = asyncio.run_coroutine_threadsafe(_collect(func, iterables, options), state.loop).result()
        else:
            results = run_sync(_collect(func, iterables, options))
        return iter(results)

    def aio(
        self,
        func: Callable[..., Any] | functools.partial[Any],
        *iterables: Iterable[Any],
        group_name: str | None = None,
        concurrency: int = 0,
        return_exceptions: bool = True,
    ) -> AsyncIterator[Any]:
        """The async form: ``async for result in flyte.map.aio(task, items): ...``."""
        return _map_async(
            func, *iterables, group_name=group_name, concurrency=concurrency, return_exceptions=return_exceptions
        )


map = _Mapper()  # the public name Flyte 2 uses

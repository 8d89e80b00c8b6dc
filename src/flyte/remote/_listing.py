"""``listall`` class methods usable the way Flyte 2's are, and the way ours always were.

Flyte 2's ``Run.listall(...)`` is an iterator and ``Run.listall.aio(...)`` an *async iterator*
(``async for run in Run.listall.aio()``); ours returned a list and a coroutine of a list
(``await Run.listall.aio()``). :func:`syncify_listing` gives both: the sync call returns the list
(which iterates), ``.aio(...)`` returns an object that can be awaited for the list *or* iterated
with ``async for``.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Generator
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from flyte._internal.syncify import run_sync

__all__ = ["AsyncListing", "syncify_listing"]

P = ParamSpec("P")
C = TypeVar("C")
T = TypeVar("T")


class AsyncListing(Generic[T]):
    """The result of ``listall.aio(...)``: ``await`` it for a list, or ``async for`` over it.

    Example:
        >>> import asyncio
        >>> async def three() -> list[int]:
        ...     return [1, 2, 3]
        >>> async def both() -> tuple[list[int], list[int]]:
        ...     return await AsyncListing(three()), [x async for x in AsyncListing(three())]
        >>> asyncio.run(both())
        ([1, 2, 3], [1, 2, 3])
    """

    def __init__(self, coroutine: Coroutine[Any, Any, list[T]]) -> None:
        self._coroutine = coroutine

    def __await__(self) -> Generator[Any, None, list[T]]:
        return self._coroutine.__await__()

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[T]:
        for item in await self._coroutine:
            yield item

    def close(self) -> None:
        """Drop the listing without running it."""
        self._coroutine.close()


class _BoundListing(Generic[P, T]):
    def __init__(self, func: Callable[P, Coroutine[Any, Any, list[T]]]) -> None:
        self._func = func
        functools.update_wrapper(self, func)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> list[T]:
        return run_sync(self._func(*args, **kwargs))

    def aio(self, *args: P.args, **kwargs: P.kwargs) -> AsyncListing[T]:
        """The async form: awaitable (a list) and async-iterable."""
        return AsyncListing(self._func(*args, **kwargs))


class _ListingClassMethod(Generic[C, P, T]):
    def __init__(self, func: Callable[Concatenate[type[C], P], Coroutine[Any, Any, list[T]]]) -> None:
        self.func = func
        functools.update_wrapper(self, func)  # type: ignore[arg-type]  # a descriptor, not a callable

    def __get__(self, obj: Any, objtype: type[C] | None = None) -> _BoundListing[P, T]:
        owner: type[C] = objtype if objtype is not None else type(obj)
        return _BoundListing(functools.partial(self.func, owner))


def syncify_listing(
    method: Callable[Concatenate[type[C], P], Coroutine[Any, Any, list[T]]],
) -> _ListingClassMethod[C, P, T]:
    """Like ``syncify_classmethod`` for a ``listall``: put it above ``@classmethod``."""
    return _ListingClassMethod(getattr(method, "__func__", method))

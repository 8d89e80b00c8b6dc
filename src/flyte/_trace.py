"""``@flyte.trace``: record a helper function's calls as actions, and replay them on a retry.

A traced call inside a task becomes a leaf action of the run. When the calling task is retried,
calls that already succeeded return their recorded results instead of running again — the way
to make expensive, non-idempotent steps (LLM calls, API requests) survive a retry.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from typing import Any, TypeVar

from flyte._context import ExecutionState, current_state, reset_state, set_state

T = TypeVar("T")

__all__ = ["trace"]


def _inputs_key(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """A stable digest of a traced call's arguments (their reprs, bound to parameter names)."""
    import inspect

    try:
        bound = inspect.signature(func).bind(*args, **kwargs)
        items = sorted(bound.arguments.items())
    except TypeError:
        items = [("args", args), ("kwargs", sorted(kwargs.items()))]
    return hashlib.sha256(repr(items).encode()).hexdigest()


def _begin(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[ExecutionState, Any]:
    state = current_state()
    assert state is not None
    name = f"{func.__module__}.{func.__qualname__}"
    return state, state.controller.replay_or_record_trace(state, name, _inputs_key(func, args, kwargs))


def trace(func: Callable[..., T]) -> Callable[..., T]:
    """Record calls of ``func`` made inside a task as trace actions; replay them on a retry.

    Works on sync and async functions and generators. Outside a task, ``func`` runs unchanged.
    A traced function must not call tasks.

    Example:
        >>> @flyte.trace
        ... async def ask_llm(prompt: str) -> str:
        ...     return await client.complete(prompt)  # doctest: +SKIP
    """
    import inspect

    if inspect.isasyncgenfunction(func):

        @functools.wraps(func)
        async def trace_async_generator(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            if current_state() is None:
                async for item in func(*args, **kwargs):
                    yield item
                return
            state, (action_id, replayed, recorded) = _begin(func, args, kwargs)
            if replayed:
                for item in recorded:
                    yield item
                return
            # Context changes made inside a generator would leak to its consumer between items,
            # so generators are not marked as being inside a trace.
            items: list[Any] = []
            try:
                async for item in func(*args, **kwargs):
                    items.append(item)
                    yield item
            except BaseException as error:
                state.controller.finish_trace(action_id, error=error)
                raise
            state.controller.finish_trace(action_id, result=items)

        return trace_async_generator  # type: ignore[return-value]

    if inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def trace_generator(*args: Any, **kwargs: Any) -> Iterator[Any]:
            if current_state() is None:
                yield from func(*args, **kwargs)
                return
            state, (action_id, replayed, recorded) = _begin(func, args, kwargs)
            if replayed:
                yield from recorded
                return
            items: list[Any] = []
            try:
                for item in func(*args, **kwargs):
                    items.append(item)
                    yield item
            except BaseException as error:
                state.controller.finish_trace(action_id, error=error)
                raise
            state.controller.finish_trace(action_id, result=items)

        return trace_generator  # type: ignore[return-value]

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def trace_coroutine(*args: Any, **kwargs: Any) -> Any:
            if current_state() is None:
                return await func(*args, **kwargs)
            state, (action_id, replayed, recorded) = _begin(func, args, kwargs)
            if replayed:
                return recorded
            token = set_state(replace(state, in_trace=True))
            try:
                result = await func(*args, **kwargs)
            except BaseException as error:
                state.controller.finish_trace(action_id, error=error)
                raise
            finally:
                reset_state(token)
            state.controller.finish_trace(action_id, result=result)
            return result

        return trace_coroutine  # type: ignore[return-value]

    @functools.wraps(func)
    def trace_function(*args: Any, **kwargs: Any) -> Any:
        if current_state() is None:
            return func(*args, **kwargs)
        state, (action_id, replayed, recorded) = _begin(func, args, kwargs)
        if replayed:
            return recorded
        token = set_state(replace(state, in_trace=True))
        try:
            result = func(*args, **kwargs)
        except BaseException as error:
            state.controller.finish_trace(action_id, error=error)
            raise
        finally:
            reset_state(token)
        state.controller.finish_trace(action_id, result=result)
        return result

    return trace_function

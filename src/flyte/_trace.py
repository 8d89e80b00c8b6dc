"""``@flyte.trace``: record a helper function's calls as actions, and replay them on a retry.

A traced call inside a task becomes a leaf action of the run. When the calling task is retried,
calls that already succeeded return their recorded results instead of running again — the way
to make expensive, non-idempotent steps (LLM calls, API requests) survive a retry.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from flyte._context import ExecutionState, current_state, reset_state, set_state

if TYPE_CHECKING:
    from flyte._internal.controllers import TraceCall

logger = logging.getLogger("flyte")

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


def _state() -> ExecutionState:
    state = current_state()
    assert state is not None
    return state


def _call(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], generator: bool) -> TraceCall:
    from flyte._internal.controllers import TraceCall

    return TraceCall(
        func=func,
        identity=f"{func.__module__}.{func.__qualname__}",
        args=args,
        kwargs=kwargs,
        inputs_key=_inputs_key(func, args, kwargs),
        generator=generator,
    )


def _on_loop_thread(state: ExecutionState) -> bool:
    import asyncio

    try:
        return asyncio.get_running_loop() is state.loop
    except RuntimeError:
        return False


def _run_blocking(state: ExecutionState, coroutine: Coroutine[Any, Any, T]) -> T:
    """Run controller bookkeeping from sync code: inline on the loop's thread, else on the loop."""
    if _on_loop_thread(state):
        # Only controllers whose bookkeeping never suspends get here (supports_inline_traces).
        try:
            coroutine.send(None)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        coroutine.close()
        raise RuntimeError("trace bookkeeping suspended on the event loop's thread")
    import asyncio

    return asyncio.run_coroutine_threadsafe(coroutine, state.loop).result()


def _untraceable(state: ExecutionState) -> bool:
    """A sync traced call on the loop's thread under a controller that must do I/O to record it."""
    if state.controller.supports_inline_traces or not _on_loop_thread(state):
        return False
    global _warned_untraceable
    if not _warned_untraceable:
        _warned_untraceable = True
        logger.warning(
            "A sync @flyte.trace function was called from an async task; it runs without being recorded. "
            "Make the traced function async to record and replay it."
        )
    return True


_warned_untraceable = False


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
            state = _state()
            record = await state.controller.replay_or_record_trace(state, _call(func, args, kwargs, True))
            if record.replayed:
                for item in record.value:
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
                await state.controller.finish_trace(record, error=error)
                raise
            await state.controller.finish_trace(record, result=items)

        return trace_async_generator  # type: ignore[return-value]

    if inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def trace_generator(*args: Any, **kwargs: Any) -> Iterator[Any]:
            if current_state() is None:
                yield from func(*args, **kwargs)
                return
            state = _state()
            if _untraceable(state):
                yield from func(*args, **kwargs)
                return
            controller = state.controller
            record = _run_blocking(state, controller.replay_or_record_trace(state, _call(func, args, kwargs, True)))
            if record.replayed:
                yield from record.value
                return
            items: list[Any] = []
            try:
                for item in func(*args, **kwargs):
                    items.append(item)
                    yield item
            except BaseException as error:
                _run_blocking(state, controller.finish_trace(record, error=error))
                raise
            _run_blocking(state, controller.finish_trace(record, result=items))

        return trace_generator  # type: ignore[return-value]

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def trace_coroutine(*args: Any, **kwargs: Any) -> Any:
            if current_state() is None:
                return await func(*args, **kwargs)
            state = _state()
            record = await state.controller.replay_or_record_trace(state, _call(func, args, kwargs, False))
            if record.replayed:
                return record.value
            token = set_state(replace(state, in_trace=True))
            try:
                result = await func(*args, **kwargs)
            except BaseException as error:
                reset_state(token)
                await state.controller.finish_trace(record, error=error)
                raise
            reset_state(token)
            await state.controller.finish_trace(record, result=result)
            return result

        return trace_coroutine  # type: ignore[return-value]

    @functools.wraps(func)
    def trace_function(*args: Any, **kwargs: Any) -> Any:
        if current_state() is None:
            return func(*args, **kwargs)
        state = _state()
        if _untraceable(state):
            return func(*args, **kwargs)
        controller = state.controller
        record = _run_blocking(state, controller.replay_or_record_trace(state, _call(func, args, kwargs, False)))
        if record.replayed:
            return record.value
        token = set_state(replace(state, in_trace=True))
        try:
            result = func(*args, **kwargs)
        except BaseException as error:
            reset_state(token)
            _run_blocking(state, controller.finish_trace(record, error=error))
            raise
        reset_state(token)
        _run_blocking(state, controller.finish_trace(record, result=result))
        return result

    return trace_function

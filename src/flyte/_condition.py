"""Conditions: a task pauses until a person (or a webhook receiver) sends it a value.

``await flyte.new_condition.aio("approve", data_type=bool)`` registers the condition; ``await
condition.wait.aio()`` returns the value it was resolved with, or raises
:class:`flyte.errors.ConditionTimedoutError` / :class:`flyte.errors.ConditionFailedError`.

Remotely the condition is a child *condition action* of the task: the control plane shows it
(``flyte get condition``, the console), resolves it (``flyte signal condition``,
``flyte.remote.Condition.signal``, a webhook receiver's callback) and sends the value back inline
in the task's watch stream. A retried or recovered task finds a resolved condition again (its name
is deterministic) and does not wait twice.

Locally the value comes from, in order: a handler set with :func:`set_local_condition_handler`,
the environment variable ``FLYTE_CONDITION_<NAME>`` (the name upper-cased, other characters as
``_``), or a prompt on the terminal.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, Literal, TypeVar

from flyte._context import current_state
from flyte.errors import ConditionFailedError, ConditionTimedoutError

__all__ = ["ConditionWebhook", "new_condition", "set_local_condition_handler"]

logger = logging.getLogger(__name__)

PromptType = Literal["text", "markdown"]
ConditionType = TypeVar("ConditionType", bool, int, float, str)

_TYPES = (bool, int, float, str)


@dataclass
class ConditionWebhook:
    """A URL the control plane POSTs to when the condition is created.

    Every string in ``payload`` may contain ``{callback_uri}``: the URI that resolves the
    condition (``POST`` it ``{"value": ...}``, or ``{"reject": "why"}``). The request is signed:
    ``X-Flyte-Signature: sha256=<hex HMAC-SHA256 of "<X-Flyte-Timestamp>.<body>">``.

    Example:
        >>> ConditionWebhook(url="https://chat.example/hook", payload={"text": "approve: {callback_uri}"})
        ConditionWebhook(url='https://chat.example/hook', payload={'text': 'approve: {callback_uri}'})
    """

    url: str
    payload: dict[str, Any] | None = None


LocalHandler = Callable[["_Condition[Any]"], Any]
_local_handler: LocalHandler | None = None


def set_local_condition_handler(handler: LocalHandler | None) -> None:
    """Resolve conditions of local runs with ``handler(condition)`` (a value, or an awaitable of one).

    Raising from the handler fails the condition (:class:`~flyte.errors.ConditionFailedError`).
    ``None`` removes the handler.
    """
    global _local_handler
    _local_handler = handler


def _run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a condition coroutine from sync code (on the task's loop when inside a sync task)."""
    state = current_state()
    if state is None:
        from flyte._internal.syncify import run_sync

        return run_sync(coroutine)
    try:
        on_loop = asyncio.get_running_loop() is state.loop
    except RuntimeError:
        on_loop = False
    if on_loop:
        coroutine.close()
        raise RuntimeError("Inside an async task, use `await flyte.new_condition.aio(...)` / `await cond.wait.aio()`")
    return asyncio.run_coroutine_threadsafe(coroutine, state.loop).result()


class _SyncAio:
    """``obj.method(...)`` blocks; ``await obj.method.aio(...)`` awaits (as Flyte 2's syncify)."""

    def __init__(self, func: Callable[..., Coroutine[Any, Any, Any]]) -> None:
        self.aio = func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _run(self.aio(*args, **kwargs))


@dataclass
class _Condition(Generic[ConditionType]):
    """A condition a task can wait on; made by :func:`new_condition`."""

    name: str
    prompt: str = "Approve?"
    prompt_type: PromptType = "text"
    data_type: type[ConditionType] = bool  # type: ignore[assignment]
    description: str = ""
    timeout: timedelta | int | float | None = None
    webhook: ConditionWebhook | None = None
    _action_name: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.data_type not in _TYPES:
            raise TypeError(f"Invalid data_type {self.data_type}. Must be one of {_TYPES}.")
        if self.prompt_type not in ("text", "markdown"):
            raise ValueError(f"prompt_type must be 'text' or 'markdown', got {self.prompt_type!r}")
        if not self.name:
            raise ValueError("A condition needs a name")
        seconds: float | None = None
        if self.timeout is not None:
            seconds = self.timeout.total_seconds() if isinstance(self.timeout, timedelta) else float(self.timeout)
            if seconds <= 0:
                raise ValueError("timeout must be positive")
        self._timeout_seconds = seconds

    @property
    def wait(self) -> _SyncAio:
        """Wait until the condition is resolved; returns the value (``cond.wait()`` / ``await cond.wait.aio()``).

        Raises:
            flyte.errors.ConditionTimedoutError: nobody resolved it within its timeout.
            flyte.errors.ConditionFailedError: it was rejected, or could not be resolved.
        """
        return _SyncAio(self._wait)

    async def _wait(self) -> ConditionType:
        state = current_state()
        if state is None:
            raise RuntimeError("Conditions can only be awaited within a task context.")
        waiter = getattr(state.controller, "wait_for_condition", None)
        if waiter is not None:
            return await waiter(state, self)  # type: ignore[no-any-return]
        return await self._wait_locally()

    # --- local mode -----------------------------------------------------------------------

    async def _wait_locally(self) -> ConditionType:
        try:
            if self._timeout_seconds is None:
                value = await self._local_value()
            else:
                value = await asyncio.wait_for(self._local_value(), self._timeout_seconds)
        except asyncio.TimeoutError:
            raise ConditionTimedoutError(
                f"Condition '{self.name}' was not signalled within {self._timeout_seconds:g} seconds."
            ) from None
        return self._coerce(value)

    async def _local_value(self) -> Any:
        handler = _local_handler
        if handler is not None:
            try:
                value = handler(self)
                if isinstance(value, Awaitable):
                    value = await value
            except (ConditionFailedError, ConditionTimedoutError):
                raise
            except Exception as error:
                raise ConditionFailedError(f"Condition '{self.name}' failed: {error}") from error
            return value
        variable = "FLYTE_CONDITION_" + re.sub(r"[^A-Za-z0-9]", "_", self.name).upper()
        if variable in os.environ:
            return os.environ[variable]
        if not sys.stdin or not sys.stdin.isatty():
            if self._timeout_seconds is not None:
                await asyncio.sleep(self._timeout_seconds + 1)  # nobody can answer: it times out
            raise ConditionFailedError(
                f"Condition '{self.name}' needs a value: set {variable}, call "
                "flyte._condition.set_local_condition_handler(...), or run on a terminal"
            )
        return await asyncio.get_running_loop().run_in_executor(None, self._prompt)

    def _prompt(self) -> Any:
        import click

        click.echo(f"\nCondition: {self.name}", err=True)
        if self.description:
            click.echo(self.description, err=True)
        if self.data_type is bool:
            return click.confirm(self.prompt, err=True)
        return click.prompt(self.prompt, type=self.data_type, err=True)

    def _coerce(self, value: Any) -> ConditionType:
        kind = self.data_type
        if kind is bool and isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("true", "yes", "y", "1", "approve", "approved"):
                return True  # type: ignore[return-value]
            if lowered in ("false", "no", "n", "0", "reject", "rejected"):
                return False  # type: ignore[return-value]
            raise ConditionFailedError(f"Condition '{self.name}' expects true or false, got {value!r}")
        try:
            return kind(value)  # type: ignore[return-value]
        except (TypeError, ValueError) as error:
            raise ConditionFailedError(f"Condition '{self.name}' expects a {kind.__name__}, got {value!r}") from error


async def _new_condition(
    name: str,
    /,
    prompt: str = "Approve?",
    prompt_type: PromptType = "text",
    data_type: type[Any] = bool,
    description: str = "",
    timeout: timedelta | int | float | None = None,
    webhook: ConditionWebhook | None = None,
) -> _Condition[Any]:
    condition: _Condition[Any] = _Condition(
        name=name,
        prompt=prompt,
        prompt_type=prompt_type,
        data_type=data_type,
        description=description,
        timeout=timeout,
        webhook=webhook,
    )
    state = current_state()
    if state is not None:
        register = getattr(state.controller, "register_condition", None)
        if register is not None:
            await register(state, condition)
        elif webhook is not None:
            await _local_webhook(condition)
    return condition


async def _local_webhook(condition: _Condition[Any]) -> None:
    """Local mode: POST the webhook once (the callback URI names the condition; nothing serves it)."""
    import httpx

    assert condition.webhook is not None
    callback = f"local://conditions/{condition.name}/signal"

    def substitute(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("{callback_uri}", callback)
        if isinstance(value, dict):
            return {key: substitute(item) for key, item in value.items()}
        if isinstance(value, list):
            return [substitute(item) for item in value]
        return value

    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            await client.post(condition.webhook.url, json=substitute(condition.webhook.payload or {}))
    except httpx.HTTPError as error:
        logger.warning("The webhook of condition %s failed: %s", condition.name, error)


new_condition = _SyncAio(_new_condition)
new_condition.__doc__ = """Create a condition the running task can wait on.

Args:
    name: the condition's name (unique per call site; repeated calls are numbered).
    prompt: what the person resolving it is asked.
    prompt_type: ``"text"`` or ``"markdown"``.
    data_type: ``bool``, ``int``, ``float`` or ``str``: the value it waits for.
    description: more text for the person resolving it.
    timeout: seconds (or a ``timedelta``) after which ``wait()`` raises ConditionTimedoutError.
    webhook: a :class:`ConditionWebhook` the control plane calls when the condition is created.

Example:
    >>> @env.task  # doctest: +SKIP
    ... async def deploy() -> str:
    ...     ok = await (await flyte.new_condition.aio("approve", prompt="Ship it?")).wait.aio()
    ...     return "shipped" if ok else "held"
"""

"""``flyte.custom_context``: key/values that flow from a run (or a block) to every action below it."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from flyte._context import ctx

__all__ = ["custom_context", "get_custom_context"]

_NO_OVERRIDES: dict[str, str] = {}  # shared and never mutated: a block always installs a new dict
_overrides: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar(
    "flyte_custom_context",
    default=_NO_OVERRIDES,
)


def get_custom_context() -> dict[str, str]:
    """The custom context visible here: the running action's, plus any ``custom_context`` block.

    Example:
        >>> get_custom_context()
        {}
    """
    task_context = ctx()
    base = task_context.custom_context if task_context else {}
    overrides = _overrides.get()
    return {**base, **overrides} if overrides else dict(base)


@contextmanager
def custom_context(**values: str) -> Iterator[None]:
    """Add key/values to the custom context of the actions called inside the block.

    Example:
        >>> with custom_context(experiment="e42"):
        ...     get_custom_context()["experiment"]
        'e42'
    """
    bad = [key for key, value in values.items() if not isinstance(value, str)]
    if bad:
        raise TypeError(f"custom_context values must be strings; not for: {', '.join(bad)}")
    token = _overrides.set({**_overrides.get(), **values})
    try:
        yield
    finally:
        _overrides.reset(token)

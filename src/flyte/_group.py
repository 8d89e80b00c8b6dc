"""``flyte.group``: name a set of calls so the console shows them together."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flyte._context import current_state, reset_state, set_state
from flyte.models import GroupData

__all__ = ["group"]


@contextmanager
def group(name: str) -> Iterator[None]:
    """Group the task calls made inside the block under ``name``.

    Groups also take part in child action names, so the same call in two groups is two actions.
    Outside a task the block runs unchanged.

    Example:
        >>> with flyte.group("training"):  # doctest: +SKIP
        ...     models = await asyncio.gather(*(train(c) for c in configs))
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"group name must be a non-empty string, got {name!r}")
    state = current_state()
    if state is None:
        yield
        return
    token = set_state(state.with_group(GroupData(name)))
    try:
        yield
    finally:
        reset_state(token)

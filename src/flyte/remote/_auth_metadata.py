"""``flyte.remote.auth_metadata``: extra metadata (headers) sent with every control-plane call in a block.

A service that sits between users and the control plane (``flyte.init_passthrough``) forwards
its caller's credentials this way: ``with auth_metadata(("authorization", token)): ...``.
The pairs live in a context variable, so concurrent tasks each send their own.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

__all__ = ["auth_metadata", "get_auth_metadata"]

_metadata: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar(
    "flyte_auth_metadata", default=()
)


@contextlib.contextmanager
def auth_metadata(*kv: tuple[str, str]) -> Iterator[None]:
    """Send these ``(key, value)`` pairs as metadata with every control-plane call inside the block.

    Blocks nest: an inner block adds to (and for the same key, overrides) the outer one.

    Raises:
        ValueError: no pair was given, or one is not a pair of non-empty strings.

    Example:
        >>> with auth_metadata(("authorization", "Bearer abc")):
        ...     get_auth_metadata()
        (('authorization', 'Bearer abc'),)
    """
    if not kv:
        raise ValueError("auth_metadata needs at least one (key, value) pair")
    for pair in kv:
        if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(item, str) for item in pair)):
            raise ValueError(f"auth_metadata takes (key, value) pairs of strings, got {pair!r}")
        if not pair[0]:
            raise ValueError("auth_metadata keys must not be empty")
    outer = {key: value for key, value in _metadata.get()}
    merged = outer | {key.lower(): value for key, value in kv}
    token = _metadata.set(tuple(merged.items()))
    try:
        yield
    finally:
        _metadata.reset(token)


def get_auth_metadata() -> tuple[tuple[str, str], ...]:
    """The pairs of the innermost :func:`auth_metadata` block (empty outside any).

    Example:
        >>> get_auth_metadata()
        ()
    """
    return _metadata.get()

"""Tracebacks trimmed to the user's code.

A task failure's traceback runs through the SDK's own machinery (the controller, the task
runner, the sync wrapper, the worker's fork) before it reaches the user's function. Users debug
their code, not ours: :func:`user_traceback` keeps the frames outside the ``flyte`` and
``flyte_server`` packages and the standard library's ``asyncio``/``concurrent`` plumbing, and
drops chained exceptions that are only SDK bookkeeping. ``flyte -v`` prints the full traceback.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import traceback
from pathlib import Path

__all__ = ["is_internal_file", "user_traceback"]

_INTERNAL_ROOTS = (
    *(str(Path(module.__file__).resolve().parent) + os.sep for module in (asyncio, concurrent.futures)),  # type: ignore[arg-type]
    str(Path(__file__).resolve().parents[1]) + os.sep,  # the flyte package
)


def _server_root() -> str | None:
    try:
        import flyte_server
    except ImportError:
        return None
    return str(Path(flyte_server.__file__).resolve().parent) + os.sep


def is_internal_file(filename: str) -> bool:
    """Whether ``filename`` belongs to the SDK, the control plane or asyncio's plumbing."""
    try:
        resolved = str(Path(filename).resolve())
    except (OSError, RuntimeError):
        return False
    server = _server_root()
    return resolved.startswith(_INTERNAL_ROOTS) or (server is not None and resolved.startswith(server))


def _user_frames(error: BaseException) -> traceback.StackSummary:
    frames = traceback.extract_tb(error.__traceback__)
    return traceback.StackSummary.from_list([frame for frame in frames if not is_internal_file(frame.filename)])


def _innermost_user_error(error: BaseException) -> BaseException:
    """The exception the user's code raised: SDK wrappers (``raise ... from user_error``) peeled off."""
    seen: set[int] = set()
    current = error
    while id(current) not in seen:
        seen.add(id(current))
        cause = current.__cause__
        if cause is None or not _user_frames(cause):
            break
        current = cause
    return current


def user_traceback(error: BaseException) -> str | None:
    """The traceback of ``error`` with only the user's frames, or ``None`` when none are the user's.

    Example:
        >>> try:
        ...     int("x")
        ... except ValueError as e:
        ...     text = user_traceback(e)
        >>> text is None or text.startswith("Traceback")
        True
    """
    inner = _innermost_user_error(error)
    frames = _user_frames(inner)
    if not frames:
        return None
    lines = ["Traceback (most recent call last):\n", *frames.format()]
    lines.extend(traceback.format_exception_only(type(inner), inner))
    return "".join(lines).rstrip("\n")

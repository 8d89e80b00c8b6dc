"""Time limits for a task: per attempt, in the queue, and overall.

Example:
    >>> normalize_timeout(600).max_runtime_seconds
    600.0
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

__all__ = ["Timeout", "TimeoutType", "normalize_timeout"]


def _seconds(value: timedelta | int | float | None, *, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise ValueError(f"Timeout.{field} must be a timedelta or a number of seconds, got {value!r}")
    if seconds < 0:
        raise ValueError(f"Timeout.{field} must not be negative, got {value!r}")
    return seconds or None


@dataclass(frozen=True)
class Timeout:
    """Time limits for a task; each is a timedelta or seconds, and ``None`` or ``0`` means no limit.

    Example:
        >>> Timeout(max_runtime=timedelta(minutes=5), deadline=3600).deadline_seconds
        3600.0
    """

    max_runtime: timedelta | int | None = None
    """The longest one attempt may run."""
    max_queued_time: timedelta | int | None = None
    """The longest an action may wait to start."""
    deadline: timedelta | int | None = None
    """The longest an action may take in all, retries included."""

    def __post_init__(self) -> None:
        for name in ("max_runtime", "max_queued_time", "deadline"):
            _seconds(getattr(self, name), field=name)

    @property
    def max_runtime_seconds(self) -> float | None:
        """``max_runtime`` in seconds, or ``None`` when unlimited."""
        return _seconds(self.max_runtime, field="max_runtime")

    @property
    def max_queued_time_seconds(self) -> float | None:
        """``max_queued_time`` in seconds, or ``None`` when unlimited."""
        return _seconds(self.max_queued_time, field="max_queued_time")

    @property
    def deadline_seconds(self) -> float | None:
        """``deadline`` in seconds, or ``None`` when unlimited."""
        return _seconds(self.deadline, field="deadline")


TimeoutType = Timeout | int | timedelta
"""What ``timeout=`` accepts: a :class:`Timeout`, or the per-attempt limit in seconds or as a timedelta."""


def normalize_timeout(request: TimeoutType | None) -> Timeout | None:
    """Turn a ``timeout=`` argument into a :class:`Timeout`; ``None`` when there is no limit.

    A bare number or timedelta is the per-attempt limit (``max_runtime``).

    Raises:
        ValueError: a negative value or a value of the wrong type.

    Example:
        >>> normalize_timeout(timedelta(minutes=1))
        Timeout(max_runtime=datetime.timedelta(seconds=60), max_queued_time=None, deadline=None)
        >>> normalize_timeout(0) is None
        True
    """
    if request is None:
        return None
    timeout = request if isinstance(request, Timeout) else Timeout(max_runtime=request)
    limits = (timeout.max_runtime_seconds, timeout.max_queued_time_seconds, timeout.deadline_seconds)
    return timeout if any(limit is not None for limit in limits) else None

"""How often a failed task is tried again, and how long to wait between tries.

Example:
    >>> strategy = RetryStrategy(3, backoff=Backoff(base=timedelta(seconds=1), factor=2, cap=timedelta(seconds=5)))
    >>> [strategy.delay_for(attempt) for attempt in (1, 2, 3, 4)]
    [1.0, 2.0, 4.0, 5.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

__all__ = ["Backoff", "RetryStrategy", "normalize_retries"]

_LONGEST_DELAY = timedelta(days=365)


def _to_timedelta(value: timedelta | int | float, *, field: str) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{field} must be a timedelta or a number of seconds, got {value!r}")
    return timedelta(seconds=value)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff between retries: ``base * factor ** n``, at most ``cap``.

    Example:
        >>> Backoff(base=timedelta(seconds=2), factor=3).compute_delay(2)
        datetime.timedelta(seconds=18)
    """

    base: timedelta
    """The wait before the first retry (a timedelta, or seconds)."""
    factor: float = 1.0
    """How much each wait grows over the previous one; at least 1."""
    cap: timedelta | None = None
    """The longest wait (a timedelta, or seconds); ``None`` for no limit."""

    def __post_init__(self) -> None:
        base = _to_timedelta(self.base, field="Backoff.base")
        if base < timedelta(0):
            raise ValueError(f"Backoff.base must not be negative, got {self.base!r}")
        object.__setattr__(self, "base", base)
        if isinstance(self.factor, bool) or not isinstance(self.factor, (int, float)) or not self.factor >= 1.0:
            raise ValueError(f"Backoff.factor must be a number >= 1.0, got {self.factor!r}")
        if self.cap is not None:
            cap = _to_timedelta(self.cap, field="Backoff.cap")
            if cap < timedelta(0):
                raise ValueError(f"Backoff.cap must not be negative, got {self.cap!r}")
            object.__setattr__(self, "cap", cap)

    def compute_delay(self, n: int) -> timedelta:
        """The wait before retry ``n + 1`` (``n`` counts from 0).

        Raises:
            ValueError: ``n`` is negative.

        Example:
            >>> Backoff(base=timedelta(seconds=1), factor=10, cap=timedelta(seconds=30)).compute_delay(5)
            datetime.timedelta(seconds=30)
        """
        if n < 0:
            raise ValueError(f"retry index n must be >= 0, got {n}")
        limit = self.cap if self.cap is not None else _LONGEST_DELAY
        try:
            seconds = self.base.total_seconds() * (float(self.factor) ** n)
        except OverflowError:
            return limit
        return min(timedelta(seconds=min(seconds, limit.total_seconds())), limit)


@dataclass(frozen=True)
class RetryStrategy:
    """How many times a failed task is retried, and the backoff between retries.

    Example:
        >>> RetryStrategy(2).delay_for(1)
        0.0
    """

    count: int
    """Retries after the first attempt; ``0`` means the task runs once."""
    backoff: Backoff | None = None
    """The wait between retries; none when not given."""

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int):
            raise ValueError(f"RetryStrategy.count must be an int, got {self.count!r}")
        if self.count < 0:
            raise ValueError(f"RetryStrategy.count must be >= 0, got {self.count}")
        if self.backoff is not None and not isinstance(self.backoff, Backoff):
            raise ValueError(f"RetryStrategy.backoff must be a flyte.Backoff, got {self.backoff!r}")

    def delay_for(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1 is the first retry).

        Raises:
            ValueError: ``attempt`` is less than 1.

        Example:
            >>> RetryStrategy(5, Backoff(base=timedelta(seconds=1), factor=2)).delay_for(3)
            4.0
        """
        if attempt < 1:
            raise ValueError(f"attempt counts retries from 1, got {attempt}")
        if self.backoff is None:
            return 0.0
        return self.backoff.compute_delay(attempt - 1).total_seconds()


def normalize_retries(request: int | RetryStrategy | None) -> RetryStrategy:
    """Turn a ``retries=`` argument into a :class:`RetryStrategy` (``None`` means no retries).

    Raises:
        ValueError: a negative count or a value of the wrong type.

    Example:
        >>> normalize_retries(3)
        RetryStrategy(count=3, backoff=None)
    """
    if request is None:
        return RetryStrategy(0)
    if isinstance(request, RetryStrategy):
        return request
    if isinstance(request, bool) or not isinstance(request, int):
        raise ValueError(f"retries must be an int or a flyte.RetryStrategy, got {request!r}")
    return RetryStrategy(request)

"""Reusable containers: keep task workers warm and send many actions to them.

Example:
    >>> policy = ReusePolicy(replicas=(1, 4), concurrency=8, idle_ttl=300)
    >>> (policy.min_replicas, policy.max_replicas, policy.idle_ttl)
    (1, 4, datetime.timedelta(seconds=300))
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

__all__ = ["ReusePolicy"]

_MIN_TTL = timedelta(seconds=30)


def _ttl(value: int | timedelta, *, field: str) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, (int, timedelta)):
        raise ValueError(f"ReusePolicy.{field} must be an int (seconds) or a timedelta, got {value!r}")
    ttl = value if isinstance(value, timedelta) else timedelta(seconds=value)
    if ttl < _MIN_TTL:
        raise ValueError(f"ReusePolicy.{field} must be at least 30 seconds, got {value!r}")
    return ttl


@dataclass(frozen=True)
class ReusePolicy:
    """Keep a pool of warm workers for an environment and run many actions in each.

    Example:
        >>> ReusePolicy(replicas=3).replicas
        (3, 3)
    """

    replicas: int | tuple[int, int] = 2
    """How many workers: a fixed number, or ``(min, max)`` to scale between; a tuple afterwards."""
    idle_ttl: int | timedelta = 30
    """How long a worker with no work stays up (seconds or a timedelta, at least 30 s)."""
    concurrency: int = 1
    """How many actions one worker runs at a time."""
    scaledown_ttl: int | timedelta = 30
    """How long to wait before removing a worker above the minimum (at least 30 s)."""
    scope: Literal["global", "run"] = "global"
    """Share workers across runs (``"global"``) or keep them to one run (``"run"``)."""

    def __post_init__(self) -> None:
        replicas = self.replicas
        if isinstance(replicas, int) and not isinstance(replicas, bool):
            replicas = (replicas, replicas)
        if not isinstance(replicas, (tuple, list)) or len(replicas) != 2:
            raise ValueError(f"ReusePolicy.replicas must be an int or a (min, max) tuple, got {self.replicas!r}")
        low, high = replicas
        if any(isinstance(v, bool) or not isinstance(v, int) for v in (low, high)):
            raise ValueError(f"ReusePolicy.replicas must be ints, got {self.replicas!r}")
        if low < 0:
            raise ValueError(f"ReusePolicy.replicas minimum must be >= 0, got {low}")
        if high < 1:
            raise ValueError(f"ReusePolicy.replicas maximum must be >= 1, got {high}")
        if low > high:
            raise ValueError(f"ReusePolicy.replicas minimum ({low}) must not exceed the maximum ({high})")
        object.__setattr__(self, "replicas", (low, high))
        if isinstance(self.concurrency, bool) or not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise ValueError(f"ReusePolicy.concurrency must be an int of at least 1, got {self.concurrency!r}")
        object.__setattr__(self, "idle_ttl", _ttl(self.idle_ttl, field="idle_ttl"))
        object.__setattr__(self, "scaledown_ttl", _ttl(self.scaledown_ttl, field="scaledown_ttl"))
        if self.scope not in ("global", "run"):
            raise ValueError(f"ReusePolicy.scope must be 'global' or 'run', got {self.scope!r}")

    @property
    def min_replicas(self) -> int:
        """The fewest workers kept up."""
        assert isinstance(self.replicas, tuple)
        return self.replicas[0]

    @property
    def max_replicas(self) -> int:
        """The most workers started."""
        assert isinstance(self.replicas, tuple)
        return self.replicas[1]

    def get_scaledown_ttl(self) -> timedelta:
        """``scaledown_ttl`` as a timedelta.

        Example:
            >>> ReusePolicy(scaledown_ttl=120).get_scaledown_ttl()
            datetime.timedelta(seconds=120)
        """
        assert isinstance(self.scaledown_ttl, timedelta)
        return self.scaledown_ttl

"""Parking: an attempt that would only wait ends instead, and is replayed when it may go on.

On our server a task that waits for a condition (or sleeps with :func:`flyte.durable.sleep`)
longer than the server's grace period does not keep its process: the runtime raises
:class:`Parked` out of the wait, the attempt ends with a ``parked.json`` next to where its outputs
would go (what it waits for), and the server relaunches the action once a named condition ends
or the wake time passes. The new attempt runs the task again from its start: children,
conditions and traces (``flyte.durable`` readings among them) are found again by their
deterministic names, so it goes straight to where the first one stopped — the same replay that a
retry does.

The server enables it per attempt with ``_F_PARK_AFTER`` (seconds to wait in the process first);
without it (local mode, or another server) waits stay in the process.
"""

from __future__ import annotations

import json
import os

__all__ = ["PARKED_FILE", "Parked", "park_after", "parked_document"]

PARK_AFTER_ENV = "_F_PARK_AFTER"
PARKED_FILE = "parked.json"


class Parked(BaseException):
    """Raised out of a long wait to end the attempt (a ``BaseException``: ``except Exception`` keeps out of the way)."""

    def __init__(self, *, conditions: tuple[str, ...] = (), wake_at: float = 0.0) -> None:
        self.conditions = conditions
        """Action names of the conditions waited for: the server relaunches once one of them ends."""
        self.wake_at = wake_at
        """Epoch seconds at which the server relaunches anyway (0: only a condition)."""
        what = ", ".join(conditions) or f"the time {wake_at:.0f}"
        super().__init__(f"the attempt parks until {what}")


def park_after() -> float | None:
    """Seconds to wait in the process before parking, or ``None`` when this attempt may not park."""
    value = os.environ.get(PARK_AFTER_ENV, "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def parked_document(parked: Parked) -> bytes:
    """The ``parked.json`` the server reads: ``{"conditions": [...], "wake_at": epoch seconds}``."""
    return json.dumps({"conditions": list(parked.conditions), "wake_at": parked.wake_at}).encode()

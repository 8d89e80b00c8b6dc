"""``flyte.remote.ActionDetails``: the snapshot :meth:`flyte.remote.Action.details` returns.

An :class:`~flyte.remote.Action` (the same fields and methods) with the attempt-level view of
Flyte 2's ``ActionDetails``: run time, error, abort reason, code bundle and phase transitions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from flyte._internal.syncify import syncify_iterator_method
from flyte.models import ActionPhase
from flyte.remote._action import Action, ActionError, PhaseTransitionInfo

if TYPE_CHECKING:
    from flyte._internal.serde import CodeBundle

__all__ = ["ActionDetails"]


@dataclass
class ActionDetails(Action):
    """A snapshot of an action with its attempts: what :meth:`Action.details` returns.

    It is an :class:`Action` (the same fields and methods), plus the attempt-level view.

    Example:
        >>> details = flyte.remote.Action.get("r1", "a0").details()  # doctest: +SKIP
        >>> details.runtime, details.error_message  # doctest: +SKIP
    """

    @property
    def runtime(self) -> timedelta:
        """How long the action has run (so far, while it runs)."""
        return self.duration or timedelta(0)

    @property
    def error_message(self) -> str | None:
        """The message of the action's error (``None`` unless it failed)."""
        if self.error is not None:
            return self.error.message
        return self.abort_reason if self.phase == ActionPhase.ABORTED else None

    @property
    def code_bundle(self) -> CodeBundle | None:
        """Where the code this action ran is (``tgz`` or ``pkl`` URI), or ``None`` for code in the image."""
        return self._code_bundle

    @property
    def error_info(self) -> ActionError | None:
        """The action's error (code, message, kind), or ``None`` unless it failed."""
        return self.error

    @property
    def abort_info(self) -> str | None:
        """Why the action was aborted, or ``None`` unless it was."""
        return self.abort_reason if self.phase == ActionPhase.ABORTED else None

    def get_phase_transitions(self, attempt: int | None = None) -> list[PhaseTransitionInfo]:
        """The phases an attempt (default: the latest) went through, in order, with their times."""
        chosen = [item for item in self.attempt_history if attempt is None or item.attempt == attempt]
        return list(chosen[-1].phase_transitions) if chosen else []

    @property
    def phase_durations(self) -> dict[ActionPhase, timedelta]:
        """How long the latest attempt spent in each phase."""
        durations: dict[ActionPhase, timedelta] = {}
        for item in self.get_phase_transitions():
            durations[item.phase] = durations.get(item.phase, timedelta(0)) + item.duration
        return durations

    @property
    def queued_time(self) -> timedelta:
        """How long the latest attempt waited in the queue."""
        return self.phase_durations.get(ActionPhase.QUEUED, timedelta(0))

    @property
    def waiting_for_resources_time(self) -> timedelta:
        """How long the latest attempt waited for resources."""
        return self.phase_durations.get(ActionPhase.WAITING_FOR_RESOURCES, timedelta(0))

    @property
    def initializing_time(self) -> timedelta:
        """How long the latest attempt took to start."""
        return self.phase_durations.get(ActionPhase.INITIALIZING, timedelta(0))

    @property
    def running_time(self) -> timedelta:
        """How long the latest attempt ran."""
        return self.phase_durations.get(ActionPhase.RUNNING, timedelta(0))

    @syncify_iterator_method
    async def watch_updates(self, cache_data_on_done: bool = False) -> AsyncIterator[Action]:
        """Snapshots as the action changes, until it ends (``cache_data_on_done``: also fetch its data)."""
        async for snapshot in self.watch.aio():
            yield snapshot
        if cache_data_on_done and self.done():
            await self._literals()

"""The trigger scheduler: fires runs of active cron and fixed-rate triggers through the engine.

Every fire is a ``CreateRun`` with a run name derived from (project, domain, task, trigger,
scheduled time), so firing the same scheduled time twice (a restart, two replicas sharing a
database) is refused by the engine with ``ALREADY_EXISTS``, which the scheduler reads as "already
fired". With replicas, only the holder of the ``trigger-scheduler`` lease fires (the others look
again on every pass and take over once a dead holder's lease expires). The last fired time is
kept in the store; after downtime only the latest missed time is fired, not the whole backlog.

The clock is injectable and :meth:`TriggerScheduler.tick` runs one pass, so tests drive the
scheduler through simulated time instead of waiting for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Protocol

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.common import identifier_pb2
from flyteidl2.core import literals_pb2
from flyteidl2.task import common_pb2
from flyteidl2.workflow import run_definition_pb2, run_service_pb2
from google.protobuf import timestamp_pb2

from flyte._trigger import Cron, FixedRate
from flyte_server.blobs import BlobStore
from flyte_server.store.db import Database
from flyte_server.store.models.triggers import TriggerRow
from flyte_server.store.triggers import active_schedule_triggers, record_fire, trigger_automation, trigger_spec

__all__ = [
    "Clock",
    "FiredRun",
    "RunCreator",
    "ScheduleError",
    "TriggerScheduler",
    "next_fire_time",
    "scheduled_run_name",
]

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
"""Returns the current time (timezone-aware)."""

_MAX_SLEEP = 30.0
"""The longest the scheduler sleeps without looking at the store (other replicas may change it);
``FLYTE_SERVER_SCHEDULER_POLL`` (seconds) sets another."""


def _max_sleep() -> float:
    try:
        value = float(os.environ.get("FLYTE_SERVER_SCHEDULER_POLL", ""))
    except ValueError:
        return _MAX_SLEEP
    return value if 0 < value <= 3600 else _MAX_SLEEP


_RETRYABLE = (Code.UNAVAILABLE, Code.RESOURCE_EXHAUSTED, Code.DEADLINE_EXCEEDED, Code.INTERNAL, Code.UNKNOWN)
_RATE_MINUTES = {
    common_pb2.FIXED_RATE_UNIT_MINUTE: 1,
    common_pb2.FIXED_RATE_UNIT_HOUR: 60,
    common_pb2.FIXED_RATE_UNIT_DAY: 60 * 24,
}


class RunCreator(Protocol):
    """What the scheduler needs from the engine."""

    async def create_run(self, request: run_service_pb2.CreateRunRequest) -> run_definition_pb2.Run:
        """Create (and enqueue) a run; ``ConnectError(ALREADY_EXISTS)`` when the name is taken."""
        ...


class ScheduleError(ValueError):
    """A trigger's schedule cannot be evaluated (an unknown unit, a bad cron expression)."""


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything this server stores is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def next_fire_time(automation: common_pb2.TriggerAutomationSpec, after: datetime, *, anchor: datetime) -> datetime:
    """The first scheduled time strictly after ``after``.

    ``anchor`` is when the trigger was activated: fixed rates without a start time count from it.

    Raises:
        ScheduleError: the spec has no schedule, or the schedule is malformed.

    Example:
        >>> rate = common_pb2.FixedRate(value=5, unit=common_pb2.FIXED_RATE_UNIT_MINUTE)
        >>> spec = common_pb2.TriggerAutomationSpec(schedule=common_pb2.Schedule(rate=rate))
        >>> t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> next_fire_time(spec, t0 + timedelta(minutes=7), anchor=t0)
        datetime.datetime(2024, 1, 1, 0, 10, tzinfo=datetime.timezone.utc)
    """
    schedule = automation.schedule
    kind = schedule.WhichOneof("expression")
    try:
        if kind == "rate":
            minutes = _RATE_MINUTES.get(schedule.rate.unit)
            if minutes is None or schedule.rate.value <= 0:
                raise ScheduleError(f"fixed rate {schedule.rate.value} with unit {schedule.rate.unit} is not valid")
            start = _utc(schedule.rate.start_time.ToDatetime()) if schedule.rate.HasField("start_time") else None
            rate = FixedRate(schedule.rate.value * minutes, start_time=start)
            return _utc(rate.next_after(after, anchor=anchor)).astimezone(timezone.utc)
        if kind == "cron":
            cron = Cron(schedule.cron.expression, timezone=schedule.cron.timezone or "UTC")
            return cron.next_after(after).astimezone(timezone.utc)
        if kind == "cron_expression":
            return Cron(schedule.cron_expression).next_after(after).astimezone(timezone.utc)
    except ValueError as e:
        raise ScheduleError(str(e)) from e
    raise ScheduleError("the trigger has no schedule (a cron expression or a fixed rate)")


def scheduled_run_name(project: str, domain: str, task_name: str, trigger_name: str, scheduled_at: datetime) -> str:
    """The run name of one scheduled fire: the same inputs give the same name, on every replica.

    Example:
        >>> at = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> scheduled_run_name("p", "d", "t", "nightly", at) == scheduled_run_name("p", "d", "t", "nightly", at)
        True
    """
    stamp = _utc(scheduled_at).astimezone(timezone.utc).isoformat()
    digest = hashlib.sha256("\x00".join((project, domain, task_name, trigger_name, stamp)).encode()).hexdigest()
    return "r" + digest[:19]


class FiredRun:
    """One run the scheduler started (or found already started)."""

    __slots__ = ("already_existed", "run_name", "scheduled_at", "trigger")

    def __init__(self, *, trigger: str, run_name: str, scheduled_at: datetime, already_existed: bool) -> None:
        self.trigger = trigger
        """``project/domain/task/trigger``."""
        self.run_name = run_name
        self.scheduled_at = scheduled_at
        self.already_existed = already_existed

    def __repr__(self) -> str:
        return f"FiredRun({self.trigger!r}, {self.run_name!r}, {self.scheduled_at.isoformat()})"


class TriggerScheduler:
    """Fires due triggers, either in a background loop (:meth:`start`) or one pass at a time (:meth:`tick`).

    Example:
        >>> scheduler = TriggerScheduler(database=database, engine=engine, blobs=blobs)  # doctest: +SKIP
        >>> await scheduler.tick(datetime(2024, 1, 1, 12, tzinfo=timezone.utc))  # doctest: +SKIP
        [FiredRun('flytesnacks/development/hello/every-5m', 'r...', 2024-01-01T12:00:00+00:00)]
    """

    def __init__(
        self,
        *,
        database: Database,
        engine: RunCreator,
        blobs: BlobStore | None = None,
        clock: Clock = _utc_now,
        lease: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self._database = database
        self._engine = engine
        self._blobs = blobs
        self._clock = clock
        self._lease = lease
        """Whether this replica may fire now (holds the scheduler's lease); ``None``: always."""
        self._max_sleep = _max_sleep()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        """Look at the store again now (a trigger was deployed, activated or deleted)."""
        self._wake.set()

    async def start(self) -> None:
        """Run the scheduling loop in the background until :meth:`stop`."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="trigger-scheduler")

    async def stop(self) -> None:
        """Stop the loop; a fire in progress is cancelled (its deterministic name makes a retry safe)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.tick()
                delay = await self._seconds_until_next()
            except asyncio.CancelledError:
                raise
            except Exception:  # a broken store or engine must not kill the loop; try again later
                logger.exception("trigger scheduler pass failed")
                delay = self._max_sleep
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, min(delay, self._max_sleep)))

    async def _seconds_until_next(self) -> float:
        now = self._clock()
        async with self._database.session() as session:
            rows = await active_schedule_triggers(session)
        upcoming = []
        for row in rows:
            with contextlib.suppress(ScheduleError):
                upcoming.append(self._next_after_last(row, now))
        if not upcoming:
            return self._max_sleep
        return (min(upcoming) - now).total_seconds()

    @staticmethod
    def _next_after_last(row: TriggerRow, now: datetime) -> datetime:
        anchor = _utc(row.activated_at)
        # Never fire a time from before the trigger was (re)activated; the activation instant itself may fire.
        start = anchor - timedelta(microseconds=1)
        if row.triggered_at is not None:
            start = max(start, _utc(row.triggered_at))
        return next_fire_time(trigger_automation(row), start, anchor=anchor)

    async def tick(self, now: datetime | None = None) -> list[FiredRun]:
        """Fire every trigger that is due at ``now`` (default: the clock) and return what was fired.

        A trigger that missed several times (the server was down) fires once, for the latest
        missed time.
        """
        now = _utc(now) if now is not None else self._clock()
        if self._lease is not None and not await self._lease():
            return []  # another replica fires the triggers while it holds the lease
        async with self._database.session() as session:
            rows = await active_schedule_triggers(session)
        fired: list[FiredRun] = []
        for row in rows:
            label = f"{row.project}/{row.domain}/{row.task_name}/{row.name}"
            try:
                due = self._next_after_last(row, now)
                if due > now:
                    continue
                automation = trigger_automation(row)
                anchor = _utc(row.activated_at)
                while (following := next_fire_time(automation, due, anchor=anchor)) <= now:
                    due = following
            except ScheduleError as e:
                logger.warning("trigger has an invalid schedule", extra={"trigger": label, "error": str(e)})
                continue
            result = await self._fire(row, due, label)
            if result is not None:
                fired.append(result)
        return fired

    async def _fire(self, row: TriggerRow, scheduled_at: datetime, label: str) -> FiredRun | None:
        run_name = scheduled_run_name(row.project, row.domain, row.task_name, row.name, scheduled_at)
        try:
            request = await self._request(row, run_name, scheduled_at)
            await self._engine.create_run(request)
            already = False
        except ConnectError as e:
            if e.code == Code.ALREADY_EXISTS:
                already = True
            elif e.code in _RETRYABLE:
                logger.warning(
                    "trigger fire failed; retrying on the next pass",
                    extra={"trigger": label, "run": run_name, "code": e.code.name, "error": str(e)},
                )
                return None
            else:
                # A permanent problem (the task was deleted, the inputs no longer fit): skip this time.
                logger.error(
                    "trigger fire rejected; skipping this scheduled time",
                    extra={"trigger": label, "run": run_name, "code": e.code.name, "error": str(e)},
                )
                await self._record(row, scheduled_at)
                return None
        await self._record(row, scheduled_at)
        logger.info(
            "trigger fired",
            extra={"trigger": label, "run": run_name, "scheduled_at": scheduled_at.isoformat(), "existed": already},
        )
        return FiredRun(trigger=label, run_name=run_name, scheduled_at=scheduled_at, already_existed=already)

    async def _record(self, row: TriggerRow, scheduled_at: datetime) -> None:
        async with self._database.session() as session:
            await record_fire(session, row.id, scheduled_at)
        row.triggered_at = scheduled_at

    async def _request(
        self, row: TriggerRow, run_name: str, scheduled_at: datetime
    ) -> run_service_pb2.CreateRunRequest:
        spec = trigger_spec(row)
        automation = trigger_automation(row)
        start = timestamp_pb2.Timestamp()
        start.FromDatetime(scheduled_at.astimezone(timezone.utc).replace(tzinfo=None))
        request = run_service_pb2.CreateRunRequest(
            run_id=identifier_pb2.RunIdentifier(project=row.project, domain=row.domain, name=run_name),
            trigger_name=identifier_pb2.TriggerName(
                project=row.project, domain=row.domain, name=row.name, task_name=row.task_name
            ),
            run_spec=spec.run_spec,
            source=run_definition_pb2.RUN_SOURCE_SCHEDULE_TRIGGER,
            run_start_time=start,
        )
        request.run_spec.run_start_time.CopyFrom(start)
        kickoff = automation.schedule.kickoff_time_input_arg
        if spec.HasField("offloaded_input_data") and not kickoff:
            request.offloaded_input_data.CopyFrom(spec.offloaded_input_data)
            return request
        inputs = common_pb2.Inputs()
        if spec.HasField("inputs"):
            inputs.CopyFrom(spec.inputs)
        elif spec.HasField("offloaded_input_data"):
            inputs.CopyFrom(await self._read_offloaded(spec.offloaded_input_data.uri))
        if kickoff:
            _set_input(inputs, kickoff, _datetime_literal(start))
        request.inputs.CopyFrom(inputs)
        return request

    async def _read_offloaded(self, uri: str) -> common_pb2.Inputs:
        key = self._blobs.key_of(uri.rstrip("/") + "/inputs.pb") if self._blobs is not None else None
        data = await self._blobs.get(key) if self._blobs is not None and key is not None else None
        if data is None:
            raise ConnectError(Code.FAILED_PRECONDITION, f"the trigger's offloaded inputs at {uri} are missing")
        return common_pb2.Inputs.FromString(data)


def _datetime_literal(moment: timestamp_pb2.Timestamp) -> literals_pb2.Literal:
    literal = literals_pb2.Literal()
    literal.scalar.primitive.datetime.CopyFrom(moment)
    return literal


def _set_input(inputs: common_pb2.Inputs, name: str, value: literals_pb2.Literal) -> None:
    for item in inputs.literals:
        if item.name == name:
            item.value.CopyFrom(value)
            return
    inputs.literals.add(name=name, value=value)

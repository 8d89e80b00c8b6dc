"""Triggers: run a task on a schedule (a cron expression or a fixed rate).

Schedules are checked when they are made, and both kinds can compute their next fire time,
which is what the scheduler in the control plane uses.

Example:
    >>> from datetime import datetime, timezone
    >>> Cron("*/15 9-17 * * MON-FRI").next_after(datetime(2024, 1, 5, 17, 50, tzinfo=timezone.utc))
    datetime.datetime(2024, 1, 8, 9, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Final

__all__ = ["Cron", "FixedRate", "Trigger", "TriggerTime"]

_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTH_NAMES = {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), start=1)}
_DAY_NAMES = {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())}
# (name, lowest, highest, names accepted for values)
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTH_NAMES),
    ("day of week", 0, 7, _DAY_NAMES),
)
_LONGEST_MONTH = {2: 29, 4: 30, 6: 30, 9: 30, 11: 30}


class _TriggerTimeType:
    """The type of :data:`TriggerTime`; there is one instance."""

    _instance: _TriggerTimeType | None = None

    def __new__(cls) -> _TriggerTimeType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "flyte.TriggerTime"

    def __reduce__(self) -> str:
        return "TriggerTime"

    def __copy__(self) -> _TriggerTimeType:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _TriggerTimeType:
        return self


TriggerTime: Final = _TriggerTimeType()
"""Use as a trigger input value to receive the time the trigger fired.

Example:
    >>> Trigger("nightly", Cron("0 2 * * *"), inputs={"run_at": TriggerTime}).inputs["run_at"] is TriggerTime
    True
"""


def _parse_value(text: str, field: str, names: dict[str, int], expression: str) -> int:
    if text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ValueError(f"Cron expression {expression!r}: {field} value {text!r} is not a number")
    return int(text)


def _parse_field(text: str, field: str, low: int, high: int, names: dict[str, int], expression: str) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ValueError(f"Cron expression {expression!r}: {field} step {step_text!r} must be a positive int")
            step = int(step_text)
        if base == "*" or (base == "?" and field.startswith("day")):
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start = _parse_value(first, field, names, expression)
            end = _parse_value(last, field, names, expression)
        elif base:
            start = _parse_value(base, field, names, expression)
            end = high if slash else start
        else:
            raise ValueError(f"Cron expression {expression!r}: empty item in the {field} field")
        for value in (start, end):
            if not low <= value <= high:
                raise ValueError(f"Cron expression {expression!r}: {field} value {value} is outside {low}-{high}")
        if start > end:
            raise ValueError(f"Cron expression {expression!r}: {field} range {base!r} runs backwards")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _zone(name: str) -> tzinfo:
    if name.upper() == "UTC":
        return timezone.utc
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"Cron timezone {name!r} is not a known IANA time zone (such as 'Europe/Paris')") from e


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Cron:
    """A schedule given as a 5-field cron expression, evaluated in a time zone.

    Fields are minute, hour, day of month, month and day of week; each takes ``*``, numbers,
    ranges (``1-5``), lists (``1,15``), steps (``*/10``, ``0-30/5``) and, for months and days,
    names (``JAN``, ``MON``). ``@hourly``, ``@daily``, ``@weekly``, ``@monthly`` and ``@yearly``
    are accepted too. As in standard cron, when both day fields are restricted a day matches
    either of them.

    Example:
        >>> Cron("0 9 * * MON", timezone="Europe/Paris").timezone_expression
        'CRON_TZ=Europe/Paris 0 9 * * MON'
    """

    expression: str
    """The cron expression, for example ``"0 * * * *"`` (every hour)."""
    timezone: str = "UTC"
    """The IANA time zone the expression is read in."""

    def __post_init__(self) -> None:
        if not isinstance(self.expression, str):
            raise ValueError(f"Cron expression must be a string, got {self.expression!r}")
        self._fields()
        _zone(self.timezone)

    def _fields(self) -> tuple[frozenset[int], ...]:
        text = _ALIASES.get(self.expression.strip().lower(), self.expression)
        parts = text.split()
        if len(parts) != 5:
            raise ValueError(
                f"Cron expression {self.expression!r} must have 5 fields (minute hour day-of-month month "
                f"day-of-week), got {len(parts)}"
            )
        parsed = [
            _parse_field(part, name, low, high, names, self.expression)
            for part, (name, low, high, names) in zip(parts, _FIELDS, strict=True)
        ]
        parsed[4] = frozenset(day % 7 for day in parsed[4])  # 7 is Sunday too
        days, months = parsed[2], parsed[3]
        if self._day_of_week_is_star(parts) and not any(d <= _LONGEST_MONTH.get(m, 31) for m in months for d in days):
            raise ValueError(f"Cron expression {self.expression!r} names a day that none of its months has")
        return tuple(parsed)

    @staticmethod
    def _day_of_week_is_star(parts: list[str]) -> bool:
        return parts[4].startswith(("*", "?"))

    @property
    def timezone_expression(self) -> str:
        """The expression with its time zone, as ``CRON_TZ=<zone> <expression>``."""
        return f"CRON_TZ={self.timezone} {self.expression}"

    def next_after(self, after: datetime) -> datetime:
        """The first fire time strictly after ``after``, in the schedule's time zone.

        A naive ``after`` is read as UTC.

        Example:
            >>> Cron("0 0 1 * *").next_after(datetime(2024, 2, 10, tzinfo=timezone.utc))
            datetime.datetime(2024, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
        """
        # croniter walks the calendar (DST gaps and repeats, leap days, day-of-month OR day-of-week
        # when both are restricted); the expression was validated field by field above.
        from croniter import CroniterBadDateError, croniter

        zone = _zone(self.timezone)
        after = _aware(after).astimezone(zone)
        text = _ALIASES.get(self.expression.strip().lower(), self.expression)
        try:
            moment: datetime = croniter(text, after, day_or=True).get_next(datetime)
        except CroniterBadDateError as e:
            raise ValueError(f"Cron expression {self.expression!r} never fires") from e
        return moment


@dataclass(frozen=True)
class FixedRate:
    """A schedule that fires every ``interval_minutes``, counted from ``start_time`` when given.

    Example:
        >>> rate = FixedRate(90, start_time=datetime(2024, 1, 1, tzinfo=timezone.utc))
        >>> rate.next_after(datetime(2024, 1, 1, 2, 0, tzinfo=timezone.utc))
        datetime.datetime(2024, 1, 1, 3, 0, tzinfo=datetime.timezone.utc)
    """

    interval_minutes: int
    """Minutes between runs; at least 1."""
    start_time: datetime | None = None
    """The first run (naive means UTC); when the trigger is activated if not given."""

    def __post_init__(self) -> None:
        minutes = self.interval_minutes
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
            raise ValueError(f"FixedRate.interval_minutes must be an int of at least 1, got {minutes!r}")
        if self.start_time is not None and not isinstance(self.start_time, datetime):
            raise ValueError(f"FixedRate.start_time must be a datetime, got {self.start_time!r}")

    def next_after(self, after: datetime, *, anchor: datetime | None = None) -> datetime:
        """The first fire time strictly after ``after``.

        Fire times are ``start_time + k * interval``; without a ``start_time`` they count from
        ``anchor`` (the activation time), and without either, one interval after ``after``.

        Example:
            >>> FixedRate(10).next_after(datetime(2024, 1, 1, 12, 0), anchor=datetime(2024, 1, 1, 11, 55))
            datetime.datetime(2024, 1, 1, 12, 5, tzinfo=datetime.timezone.utc)
        """
        interval = timedelta(minutes=self.interval_minutes)
        after = _aware(after)
        origin = self.start_time or anchor
        if origin is None:
            return after + interval
        origin = _aware(origin)
        if after < origin:
            return origin
        return origin + interval * ((after - origin) // interval + 1)


def _check_str_mapping(value: Mapping[str, str] | None, field: str) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError(f"Trigger.{field} must map strings to strings, got {value!r}")


@dataclass(frozen=True)
class Trigger:
    """Runs a task automatically on a schedule, with fixed inputs.

    Example:
        >>> t = Trigger("every-morning", Cron("0 7 * * *"), inputs={"day": TriggerTime, "region": "eu"})
        >>> t.automation
        Cron(expression='0 7 * * *', timezone='UTC')
    """

    name: str
    """The trigger's name, unique within its task."""
    automation: Any = None
    """When to run: a :class:`Cron` or :class:`FixedRate` schedule."""
    description: str = ""
    """What the trigger is for."""
    auto_activate: bool = True
    """Activate the trigger when it is deployed."""
    inputs: dict[str, Any] | None = None
    """Inputs for each run; :data:`TriggerTime` as a value receives the fire time."""
    env_vars: dict[str, str] | None = None
    """Environment variables for each run."""
    interruptible: bool | None = None
    """Whether the runs may use interruptible (spot) machines; the task's setting when ``None``."""
    overwrite_cache: bool = False
    """Ignore cached results and recompute."""
    queue: str | None = None
    """The queue the runs go to."""
    max_action_concurrency: int | None = None
    """The most actions of one run that execute at once."""
    labels: Mapping[str, str] | None = None
    """Labels put on each run."""
    annotations: Mapping[str, str] | None = None
    """Annotations put on each run."""
    notifications: Any = None
    """Notifications sent about the runs."""
    custom_context: Mapping[str, str] | None = None
    """Custom context passed to each run."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"Trigger.name must be a non-empty string, got {self.name!r}")
        if isinstance(self.automation, str):
            raise ValueError(
                f"Trigger.automation must be a schedule object, got the string {self.automation!r}; "
                "wrap it as flyte.Cron(...)"
            )
        if self.inputs is not None and (
            not isinstance(self.inputs, dict) or not all(isinstance(k, str) for k in self.inputs)
        ):
            raise ValueError(f"Trigger.inputs must be a dict keyed by input name, got {self.inputs!r}")
        for field in ("env_vars", "labels", "annotations", "custom_context"):
            _check_str_mapping(getattr(self, field), field)
        limit = self.max_action_concurrency
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(f"Trigger.max_action_concurrency must be an int of at least 1, got {limit!r}")

    @classmethod
    def _every(cls, expression: str, arguments: dict[str, Any]) -> Trigger:
        """A cron trigger from the ``locals()`` of one of the shortcuts below (``minutely``...)."""
        options = dict(arguments)
        del options["cls"]
        trigger_time_input_key = options.pop("trigger_time_input_key")
        merged: dict[str, Any] = {trigger_time_input_key: TriggerTime} if trigger_time_input_key else {}
        merged.update(options.pop("inputs") or {})
        return cls(automation=Cron(expression), inputs=merged, **options)

    @classmethod
    def minutely(
        cls,
        trigger_time_input_key: str | None = None,
        *,
        name: str = "minutely",
        description: str = "A trigger that runs every minute",
        auto_activate: bool = True,
        inputs: dict[str, Any] | None = None,
        env_vars: dict[str, str] | None = None,
        interruptible: bool | None = None,
        overwrite_cache: bool = False,
        queue: str | None = None,
        max_action_concurrency: int | None = None,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        custom_context: Mapping[str, str] | None = None,
    ) -> Trigger:
        """A trigger that fires every minute; ``trigger_time_input_key`` names the input that gets the fire time.

        Example:
            >>> Trigger.minutely("at").inputs
            {'at': flyte.TriggerTime}
        """
        return cls._every("* * * * *", locals())

    @classmethod
    def hourly(
        cls,
        trigger_time_input_key: str | None = None,
        *,
        name: str = "hourly",
        description: str = "A trigger that runs every hour",
        auto_activate: bool = True,
        inputs: dict[str, Any] | None = None,
        env_vars: dict[str, str] | None = None,
        interruptible: bool | None = None,
        overwrite_cache: bool = False,
        queue: str | None = None,
        max_action_concurrency: int | None = None,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        custom_context: Mapping[str, str] | None = None,
    ) -> Trigger:
        """A trigger that fires at the start of every hour.

        Example:
            >>> Trigger.hourly().automation.expression
            '0 * * * *'
        """
        return cls._every("0 * * * *", locals())

    @classmethod
    def daily(
        cls,
        trigger_time_input_key: str | None = None,
        *,
        name: str = "daily",
        description: str = "A trigger that runs daily at midnight",
        auto_activate: bool = True,
        inputs: dict[str, Any] | None = None,
        env_vars: dict[str, str] | None = None,
        interruptible: bool | None = None,
        overwrite_cache: bool = False,
        queue: str | None = None,
        max_action_concurrency: int | None = None,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        custom_context: Mapping[str, str] | None = None,
    ) -> Trigger:
        """A trigger that fires every day at midnight UTC.

        Example:
            >>> Trigger.daily().automation.expression
            '0 0 * * *'
        """
        return cls._every("0 0 * * *", locals())

    @classmethod
    def weekly(
        cls,
        trigger_time_input_key: str | None = None,
        *,
        name: str = "weekly",
        description: str = "A trigger that runs weekly on Sundays at midnight",
        auto_activate: bool = True,
        inputs: dict[str, Any] | None = None,
        env_vars: dict[str, str] | None = None,
        interruptible: bool | None = None,
        overwrite_cache: bool = False,
        queue: str | None = None,
        max_action_concurrency: int | None = None,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        custom_context: Mapping[str, str] | None = None,
    ) -> Trigger:
        """A trigger that fires every Sunday at midnight UTC.

        Example:
            >>> Trigger.weekly().automation.expression
            '0 0 * * 0'
        """
        return cls._every("0 0 * * 0", locals())

    @classmethod
    def monthly(
        cls,
        trigger_time_input_key: str | None = None,
        *,
        name: str = "monthly",
        description: str = "A trigger that runs monthly on the 1st at midnight",
        auto_activate: bool = True,
        inputs: dict[str, Any] | None = None,
        env_vars: dict[str, str] | None = None,
        interruptible: bool | None = None,
        overwrite_cache: bool = False,
        queue: str | None = None,
        max_action_concurrency: int | None = None,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        custom_context: Mapping[str, str] | None = None,
    ) -> Trigger:
        """A trigger that fires on the first day of every month at midnight UTC.

        Example:
            >>> Trigger.monthly().automation.expression
            '0 0 1 * *'
        """
        return cls._every("0 0 1 * *", locals())

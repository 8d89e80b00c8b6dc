"""A point in time given on the command line: ``2026-05-01``, ``2026-05-01T12:00:00``, ``now``,
``today``, or one of them minus a duration (``now - 1 day``, ``today - PT6H``, ``now - 90m``).

Times without a zone are UTC, like the control plane's timestamps.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import click

__all__ = ["MomentType", "parse_moment"]

_WORD_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(week|day|hour|minute|min|second|sec)s?$", re.IGNORECASE)
_WORD_UNITS = {
    "week": "weeks",
    "day": "days",
    "hour": "hours",
    "minute": "minutes",
    "min": "minutes",
    "second": "seconds",
    "sec": "seconds",
}


def _duration(text: str) -> dt.timedelta | None:
    from flyte.cli._params import parse_duration

    match = _WORD_DURATION.match(text.strip())
    if match:
        return dt.timedelta(**{_WORD_UNITS[match.group(2).lower()]: float(match.group(1))})
    return parse_duration(text)


def _base(text: str, now: dt.datetime) -> dt.datetime | None:
    word = text.strip().lower()
    if word == "now":
        return now
    if word == "today":
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.timezone.utc)


def parse_moment(text: str, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """The UTC datetime ``text`` names, or ``None`` when it names none.

    Example:
        >>> parse_moment("2026-05-01 - 1 day")
        datetime.datetime(2026, 4, 30, 0, 0, tzinfo=datetime.timezone.utc)
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    base_text, sep, duration_text = text.rpartition(" - ")
    if not sep:
        return _base(text, now)
    base, duration = _base(base_text, now), _duration(duration_text)
    if base is None or duration is None:
        return None
    return base - duration


class MomentType(click.ParamType):  # type: ignore[type-arg]  # generic only in click >= 8.2
    """A UTC datetime: an ISO date or datetime, ``now``, ``today``, optionally ``- <duration>``."""

    name = "datetime"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "DATETIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, dt.datetime):
            return value
        moment = parse_moment(str(value))
        if moment is None:
            self.fail(
                f"{value!r} is not a time; use 2026-05-01, 2026-05-01T12:00:00, now, today or 'now - 1 day'",
                param,
                ctx,
            )
        return moment

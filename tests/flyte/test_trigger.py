from __future__ import annotations

import copy
import pickle
import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from flyte._trigger import Cron, FixedRate, Trigger, TriggerTime

UTC = timezone.utc


@pytest.mark.parametrize(
    "expression",
    [
        "* * * * *",
        "0 * * * *",
        "*/15 0-6 1,15 * 1-5",
        "0 0 * JAN MON",
        "5-55/10 * * * sun",
        "0 0 ? * 7",
        "@daily",
        "@hourly",
    ],
)
def test_valid_expressions(expression: str) -> None:
    assert Cron(expression).expression == expression


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("foo", "must have 5 fields"),
        ("0 0 * * * *", "must have 5 fields (minute hour day-of-month month day-of-week), got 6"),
        ("61 * * * *", "minute value 61 is outside 0-59"),
        ("0 24 * * *", "hour value 24 is outside 0-23"),
        ("0 0 0 * *", "day of month value 0 is outside 1-31"),
        ("0 0 * 13 *", "month value 13 is outside 1-12"),
        ("0 0 * * 8", "day of week value 8 is outside 0-7"),
        ("*/0 * * * *", "minute step '0' must be a positive int"),
        ("5-1 * * * *", "minute range '5-1' runs backwards"),
        ("a * * * *", "minute value 'a' is not a number"),
        ("1,,2 * * * *", "empty item in the minute field"),
        ("? * * * *", "minute value '?' is not a number"),
        ("0 0 30 2 *", "names a day that none of its months has"),
    ],
)
def test_invalid_expressions(expression: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        Cron(expression)
    assert message in str(info.value)
    assert repr(expression) in str(info.value)


def test_timezone() -> None:
    assert Cron("0 * * * *").timezone_expression == "CRON_TZ=UTC 0 * * * *"
    assert Cron("0 9 * * *", timezone="America/New_York").timezone_expression == "CRON_TZ=America/New_York 0 9 * * *"
    with pytest.raises(ValueError, match=r"Cron timezone 'Mars/Base' is not a known IANA time zone"):
        Cron("0 * * * *", timezone="Mars/Base")


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 * * * *", datetime(2024, 1, 1, 10, 0, tzinfo=UTC), datetime(2024, 1, 1, 11, 0, tzinfo=UTC)),
        ("0 * * * *", datetime(2024, 1, 1, 10, 0, 30, tzinfo=UTC), datetime(2024, 1, 1, 11, 0, tzinfo=UTC)),
        ("0 0 29 2 *", datetime(2023, 3, 1, tzinfo=UTC), datetime(2024, 2, 29, tzinfo=UTC)),
        ("0 0 1 * *", datetime(2024, 12, 15, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)),
        ("@weekly", datetime(2024, 1, 3, tzinfo=UTC), datetime(2024, 1, 7, tzinfo=UTC)),
        # both day fields restricted: either matches (the 13th, or any Friday)
        ("0 0 13 * 5", datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 5, tzinfo=UTC)),
        ("30 8 * * *", datetime(2024, 1, 1, 8, 30), datetime(2024, 1, 2, 8, 30, tzinfo=UTC)),
    ],
)
def test_next_after(expression: str, after: datetime, expected: datetime) -> None:
    assert Cron(expression).next_after(after) == expected


def test_next_after_in_a_time_zone_follows_local_wall_clock_across_dst() -> None:
    cron = Cron("0 9 * * *", timezone="America/New_York")
    before_dst = cron.next_after(datetime(2024, 3, 9, 15, 0, tzinfo=UTC))
    after_dst = cron.next_after(before_dst)
    assert before_dst.astimezone(UTC) == datetime(2024, 3, 10, 13, 0, tzinfo=UTC)
    assert after_dst.astimezone(UTC) == datetime(2024, 3, 11, 13, 0, tzinfo=UTC)
    assert after_dst.astimezone(ZoneInfo("America/New_York")).hour == 9


def _matches(cron_fields: tuple[frozenset[int], ...], parts: list[str], moment: datetime) -> bool:
    minutes, hours, days, months, weekdays = cron_fields
    day_ok, weekday_ok = moment.day in days, (moment.isoweekday() % 7) in weekdays
    restricted = not parts[2].startswith("*") and not parts[4].startswith("*")
    day_match = (day_ok or weekday_ok) if restricted else (day_ok and weekday_ok)
    return moment.minute in minutes and moment.hour in hours and moment.month in months and day_match


def test_next_after_agrees_with_a_minute_by_minute_scan() -> None:
    rng = random.Random(7)
    expressions = [
        "*/7 3-5 * * *",
        "15 */6 1,10,20 * *",
        "0 12 * * MON-WED",
        "45 23 31 * *",
        "0 0 13 * FRI",
        "1 1 1 1 *",
    ]
    for expression in expressions:
        cron = Cron(expression)
        fields = cron._fields()
        for _ in range(5):
            after = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 60 * 24 * 200))
            expected = after + timedelta(minutes=1)
            while not _matches(fields, expression.split(), expected):
                expected += timedelta(minutes=1)
            assert cron.next_after(after) == expected, (expression, after)


def test_fixed_rate() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rate = FixedRate(90, start_time=start)
    assert rate.next_after(datetime(2023, 12, 1, tzinfo=UTC)) == start
    assert rate.next_after(start) == start + timedelta(minutes=90)
    assert rate.next_after(datetime(2024, 1, 1, 2, 0, tzinfo=UTC)) == datetime(2024, 1, 1, 3, 0, tzinfo=UTC)
    assert FixedRate(5).next_after(datetime(2024, 1, 1, 0, 2), anchor=datetime(2024, 1, 1)) == datetime(
        2024, 1, 1, 0, 5, tzinfo=UTC
    )
    assert FixedRate(5).next_after(datetime(2024, 1, 1, 0, 2, tzinfo=UTC)) == datetime(2024, 1, 1, 0, 7, tzinfo=UTC)


@pytest.mark.parametrize("minutes", [0, -5, 1.5, True])
def test_fixed_rate_validation(minutes: object) -> None:
    with pytest.raises(ValueError, match=r"FixedRate.interval_minutes must be an int of at least 1"):
        FixedRate(minutes)  # type: ignore[arg-type]


def test_trigger_time_is_a_singleton_that_survives_copy_and_pickle() -> None:
    assert copy.deepcopy(TriggerTime) is TriggerTime
    assert pickle.loads(pickle.dumps(TriggerTime)) is TriggerTime
    assert repr(TriggerTime) == "flyte.TriggerTime"


def test_trigger_fields_and_validation() -> None:
    trigger = Trigger("nightly", Cron("0 2 * * *"), inputs={"at": TriggerTime}, env_vars={"A": "1"})
    assert trigger.auto_activate and trigger.description == ""
    assert trigger.inputs == {"at": TriggerTime}
    with pytest.raises(ValueError, match=r"Trigger.name must be a non-empty string"):
        Trigger("", Cron("* * * * *"))
    with pytest.raises(ValueError, match=r"wrap it as flyte.Cron\(...\)"):
        Trigger("t", "0 * * * *")
    with pytest.raises(ValueError, match=r"Trigger.env_vars must map strings to strings"):
        Trigger("t", env_vars={"A": 1})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"Trigger.max_action_concurrency must be an int of at least 1, got 0"):
        Trigger("t", max_action_concurrency=0)


@pytest.mark.parametrize(
    ("make", "name", "expression"),
    [
        (Trigger.minutely, "minutely", "* * * * *"),
        (Trigger.hourly, "hourly", "0 * * * *"),
        (Trigger.daily, "daily", "0 0 * * *"),
        (Trigger.weekly, "weekly", "0 0 * * 0"),
        (Trigger.monthly, "monthly", "0 0 1 * *"),
    ],
)
def test_helpers(make: object, name: str, expression: str) -> None:
    assert callable(make)
    trigger = make()
    assert (trigger.name, trigger.automation, trigger.inputs) == (name, Cron(expression), {})
    keyed = make("fired_at", inputs={"region": "eu"}, name="custom", queue="q")
    assert keyed.inputs == {"fired_at": TriggerTime, "region": "eu"}
    assert (keyed.name, keyed.queue) == ("custom", "q")
    assert make("x", inputs={"x": 1}).inputs == {"x": 1}

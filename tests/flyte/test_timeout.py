from __future__ import annotations

from datetime import timedelta

import pytest

from flyte._timeout import Timeout, normalize_timeout


def test_normalize_timeout() -> None:
    assert normalize_timeout(None) is None
    assert normalize_timeout(0) is None
    assert normalize_timeout(timedelta(0)) is None
    assert normalize_timeout(Timeout()) is None
    assert normalize_timeout(90) == Timeout(max_runtime=90)
    assert normalize_timeout(timedelta(minutes=2)) == Timeout(max_runtime=timedelta(minutes=2))
    timeout = Timeout(deadline=10)
    assert normalize_timeout(timeout) is timeout


def test_seconds_properties() -> None:
    timeout = Timeout(max_runtime=timedelta(minutes=1), max_queued_time=30, deadline=0)
    assert timeout.max_runtime_seconds == 60.0
    assert timeout.max_queued_time_seconds == 30.0
    assert timeout.deadline_seconds is None
    assert Timeout().max_runtime_seconds is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_runtime": -1}, "Timeout.max_runtime must not be negative, got -1"),
        ({"deadline": timedelta(seconds=-5)}, "Timeout.deadline must not be negative"),
        ({"max_queued_time": "10"}, "Timeout.max_queued_time must be a timedelta or a number of seconds, got '10'"),
        ({"max_runtime": True}, "Timeout.max_runtime must be a timedelta or a number of seconds"),
    ],
)
def test_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Timeout(**kwargs)  # type: ignore[arg-type]


def test_normalize_rejects_wrong_types() -> None:
    with pytest.raises(ValueError, match=r"Timeout.max_runtime must be a timedelta"):
        normalize_timeout("5m")  # type: ignore[arg-type]

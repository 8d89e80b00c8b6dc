from __future__ import annotations

from datetime import timedelta

import pytest

from flyte._retry import Backoff, RetryStrategy, normalize_retries


def test_normalize_retries() -> None:
    assert normalize_retries(3) == RetryStrategy(3)
    assert normalize_retries(None) == RetryStrategy(0)
    strategy = RetryStrategy(2, Backoff(base=timedelta(seconds=1)))
    assert normalize_retries(strategy) is strategy


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "RetryStrategy.count must be >= 0, got -1"),
        ("3", "retries must be an int"),
        (True, "retries must be an int"),
    ],
)
def test_normalize_retries_rejects_bad_values(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize_retries(value)  # type: ignore[arg-type]


def test_strategy_validation() -> None:
    with pytest.raises(ValueError, match=r"RetryStrategy.count must be >= 0, got -2"):
        RetryStrategy(-2)
    with pytest.raises(ValueError, match=r"RetryStrategy.count must be an int, got 1.5"):
        RetryStrategy(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"RetryStrategy.backoff must be a flyte.Backoff"):
        RetryStrategy(1, backoff=5)  # type: ignore[arg-type]


def test_no_backoff_means_no_wait() -> None:
    assert [RetryStrategy(3).delay_for(attempt) for attempt in (1, 2, 3)] == [0.0, 0.0, 0.0]


def test_exponential_backoff_with_cap() -> None:
    strategy = RetryStrategy(6, Backoff(base=timedelta(seconds=1), factor=2, cap=timedelta(seconds=10)))
    assert [strategy.delay_for(attempt) for attempt in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_constant_backoff_and_seconds_as_numbers() -> None:
    backoff = Backoff(base=2.5)  # type: ignore[arg-type]
    assert backoff.base == timedelta(seconds=2.5)
    assert RetryStrategy(2, backoff).delay_for(2) == 2.5


def test_huge_exponent_is_capped_not_an_overflow() -> None:
    strategy = RetryStrategy(10_000, Backoff(base=timedelta(seconds=1), factor=10, cap=timedelta(minutes=5)))
    assert strategy.delay_for(5000) == 300.0
    assert RetryStrategy(10_000, Backoff(base=timedelta(seconds=1), factor=10)).delay_for(5000) > 0


def test_attempt_counts_from_one() -> None:
    with pytest.raises(ValueError, match=r"attempt counts retries from 1, got 0"):
        RetryStrategy(1).delay_for(0)
    with pytest.raises(ValueError, match=r"retry index n must be >= 0"):
        Backoff(base=timedelta(seconds=1)).compute_delay(-1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base": timedelta(seconds=-1)}, "Backoff.base must not be negative"),
        ({"base": timedelta(seconds=1), "factor": 0.5}, "Backoff.factor must be a number >= 1.0, got 0.5"),
        ({"base": timedelta(seconds=1), "cap": timedelta(seconds=-1)}, "Backoff.cap must not be negative"),
        ({"base": "1s"}, "Backoff.base must be a timedelta or a number of seconds"),
    ],
)
def test_backoff_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Backoff(**kwargs)  # type: ignore[arg-type]

from __future__ import annotations

from datetime import timedelta

import pytest

from flyte._reusable import ReusePolicy


def test_defaults() -> None:
    policy = ReusePolicy()
    assert policy.replicas == (2, 2)
    assert (policy.min_replicas, policy.max_replicas) == (2, 2)
    assert policy.idle_ttl == timedelta(seconds=30)
    assert policy.get_scaledown_ttl() == timedelta(seconds=30)
    assert policy.concurrency == 1
    assert policy.scope == "global"


def test_normalisation() -> None:
    policy = ReusePolicy(replicas=(0, 5), idle_ttl=timedelta(minutes=10), scaledown_ttl=120, scope="run", concurrency=4)
    assert (policy.min_replicas, policy.max_replicas) == (0, 5)
    assert policy.idle_ttl == timedelta(minutes=10)
    assert policy.get_scaledown_ttl() == timedelta(minutes=2)
    assert ReusePolicy(replicas=3) == ReusePolicy(replicas=(3, 3))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"replicas": (3, 1)}, r"replicas minimum \(3\) must not exceed the maximum \(1\)"),
        ({"replicas": (1, 2, 3)}, "replicas must be an int or a"),
        ({"replicas": -1}, "replicas minimum must be >= 0, got -1"),
        ({"replicas": 0}, "replicas maximum must be >= 1, got 0"),
        ({"replicas": (1, "2")}, "replicas must be ints"),
        ({"concurrency": 0}, "concurrency must be an int of at least 1, got 0"),
        ({"idle_ttl": 5}, "idle_ttl must be at least 30 seconds, got 5"),
        ({"idle_ttl": None}, "idle_ttl must be an int"),
        ({"scaledown_ttl": timedelta(seconds=1)}, "scaledown_ttl must be at least 30 seconds"),
        ({"scope": "cluster"}, "scope must be 'global' or 'run', got 'cluster'"),
    ],
)
def test_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReusePolicy(**kwargs)  # type: ignore[arg-type]

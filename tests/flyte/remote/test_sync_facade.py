"""The sync facade of remote handles: methods, class methods and iterators from one async core."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from flyte._internal.syncify import syncify_classmethod, syncify_iterator_method, syncify_method


class Counter:
    closed = False

    def __init__(self, start: int) -> None:
        self.start = start

    @syncify_method
    async def add(self, n: int) -> int:
        await asyncio.sleep(0)
        return self.start + n

    @syncify_classmethod
    @classmethod
    async def make(cls, start: int) -> Counter:
        return cls(start)

    @syncify_iterator_method
    async def count(self, stop: int) -> AsyncIterator[int]:
        try:
            for value in range(self.start, stop):
                await asyncio.sleep(0.001)
                if value == 99:
                    raise ValueError("ninety-nine")
                yield value
        finally:
            type(self).closed = True


def test_sync_and_async_forms_share_one_implementation() -> None:
    counter = Counter.make(5)
    assert isinstance(counter, Counter) and counter.add(2) == 7
    assert list(counter.count(8)) == [5, 6, 7]

    async def main() -> tuple[int, list[int], int]:
        made = await Counter.make.aio(1)
        return await made.add.aio(1), [value async for value in made.count.aio(3)], made.add(10)

    assert asyncio.run(main()) == (2, [1, 2], 11), "the sync form also works inside a running loop"


def test_leaving_an_iteration_early_closes_the_async_side() -> None:
    Counter.closed = False
    for value in Counter(0).count(1_000_000):
        if value == 2:
            break
    assert Counter.closed


def test_errors_reach_the_sync_caller() -> None:
    with pytest.raises(ValueError, match="ninety-nine"):
        list(Counter(97).count(200))

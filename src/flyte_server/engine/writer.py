"""Batched, ordered writes to the store, each announced to watchers only after its commit.

Engine changes queue here; one task commits everything queued since the last commit in one
transaction (a fan-out of a thousand children costs a handful of commits, not thousands), then
publishes the changes' events in order. A failing batch is retried change by change, so one bad
change cannot take the others down with it. When the storage is full, nothing is failed: the batch
waits (and everything queued after it), retried with backoff until it commits, so aborts and
outcomes decided meanwhile are kept, in order, and the server recovers by itself once space returns.

A change is either a function of the session (run in order) or plain :class:`Statements` (the
engine's hot path: action and attempt rows). Statements of one batch are grouped into one
``executemany`` per statement shape, which keeps their order where it matters: a statement joins
a group only after every earlier statement on the same row, and a function change runs only
after every statement queued before it.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.base import Executable

from flyte_server.engine.watch import ActionEvent, WatchHub
from flyte_server.store.db import Database

__all__ = ["Fenced", "Statements", "StoreWriter", "WriteOp"]

logger = logging.getLogger(__name__)

Statement = tuple[Executable, dict[str, Any], Hashable]
"""One write: the statement, its parameters, and the row it changes (for ordering)."""


@dataclass
class Statements:
    """Row writes without reads, which the writer may group with other changes' (see the module docstring)."""

    items: list[Statement] = field(default_factory=list)

    def add(self, statement: Executable, params: dict[str, Any], row: Hashable) -> None:
        self.items.append((statement, params, row))


WriteOp = Callable[[AsyncSession], Awaitable[None]] | Statements
"""A change to apply inside the writer's transaction."""


class _Grouped:
    """Statements of one batch as ordered ``executemany`` groups."""

    def __init__(self) -> None:
        self.groups: list[tuple[Executable, frozenset[str], list[dict[str, Any]]]] = []
        self._last_group_of_row: dict[Hashable, int] = {}
        self._open: dict[tuple[int, frozenset[str]], int] = {}

    def add(self, statement: Executable, params: dict[str, Any], row: Hashable) -> None:
        keys = frozenset(params)
        shape = (id(statement), keys)
        floor = self._last_group_of_row.get(row, -1)
        index = self._open.get(shape)
        if index is None or index < floor:
            index = len(self.groups)
            self.groups.append((statement, keys, []))
            self._open[shape] = index
        self.groups[index][2].append(params)
        self._last_group_of_row[row] = index

    async def execute(self, target: AsyncSession | AsyncConnection) -> None:
        if not self.groups:
            return
        connection = await target.connection() if isinstance(target, AsyncSession) else target
        for statement, _, params in self.groups:
            await connection.execute(statement, params if len(params) > 1 else params[0])
        self.groups.clear()
        self._last_group_of_row.clear()
        self._open.clear()


async def _apply(op: WriteOp, session: AsyncSession) -> None:
    if isinstance(op, Statements):
        grouped = _Grouped()
        for item in op.items:
            grouped.add(*item)
        await grouped.execute(session)
    else:
        await op(session)


_MAX_BATCH = 500
_TRANSIENT_RETRIES = 3
_STOP_WAIT_WHEN_FULL = 10.0
"""Seconds a stop waits for a full store before leaving its queued changes (the next start resumes)."""


@dataclass
class _Pending:
    op: WriteOp
    events: Sequence[ActionEvent]
    future: asyncio.Future[None]
    after: list[Callable[[], None]] = field(default_factory=list)
    epoch: int = 0


def _observe(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("a queued store change failed: %s", future.exception())


class Fenced(RuntimeError):
    """This replica's lease was taken over: its writes are refused (see :attr:`StoreWriter.fence`)."""


class StoreWriter:
    """Commits queued changes in batches; :meth:`write` returns once its change is committed."""

    def __init__(self, database: Database, hub: WatchHub) -> None:
        self._database = database
        self._hub = hub
        self._pending: list[_Pending] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.commits = 0
        self.announce: Callable[[Sequence[ActionEvent]], list[str]] | None = None
        """Turns a transaction's events into notifications for other replicas (sent before the commit)."""
        self.fence: Callable[[AsyncSession | AsyncConnection], Awaitable[None]] | None = None
        """Runs first in every transaction; raises :class:`Fenced` when this replica may no longer write."""
        self.on_fenced: Callable[[], None] | None = None
        """Called when a batch was refused by :attr:`fence` (its changes are failed, not retried)."""
        self.epoch = 0
        """Changes queued under an older epoch are refused (:meth:`new_epoch`)."""
        self.stalled_since: float | None = None
        self._stall_delay = 0.5
        """Since when (loop time) commits wait for storage space; ``None`` while the store takes writes."""
        """How many transactions were committed (for benchmarks and tests)."""

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="store-writer")

    async def stop(self) -> None:
        """Commit what is queued, then stop."""
        if self._task is None:
            return
        loop = asyncio.get_running_loop()
        give_up = loop.time() + _STOP_WAIT_WHEN_FULL
        while self._pending:
            if self.stalled and loop.time() > give_up:
                logger.error("stopping with %d changes the full store could not take", len(self._pending))
                break
            self._wake.set()
            await asyncio.sleep(0.01)
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None

    def enqueue(self, op: WriteOp, events: Sequence[ActionEvent] = ()) -> asyncio.Future[None]:
        """Queue ``op`` now (ahead of anything queued later); the future resolves after its commit."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(op, events, future, epoch=self.epoch))
        self._wake.set()
        if self._task is None:
            asyncio.get_running_loop().create_task(self._flush())
        future.add_done_callback(_observe)
        return future

    async def write(self, op: WriteOp, events: Sequence[ActionEvent] = ()) -> None:
        """Apply ``op`` in the next batch; publish ``events`` after its commit.

        Raises:
            SQLAlchemyError: the change could not be committed (nothing was published).
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(op, events, future, epoch=self.epoch))
        self._wake.set()
        if self._task is None:
            # Not started (tests, shutdown): commit inline.
            await self._flush()
        await asyncio.shield(future)

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._flush()
            except Exception:  # the loop must survive anything; each change got its own error
                logger.exception("store writer failed")

    def new_epoch(self) -> None:
        """Refuse every change queued so far (a fenced replica let go of its runs: what it had queued
        for them must not land once it writes again); changes queued from now on commit as usual."""
        self.epoch += 1

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:_MAX_BATCH], self._pending[_MAX_BATCH:]
            stale = [item for item in batch if item.epoch != self.epoch]
            if stale:
                for item in stale:
                    if not item.future.done():
                        item.future.set_exception(Fenced("a change queued before this replica lost its runs"))
                batch = [item for item in batch if item.epoch == self.epoch]
                if not batch:
                    continue
            failed: dict[int, BaseException] = {}
            try:
                if all(isinstance(item.op, Statements) for item in batch):
                    # The hot path: row writes only, on a plain connection (no ORM session to manage).
                    grouped = _Grouped()
                    for item in batch:
                        for statement in item.op.items:  # type: ignore[union-attr]
                            grouped.add(*statement)
                    async with self._database.engine.begin() as connection:
                        await self._fence(connection)
                        await grouped.execute(connection)
                        await self._announce(connection, batch)
                else:
                    await self._apply_batch(batch)
            except Fenced as error:
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(error)
                if self.on_fenced is not None:
                    self.on_fenced()
                continue
            except (SQLAlchemyError, OSError) as error:
                if storage_full(error):
                    self._pending = batch + self._pending
                    await self._wait_for_space(error)
                    continue
                try:
                    failed = await self._one_by_one(batch)
                except (SQLAlchemyError, OSError) as full:  # only a full storage gets here
                    self._pending = batch + self._pending
                    await self._wait_for_space(full)
                    continue
                if self.on_fenced is not None and any(isinstance(problem, Fenced) for problem in failed.values()):
                    self.on_fenced()
            if self.stalled_since is not None:
                waited = asyncio.get_running_loop().time() - self.stalled_since
                logger.warning("the store takes writes again after %.0fs; queued changes are committed", waited)
                self.stalled_since = None
                self._stall_delay = 0.5
            self.commits += 1
            for index, item in enumerate(batch):
                problem = failed.get(index)
                if problem is None:
                    for event in item.events:
                        self._hub.publish(event)
                    if not item.future.done():
                        item.future.set_result(None)
                elif not item.future.done():
                    item.future.set_exception(problem)

    async def _apply_batch(self, batch: list[_Pending]) -> None:
        """A batch with function changes: one session, statements grouped between them."""
        async with self._database.session() as session:
            await self._fence(session)
            grouped = _Grouped()
            for item in batch:
                if isinstance(item.op, Statements):
                    for statement in item.op.items:
                        grouped.add(*statement)
                else:
                    await grouped.execute(session)
                    await item.op(session)
            await grouped.execute(session)
            await self._announce(session, batch)

    async def _one_by_one(self, batch: list[_Pending]) -> dict[int, BaseException]:
        failed: dict[int, BaseException] = {}
        for index, item in enumerate(batch):
            for attempt in range(_TRANSIENT_RETRIES):
                try:
                    async with self._database.session() as session:
                        await self._fence(session)
                        await _apply(item.op, session)
                        await self._announce(session, [item])
                    break
                except Fenced as error:
                    failed[index] = error
                    break
                except (SQLAlchemyError, OSError) as error:
                    transient = isinstance(error, (DBAPIError, OSError)) and (
                        isinstance(error, OSError) or error.connection_invalidated
                    )
                    if transient and attempt + 1 < _TRANSIENT_RETRIES:
                        await asyncio.sleep(0.2 * (attempt + 1))
                        continue
                    if storage_full(error):
                        raise
                    logger.error("a store change failed: %s", error)
                    failed[index] = error
                    break
        return failed

    async def _fence(self, target: AsyncSession | AsyncConnection) -> None:
        if self.fence is not None:
            await self.fence(target)

    async def _announce(self, target: AsyncSession | AsyncConnection, batch: list[_Pending]) -> None:
        """Notify the other replicas of the batch's events inside its transaction (PostgreSQL)."""
        if self.announce is None:
            return
        payloads = self.announce([event for item in batch for event in item.events])
        if payloads:
            from flyte_server.engine.replicas import notify

            await notify(target, payloads)

    @property
    def stalled(self) -> bool:
        """Whether commits are waiting for storage space (changes are kept, not failed)."""
        return self.stalled_since is not None

    async def _wait_for_space(self, error: BaseException) -> None:
        loop = asyncio.get_running_loop()
        if self.stalled_since is None:
            self.stalled_since = loop.time()
            self._stall_delay = 0.5
            logger.error(
                "the store is full (%s): %d changes wait, and are retried until there is space again",
                _first_line(error),
                len(self._pending),
            )
        await asyncio.sleep(self._stall_delay)
        self._stall_delay = min(self._stall_delay * 2, 5.0)


_FULL_MARKERS = ("database or disk is full", "no space left on device", "could not extend file", "disk full")


def storage_full(error: BaseException) -> bool:
    """Whether ``error`` says the database's storage is full (SQLite, PostgreSQL, or the OS)."""
    seen: BaseException | None = error
    for _ in range(6):  # the error and what it wraps
        if seen is None:
            break
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        if getattr(seen, "sqlstate", None) == "53100" or getattr(seen, "pgcode", None) == "53100":
            return True
        if any(marker in str(seen).lower() for marker in _FULL_MARKERS):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0][:200]

"""One watch stream per (run, parent action): the latest state of every child, and waiters.

The stream starts with the children that already exist (a retried parent finds the ones its
earlier attempt finished), then a sentinel, then live updates. A broken or ended stream is
resubscribed with backoff (1 s doubling to 30 s); after 40 failures in a row every waiter gets a
system error.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from connectrpc.errors import ConnectError

from flyte.errors import RuntimeSystemError

if TYPE_CHECKING:
    from flyteidl2.common import identifier_pb2
    from flyteidl2.workflow import state_service_pb2

    from flyte._internal.controllers.remote._service import ActionService

__all__ = ["TERMINAL_PHASES", "Informer"]

logger = logging.getLogger("flyte")

# flyteidl2.common.ActionPhase: SUCCEEDED, FAILED, ABORTED, TIMED_OUT, RECOVERED
TERMINAL_PHASES = frozenset({5, 6, 7, 8, 10})


class Informer:
    """Follows the children of one parent action (see the module docstring)."""

    def __init__(
        self,
        service: ActionService,
        parent: identifier_pb2.ActionIdentifier,
        *,
        sentinel_timeout: float = 5.0,
        max_failures: int = 40,
        first_backoff: float = 1.0,
    ) -> None:
        self.service = service
        self.parent = parent
        self.sentinel_timeout = sentinel_timeout
        self.max_failures = max_failures
        self.first_backoff = first_backoff
        self._updates: dict[str, state_service_pb2.ActionUpdate] = {}
        self._waiters: dict[str, list[asyncio.Future[state_service_pb2.ActionUpdate]]] = {}
        self._synced = asyncio.Event()
        self._stream: asyncio.Task[None] | None = None
        self._deadline = 0.0
        self._late_sentinel_logged = False
        self._error: BaseException | None = None

    async def start(self) -> None:
        """Open the stream (once) and wait up to ``sentinel_timeout`` for the initial snapshot."""
        loop = asyncio.get_running_loop()
        if self._stream is None:
            self._stream = asyncio.create_task(self._follow(), name=f"watch-{self.parent.name}")
            self._deadline = loop.time() + self.sentinel_timeout
        if not self._synced.is_set():
            try:
                remaining = max(self._deadline - loop.time(), 0.0)
                await asyncio.wait_for(asyncio.shield(self._synced.wait()), remaining)
            except asyncio.TimeoutError:
                if not self._late_sentinel_logged:
                    self._late_sentinel_logged = True
                    logger.error(
                        "The watch of action %s's children sent no sentinel within %gs; continuing without it",
                        self.parent.name,
                        self.sentinel_timeout,
                    )
        if self._error is not None:
            raise self._error

    def get(self, name: str) -> state_service_pb2.ActionUpdate | None:
        """The latest update of child ``name`` seen so far."""
        return self._updates.get(name)

    async def wait(self, name: str) -> state_service_pb2.ActionUpdate:
        """The terminal update of child ``name`` (at once when it is already terminal).

        Raises:
            RuntimeSystemError: the stream failed for good.
        """
        update = self._updates.get(name)
        if update is not None and update.phase in TERMINAL_PHASES:
            self._consumed(name)
            return update
        if self._error is not None:
            raise self._error
        future: asyncio.Future[state_service_pb2.ActionUpdate] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(name, []).append(future)
        try:
            update = await future
            self._consumed(name)
            return update
        finally:
            waiters = self._waiters.get(name)
            if waiters is not None and future in waiters:
                waiters.remove(future)
            if waiters == []:
                self._waiters.pop(name, None)

    def _consumed(self, name: str) -> None:
        """Forget a child whose terminal update its caller has: a parent with a million children keeps
        no state per finished child. (Its name is never submitted again by this attempt: repeated
        identical calls get new sequence numbers; a resubscribed stream sends it again if needed.)"""
        if not self._waiters.get(name):
            self._updates.pop(name, None)

    def _apply(self, update: state_service_pb2.ActionUpdate) -> None:
        name = update.action_id.name
        self._updates[name] = update
        if update.phase in TERMINAL_PHASES:
            for future in self._waiters.pop(name, []):
                if not future.done():
                    future.set_result(update)

    def _fail(self, error: BaseException) -> None:
        self._error = error
        self._synced.set()
        for waiters in self._waiters.values():
            for future in waiters:
                if not future.done():
                    future.set_exception(error)
        self._waiters.clear()

    async def _follow(self) -> None:
        failures = 0
        delay = self.first_backoff
        while True:
            try:
                async for update in self.service.watch(self.parent):
                    failures = 0
                    delay = self.first_backoff
                    if update is None:
                        self._synced.set()
                    else:
                        self._apply(update)
                # The server ended the stream cleanly: subscribe again for a fresh snapshot.
                await asyncio.sleep(0.5)
            except ConnectError as error:
                failures += 1
                if failures >= self.max_failures:
                    self._fail(
                        RuntimeSystemError(
                            "WatchFailed",
                            f"Lost the watch of action {self.parent.name}'s children after {failures} attempts: "
                            f"{error}",
                        )
                    )
                    return
                logger.warning(
                    "Watch of action %s's children failed (%s); retrying in %gs", self.parent.name, error, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            except Exception as error:  # a bug or a malformed message: fail the waiters instead of hanging
                self._fail(
                    RuntimeSystemError(
                        "WatchFailed", f"The watch of action {self.parent.name}'s children broke: {error!r}"
                    )
                )
                raise

    async def stop(self) -> None:
        """Close the stream."""
        stream = self._stream
        if stream is None:
            return
        stream.cancel()
        await asyncio.wait([stream])
        if not stream.cancelled() and stream.exception() is not None:
            logger.debug("The watch of action %s ended with %r", self.parent.name, stream.exception())

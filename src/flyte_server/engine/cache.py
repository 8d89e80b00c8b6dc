"""The task output cache: lookups before launching, entries after success, serialized reservations.

Keys are the action's cache key (computed by the SDK for children, by the engine for roots:
:func:`root_cache_key`), scoped to the run's project/domain unless the run asks for a global
lookup. A hit goes straight to SUCCEEDED with CACHE_HIT; ``overwrite_cache`` skips the lookup but
still stores the new outputs. For ``cache_serializable`` tasks the first caller takes a
reservation and the others wait (WAITING_FOR_RESOURCES) until its entry exists.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from flyteidl2.task import task_definition_pb2
from sqlalchemy.exc import IntegrityError

from flyte_server.engine.model import ActionState, now_us
from flyte_server.store import cache as store
from flyte_server.store.db import Database
from flyte_server.store.models.cache import CacheEntryRow

__all__ = ["CacheManager", "root_cache_key"]

logger = logging.getLogger(__name__)

_RESERVATION_TTL_US = 24 * 3600 * 1_000_000
_RECHECK_SECONDS = 5.0


def root_cache_key(spec: task_definition_pb2.TaskSpec, inputs_hash: str) -> str:
    """The cache key of a run's root action, as the SDK computes it for a child call.

    Uses the SDK's own scheme (``flyte.types._hashing.cache_key``): sha256 over the inputs hash,
    the task name, the interface hash and the cache version.
    """
    from flyte.types._hashing import cache_key

    template = spec.task_template
    return cache_key(inputs_hash, template.id.name, template.interface, template.metadata.discovery_version)


class CacheManager:
    """Cache lookups, entries and reservations for the engine."""

    def __init__(self, database: Database, requeue: Callable[[ActionState], Coroutine[Any, Any, None]]) -> None:
        self._database = database
        self._requeue = requeue
        self._waiters: dict[str, list[ActionState]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._lock = asyncio.Lock()

    @staticmethod
    def key(a: ActionState) -> str:
        return f"{a.run.cache_scope}/{a.cache_key}"

    @staticmethod
    def owner(a: ActionState) -> str:
        return str(a.key)

    @staticmethod
    def serializable(a: ActionState) -> bool:
        return bool(a.spec is not None and a.spec.task_template.metadata.cache_serializable)

    async def lookup(self, a: ActionState) -> CacheEntryRow | None:
        """The entry for ``a``'s key, unless the run overwrites the cache or the entry is too old."""
        if a.run.overwrite_cache:
            return None
        key = self.key(a)
        async with self._database.session() as session:
            entry = await store.get_entry(session, key)
            if entry is None:
                return None
            template = a.spec.task_template if a.spec is not None else None
            if template is not None and template.metadata.HasField("cache_max_age"):
                max_age = template.metadata.cache_max_age
                max_age_us = max_age.seconds * 1_000_000 + max_age.nanos // 1000
                if max_age_us > 0 and now_us() - entry.created_us > max_age_us:
                    return None
            return entry

    async def reserve(self, a: ActionState) -> bool:
        """Take the reservation of ``a``'s key; ``False`` when another action holds it."""
        async with self._lock:
            for attempt in range(2):
                try:
                    async with self._database.session() as session:
                        holder = await store.reserve(
                            session, self.key(a), self.owner(a), now_us=now_us(), ttl_us=_RESERVATION_TTL_US
                        )
                    return holder == self.owner(a)
                except IntegrityError:
                    if attempt:
                        raise  # another replica keeps taking it: let the attempt fail loudly
        return False

    def wait(self, a: ActionState) -> None:
        """Park ``a`` until the reservation of its key is released (or every few seconds, to re-check)."""
        key = self.key(a)
        self._waiters.setdefault(key, []).append(a)
        if key not in self._timers:
            loop = asyncio.get_running_loop()
            self._timers[key] = loop.call_later(_RECHECK_SECONDS, lambda: self._wake(key))

    def forget(self, a: ActionState) -> None:
        """``a`` ended while waiting."""
        waiters = self._waiters.get(self.key(a))
        if waiters and a in waiters:
            waiters.remove(a)

    def _wake(self, key: str) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        for waiter in self._waiters.pop(key, []):
            asyncio.get_running_loop().create_task(self._requeue(waiter))

    async def release(self, a: ActionState) -> None:
        """Drop ``a``'s reservation (if it holds one) and wake those waiting on the key."""
        if not self.serializable(a):
            return
        key = self.key(a)
        try:
            async with self._database.session() as session:
                await store.release_reservation(session, key, self.owner(a))
        except Exception:  # a stale reservation expires by itself; waiters re-check anyway
            logger.exception("could not release the cache reservation of %s", a.key)
        self._wake(key)

    async def put(self, a: ActionState, *, outputs: bytes, output_uri: str) -> bool:
        """Store ``a``'s outputs under its key; whether it worked."""
        try:
            async with self._database.session() as session:
                await store.put_entry(
                    session, self.key(a), outputs=outputs, output_uri=output_uri, source=str(a.key), now_us=now_us()
                )
        except Exception:  # the run goes on without a cache entry (CACHE_PUT_FAILURE)
            logger.exception("could not store the cache entry of %s", a.key)
            return False
        return True

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._waiters.clear()

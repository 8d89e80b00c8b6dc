"""In-process pub/sub for watch streams: every committed action change is published once.

With several replicas on one PostgreSQL, each replica's hub also gets the other replicas'
committed changes (``engine.replicas``: ``NOTIFY`` in the committing transaction, ``LISTEN`` here).

Subscribers pick a topic: the children of one parent (the in-task controllers' watches, scoped
by run *and* parent, since every run's root is ``a0``), one action (WatchActionDetails), one run
(WatchActions, WatchRunDetails) or the runs of a project/domain (WatchRuns). Each subscriber has
its own queue; publishing never blocks. A subscriber that falls far behind is told to resync.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from flyteidl2.workflow import run_definition_pb2

from flyte_server.store.runs import ROOT_ACTION, ActionKey

__all__ = ["ActionEvent", "StreamClosedError", "Subscription", "WatchHub", "action_topic", "children_topic"]

Topic = tuple[str, ...]

_MAX_BACKLOG = 100_000
"""Events a subscriber may have queued before it is told to resync instead."""


@dataclass(frozen=True)
class ActionEvent:
    """A committed change of one action: what watch streams need without reading the store."""

    key: ActionKey
    parent: str
    phase: int
    attempt: int
    action_type: int
    output_uri: str = ""
    error: run_definition_pb2.ErrorInfo | None = None
    cache_status: int = 0


def children_topic(project: str, domain: str, run: str, parent: str) -> Topic:
    """The topic of the direct children of one action."""
    return ("children", project, domain, run, parent)


def action_topic(key: ActionKey) -> Topic:
    """The topic of one action's own changes."""
    return ("action", *key)


def run_topic(project: str, domain: str, run: str) -> Topic:
    return ("run", project, domain, run)


def runs_topic(project: str, domain: str) -> Topic:
    return ("runs", project, domain)


class StreamClosedError(Exception):
    """The hub was closed (the server is shutting down): end the stream."""


class Subscription:
    """A subscriber's queue of events; ``None`` in the stream means "resync from the store"."""

    def __init__(self, hub: WatchHub, topics: tuple[Topic, ...]) -> None:
        self._hub = hub
        self.topics = topics
        self._queue: asyncio.Queue[ActionEvent | None] = asyncio.Queue()
        self._overflowed = False
        self.closed = False

    def _offer(self, event: ActionEvent) -> None:
        if self._overflowed:
            return
        if self._queue.qsize() >= _MAX_BACKLOG:
            self._overflowed = True
            self._queue.put_nowait(None)
            return
        self._queue.put_nowait(event)

    async def get(self) -> ActionEvent | None:
        """The next event (waits); ``None`` asks the subscriber to reread the store.

        Raises:
            StreamClosedError: the hub was closed.
        """
        if self.closed:
            raise StreamClosedError
        event = await self._queue.get()
        if self.closed:
            raise StreamClosedError
        if event is None:
            self._overflowed = False
        return event

    def _close(self) -> None:
        self.closed = True
        self._queue.put_nowait(None)

    def drain(self) -> list[ActionEvent | None]:
        """Every event queued now, without waiting."""
        events: list[ActionEvent | None] = []
        while not self._queue.empty():
            events.append(self._queue.get_nowait())
        if None in events:
            self._overflowed = False
        return events

    def close(self) -> None:
        self._hub._unsubscribe(self)

    async def __aiter__(self) -> AsyncIterator[ActionEvent | None]:
        while True:
            yield await self.get()


class WatchHub:
    """Topic → subscribers; :meth:`publish` fans an event out to every interested subscriber."""

    def __init__(self) -> None:
        self._subscribers: dict[Topic, set[Subscription]] = {}
        self._closed = False
        self.listeners: list[Callable[[ActionEvent], None]] = []
        """Called with every published event (the notifier)."""

    def subscribe(self, *topics: Topic) -> Subscription:
        """Start receiving the events of ``topics`` (call ``close()`` when done)."""
        subscription = Subscription(self, topics)
        if self._closed:
            subscription._close()
            return subscription
        for topic in topics:
            self._subscribers.setdefault(topic, set()).add(subscription)
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        for topic in subscription.topics:
            subscribers = self._subscribers.get(topic)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscribers[topic]

    def close(self) -> None:
        """End every open subscription (their streams finish) and refuse new ones; the server is stopping."""
        self._closed = True
        for subscribers in list(self._subscribers.values()):
            for subscription in list(subscribers):
                subscription._close()

    def resync_all(self) -> None:
        """Tell every subscriber to reread the store (changes may have been missed, e.g. while the
        connection that brings other replicas' changes was down)."""
        for subscribers in list(self._subscribers.values()):
            for subscription in list(subscribers):
                if not subscription._overflowed:
                    subscription._overflowed = True
                    subscription._queue.put_nowait(None)

    def publish(self, event: ActionEvent) -> None:
        """Hand ``event`` to the listeners and to the subscribers of its parent, action, run and project topics."""
        for listener in self.listeners:
            listener(event)
        if not self._subscribers:
            return
        key = event.key
        topics = [
            children_topic(key.project, key.domain, key.run, event.parent),
            action_topic(key),
            run_topic(key.project, key.domain, key.run),
        ]
        if key.name == ROOT_ACTION:
            topics.append(runs_topic(key.project, key.domain))
        offered: set[int] = set()
        for topic in topics:
            for subscription in self._subscribers.get(topic, ()):
                if id(subscription) not in offered:
                    offered.add(id(subscription))
                    subscription._offer(event)

    @property
    def subscriber_count(self) -> int:
        return sum(len(subscribers) for subscribers in self._subscribers.values())

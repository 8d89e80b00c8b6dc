"""Reads for the services: run and action details, lists, data, logs, and the watch streams.

Everything is read from the store (committed state); watch streams subscribe *before* reading their
snapshot, so no change can fall between the snapshot and the live updates.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.common import list_pb2
from flyteidl2.task import common_pb2
from flyteidl2.workflow import run_definition_pb2, state_service_pb2

from flyte_server.engine.details import (
    action_details,
    action_from_row,
    inputs_message,
    outputs_file,
    outputs_message,
    run_details,
    run_from_row,
    update_from_event,
    update_from_row,
)
from flyte_server.engine.model import SUCCEEDED, TRACE, ActionKey, is_terminal
from flyte_server.engine.watch import ActionEvent, StreamClosedError, Subscription, action_topic, children_topic
from flyte_server.isolation import open_worker_file
from flyte_server.store import runs as store
from flyte_server.store.listing import ListQueryError
from flyte_server.store.models.runs import ActionRow, AttemptRow

if TYPE_CHECKING:
    from flyte_server.engine import Engine

__all__ = ["SENTINEL", "Queries"]

SENTINEL = None
"""What :meth:`Queries.watch_children` yields between the snapshot and the live updates."""

_LOG_POLL_SECONDS = 0.25
_PROGRESS_DELAY = 0.05
"""How long a children watch holds back non-terminal changes, to conflate them with what follows."""


class Queries:
    """Read-side operations of the engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def _row(self, key: ActionKey) -> ActionRow:
        async with self.engine.database.session() as session:
            row = await store.get_action(session, key)
        if row is None:
            what = "run" if key.name == "a0" else "action"
            name = key.run if key.name == "a0" else f"{key.name} of run {key.run}"
            raise ConnectError(Code.NOT_FOUND, f"{what} {name!r} does not exist in {key.project}/{key.domain}")
        return row

    async def run_details(self, key: ActionKey) -> run_definition_pb2.RunDetails:
        from flyte_server.notify import delivery_log, log_annotations

        row = await self._row(key)
        async with self.engine.database.session() as session:
            details = await run_details(session, row)
        # The notification delivery log travels as annotations (flyte.notify/<rule>): the protocol has no field for it.
        for name, text in log_annotations(await delivery_log(self.engine, key.project, key.domain, key.run)).items():
            details.run_spec.annotations.values[name] = text
        return details

    async def action_details(self, key: ActionKey) -> run_definition_pb2.ActionDetails:
        row = await self._row(key)
        async with self.engine.database.session() as session:
            return await action_details(session, row)

    async def list_runs(
        self,
        request: list_pb2.ListRequest,
        *,
        project: str | None,
        domain: str | None,
        task: tuple[str, str, str, str] | None = None,
        trigger_name: str | None = None,
        paused_only: bool = False,
    ) -> tuple[list[run_definition_pb2.Run], str]:
        try:
            async with self.engine.database.session() as session:
                rows, token = await store.list_runs(
                    session,
                    request,
                    project=project,
                    domain=domain,
                    task=task,
                    trigger_name=trigger_name,
                    paused_only=paused_only,
                )
                labels: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
                for row in rows:
                    scope = (row.project, row.domain)
                    if scope not in labels:
                        labels[scope] = await store.run_labels(
                            session,
                            row.project,
                            row.domain,
                            [r.run_name for r in rows if (r.project, r.domain) == scope],
                        )
        except ListQueryError as error:
            raise ConnectError(Code.INVALID_ARGUMENT, str(error)) from error
        runs = [run_from_row(row, labels[(row.project, row.domain)].get(row.run_name)) for row in rows]
        return runs, token

    async def list_actions(
        self, request: list_pb2.ListRequest, run: ActionKey
    ) -> tuple[list[run_definition_pb2.Action], str]:
        await self._row(run)
        try:
            async with self.engine.database.session() as session:
                rows, token = await store.list_actions(
                    session, request, project=run.project, domain=run.domain, run=run.run
                )
        except ListQueryError as error:
            raise ConnectError(Code.INVALID_ARGUMENT, str(error)) from error
        return [action_from_row(row) for row in rows], token

    async def action_data(self, key: ActionKey) -> tuple[common_pb2.Inputs, common_pb2.Outputs, str, str]:
        """Inputs and outputs of an action (empty messages when there are none), with their URIs."""
        row = await self._row(key)
        data = self.engine.data
        outputs_uri = ""
        if row.phase == SUCCEEDED and row.output_uri:
            outputs_uri = row.output_uri if row.action_type == TRACE else outputs_file(row.output_uri)
        inputs_bytes, outputs_bytes = await asyncio.gather(data.read(row.input_uri), data.read(outputs_uri))
        return inputs_message(inputs_bytes), outputs_message(outputs_bytes), row.input_uri, outputs_uri

    async def attempt(self, key: ActionKey, number: int) -> tuple[ActionRow, AttemptRow]:
        row = await self._row(key)
        async with self.engine.database.session() as session:
            attempt = await store.get_attempt(session, key, number or row.attempts)
        if attempt is None:
            raise ConnectError(
                Code.NOT_FOUND, f"attempt {number or row.attempts} of action {key.name!r} has not started"
            )
        return row, attempt

    # ------------------------------------------------------------------ watches

    async def watch_children(self, parent: ActionKey) -> AsyncIterator[state_service_pb2.ActionUpdate | None]:
        """The current state of every child, ``SENTINEL``, then every change.

        Each update is a child's whole state, so changes that queued up while the stream was busy
        are conflated: a child that went QUEUED → RUNNING → SUCCEEDED meanwhile is sent once, as
        SUCCEEDED. Terminal changes go out at once; progress alone waits ``_PROGRESS_DELAY`` for
        more, so that a fan-out's parent reads about one update per child instead of four.
        Ends when the parent action ends (its process is gone or going) or the server stops.
        """
        subscription = self.engine.hub.subscribe(children_topic(*parent.run_key, parent.name), action_topic(parent))
        try:
            async for update in self._children_snapshot(parent):
                yield update
            yield SENTINEL
            while True:
                events = [await subscription.get(), *subscription.drain()]
                await self._hold_progress(subscription, events)
                if None in events:
                    async for update in self._children_snapshot(parent):
                        yield update
                    continue
                latest: dict[ActionKey, ActionEvent] = {}
                for event in events:
                    assert event is not None
                    latest[event.key] = event
                own = latest.pop(parent, None)
                for event in latest.values():
                    yield update_from_event(event)
                if own is not None and is_terminal(own.phase):
                    return
        except StreamClosedError:
            return
        finally:
            subscription.close()

    @staticmethod
    async def _hold_progress(subscription: Subscription, events: list[ActionEvent | None]) -> None:
        """Add to ``events`` what arrives within ``_PROGRESS_DELAY`` while they are only progress.

        Stops early at the first terminal change (or resync), so outcomes are never held back.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _PROGRESS_DELAY
        while not any(event is None or is_terminal(event.phase) for event in events):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                events.append(await asyncio.wait_for(subscription.get(), remaining))
            except asyncio.TimeoutError:
                return
            events.extend(subscription.drain())

    async def _children_snapshot(self, parent: ActionKey) -> AsyncIterator[state_service_pb2.ActionUpdate]:
        async with self.engine.database.session() as session:
            rows = await store.children_of(session, parent)
        for row in rows:
            yield update_from_row(row)

    async def watch_action_details(self, key: ActionKey) -> AsyncIterator[run_definition_pb2.ActionDetails]:
        """The details now, then again after every change; ends after a terminal phase."""
        subscription = self.engine.hub.subscribe(("action", *key))
        try:
            last = b""
            while True:
                details = await self.action_details(key)
                serialized = details.SerializeToString(deterministic=True)
                if serialized != last:
                    last = serialized
                    yield details
                if is_terminal(details.status.phase):
                    return
                await subscription.get()
                subscription.drain()
        except StreamClosedError:
            return
        finally:
            subscription.close()

    async def watch_run_details(self, key: ActionKey) -> AsyncIterator[run_definition_pb2.RunDetails]:
        """Run details now and after every change of any of its actions; ends when the run is terminal."""
        subscription = self.engine.hub.subscribe(("run", *key.run_key))
        try:
            last = b""
            while True:
                details = await self.run_details(key)
                serialized = details.SerializeToString(deterministic=True)
                if serialized != last:
                    last = serialized
                    yield details
                if is_terminal(details.action.status.phase):
                    return
                await subscription.get()
                subscription.drain()
        except StreamClosedError:
            return
        finally:
            subscription.close()

    async def watch_actions(self, run: ActionKey) -> AsyncIterator[list[run_definition_pb2.EnrichedAction]]:
        """Every action of a run, then the changed ones as they change (until cancelled)."""
        subscription = self.engine.hub.subscribe(("run", *run.run_key))
        try:
            await self._row(run)
            async with self.engine.database.session() as session:
                rows = await store.run_actions(session, *run.run_key)
            yield [run_definition_pb2.EnrichedAction(action=action_from_row(row), meets_filter=True) for row in rows]
            while True:
                events = [await subscription.get(), *subscription.drain()]
                keys = {event.key for event in events if isinstance(event, ActionEvent)}
                if None in events:
                    async with self.engine.database.session() as session:
                        rows = await store.run_actions(session, *run.run_key)
                else:
                    async with self.engine.database.session() as session:
                        rows = [
                            row for key in sorted(keys) if (row := await store.get_action(session, key)) is not None
                        ]
                yield [
                    run_definition_pb2.EnrichedAction(action=action_from_row(row), meets_filter=True) for row in rows
                ]
        except StreamClosedError:
            return
        finally:
            subscription.close()

    async def watch_runs(self, project: str, domain: str) -> AsyncIterator[list[run_definition_pb2.Run]]:
        """Runs of a project/domain as they change (the first message lists recent runs)."""
        subscription = self.engine.hub.subscribe(("runs", project, domain))
        try:
            runs, _ = await self.list_runs(list_pb2.ListRequest(limit=100), project=project, domain=domain)
            yield runs
            while True:
                events = [await subscription.get(), *subscription.drain()]
                keys = sorted({event.key for event in events if isinstance(event, ActionEvent)})
                async with self.engine.database.session() as session:
                    rows = [row for key in keys if (row := await store.get_action(session, key)) is not None]
                if rows:
                    yield [run_from_row(row) for row in rows]
        except StreamClosedError:
            return
        finally:
            subscription.close()

    async def tail_log(self, key: ActionKey, attempt: int) -> AsyncIterator[list[str]]:
        """Lines of an attempt's log as they are written; ends once the attempt has ended."""
        _, attempt_row = await self.attempt(key, attempt)
        path = Path(attempt_row.log_path) if attempt_row.log_path else None
        log_root = self.engine.launcher.log_root
        if path is None or not path.is_file():
            raise ConnectError(Code.NOT_FOUND, f"the log of action {key.name!r} is not available yet")
        subscription = self.engine.hub.subscribe(("action", *key))
        try:
            position = 0
            pending = b""
            while True:
                # The worker owns its log: open it so that a symlink or FIFO put there reads as nothing.
                try:
                    with open_worker_file(path, root=log_root) as handle:
                        handle.seek(position)
                        chunk = handle.read()
                except OSError:
                    chunk = b""
                position += len(chunk)
                pending += chunk
                if b"\n" in pending:
                    complete, pending = pending.rsplit(b"\n", 1)
                    yield complete.decode(errors="replace").split("\n")
                async with self.engine.database.session() as session:
                    current = await store.get_attempt(session, key, attempt_row.attempt)
                if current is None or is_terminal(current.phase) or current.ended_us:
                    with contextlib.suppress(OSError), open_worker_file(path, root=log_root) as handle:
                        handle.seek(position)
                        pending += handle.read()
                    if pending:
                        yield pending.decode(errors="replace").split("\n")
                    return
                try:
                    await asyncio.wait_for(subscription.get(), timeout=_LOG_POLL_SECONDS)
                except asyncio.TimeoutError:
                    pass
        except StreamClosedError:
            return
        finally:
            subscription.close()

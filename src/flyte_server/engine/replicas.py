"""Several server replicas on one database: run ownership, takeover, and changes seen everywhere.

Each replica has a persistent id (``<data dir>/replica-id``; a data directory is used by one
running server at a time, enforced with a lock file) and a row in ``replicas`` whose lease it
renews every ``ttl / 3`` seconds. A run belongs to the replica that created it (``run_owners``):
that replica drives every action of the run, as a single server does. Any replica serves any RPC:

* reads and watch streams come from the store; the writer of every replica sends each committed
  action change to the others with PostgreSQL ``NOTIFY`` in the committing transaction (so a
  change is announced exactly when it is committed, in commit order), and each replica's listener
  (a plain asyncpg connection, ``LISTEN``) publishes them to its own watch streams;
* an enqueue or abort for a run another replica drives is written to the store (the new child's
  row, the abort flag) with an entry in ``replica_inbox`` for the owner and a ``NOTIFY`` that
  wakes it; the owner takes its inbox on the notification and on every lease renewal anyway;
* a replica whose lease expired is dead: the next live replica to look (one at a time, under an
  advisory lock) adopts its runs and resumes them from the store exactly as after a restart —
  running attempts are re-attached through their executor handles, succeeded actions are never
  run again — and restarts the attempts that wait on children (their processes talk to the dead
  replica's address): they are retried, and find the children they had started.

A replica restarted with the same data directory resumes its own runs at once. SQLite is for one
server only: a second server opening the same SQLite file is refused at start.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import json
import logging
import os
import socket
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.task import run_pb2, task_definition_pb2
from flyteidl2.workflow import run_definition_pb2
from sqlalchemy import Table, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from flyte_server.engine.model import (
    ABORTED,
    QUEUED,
    TASK,
    WAITING,
    ActionKey,
    ActionState,
    RunState,
    is_terminal,
    now_us,
)
from flyte_server.engine.watch import ActionEvent
from flyte_server.engine.writer import Fenced
from flyte_server.store import replicas as replica_store
from flyte_server.store import runs as store
from flyte_server.store.maintenance import Maintenance
from flyte_server.store.models.runs import ActionRow

if TYPE_CHECKING:
    from flyte_server.engine import Engine

__all__ = ["CHANNEL", "ReplicaConflictError", "Replicas", "decode_events", "encode_events"]

logger = logging.getLogger(__name__)

CHANNEL = "flyte_replicas"
"""The PostgreSQL notification channel every replica listens on."""

_PAYLOAD_MAX = 7800
"""Bytes per notification (PostgreSQL's limit is 8000)."""
_DEFAULT_TTL = 15.0
_SCHEDULER_LEASE = 75.0
"""Seconds the trigger scheduler's lease lasts (its loop renews it at least every 30 s)."""


class ReplicaConflictError(RuntimeError):
    """Another server already uses this data directory, or this SQLite database."""


def _ttl_seconds() -> float:
    try:
        value = float(os.environ.get("FLYTE_SERVER_REPLICA_TTL", ""))
    except ValueError:
        return _DEFAULT_TTL
    return value if value > 0 else _DEFAULT_TTL


# ---------------------------------------------------------------------- notification payloads


def _event_item(event: ActionEvent) -> list[Any]:
    key = event.key
    error = base64.b64encode(event.error.SerializeToString()).decode() if event.error is not None else ""
    return [
        key.project,
        key.domain,
        key.run,
        key.name,
        event.parent,
        event.phase,
        event.attempt,
        event.action_type,
        event.output_uri,
        error,
        event.cache_status,
    ]


def encode_events(sender: str, events: Iterable[ActionEvent]) -> list[str]:
    """Notification payloads (each under PostgreSQL's limit) carrying ``events`` in order.

    An event too big for one payload (a long error message, inline outputs) travels as its key
    only (``"k"``): receivers read that action from the store.
    """
    payloads: list[str] = []
    items: list[str] = []
    size = 0

    def flush() -> None:
        nonlocal items, size
        if items:
            payloads.append('{"f":' + json.dumps(sender) + ',"e":[' + ",".join(items) + "]}")
            items, size = [], 0

    for event in events:
        item = json.dumps(_event_item(event), separators=(",", ":"))
        if len(item) > _PAYLOAD_MAX - 200:
            flush()
            payloads.append(json.dumps({"f": sender, "k": list(event.key)}, separators=(",", ":")))
            continue
        if size + len(item) + 1 > _PAYLOAD_MAX - 100:
            flush()
        items.append(item)
        size += len(item) + 1
    flush()
    return payloads


def decode_events(items: list[list[Any]]) -> list[ActionEvent]:
    """The events of an ``"e"`` payload."""
    events = []
    for project, domain, run, name, parent, phase, attempt, kind, output_uri, error, cache_status in items:
        info = run_definition_pb2.ErrorInfo.FromString(base64.b64decode(error)) if error else None
        events.append(
            ActionEvent(
                key=ActionKey(project, domain, run, name),
                parent=parent,
                phase=phase,
                attempt=attempt,
                action_type=kind,
                output_uri=output_uri,
                error=info,
                cache_status=cache_status,
            )
        )
    return events


def event_from_row(row: ActionRow) -> ActionEvent:
    """The event of an action as stored."""
    from flyte_server.engine.details import error_from_bytes

    return ActionEvent(
        key=ActionKey(row.project, row.domain, row.run_name, row.name),
        parent=row.parent_name,
        phase=row.phase,
        attempt=row.attempts,
        action_type=row.action_type,
        output_uri=row.output_uri,
        error=error_from_bytes(row.error_info) if row.phase != ABORTED else None,
        cache_status=row.cache_status,
    )


async def notify(connection: Any, payloads: list[str]) -> None:
    """Send ``payloads`` on :data:`CHANNEL` within the caller's transaction (delivered at commit)."""
    if payloads:
        await connection.execute(
            text("SELECT pg_notify(:channel, payload) FROM unnest(CAST(:payloads AS text[])) AS payload"),
            {"channel": CHANNEL, "payloads": payloads},
        )


def _lock(path: Path, what: str) -> int:
    """Hold an exclusive lock on ``path`` for as long as the returned descriptor is open."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = ""
        with contextlib.suppress(OSError):
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
        os.close(fd)
        raise ReplicaConflictError(what + (f" (server pid {holder})" if holder else "")) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


class Replicas:
    """This replica's membership, leases and cross-replica messages (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.database = engine.database
        self.postgres = not self.database.is_sqlite
        self.ttl = _ttl_seconds()
        self.id = ""
        self._locks: list[int] = []
        self._listener: Any = None
        self._task: asyncio.Task[None] | None = None
        self._poke = asyncio.Event()
        self._stopping = False
        self.maintenance = Maintenance(self.database.engine)
        """Planner statistics of the hot tables when PostgreSQL's autovacuum is off."""
        self.on_triggers_changed: Any = None
        """Called when another replica announces a trigger change (the server wakes its scheduler)."""
        self._lost = False
        """A write was fenced: this replica's runs were adopted; let go of them on the next tick."""

    @property
    def ttl_us(self) -> int:
        return int(self.ttl * 1e6)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> list[replica_store.RunKey]:
        """Lock, register and adopt orphaned runs; returns the runs adopted from other replicas."""
        data_dir = self.engine.config.data_dir
        self._locks.append(
            _lock(
                data_dir / "server.lock",
                f"another server is running with the data directory {data_dir}; every replica needs its own --data-dir",
            )
        )
        sqlite_path = _sqlite_file(self.database.url)
        if sqlite_path is not None:
            self._locks.append(
                _lock(
                    sqlite_path.with_name(sqlite_path.name + ".server-lock"),
                    f"another server is using the SQLite database {sqlite_path}; SQLite supports one server: "
                    "run replicas on PostgreSQL (--database-url postgresql+asyncpg://...)",
                )
            )
        id_file = data_dir / "replica-id"
        try:
            self.id = id_file.read_text().strip()
        except OSError:
            self.id = ""
        if not self.id:
            self.id = uuid.uuid4().hex[:16]
            id_file.write_text(self.id + "\n")
        stamp = now_us()
        async with self.database.session() as session:
            await replica_store.register(
                session,
                self.id,
                url=self.engine.base_url,
                host=socket.gethostname(),
                pid=os.getpid(),
                now_us=stamp,
                ttl_us=self.ttl_us,
            )
        async with self.database.session() as session:
            adopted = await replica_store.adopt_orphans(session, self.id, now_us=stamp)
        if self.postgres:
            await self._listen()
        if adopted:
            logger.warning("replica %s adopted %d runs of replicas that are gone", self.id, len(adopted))
        return adopted

    def begin(self, adopted: list[replica_store.RunKey]) -> None:
        """Start renewing, adopting and reading the inbox (after the engine resumed its runs)."""
        self.restart_waiting_parents(adopted)
        self._task = asyncio.create_task(self._loop(), name="replicas")

    async def stop(self, *, release: bool = True) -> None:
        """Stop; with ``release`` this replica's runs may be adopted at once by another replica."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._close_listener()
        if release and self.id:
            with contextlib.suppress(Exception):
                async with self.database.session() as session:
                    await replica_store.release(session, self.id)
        for fd in self._locks:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._locks.clear()

    # ------------------------------------------------------------------ the loop

    async def _loop(self) -> None:
        interval = max(0.2, self.ttl / 3)
        loop = asyncio.get_running_loop()
        last_full = loop.time()
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._poke.wait(), timeout=max(0.0, last_full + interval - loop.time()))
            self._poke.clear()
            full = loop.time() >= last_full + interval or self._lost
            if full:
                last_full = loop.time()
            try:
                await self._tick(full=full)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be away for a moment; try again on the next tick
                logger.exception("replica housekeeping failed")

    async def _tick(self, *, full: bool) -> None:
        engine = self.engine
        if full:
            stamp = now_us()
            async with self.database.session() as session:
                alive = await replica_store.renew(session, self.id, now_us=stamp, ttl_us=self.ttl_us)
            self._lost = False
            if not alive:
                # Another replica declared this one dead and adopted its runs: let go of them.
                logger.error("replica %s lost its lease; its runs were adopted by another replica", self.id)
                await self._drop_foreign_runs()
                engine.writer.new_epoch()  # what was queued for those runs never lands, even once registered again
                async with self.database.session() as session:
                    await replica_store.register(
                        session,
                        self.id,
                        url=engine.base_url,
                        host=socket.gethostname(),
                        pid=os.getpid(),
                        now_us=stamp,
                        ttl_us=self.ttl_us,
                    )
            async with self.database.session() as session:
                adopted = await replica_store.adopt_orphans(session, self.id, now_us=stamp)
            if adopted:
                logger.warning("replica %s adopts %d runs of replicas that are gone", self.id, len(adopted))
                from flyte_server.engine.recovery import recover

                await recover(engine, runs=adopted)
                self.restart_waiting_parents(adopted)
            async with self.database.session() as session:
                await replica_store.forget_finished_runs(session, self.id)
            await self.maintenance.tick()
            if self.postgres and (self._listener is None or self._listener.is_closed()):
                await self._listen()
                engine.hub.resync_all()
        while True:
            async with self.database.session() as session:
                keys = await replica_store.take_inbox(session, self.id)
            for key in keys:
                await self._reconcile(ActionKey(*key))
            if len(keys) < 1000:
                break

    # ------------------------------------------------------------------ fencing

    async def fence(self, target: Any) -> None:
        """First in every write transaction on PostgreSQL: hold this replica's row, or refuse the write.

        A replica that adopts this one's runs deletes its row, and the row lock (shared here) orders
        the two: a write either commits before the adoption (whose recovery then reads it) or finds
        the row gone and is refused — a replica that was too slow to renew cannot write over the
        adopter's state once it wakes, even before its own next renewal notices.

        Raises:
            Fenced: the row is gone.
        """
        found = await target.execute(text("SELECT 1 FROM replicas WHERE id = :id FOR SHARE"), {"id": self.id})
        if found.first() is None:
            raise Fenced(f"replica {self.id} lost its lease: another replica drives its runs now")

    def fenced(self) -> None:
        """A write was refused by :meth:`fence`: renew (and let go of the adopted runs) at once."""
        if not self._lost:
            logger.error("replica %s: a write was refused, its runs were adopted by another replica", self.id)
        self._lost = True
        self._poke.set()

    async def scheduler_lease(self) -> bool:
        """Take or renew the trigger scheduler's lease: whether this replica fires triggers now."""
        async with self.database.session() as session:
            return await replica_store.acquire_lease(
                session, "trigger-scheduler", self.id, now_us=now_us(), ttl_us=int(_SCHEDULER_LEASE * 1e6)
            )

    # ------------------------------------------------------------------ listening

    async def _listen(self) -> None:
        import asyncpg

        await self._close_listener()
        url = make_url(self.database.url).set(drivername="postgresql")
        try:
            connection = await asyncpg.connect(url.render_as_string(hide_password=False))
            await connection.add_listener(CHANNEL, self._on_notification)
        except (OSError, asyncpg.PostgresError) as error:
            logger.error("cannot listen for other replicas' changes (retrying): %s", error)
            return
        self._listener = connection

    async def _close_listener(self) -> None:
        connection, self._listener = self._listener, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 5)

    def _on_notification(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            return
        if not isinstance(message, dict) or message.get("f") == self.id:
            return
        hub = self.engine.hub
        if "e" in message:
            for event in decode_events(message["e"]):
                hub.publish(event)
        if "k" in message:
            self.engine.machine.spawn(self._publish_stored(ActionKey(*message["k"])), name="replica-event")
        if message.get("i") == self.id:
            self._poke.set()
        if message.get("t") and self.on_triggers_changed is not None:
            self.on_triggers_changed()

    async def _publish_stored(self, key: ActionKey) -> None:
        async with self.database.session() as session:
            row = await store.get_action(session, key)
        if row is not None:
            self.engine.hub.publish(event_from_row(row))

    def payloads(self, events: Iterable[ActionEvent]) -> list[str]:
        """What the writer sends with a commit (nothing on SQLite)."""
        return encode_events(self.id, events) if self.postgres else []

    async def announce_triggers_changed(self) -> None:
        """Wake the trigger schedulers of the other replicas."""
        if not self.postgres:
            return
        async with self.database.session() as session:
            await notify(session, [json.dumps({"f": self.id, "t": 1})])

    # ------------------------------------------------------------------ work for other owners

    async def owner_elsewhere(self, run_key: tuple[str, str, str]) -> str | None:
        """The live-or-not replica that owns the run when it is not this one (``None``: this one or nobody)."""
        async with self.database.session() as session:
            owner = await replica_store.owner_of(session, run_key)
        if owner is None or owner == self.id:
            return None
        return owner

    async def foreign_runs(self) -> set[tuple[str, str, str]]:
        """Runs that other replicas drive."""
        async with self.database.session() as session:
            return await replica_store.runs_owned_by_others(session, self.id)

    async def claim(self, session: AsyncSession, run_key: tuple[str, str, str]) -> None:
        """Inside the write that creates a run: this replica drives it."""
        await replica_store.claim_run(session, run_key, self.id, now_us=now_us())

    async def elsewhere(self, key: ActionKey, parent_name: str) -> tuple[str, RunState, ActionState, bool] | None:
        """For an enqueue into a run this replica does not drive: ``(owner, run, parent, exists)``.

        ``None`` when no other replica owns the run. The run and parent are read from the store.

        Raises:
            ConnectError: the run or the parent is missing or over.
        """
        owner = await self.owner_elsewhere(key.run_key)
        if owner is None:
            return None
        async with self.database.session() as session:
            root = await store.get_action(session, ActionKey(*key.run_key, store.ROOT_ACTION))
            parent_row = await store.get_action(session, ActionKey(*key.run_key, parent_name))
            existing = await store.get_action(session, key)
        if root is None:
            raise ConnectError(Code.NOT_FOUND, f"run {key.run!r} does not exist in {key.project}/{key.domain}")
        run_spec = run_pb2.RunSpec.FromString(root.run_spec) if root.run_spec else run_pb2.RunSpec()
        run = RunState(
            project=key.project,
            domain=key.domain,
            name=key.run,
            run_spec=run_spec,
            start_us=root.run_start_us or root.created_us,
        )
        if existing is not None:
            return owner, run, state_from_row(existing, run, None), True
        if root.abort_requested and is_terminal(root.phase):
            raise ConnectError(Code.ABORTED, f"run {key.run!r} was aborted")
        if is_terminal(root.phase):
            raise ConnectError(Code.FAILED_PRECONDITION, f"run {key.run!r} has already finished")
        if parent_row is None or is_terminal(parent_row.phase):
            raise ConnectError(
                Code.FAILED_PRECONDITION if parent_row is not None else Code.NOT_FOUND,
                f"parent action {parent_name!r} of run {key.run!r} is not running",
            )
        return owner, run, state_from_row(parent_row, run, None), False

    async def hand_over(self, session: AsyncSession, owner: str, key: ActionKey) -> None:
        """Inside a write: tell ``owner`` that action ``key`` changed in the store (and wake it)."""
        await replica_store.post_inbox(session, owner, tuple(key), now_us=now_us())  # type: ignore[arg-type]
        if self.postgres:
            await notify(session, [json.dumps({"f": self.id, "i": owner})])

    async def request_abort(self, key: ActionKey, owner: str, reason: str) -> None:
        """Record an abort of an action another replica drives; that replica carries it out."""
        async with self.database.session() as session:
            table = cast(Table, ActionRow.__table__)
            await session.execute(
                update(table)
                .where(
                    table.c.project == key.project,
                    table.c.domain == key.domain,
                    table.c.run_name == key.run,
                    table.c.name == key.name,
                    table.c.phase.not_in(store.TERMINAL_PHASES),
                )
                .values(abort_requested=True, abort_reason=reason)
            )
            await self.hand_over(session, owner, key)

    async def _reconcile(self, key: ActionKey) -> None:
        """Pick up what another replica recorded for an action of a run this replica drives."""
        engine = self.engine
        machine = engine.machine
        async with self.database.session() as session:
            row = await store.get_action(session, key)
            spec_bytes = await store.get_task_spec(session, row.spec_digest) if row is not None else None
        if row is None or is_terminal(row.phase):
            return
        a = machine.actions.get(key)
        if a is not None:
            if row.abort_requested:
                await machine.abort(a, row.abort_reason or "aborted")
            return
        run = machine.runs.get(key.run_key)
        if run is None:
            # The run is not active here (it ended meanwhile): the late action ends with it.
            if await self.owner_elsewhere(key.run_key) is None:
                stamp = now_us()
                async with self.database.session() as session:
                    await store.update_action(
                        session,
                        key,
                        {
                            "phase": ABORTED,
                            "abort_requested": True,
                            "abort_reason": "the run has ended",
                            "updated_us": stamp,
                            "ended_us": stamp,
                        },
                    )
            return
        run.known.add(key.name)
        if row.action_type != TASK:
            return
        a = state_from_row(row, run, task_definition_pb2.TaskSpec.FromString(spec_bytes) if spec_bytes else None)
        machine.register(a)
        parent_gone = bool(a.parent) and ActionKey(*run.key, a.parent) not in machine.actions
        if row.abort_requested or parent_gone or a.spec is None:
            reason = row.abort_reason or (
                f"parent action {a.parent} ended" if parent_gone else "the task spec of this action is missing"
            )
            await machine.abort(a, reason)
            return
        if a.phase in (QUEUED, WAITING):
            engine.scheduler.submit(a)

    # ------------------------------------------------------------------ takeover

    def restart_waiting_parents(self, adopted: Iterable[replica_store.RunKey]) -> None:
        """Stop the re-attached attempts of adopted runs that wait on children.

        Their processes talk to the replica that launched them, which is gone: each fails as a
        system error and is retried here, and the retry finds the children it had started.
        """
        runs = set(adopted)
        if not runs:
            return
        machine = self.engine.machine
        for a in list(machine.actions.values()):
            if a.run.key not in runs or not a.children:
                continue
            handle = a.reattach or a.process
            if handle is None or handle.done():
                continue
            logger.info("restarting %s: its attempt waits on children through a replica that is gone", a.key)
            abandon = getattr(handle, "abandon", None)
            if abandon is not None and self._shared(a, handle):
                # A reused worker runs this parent and other current attempts (its children, often):
                # stopping it would stop them too. End this attempt only (it is retried as a system
                # error); the worker is stopped once the others are done.
                abandon()
                machine.spawn(self._stop_when_alone(handle), name=f"retire-{a.key}")
            else:
                machine.spawn(handle.terminate(machine.policy.kill_grace), name=f"restart-{a.key}")

    def _shared(self, a: ActionState | None, handle: Any) -> bool:
        """Whether another current action's attempt runs in ``handle``'s process group."""
        group = getattr(handle, "group", None)
        if group is None:
            return False
        for other in self.engine.machine.actions.values():
            theirs = other.reattach or other.process
            if other is not a and theirs is not None and not theirs.done() and getattr(theirs, "group", None) == group:
                return True
        return False

    async def _stop_when_alone(self, handle: Any) -> None:
        """Stop an abandoned parent's reused worker once no other current attempt runs in it."""
        machine = self.engine.machine
        while True:
            await asyncio.sleep(1.0)
            if not self._shared(None, handle):
                break
        found = await self.engine.executor.reattach(handle.id)  # None if it has exited (or the pid was reused)
        if found is not None and not found.done():
            logger.info("stopping the reused worker %s: the attempts of it that were current are done", handle.id)
            await found.terminate(machine.policy.kill_grace)

    async def _drop_foreign_runs(self) -> None:
        """Forget in-memory runs that another replica now owns (without stopping their attempts)."""
        engine = self.engine
        machine = engine.machine
        async with self.database.session() as session:
            owners = {key: await replica_store.owner_of(session, key) for key in list(machine.runs)}
        dropped = [key for key, owner in owners.items() if owner is not None and owner != self.id]
        for run_key in dropped:
            actions = [a for a in machine.actions.values() if a.run.key == run_key]
            for a in actions:
                a.cancel_timers()
                engine.scheduler.discard(a)
                a.process = None
                a.reattach = None
                if a.runner is not None:
                    a.runner.cancel()
                machine.actions.pop(a.key, None)
            machine.runs.pop(run_key, None)
            let_go = getattr(engine.executor, "let_go_of_run", None)
            if let_go is not None:
                let_go(run_key)  # its reused workers leave what they finished where the adopter looks
        if dropped:
            logger.error("replica %s let go of %d runs another replica adopted", self.id, len(dropped))


def state_from_row(row: ActionRow, run: Any, spec: task_definition_pb2.TaskSpec | None) -> ActionState:
    """The engine's state of a stored, non-terminal task action."""
    return ActionState(
        key=ActionKey(row.project, row.domain, row.run_name, row.name),
        run=run,
        parent=row.parent_name,
        group=row.group_name,
        kind=row.action_type,
        phase=row.phase,
        attempt=max(1, row.attempts),
        spec=spec,
        spec_digest=row.spec_digest,
        input_uri=row.input_uri,
        run_output_base=row.run_output_base,
        env=json.loads(row.env or "{}"),
        created_us=row.created_us,
        queued_us=row.queued_us or row.created_us,
        cache_key=row.cache_key,
        cache_status=row.cache_status,
        user_failures=row.user_failures,
        system_failures=row.system_failures,
        not_before_us=row.not_before_us,
    )


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).resolve()

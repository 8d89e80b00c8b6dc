"""Scheduling and running attempts: the ready queue, worker slots, and one runner per attempt.

An action is ready when it is QUEUED (or WAITING) and its backoff delay has passed. The pump starts
ready actions while the server-wide slots (``--workers``) and the run's ``max_action_concurrency``
allow, and marks the rest WAITING_FOR_RESOURCES. A runner does the cache check, launches the
worker, waits for it, classifies the outcome and hands it to the state machine.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

from flyte._internal.parking import PARKED_FILE
from flyte_server.engine.cache import CacheManager
from flyte_server.engine.data import DataAccess, inline_uri
from flyte_server.engine.launch import Launcher, PrepareError
from flyte_server.engine.machine import ActionMachine
from flyte_server.engine.model import (
    CACHE_HIT,
    CACHE_MISS,
    CACHE_POPULATED,
    CACHE_PUT_FAILURE,
    QUEUED,
    ActionKey,
    ActionState,
    error_info,
    now_us,
)
from flyte_server.engine.outcome import Outcome, classify
from flyte_server.executors import AttemptHandle, Executor, LaunchError
from flyte_server.handlers import HandlerError, TaskHandlers, TaskSpecError

__all__ = ["Scheduler"]

logger = logging.getLogger(__name__)

_REATTACHED_POLL_SECONDS = 0.5
"""How often the outcome files of an attempt re-attached after a restart are looked for."""


class Scheduler:
    """Starts ready actions within the slot limits and drives each attempt to its outcome."""

    def __init__(
        self,
        *,
        machine: ActionMachine,
        executor: Executor,
        launcher: Launcher,
        cache: CacheManager,
        data: DataAccess,
        handlers: TaskHandlers | None = None,
    ) -> None:
        self.machine = machine
        self.handlers = handlers or TaskHandlers()
        """Prepare attempts by task type (a cluster for a Ray task); see :mod:`flyte_server.handlers`."""
        self.executor = executor
        self.launcher = launcher
        self.cache = cache
        self.data = data
        self._ready: OrderedDict[ActionKey, ActionState] = OrderedDict()
        self._arrived: list[ActionState] = []
        """Ready since the last pump: those still waiting after it are marked WAITING_FOR_RESOURCES."""
        self._delayed: dict[ActionKey, asyncio.TimerHandle] = {}
        self._pump_scheduled = False
        self._stopping = False

    # ------------------------------------------------------------------ queue

    def submit(self, a: ActionState) -> None:
        """``a`` is QUEUED: run it as soon as its backoff has passed and a slot is free."""
        if self._stopping:
            return
        delay = (a.not_before_us - now_us()) / 1e6
        if delay > 0.001:
            old = self._delayed.pop(a.key, None)
            if old is not None:
                old.cancel()
            self._delayed[a.key] = asyncio.get_running_loop().call_later(delay, self._due, a)
            return
        self._ready[a.key] = a
        self._arrived.append(a)
        self.wake()

    def _due(self, a: ActionState) -> None:
        self._delayed.pop(a.key, None)
        if self.machine.is_current(a):
            self._ready[a.key] = a
            self._arrived.append(a)
            self.wake()

    def discard(self, a: ActionState) -> None:
        """``a`` ended: drop it from the queue and from cache waits."""
        self._ready.pop(a.key, None)
        timer = self._delayed.pop(a.key, None)
        if timer is not None:
            timer.cancel()
        self.cache.forget(a)

    def wake(self) -> None:
        """Run the pump soon (once, however many times it is woken before)."""
        if not self._pump_scheduled and not self._stopping:
            self._pump_scheduled = True
            asyncio.get_running_loop().call_soon(self._pump)

    def _pump(self) -> None:
        self._pump_scheduled = False
        machine = self.machine
        if machine.slots_used < machine.workers:
            for key in list(self._ready):
                if machine.slots_used >= machine.workers:
                    break
                a = self._ready[key]
                if not machine.is_current(a):
                    del self._ready[key]
                    continue
                if not machine.has_slot(a.run):
                    continue
                del self._ready[key]
                machine.take_slot(a)
                a.runner = asyncio.create_task(self._run(a), name=f"attempt-{a.key}-{a.attempt}")
        arrived, self._arrived = self._arrived, []
        waiting = [a for a in arrived if a.key in self._ready and a.phase == QUEUED and not a.waiting_marked]
        if waiting:
            for a in waiting:
                a.waiting_marked = True
            machine.spawn(machine.mark_waiting(waiting), name="mark-waiting")

    async def stop(self) -> None:
        """Stop starting attempts; cancel the runners (their workers are left to the caller)."""
        self._stopping = True
        for timer in self._delayed.values():
            timer.cancel()
        self._delayed.clear()
        runners = [a.runner for a in self.machine.actions.values() if a.runner is not None]
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)

    # ------------------------------------------------------------------ attempts

    async def _run(self, a: ActionState) -> None:
        attempt = (a.key, a.attempt)
        try:
            await self._attempt(a)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # an engine or store failure must not leave the action hanging
            logger.exception("the attempt of %s failed inside the engine", a.key)
            if self.machine.is_current(a):
                await self.machine.fail(a, error_info("EngineError", f"{type(error).__name__}: {error}", system=True))
        finally:
            await self.handlers.release(attempt)  # e.g. tear down the attempt's cluster, however it ended
            a.runner = None
            self.machine.release_slot(a)
            self.wake()

    async def _attempt(self, a: ActionState) -> None:
        machine = self.machine
        process: AttemptHandle | None = a.reattach
        a.reattach = None
        if process is None:
            if a.cacheable:
                if await self._cached(a):
                    return
                if not machine.is_current(a):
                    return
            try:
                spec = await self.launcher.prepare(a)
                spec = await self.handlers.prepare((a.key, a.attempt), a.template, spec)
            except (PrepareError, TaskSpecError) as error:
                code = error.code if isinstance(error, PrepareError) else "BadTaskSpec"
                await machine.fail(a, error_info(code, str(error), system=False))
                await self.cache.release(a)
                return
            except HandlerError as error:
                failure = error_info("ClusterFailed", str(error), system=True)
                await self._handle(a, Outcome(succeeded=False, error=failure, retry="system"))
                return
            if not machine.is_current(a):
                return
            try:
                process = await self.executor.launch(spec)
            except LaunchError as error:
                failure = error_info("LaunchFailed", str(error), system=True)
                await self._handle(a, Outcome(succeeded=False, error=failure, retry="system"))
                return
            a.process = process
            recorded = machine.mark_running(
                a,
                handle=process.id,
                log_path=str(spec.log_path),
                work_dir=str(spec.cwd),
            )
            if getattr(process, "waits_to_begin", False):
                # Replicas share the store: the attempt may start only once it is RUNNING there, or a
                # replica adopting this run after a crash would find it QUEUED and run it again.
                await recorded
                process.begin()  # type: ignore[attr-defined]
            exit_code = await self.handlers.wait((a.key, a.attempt), process, machine.policy.kill_grace)
        else:
            a.process = process
            machine.arm_runtime_timeout(a)
            exit_code = await self._wait_reattached(a, process)
            if not process.done():
                # Its files say the attempt is over; the process is a reused worker that runs others
                # too (or exits by itself): ending the action must not stop it.
                a.process = None
        if not machine.is_current(a):
            return
        inline = getattr(process, "outputs", None)
        if inline is not None:  # a reused worker sent the outputs with the result: no files to read
            if machine.is_current(a):
                await self._handle(a, Outcome(succeeded=True, output_uri=inline_uri(inline), outputs=inline))
            getattr(process, "acknowledge", _no_op)()  # committed (or moot): the worker may forget them
            return
        outcome = await classify(self.data, a, exit_code=exit_code, log_path=self.launcher.log_path(a))
        crash = self.handlers.crash((a.key, a.attempt))
        if crash is not None:  # the attempt was stopped because its cluster died under it
            outcome = Outcome(succeeded=False, error=error_info("ClusterFailed", crash, system=True), retry="system")
        if not machine.is_current(a):
            return
        if getattr(process, "uses_work_dir", True):
            self._clean_work_dir(a)
        if outcome.parked is not None:  # nothing of this run may need its reused worker for a while
            getattr(process, "retire_worker_if_idle", _no_op)()
        await self._handle(a, outcome)

    async def _wait_reattached(self, a: ActionState, process: AttemptHandle) -> int | None:
        """Wait for a worker found after a restart: its exit, or the attempt's outcome files.

        A reused worker runs several attempts and exits only after the last one, which may be a
        parent waiting for a child it runs too: so an attempt is also done once its files are there.
        """
        output_dir = a.output_dir()
        waiter = asyncio.ensure_future(process.wait())
        try:
            while True:
                done, _ = await asyncio.wait({waiter}, timeout=_REATTACHED_POLL_SECONDS)
                if done:
                    return waiter.result()
                error, outputs, _ = await self.data.attempt_files(output_dir)
                if error is not None or outputs is not None:
                    return None
        finally:
            waiter.cancel()

    async def _cached(self, a: ActionState) -> bool:
        """Serve ``a`` from the cache, or reserve its key; whether ``a`` is done (or parked) for now."""
        machine = self.machine
        entry = await self.cache.lookup(a)
        if entry is not None:
            output_dir = a.output_dir()
            await self.data.write(f"{output_dir}/outputs.pb", entry.outputs)
            if machine.is_current(a):
                a.cache_status = CACHE_HIT
                await machine.record_cached_attempt(a, output_uri=output_dir)
                await machine.succeed(a, output_uri=output_dir, cache_status=CACHE_HIT)
            return True
        a.cache_status = CACHE_MISS
        if self.cache.serializable(a) and not await self.cache.reserve(a):
            if machine.is_current(a):
                # Another action computes the same outputs: wait for its entry without a slot.
                machine.release_slot(a)
                self.cache.wait(a)
                await machine.mark_waiting([a])
            return True
        return False

    async def _handle(self, a: ActionState, outcome: Outcome) -> None:
        machine = self.machine
        if outcome.parked is not None:
            await machine.park(a, conditions=outcome.parked.conditions, wake_us=outcome.parked.wake_us)
            return
        if outcome.succeeded:
            if a.cacheable and outcome.outputs is not None:
                stored = await self.cache.put(a, outputs=outcome.outputs, output_uri=outcome.output_uri)
                a.cache_status = CACHE_POPULATED if stored else CACHE_PUT_FAILURE
            await machine.succeed(a, output_uri=outcome.output_uri, report_uri=outcome.report_uri)
            await self.cache.release(a)
            return
        assert outcome.error is not None
        if outcome.retry == "user" and a.user_failures < a.retries:
            await machine.retry(a, outcome.error, system=False)
            return
        if outcome.retry == "system" and a.system_failures < machine.policy.system_retries:
            await machine.retry(a, outcome.error, system=True)
            return
        if outcome.retry is not None and (a.user_failures or a.system_failures):
            outcome.error.message += f" (after {a.attempt} attempts)"
        await machine.fail(a, outcome.error)
        await self.cache.release(a)

    async def discard_parked(self, a: ActionState) -> None:
        """Remove a parked attempt's ``parked.json`` before it is relaunched (its outcome is decided anew)."""
        try:
            await self.data.delete(f"{a.output_dir()}/{PARKED_FILE}")
        except OSError as error:  # left behind, it would park the next run of the attempt again
            logger.warning("cannot remove the parked.json of %s: %s", a.key, error)

    def _clean_work_dir(self, a: ActionState) -> None:
        import shutil

        path = self.launcher.work_dir(a)
        asyncio.get_running_loop().run_in_executor(None, lambda: shutil.rmtree(path, ignore_errors=True))

    def resume(self, a: ActionState, process: AttemptHandle) -> None:
        """Follow an attempt that outlived the previous server (or is found ended: ``FinishedAttempt``)."""
        a.reattach = process
        self.machine.take_slot(a)
        a.runner = asyncio.create_task(self._run(a), name=f"attempt-{a.key}-{a.attempt}")


def _no_op() -> None:
    return None

"""Running one attempt of one action: load the task, read inputs, run, write outputs or an error.

The outcome is always a file in the attempt's output directory — ``outputs.pb`` on success,
``error.pb`` (a ``core.ErrorDocument``) on failure — and the process exits 0 either way; the
backend decides the attempt's phase from those files (PROTOCOL.md §3.c).
"""

from __future__ import annotations

import asyncio
import contextvars
import errno
import functools
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte._internal import parking
from flyte._internal.runtime import storage

if TYPE_CHECKING:
    from flyte._internal.controllers import Controller
    from flyte._internal.controllers.remote import ActionService
    from flyte._internal.serde import CodeBundle, ImageCache, SerializationContext
    from flyte._task import AsyncFunctionTaskTemplate, TaskTemplate
    from flyte.models import TaskContext
    from flyte.report import Report

__all__ = ["ActionOptions", "InlineOutputs", "inline_outputs", "run_action"]

logger = logging.getLogger("flyte")


@dataclass(frozen=True, kw_only=True)
class ActionOptions:
    """Everything ``a0`` was told about the attempt it runs (arguments plus environment)."""

    inputs: str
    """The ``inputs.pb`` to read."""
    outputs_path: str
    """The attempt's output directory (``outputs.pb``, ``error.pb``, ``report.html``)."""
    version: str
    """The code version."""
    run_name: str
    """The run's name."""
    action_name: str
    """This action's name (``a0`` for the root)."""
    raw_data_path: str = ""
    """Where offloaded data goes (default: the output directory)."""
    checkpoint_path: str | None = None
    """Where this attempt may write checkpoints."""
    prev_checkpoint: str | None = None
    """The previous attempt's checkpoints, if any."""
    run_start_time: datetime | None = None
    """When the run started."""
    project: str = ""
    """The run's project."""
    domain: str = ""
    """The run's domain."""
    org: str = ""
    """The organisation (``_U_ORG_NAME``)."""
    run_base_dir: str | None = None
    """The run's output base (``_U_RUN_BASE``), where children's inputs go."""
    image_cache: str | None = None
    """The ``--image-cache`` argument, passed on to children."""
    tgz: str | None = None
    """A code bundle to extract before loading the task."""
    pkl: str | None = None
    """A pickled task to load instead of using a resolver."""
    dest: str = "."
    """Where the bundle is extracted (relative to the working directory)."""
    extracted_at: str | None = None
    """Where the bundle already is, extracted (a reused worker extracts it once for all its attempts);
    ``dest`` still names the destination the children are given."""
    resolver: str | None = None
    """The resolver's import path."""
    resolver_args: list[str] = field(default_factory=list)
    """The resolver's arguments (``mod <module> instance <task>``)."""
    attempt_number: int = 0
    """0 on the first attempt (``FLYTE_ATTEMPT_NUMBER``)."""
    sys_path: str | None = None
    """``_F_SYS_PATH`` entries, relative to ``dest``."""
    use_actions: bool = False
    """Submit nested actions through ActionsService (``_U_USE_ACTIONS=1``)."""


class _NoControlPlane:
    """Stands in for the backend when no endpoint was given; fails only if a nested call is made."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def _error(self) -> Exception:
        from flyte.errors import RuntimeSystemError

        return RuntimeSystemError("MissingEndpoint", self.reason)

    async def enqueue(self, **fields: Any) -> None:
        raise self._error()

    async def watch(self, parent_action_id: Any) -> Any:
        raise self._error()
        yield  # pragma: no cover - makes this an async generator

    async def abort(self, action_id: Any, reason: str) -> None:
        raise self._error()


def default_service(options: ActionOptions) -> tuple[ActionService, Any]:
    """The backend path from the task's environment, and the client set to close afterwards."""
    from flyte._internal.controllers.remote import service_for
    from flyte.errors import RuntimeSystemError
    from flyte.remote._client import ClientSet

    try:
        clients = ClientSet.from_env()
    except RuntimeSystemError as error:
        return _NoControlPlane(str(error)), None
    return service_for(clients, use_actions=options.use_actions), clients


_loaded_tasks: dict[tuple[object, ...], AsyncFunctionTaskTemplate[Any, Any]] = {}
"""Tasks this process already loaded, by where they came from: a reused worker loads each task once."""


async def _load_task(options: ActionOptions) -> AsyncFunctionTaskTemplate[Any, Any]:
    source = (options.tgz, options.pkl, options.extracted_at or options.dest, options.sys_path)
    key = (*source, options.resolver, tuple(options.resolver_args))
    task = _loaded_tasks.get(key)
    if task is None:
        task = await _load_task_uncached(options)
        _loaded_tasks[key] = task
    return task


async def _load_task_uncached(options: ActionOptions) -> AsyncFunctionTaskTemplate[Any, Any]:
    from flyte._internal.resolvers import load_resolver
    from flyte._internal.runtime.bundle import add_sys_path, download_pickled_task, download_tgz
    from flyte._task import AsyncFunctionTaskTemplate
    from flyte.errors import ModuleLoadError

    destination = Path(options.extracted_at or options.dest)
    if options.tgz and not options.extracted_at:
        await download_tgz(options.tgz, destination)
    add_sys_path(destination, options.sys_path)
    if options.pkl:
        task = await download_pickled_task(options.pkl)
    elif not options.resolver:
        raise ModuleLoadError("a0 needs --resolver <import path> <args...> (or --pkl) to find the task")
    else:
        resolver = load_resolver(options.resolver)
        task = await asyncio.to_thread(resolver.load_task, list(options.resolver_args))
    if not isinstance(task, AsyncFunctionTaskTemplate):
        raise ModuleLoadError(f"{task.name} is a {type(task).__name__}, which this runtime cannot execute")
    return task


class InlineOutputs:
    """Where a reused worker takes a successful attempt's small outputs instead of ``outputs.pb``.

    The worker hands them to the server with the attempt's result (see ``worker.py``), which
    saves creating a directory and a file per attempt; it writes the file itself when the server
    cannot take them.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data: bytes | None = None


inline_outputs: contextvars.ContextVar[InlineOutputs | None] = contextvars.ContextVar(
    "flyte_inline_outputs", default=None
)


async def _write_outputs(options: ActionOptions, task: TaskTemplate[Any, Any], result: Any) -> None:
    from flyte._internal.serde import outputs_to_proto
    from flyte.types._interface import convert_outputs_to_literals

    literals = await convert_outputs_to_literals(task.interface, result, task_name=task.name)
    from flyte.storage._offload import offload_literals

    literals = await offload_literals(literals, task.max_inline_io_bytes)
    data = outputs_to_proto(literals).SerializeToString()
    sink = inline_outputs.get()
    if sink is not None and len(data) <= sink.limit and not task.report:
        sink.data = data
        return
    await storage.write_bytes(storage.join(options.outputs_path, "outputs.pb"), data)


async def write_error(options: ActionOptions, error: BaseException) -> None:
    """Write ``error.pb`` for ``error`` into the attempt's output directory."""
    from flyte._internal.serde import error_document_from_exception

    document = error_document_from_exception(error)
    await storage.write_bytes(storage.join(options.outputs_path, "error.pb"), document.SerializeToString())


@functools.lru_cache(maxsize=16)
def _image_cache(transport: str) -> ImageCache:
    """The decoded ``--image-cache`` (the same for every attempt of a run: decoded once per worker)."""
    from flyte._internal.serde import ImageCache

    return ImageCache.from_transport(transport)


def _serialization(options: ActionOptions) -> SerializationContext:
    """How the children of this action are serialised: same version, bundle, images and project."""
    from flyte._internal.serde import CodeBundle, SerializationContext

    bundle = None
    if options.tgz or options.pkl:
        bundle = CodeBundle(tgz=options.tgz, pkl=options.pkl, destination=options.dest)
    return SerializationContext(
        version=options.version,
        project=options.project,
        domain=options.domain,
        org=options.org,
        code_bundle=bundle,
        image_cache=_image_cache(options.image_cache) if options.image_cache else None,
    )


def _downloaded_bundle(options: ActionOptions) -> CodeBundle | None:
    """The attempt's code bundle, with where it was extracted (for ``flyte.ctx().code_bundle``)."""
    bundle = _serialization(options).code_bundle
    if bundle is None or bundle.tgz is None:
        return bundle
    return bundle.with_downloaded_path(Path(options.extracted_at or options.dest).resolve())


def _task_context(
    options: ActionOptions, task: AsyncFunctionTaskTemplate[Any, Any], report: Report, custom_context: dict[str, str]
) -> TaskContext:
    from flyte.models import ActionID, CheckpointPaths, RawDataPath, TaskContext

    action = ActionID(
        name=options.action_name,
        run_name=options.run_name,
        project=options.project or None,
        domain=options.domain or None,
        org=options.org or None,
    )
    return TaskContext(
        action=action,
        version=options.version,
        raw_data_path=RawDataPath(options.raw_data_path or options.outputs_path),
        output_path=options.outputs_path,
        run_base_dir=options.run_base_dir or "",
        report=report,
        mode="remote",
        attempt_number=options.attempt_number,
        custom_context=custom_context,
        data={"checkpoint_path": options.checkpoint_path, "prev_checkpoint": options.prev_checkpoint},
        run_start_time=options.run_start_time,
        task_name=task.name,
        input_path=options.inputs,
        checkpoint_paths=(
            CheckpointPaths(options.prev_checkpoint, options.checkpoint_path) if options.checkpoint_path else None
        ),
        code_bundle=_downloaded_bundle(options),
        compiled_image_cache=_image_cache(options.image_cache) if options.image_cache else None,
        interactive_mode=options.pkl is not None,
    )


async def _execute(
    options: ActionOptions, task: AsyncFunctionTaskTemplate[Any, Any], controller: Controller, report: Report
) -> None:
    """Read the inputs, call the task under an execution state, write its outputs."""
    import os

    from flyteidl2.task import common_pb2

    from flyte._context import CallCounter, ExecutionState, reset_state, set_state
    from flyte._internal.serde import inputs_from_proto
    from flyte.types._interface import convert_literals_to_inputs

    inputs = common_pb2.Inputs.FromString(await storage.read_bytes(options.inputs))
    literals, custom_context = inputs_from_proto(inputs)
    kwargs = await convert_literals_to_inputs(task.interface, literals, task_name=task.name)
    if task.env_vars:
        os.environ.update(task.env_vars)
    state = ExecutionState(
        task_context=_task_context(options, task, report, custom_context),
        controller=controller,
        loop=asyncio.get_running_loop(),
        calls=CallCounter(),
    )
    token = set_state(state)
    try:
        try:
            result = await task.execute(**kwargs)
        finally:
            # Child calls still in flight are cancelled with the process (or left behind by a reused
            # worker): the children go on, and a retry of this action finds them by name.
            state.attempt.over = True
        # Still under the task context: values offloaded while encoding the outputs (data frames,
        # files) go under the attempt's raw-data path in the store, not into a scratch directory.
        try:
            await _write_outputs(options, task, result)
        except OSError as error:  # the platform's storage failed, not the task: a system error (retried)
            from flyte.errors import RuntimeSystemError

            code = "StorageFull" if error.errno == errno.ENOSPC else "OutputsWriteFailed"
            raise RuntimeSystemError(
                code, f"The outputs could not be written to {options.outputs_path}: {error}"
            ) from error
    finally:
        reset_state(token)


async def run_action(options: ActionOptions, service: ActionService | None = None) -> bool:
    """Run the attempt described by ``options``; ``True`` when the task succeeded.

    Failures of the task (and of loading it or reading its inputs) are written to ``error.pb``
    and reported as ``False``; only a failure to write the result files raises.

    Args:
        options: the attempt (see :class:`ActionOptions`).
        service: the backend path for nested calls (default: from ``_U_EP_OVERRIDE``).
    """
    from flyte._internal.controllers.remote import RemoteController
    from flyte.report import Report

    clients = None
    if service is None:
        service, clients = default_service(options)
    controller: RemoteController | None = None
    task: AsyncFunctionTaskTemplate[Any, Any] | None = None
    report = Report(name=options.action_name)
    try:
        try:
            controller = RemoteController(
                service, serialization=_serialization(options), run_base_dir=options.run_base_dir
            )
            task = await _load_task(options)
            await _execute(options, task, controller, report)
        except parking.Parked as parked:
            logger.info("Action %s parks: %s", options.action_name, parked)
            await storage.write_bytes(
                storage.join(options.outputs_path, parking.PARKED_FILE), parking.parked_document(parked)
            )
            return False
        except Exception as error:
            _log_failure(options.action_name, error)
            await write_error(options, error)
            return False
        finally:
            if task is not None and task.report:
                await storage.write_bytes(
                    storage.join(options.outputs_path, "report.html"), report.get_final_report().encode()
                )
        return True
    finally:
        if controller is not None:
            await controller.close()
        if clients is not None:
            await clients.close()


def _log_failure(action_name: str, error: BaseException) -> None:
    """Log a task failure with its traceback trimmed to the user's code (the whole one at debug level)."""
    from flyte._internal.tracebacks import user_traceback

    trimmed = None if logger.isEnabledFor(logging.DEBUG) else user_traceback(error)
    if trimmed is None:
        logger.error("Task %s failed: %s: %s", action_name, type(error).__name__, error, exc_info=True)
    else:
        logger.error("Task %s failed: %s: %s\n%s", action_name, type(error).__name__, error, trimmed)


def parse_run_start_time(value: str | None) -> datetime:
    """RFC 3339 run start time; unsubstituted templates and garbage become the epoch (as in Flyte 2)."""
    if value and not value.startswith("{{"):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(0, tz=timezone.utc)

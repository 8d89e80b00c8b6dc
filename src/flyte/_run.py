"""``flyte.run`` and ``flyte.with_runcontext``: start a run of a task, locally or on a control plane."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from flyte._internal.syncify import syncify, syncify_method
from flyte.errors import InitializationError
from flyte.models import ActionPhase

if TYPE_CHECKING:
    from flyte._internal.controllers.local import ActionRecord, LocalController
    from flyte._task import TaskTemplate

Mode = Literal["local", "remote", "hybrid"]

__all__ = ["ActionInputs", "ActionOutputs", "DryRun", "LocalRun", "Run", "rerun", "run", "with_runcontext"]

# Called with (controller, run name) when a local run starts: `flyte run --local --tui` watches the
# controller's action records through this. Append and remove your own callable.
LOCAL_RUN_OBSERVERS: list[Callable[[Any, str], None]] = []


class ActionOutputs(tuple[Any, ...]):
    """The outputs of an action: a tuple whose items are also readable as ``o0``, ``o1``, ...

    Example:
        >>> outputs = ActionOutputs((5, "5"))
        >>> outputs.o1, outputs[0], outputs.named_outputs
        ('5', 5, {'o0': 5, 'o1': '5'})
    """

    @property
    def named_outputs(self) -> dict[str, Any]:
        """The outputs by name."""
        return {f"o{index}": value for index, value in enumerate(self)}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("o") and name[1:].isdigit():
            index = int(name[1:])
            if index < len(self):
                return self[index]
        raise AttributeError(f"{type(self).__name__} has no output {name!r} (it has {len(self)})")

    def __repr__(self) -> str:
        inner = ", ".join(f"o{index}={value!r}" for index, value in enumerate(self))
        return f"ActionOutputs({inner})"

    def to_dict(self) -> dict[str, Any]:
        """The outputs by name (``o0``, ...) as JSON-friendly values.

        Example:
            >>> ActionOutputs((5, "5")).to_dict()
            {'o0': 5, 'o1': '5'}
        """
        return {name: _json_friendly(value) for name, value in self.named_outputs.items()}

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON document."""
        import json

        return json.dumps(self.to_dict(), default=str)


class ActionInputs(dict[str, Any]):
    """The inputs of an action by name (a ``dict``).

    Example:
        >>> ActionInputs(x=3)["x"]
        3
    """

    def __repr__(self) -> str:
        return f"ActionInputs({dict.__repr__(self)})"

    def to_dict(self) -> dict[str, Any]:
        """The inputs by name as JSON-friendly values (dataclasses and models as dicts).

        Example:
            >>> ActionInputs(x=3).to_dict()
            {'x': 3}
        """
        return {name: _json_friendly(value) for name, value in self.items()}

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON document."""
        import json

        return json.dumps(self.to_dict(), default=str)


def _json_friendly(value: Any) -> Any:
    import dataclasses
    import enum

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _json_friendly(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump") and callable(value.model_dump):
        return value.model_dump(mode="json")
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _json_friendly(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_friendly(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class Run:
    """A run started by :func:`flyte.run`: the same API in local and remote mode.

    A local run has finished when ``flyte.run`` returns (a failure was raised then); a remote
    run (a :class:`flyte.remote.Run`) is followed with ``wait()`` and friends. Every method has
    an async form: ``await run.wait.aio()``, ``await run.outputs.aio()``.

    Example:
        >>> run = flyte.run(main, n=3)  # doctest: +SKIP
        >>> run.wait(); run.outputs().o0  # doctest: +SKIP
    """

    name: str
    """The run's name (unique per project and domain)."""
    url: str
    """Where to look at the run: a console URL, or the run directory in local mode."""

    @property
    def phase(self) -> str:
        """The root action's phase, e.g. ``"SUCCEEDED"``."""
        raise NotImplementedError

    def done(self) -> bool:
        """Whether the run has finished."""
        raise NotImplementedError

    @syncify_method
    async def wait(self, quiet: bool = False, wait_for: str = "terminal") -> None:
        """Block until the run ends."""
        raise NotImplementedError

    @syncify_method
    async def outputs(self) -> ActionOutputs:
        """The outputs of the root task, as :class:`ActionOutputs`."""
        raise NotImplementedError

    @syncify_method
    async def raise_for_status(self) -> None:
        """Raise the run's error if it failed, timed out or was aborted."""
        raise NotImplementedError


@dataclass
class LocalRun(Run):
    """A run that executed in this process (see :class:`Run`)."""

    name: str
    url: str
    _outputs: ActionOutputs
    _phase: ActionPhase
    _records: dict[str, ActionRecord] = field(default_factory=dict, repr=False)

    @property
    def phase(self) -> str:
        """The root action's phase, e.g. ``"SUCCEEDED"``."""
        return self._phase.name

    @syncify_method
    async def wait(self, quiet: bool = False, wait_for: str = "terminal") -> None:
        """A local run has already ended: returns at once."""

    @syncify_method
    async def outputs(self) -> ActionOutputs:
        """The outputs of the root task, as :class:`ActionOutputs`."""
        return self._outputs

    @syncify_method
    async def raise_for_status(self) -> None:
        """A local run that failed raised from ``flyte.run``: nothing to raise here."""

    def actions(self) -> list[ActionRecord]:
        """Every action (tasks and traces) the run executed, in start order."""
        return list(self._records.values())

    def done(self) -> bool:
        """Whether the run has finished."""
        return self._phase.is_terminal


def _as_outputs(result: Any, output_count: int) -> ActionOutputs:
    if output_count > 1 and isinstance(result, tuple):
        return ActionOutputs(result)
    return ActionOutputs((result,))


def _new_run_name() -> str:
    import secrets

    # Lower-case letters and digits, starting with a letter: valid wherever Flyte names runs.
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "r" + "".join(secrets.choice(alphabet) for _ in range(19))


LogFormat = Literal["console", "json"]
CopyFiles = Literal["loaded_modules", "all", "none"]
CacheLookupScope = Literal["global", "project-domain"]

_COPY_STYLES = ("loaded_modules", "all", "none")
_LOG_FORMATS = ("console", "json")
_CACHE_LOOKUP_SCOPES = ("global", "project-domain")


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """The options of :func:`with_runcontext` (see there for each one's meaning)."""

    mode: Mode | None = None
    name: str | None = None
    service_account: str | None = None
    version: str | None = None
    copy_style: CopyFiles = "loaded_modules"
    dry_run: bool = False
    copy_bundle_to: Path | None = None
    interactive_mode: bool | None = None
    raw_data_path: str | None = None
    run_base_dir: str | None = None
    run_start_time: datetime | None = None
    overwrite_cache: bool = False
    disable_run_cache: bool = False
    project: str | None = None
    domain: str | None = None
    env_vars: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    custom_context: dict[str, str] = field(default_factory=dict)
    interruptible: bool | None = None
    log_level: int | None = None
    log_format: LogFormat = "console"
    user_log_level: int | None = None
    reset_root_logger: bool = False
    queue: str | None = None
    max_action_concurrency: int | None = None
    cache_lookup_scope: CacheLookupScope = "global"
    preserve_original_types: bool = False
    debug: bool = False
    notifications: Any = None
    """``flyte.notify`` rules the control plane delivers when the run ends (remote runs)."""


class Runner:
    """Starts runs with a fixed set of run options; made by :func:`with_runcontext`.

    Example:
        >>> runner = flyte.with_runcontext(name="nightly")  # doctest: +SKIP
        >>> runner.run(main, n=3)  # doctest: +SKIP
        >>> runner.rerun("nightly-1", n=4)  # doctest: +SKIP
    """

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.run = syncify(self._run_async)
        self.rerun = syncify(self._rerun_async)

    async def _run_async(self, task: TaskTemplate[Any, Any], *args: Any, **kwargs: Any) -> Run:
        mode = self._mode()
        if _is_remote_trigger(task):
            if mode == "local":
                raise InitializationError(
                    "InvalidRunArgument",
                    "user",
                    "A deployed trigger runs on its control plane; call flyte.init(endpoint=...) first",
                )
            self._require_endpoint(mode)
            from flyte.remote._trigger_run import submit_trigger_run

            return await submit_trigger_run(task, args, kwargs, self.config)  # type: ignore[arg-type]  # checked above
        if mode == "local":
            if self.config.dry_run:
                return await self._dry_run_local(task, args, kwargs)
            return await self._run_local(task, args, kwargs)
        self._require_endpoint(mode)
        if self.config.dry_run:
            from flyte.remote._submit import dry_run_remote

            return await dry_run_remote(task, args, kwargs, self.config)
        from flyte.remote._submit import submit_run

        return await submit_run(task, args, kwargs, self.config)

    async def _rerun_async(
        self,
        run_name: str,
        action_name: str = "a0",
        recover: bool = False,
        force_rerun_actions: Sequence[str] | None = None,
        allow_missing_source_outputs: bool = False,
        **inputs: Any,
    ) -> Run:
        mode = self._mode()
        if mode == "local":
            # NotImplementedError, as Flyte 2 raises it for a local rerun.
            raise NotImplementedError(
                "rerun is only supported in remote mode: it re-runs a run stored on a control plane; call "
                "flyte.init(endpoint='localhost:8090', insecure=True) or flyte.init_from_config() first"
            )
        self._require_endpoint(mode)
        if self.config.dry_run:
            raise ValueError("dry_run cannot be combined with rerun: a rerun only starts a stored run again")
        from flyte.remote._rerun import rerun_remote

        return await rerun_remote(
            self.config,
            run_name,
            action_name=action_name,
            recover=recover,
            force_rerun_actions=tuple(force_rerun_actions or ()),
            allow_missing_source_outputs=allow_missing_source_outputs,
            inputs=inputs,
        )

    def _mode(self) -> Mode:
        from flyte._initialize import get_init_config

        mode = self.config.mode or ("remote" if get_init_config().endpoint else "local")
        if mode not in ("local", "remote", "hybrid"):
            raise InitializationError(
                "InvalidRunArgument", "user", f"Unknown run mode {mode!r}; use 'local' or 'remote'"
            )
        return mode

    @staticmethod
    def _require_endpoint(mode: Mode) -> None:
        from flyte._initialize import get_init_config

        if not get_init_config().endpoint:
            raise InitializationError(
                "InvalidRunArgument",
                "user",
                f"Run mode {mode!r} needs a control plane; call flyte.init(endpoint='localhost:8090', insecure=True) "
                "or flyte.init_from_config() first",
            )

    async def _dry_run_local(self, task: TaskTemplate[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Run:
        """Check that the inputs bind to the task and convert, without running anything."""
        from flyte._task import AsyncFunctionTaskTemplate
        from flyte.types._interface import convert_inputs_to_literals

        if not isinstance(task, AsyncFunctionTaskTemplate):
            raise TypeError(f"flyte.run() needs a task made with @env.task, got {task!r}")
        bound = task.interface.convert_to_kwargs(*args, **kwargs)
        literals = await convert_inputs_to_literals(task.interface, bound, task_name=task.name)
        return DryRun(name="dry-run", url="", inputs=literals, task_spec=None, code_bundle=None)

    async def _run_local(self, task: TaskTemplate[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Run:
        from flyte._initialize import get_init_config
        from flyte._internal.controllers.local import LocalController, RunSettings
        from flyte._task import AsyncFunctionTaskTemplate

        if not isinstance(task, AsyncFunctionTaskTemplate):
            raise TypeError(f"flyte.run() needs a task made with @env.task, got {task!r}")
        init = get_init_config()
        config = self.config
        import tempfile

        name = config.name or _new_run_name()
        base = os.path.join(tempfile.gettempdir(), "flyte")
        run_base_dir = config.run_base_dir or os.path.join(base, "runs", name)
        settings = RunSettings(
            run_name=name,
            run_base_dir=run_base_dir,
            raw_data_path=config.raw_data_path or os.path.join(base, "raw_data", name),
            overwrite_cache=config.overwrite_cache,
            disable_run_cache=config.disable_run_cache,
            custom_context=dict(config.custom_context),
            project=config.project or init.project,
            domain=config.domain or init.domain,
            version=config.version or "local",
            max_action_concurrency=config.max_action_concurrency,
            run_start_time=config.run_start_time,
            cache_lookup_scope=config.cache_lookup_scope,
        )
        if config.env_vars:
            os.environ.update(config.env_vars)
        controller: LocalController = LocalController(settings, init.local_cache())
        for observe in list(LOCAL_RUN_OBSERVERS):
            observe(controller, name)
        try:
            with _log_levels(config):
                result = await controller.run_root(task, args, kwargs)
        finally:
            await controller.close()
        outputs = _as_outputs(result, len(task.interface.outputs))
        return LocalRun(
            name=name, url=run_base_dir, _outputs=outputs, _phase=ActionPhase.SUCCEEDED, _records=controller.records
        )


def _is_remote_trigger(task: object) -> bool:
    """Whether ``task`` is a ``flyte.remote.Trigger`` (without importing the remote package)."""
    import sys

    module = sys.modules.get("flyte.remote._trigger")
    return module is not None and isinstance(task, module.Trigger)


@contextlib.contextmanager
def _log_levels(config: RunConfig) -> Iterator[None]:
    """Apply ``log_level`` (Flyte's logger) and ``user_log_level`` (``flyte.user``) for a local run."""
    import logging

    changes = [("flyte", config.log_level), ("flyte.user", config.user_log_level)]
    saved = [(logging.getLogger(name), logging.getLogger(name).level) for name, level in changes if level is not None]
    for name, level in changes:
        if level is not None:
            logging.getLogger(name).setLevel(level)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


@dataclass
class DryRun(Run):
    """What ``with_runcontext(dry_run=True).run(...)`` gives back: nothing was started.

    The inputs were converted (so a bad input fails here, as it would in a real run); in remote
    mode the task spec and the code bundle were built too, and with ``copy_bundle_to`` the
    bundle file was written to that directory. Nothing was uploaded and no run exists.

    Example:
        >>> dry = flyte.with_runcontext(dry_run=True, copy_bundle_to=Path("out")).run(main, n=3)  # doctest: +SKIP
        >>> dry.code_bundle.tgz  # doctest: +SKIP
        'out/fast....tar.gz'
    """

    name: str
    url: str
    inputs: Any = field(repr=False)
    """The converted inputs (literals by name, or the ``Inputs`` message in remote mode)."""
    task_spec: Any = field(repr=False)
    """The task spec that would have been sent (remote mode), else ``None``."""
    code_bundle: Any
    """The code bundle that would have been uploaded (remote mode), else ``None``."""

    @property
    def phase(self) -> str:
        """Always ``"UNSPECIFIED"``: a dry run never runs."""
        return "UNSPECIFIED"

    def done(self) -> bool:
        """A dry run is over as soon as it returns."""
        return True

    @syncify_method
    async def wait(self, quiet: bool = False, wait_for: str = "terminal") -> None:
        """Nothing to wait for."""

    @syncify_method
    async def outputs(self) -> ActionOutputs:
        """A dry run has no outputs.

        Raises:
            RuntimeError: always.
        """
        raise RuntimeError("A dry run has no outputs: nothing was run (drop dry_run=True to run it)")

    @syncify_method
    async def raise_for_status(self) -> None:
        """A dry run cannot fail after it returned."""


def with_runcontext(
    mode: Mode | None = None,
    *,
    name: str | None = None,
    service_account: str | None = None,
    version: str | None = None,
    copy_style: CopyFiles = "loaded_modules",
    dry_run: bool = False,
    copy_bundle_to: Path | None = None,
    interactive_mode: bool | None = None,
    raw_data_path: str | None = None,
    run_base_dir: str | None = None,
    run_start_time: datetime | None = None,
    overwrite_cache: bool = False,
    project: str | None = None,
    domain: str | None = None,
    env_vars: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    interruptible: bool | None = None,
    log_level: int | None = None,
    log_format: LogFormat = "console",
    user_log_level: int | None = None,
    reset_root_logger: bool = False,
    disable_run_cache: bool = False,
    queue: str | None = None,
    max_action_concurrency: int | None = None,
    notifications: Any = None,
    custom_context: dict[str, str] | None = None,
    cache_lookup_scope: CacheLookupScope = "global",
    preserve_original_types: bool = False,
    debug: bool = False,
    tracked: bool = False,
    tracked_strict: bool = False,
    _tracker: Any = None,
) -> Runner:
    """Options for the next run: ``flyte.with_runcontext(name=..., overwrite_cache=True).run(task, ...)``.

    Args:
        mode: ``"local"`` runs in this process; ``"remote"`` on the configured control plane.
            Default: remote when ``flyte.init`` was given an endpoint, else local.
        name: the run's name (default: generated).
        service_account: the Kubernetes service account of the run (remote).
        version: the code version to report (default: the code bundle's digest remotely).
        copy_style: which code a remote run ships: ``"loaded_modules"`` (the modules of your code
            root that are imported), ``"all"`` (every file under the root) or ``"none"`` (the code is
            in the image). Local runs use the code in this process.
        dry_run: convert the inputs (and remotely build the task spec and code bundle) but start
            nothing and upload nothing; returns a :class:`DryRun`.
        copy_bundle_to: with ``dry_run`` in remote mode, write the code bundle file into this
            directory.
        interactive_mode: ship the task as a pickle (as notebooks do); default: detected.
        raw_data_path: where offloaded data goes.
        run_base_dir: where run metadata goes.
        run_start_time: the start time the run reports (``flyte.ctx().run_start_time``).
        overwrite_cache: run cached tasks again and replace their cache entries.
        project: the project of the run (default: from ``flyte.init``).
        domain: the domain of the run (default: from ``flyte.init``).
        env_vars: environment variables for every action of the run.
        labels: labels of the run.
        annotations: annotations of the run.
        interruptible: override every task's ``interruptible``.
        log_level: the level of Flyte's own logger in the run's actions (``LOG_LEVEL``).
        log_format: ``"console"`` or ``"json"`` for the actions' logs (``LOG_FORMAT``, remote).
        user_log_level: the level of ``flyte.logger`` (``flyte.user``) in the run's actions.
        reset_root_logger: have the runtime replace the root logger's handlers (remote).
        disable_run_cache: neither read nor write the cache in this run.
        queue: the queue every action is scheduled on.
        max_action_concurrency: how many actions of the run may run at once.
        notifications: ``flyte.notify`` rules (a Notification, a tuple of them, or a NamedRule) the
            control plane delivers when the run ends in their phases (remote runs only).
        custom_context: key/values every action can read with ``flyte.ctx().custom_context``.
        cache_lookup_scope: ``"global"`` (any project finds an entry) or ``"project-domain"``
            (only entries written in the run's project and domain).
        preserve_original_types: decode outputs and inputs of the returned handle to the exact
            types the task declared (e.g. a ``pd.DataFrame`` rather than a ``flyte.io.DataFrame``).
        debug: run the root task as a debug task: remotely the runtime is asked
            (``_F_E_VS=1``) to start a VS Code server in its container; locally the task already
            runs in this process, under your debugger.
        tracked: not supported by this implementation; ``True`` raises.
        tracked_strict: not supported by this implementation; ``True`` raises.

    Raises:
        ValueError: an option has a value it cannot take (e.g. ``copy_style="some"``).
        NotImplementedError: ``tracked`` was asked for.

    Example:
        >>> run = flyte.with_runcontext(name="nightly", overwrite_cache=True).run(main, n=3)  # doctest: +SKIP
    """
    for label, mapping in (
        ("env_vars", env_vars),
        ("labels", labels),
        ("annotations", annotations),
        ("custom_context", custom_context),
    ):
        if mapping is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
            raise TypeError(f"with_runcontext({label}=...) must map str to str")
    if max_action_concurrency is not None and max_action_concurrency < 1:
        raise ValueError(f"max_action_concurrency must be at least 1, got {max_action_concurrency}")
    _check_choice("copy_style", copy_style, _COPY_STYLES)
    _check_choice("log_format", log_format, _LOG_FORMATS)
    _check_choice("cache_lookup_scope", cache_lookup_scope, _CACHE_LOOKUP_SCOPES)
    for label, level in (("log_level", log_level), ("user_log_level", user_log_level)):
        if level is not None and (not isinstance(level, int) or isinstance(level, bool) or level < 0):
            raise ValueError(
                f"with_runcontext({label}=...) must be a logging level such as logging.INFO, got {level!r}"
            )
    if copy_bundle_to is not None and not dry_run:
        raise ValueError("copy_bundle_to only applies to a dry run; pass dry_run=True as well")
    if notifications is not None:
        from flyte.notify import to_run_spec

        to_run_spec(notifications)  # a bad rule fails here, on one line
    if tracked or tracked_strict or _tracker is not None:
        raise NotImplementedError("Tracked local runs (tracked=True) are not supported by this Flyte implementation")
    if run_start_time is not None and not isinstance(run_start_time, datetime):
        raise TypeError(f"run_start_time must be a datetime, got {run_start_time!r}")
    return Runner(
        RunConfig(
            mode=mode,
            name=name,
            service_account=service_account,
            version=version,
            copy_style=copy_style,
            dry_run=dry_run,
            copy_bundle_to=Path(copy_bundle_to) if copy_bundle_to is not None else None,
            interactive_mode=interactive_mode,
            raw_data_path=raw_data_path,
            run_base_dir=run_base_dir,
            run_start_time=run_start_time,
            overwrite_cache=overwrite_cache,
            disable_run_cache=disable_run_cache,
            project=project,
            domain=domain,
            env_vars=dict(env_vars or {}),
            labels=dict(labels or {}),
            annotations=dict(annotations or {}),
            custom_context=dict(custom_context or {}),
            interruptible=interruptible,
            log_level=log_level,
            log_format=log_format,
            user_log_level=user_log_level,
            reset_root_logger=reset_root_logger,
            queue=queue,
            max_action_concurrency=max_action_concurrency,
            cache_lookup_scope=cache_lookup_scope,
            preserve_original_types=preserve_original_types,
            debug=debug,
            notifications=notifications,
        )
    )


def _check_choice(label: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"with_runcontext({label}={value!r}) is not one of: {', '.join(choices)}")


async def _run_default(task: TaskTemplate[Any, Any], *args: Any, **kwargs: Any) -> Run:
    return await with_runcontext()._run_async(task, *args, **kwargs)


run = syncify(_run_default)
run.__doc__ = """Run ``task`` with ``inputs`` and return a :class:`Run` handle.

Locally (no endpoint configured) the run executes in this process and has finished on return;
a task failure raises the task's error (a ``flyte.errors.RuntimeUserError`` whose ``code`` names
the original exception class). With an endpoint (``flyte.init(endpoint=...)`` or a config file)
the task's code is bundled and uploaded (once per content), the run starts on the control plane
and a :class:`flyte.remote.Run` comes back at once: ``wait()``, ``outputs()`` (which waits),
``raise_for_status()``, ``get_logs()``, ``abort()``. ``task`` may also be a deployed task
(``flyte.remote.Task.get(name, auto_version="latest")``). ``flyte.run.aio(...)`` is the async form.

Example:
    >>> run = flyte.run(main, n=3)  # doctest: +SKIP
    >>> run.outputs().o0  # doctest: +SKIP
"""


async def _rerun_default(
    run_name: str,
    action_name: str = "a0",
    recover: bool = False,
    force_rerun_actions: Sequence[str] | None = None,
    allow_missing_source_outputs: bool = False,
    **inputs: Any,
) -> Run:
    return await with_runcontext()._rerun_async(
        run_name,
        action_name,
        recover=recover,
        force_rerun_actions=force_rerun_actions,
        allow_missing_source_outputs=allow_missing_source_outputs,
        **inputs,
    )


rerun = syncify(_rerun_default)
rerun.__doc__ = """Start a run stored on the control plane again, as a new run; returns its handle.

The new run executes the stored run's task spec (its code as it was: no local code is used)
with the stored run's inputs; keyword ``inputs`` replace some of them (the others keep their
stored values). Its run spec (labels, env vars, queue, ...) is the stored run's, with the options
of ``flyte.with_runcontext(...).rerun(...)`` on top; a new name is generated unless ``name=``
is given there. ``action_name`` re-runs one action of the stored run on its own (its task with
the exact inputs it received) instead of the whole run.

Args:
    run_name: the stored run.
    action_name: the action whose task and inputs to use (default ``"a0"``: the whole run).
    recover: reuse the outputs of every action that succeeded in ``run_name`` (phase RECOVERED) and run the rest.
    force_rerun_actions: only with ``recover``.
    allow_missing_source_outputs: accepted; the stored inputs are read either way.
    **inputs: inputs to change, by name.

Raises:
    flyte.errors.ActionNotFoundError: there is no such run or action.
    ValueError: an input name the task does not have, or ``force_rerun_actions`` without ``recover``.
    NotImplementedError: no control plane is configured (local mode), as in Flyte 2.

Example:
    >>> run = flyte.rerun("r3x9...")  # doctest: +SKIP
    >>> run = flyte.rerun("r3x9...", n=10)  # doctest: +SKIP
    >>> run = flyte.with_runcontext(labels={"try": "2"}).rerun("r3x9...")  # doctest: +SKIP
"""

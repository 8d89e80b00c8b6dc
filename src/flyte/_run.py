"""``flyte.run`` and ``flyte.with_runcontext``: start a run of a task, locally or on a control plane."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from flyte._internal.syncify import syncify, syncify_method
from flyte.errors import InitializationError
from flyte.models import ActionPhase

if TYPE_CHECKING:
    from flyte._internal.controllers.local import ActionRecord, LocalController
    from flyte._task import TaskTemplate

Mode = Literal["local", "remote", "hybrid"]

__all__ = ["ActionInputs", "ActionOutputs", "LocalRun", "Run", "run", "with_runcontext"]


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


class ActionInputs(dict[str, Any]):
    """The inputs of an action by name (a ``dict``).

    Example:
        >>> ActionInputs(x=3)["x"]
        3
    """

    def __repr__(self) -> str:
        return f"ActionInputs({dict.__repr__(self)})"


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


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """The options of :func:`with_runcontext` (see there for each one's meaning)."""

    mode: Mode | None = None
    name: str | None = None
    version: str | None = None
    raw_data_path: str | None = None
    run_base_dir: str | None = None
    overwrite_cache: bool = False
    disable_run_cache: bool = False
    project: str | None = None
    domain: str | None = None
    env_vars: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    custom_context: dict[str, str] = field(default_factory=dict)
    interruptible: bool | None = None
    queue: str | None = None
    max_action_concurrency: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Runner:
    """Starts runs with a fixed set of run options; made by :func:`with_runcontext`."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.run = syncify(self._run_async)

    async def _run_async(self, task: TaskTemplate[Any, Any], *args: Any, **kwargs: Any) -> Run:
        from flyte._initialize import get_init_config

        init = get_init_config()
        mode = self.config.mode or ("remote" if init.endpoint else "local")
        if mode == "local":
            return await self._run_local(task, args, kwargs)
        if mode not in ("remote", "hybrid"):
            raise InitializationError(
                "InvalidRunArgument", "user", f"Unknown run mode {mode!r}; use 'local' or 'remote'"
            )
        if not init.endpoint:
            raise InitializationError(
                "InvalidRunArgument",
                "user",
                f"Run mode {mode!r} needs a control plane; call flyte.init(endpoint='localhost:8090', insecure=True) "
                "or flyte.init_from_config() first",
            )
        from flyte.remote._submit import submit_run

        return await submit_run(task, args, kwargs, self.config)

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
        )
        if config.env_vars:
            os.environ.update(config.env_vars)
        controller: LocalController = LocalController(settings, init.local_cache())
        try:
            result = await controller.run_root(task, args, kwargs)
        finally:
            await controller.close()
        outputs = _as_outputs(result, len(task.interface.outputs))
        return LocalRun(
            name=name, url=run_base_dir, _outputs=outputs, _phase=ActionPhase.SUCCEEDED, _records=controller.records
        )


def with_runcontext(
    mode: Mode | None = None,
    *,
    name: str | None = None,
    version: str | None = None,
    raw_data_path: str | None = None,
    run_base_dir: str | None = None,
    overwrite_cache: bool = False,
    disable_run_cache: bool = False,
    project: str | None = None,
    domain: str | None = None,
    env_vars: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    custom_context: dict[str, str] | None = None,
    interruptible: bool | None = None,
    queue: str | None = None,
    max_action_concurrency: int | None = None,
    run_start_time: datetime | None = None,
    **extra: Any,
) -> Runner:
    """Options for the next run: ``flyte.with_runcontext(name=..., overwrite_cache=True).run(task, ...)``.

    Args:
        mode: ``"local"`` runs in this process; ``"remote"`` on the configured control plane.
            Default: remote when ``flyte.init`` was given an endpoint, else local.
            Remote runs also take ``copy_style`` (``"loaded_modules"``, ``"all"``, ``"none"``),
            ``interactive_mode=True`` (ship the task as a pickle, as notebooks do) and
            ``service_account`` through ``**extra``.
        name: the run's name (default: generated).
        version: the code version to report.
        raw_data_path: where offloaded data goes.
        run_base_dir: where run metadata goes.
        overwrite_cache: run cached tasks again and replace their cache entries.
        disable_run_cache: neither read nor write the cache in this run.
        project: the project of the run (default: from ``flyte.init``).
        domain: the domain of the run (default: from ``flyte.init``).
        env_vars: environment variables for every action of the run.
        labels: labels of the run.
        annotations: annotations of the run.
        custom_context: key/values every action can read with ``flyte.ctx().custom_context``.
        interruptible: override every task's ``interruptible``.
        queue: the queue every action is scheduled on.
        max_action_concurrency: how many actions of the run may run at once.
        run_start_time: the start time to report (default: now).
        **extra: other Flyte 2 options (accepted for compatibility).

    Example:
        >>> run = flyte.with_runcontext(name="nightly", overwrite_cache=True).run(main, n=3)  # doctest: +SKIP
    """
    for label, mapping in (("env_vars", env_vars), ("labels", labels), ("custom_context", custom_context)):
        if mapping is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
            raise TypeError(f"with_runcontext({label}=...) must map str to str")
    if max_action_concurrency is not None and max_action_concurrency < 1:
        raise ValueError(f"max_action_concurrency must be at least 1, got {max_action_concurrency}")
    return Runner(
        RunConfig(
            mode=mode,
            name=name,
            version=version,
            raw_data_path=raw_data_path,
            run_base_dir=run_base_dir,
            overwrite_cache=overwrite_cache,
            disable_run_cache=disable_run_cache,
            project=project,
            domain=domain,
            env_vars=dict(env_vars or {}),
            labels=dict(labels or {}),
            annotations=dict(annotations or {}),
            custom_context=dict(custom_context or {}),
            interruptible=interruptible,
            queue=queue,
            max_action_concurrency=max_action_concurrency,
            extra=extra,
        )
    )


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

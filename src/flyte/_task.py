"""Task templates: what ``@env.task`` turns a function into.

Calling a task outside a run is a plain function call. Inside a run, the call becomes a child
action submitted to the run's controller (local or remote), which names it deterministically,
checks the cache, applies retries and the timeout, and records the outcome.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from flyte._context import current_state, reset_state, set_state
from flyte.errors import SyncTaskCallInAsyncContextError, TraceDoesNotAllowNestedTasksError

if TYPE_CHECKING:
    import asyncio

    from flyte._cache import Cache
    from flyte._docs import Documentation
    from flyte._image import Image
    from flyte._internal.serde._context import SerializationContext
    from flyte._pod import PodTemplate
    from flyte._resources import Resources
    from flyte._retry import RetryStrategy
    from flyte._reusable import ReusePolicy
    from flyte._secret import Secret
    from flyte._task_environment import TaskEnvironment
    from flyte._timeout import Timeout
    from flyte._trigger import Trigger
    from flyte.types._interface import NativeInterface

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_MAX_INLINE_IO_BYTES = 10 * 1024 * 1024

__all__ = ["AsyncFunctionTaskTemplate", "RuntimeTaskTemplate", "TaskTemplate"]


@dataclass(kw_only=True, eq=False)
class TaskTemplate(Generic[P, R]):
    """A task: a function plus everything Flyte needs to run it as an action.

    Users get these from ``@env.task``; the fields mirror the decorator's options.
    """

    name: str
    """The full name, ``{environment}.{function}``."""
    short_name: str
    """The name shown in the console (defaults to the function name)."""
    task_type: str = "python"
    """The plugin that runs the task on a control plane."""
    cache: Cache
    """When outputs may be reused instead of running again."""
    retries: RetryStrategy
    """How many times a failed attempt is retried, and how long to wait in between."""
    timeout: Timeout | None = None
    """Limits on run time, queue time and the overall deadline."""
    image: Image | str | None = None
    """The container image the task runs in on a control plane."""
    resources: Resources | None = None
    """CPU, memory, GPU and disk requests."""
    env_vars: dict[str, str] = field(default_factory=dict)
    """Environment variables set while the task runs."""
    secrets: tuple[Secret, ...] = ()
    """Secrets made available to the task."""
    docs: Documentation | None = None
    """Documentation shown in the console."""
    report: bool = False
    """Whether the task writes an HTML report (see :mod:`flyte.report`)."""
    interruptible: bool = False
    """Whether the task may run on pre-emptible capacity."""
    max_inline_io_bytes: int = DEFAULT_MAX_INLINE_IO_BYTES
    """Inputs/outputs larger than this are offloaded to storage instead of sent inline."""
    queue: str | None = None
    """The named queue the task is scheduled on."""
    pod_template: PodTemplate | str | None = None
    """A Kubernetes pod template for the task."""
    reusable: ReusePolicy | None = None
    """Run in long-lived reusable workers instead of a fresh container per action."""
    triggers: tuple[Trigger, ...] = ()
    """Schedules that start runs of this task once it is deployed."""
    links: tuple[Any, ...] = ()
    """Links shown next to the action in the console."""
    service_account: str | None = None
    """The service account the task runs as."""
    entrypoint: bool = False
    """Whether the task is meant to be started directly (listed as an entrypoint by the console)."""
    plugin_config: Any = None
    """Plugin-specific configuration."""
    parent_env: weakref.ReferenceType[TaskEnvironment] | None = None
    """The environment the task belongs to."""

    @property
    def interface(self) -> NativeInterface:
        """The task's typed inputs and outputs."""
        raise NotImplementedError

    task_type_version: int = 0
    """The version of the task type's plugin protocol."""
    debuggable: bool = True
    """Whether the task can be run in a debug session."""
    produces_artifacts: bool = False
    """Whether the task declares artifact outputs (never, here: no artifact service)."""
    ref: bool = False
    """Whether this is a reference to a task deployed elsewhere."""
    task_resolver: Any = None
    """The resolver that loads the task in a worker; ``None`` means the default (module + name)."""

    @property
    def parent_env_name(self) -> str | None:
        """The name of the environment the task belongs to."""
        env = self.parent_env() if self.parent_env is not None else None
        return env.name if env is not None else None

    @property
    def source_file(self) -> str | None:
        """The file the task's function is defined in, when known."""
        import inspect

        func = getattr(self, "func", None)
        try:
            return inspect.getsourcefile(func) if func is not None else None
        except TypeError:
            return None

    @property
    def json_schema(self) -> dict[str, Any]:
        """A JSON schema of the task's inputs (an ``object`` with one property per input)."""
        return self.interface.json_schema

    def sql(self, sctx: SerializationContext) -> str | None:
        """The SQL statement of SQL task types (``None`` for others)."""
        return None

    def data_loading_config(self, sctx: SerializationContext) -> Any:
        """How a raw container receives its inputs and returns its outputs (``None``: through ``a0``)."""
        return None

    @property
    def native_interface(self) -> NativeInterface:
        """The task's typed inputs and outputs (Flyte 2's name for :attr:`interface`)."""
        return self.interface

    def forward(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R] | R:
        """What calling the task outside a run does: run its code directly.

        Plugins override it to run locally the way they would remotely.
        """
        raise NotImplementedError(f"Task {self.name} of type {self.task_type!r} cannot be called outside a run")

    async def pre(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Called before each execution of the task's code (a plugin's set-up hook); what it returns
        is added to ``flyte.ctx().data`` while the code runs. Returns ``{}``."""
        return {}

    async def post(self, return_vals: Any) -> Any:
        """Called with the task's result after each execution (a plugin's tear-down hook)."""
        return return_vals

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task's code inside an action (plugins whose code is not a Python function override it)."""
        raise NotImplementedError(f"Task {self.name} of type {self.task_type!r} has no code to execute")

    def custom_config(self, sctx: SerializationContext) -> dict[str, Any]:
        """Plugin settings sent as the task template's ``custom`` struct (``{}``: none)."""
        return {}

    def config(self, sctx: SerializationContext) -> dict[str, str]:
        """Plugin settings sent as the task template's ``config`` map (``{}``: none)."""
        return {}

    def container_args(self, serialize_context: SerializationContext) -> list[str]:
        """The ``a0 ...`` command line the task's container runs, with the backend's templates in place.

        Example:
            >>> from flyte.models import SerializationContext
            >>> task.container_args(SerializationContext(version="v1"))[:3]  # doctest: +SKIP
            ['a0', '--inputs', '{{.input}}']
        """
        from flyte._internal.serde._task import container_args

        return container_args(self, serialize_context)

    def __getstate__(self) -> dict[str, Any]:
        # Tasks are pickled for interactive code bundles; the environment travels along as a
        # strong reference (a weakref cannot be pickled) and cached properties are recomputed.
        state = {key: value for key, value in self.__dict__.items() if key not in ("interface", "is_async")}
        state["parent_env"] = self.parent_env() if self.parent_env is not None else None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        env = state.pop("parent_env", None)
        self.__dict__.update(state)
        object.__setattr__(self, "parent_env", weakref.ref(env) if env is not None else None)
        object.__setattr__(self, "_unpickled_env", env)  # keeps the environment alive

    def override(self, **options: Any) -> TaskTemplate[P, R]:
        """A copy of this task with some options changed for one call site.

        Accepts the options of ``@env.task`` (``short_name``, ``cache``, ``retries``,
        ``timeout``, ``resources``, ``env_vars``, ``secrets``, ``max_inline_io_bytes``, ...).

        Example:
            >>> await train.override(retries=3, timeout=600)(data)  # doctest: +SKIP
        """
        from flyte._task_environment import normalize_task_options

        valid = {f.name for f in fields(self)} - {"name", "parent_env", "task_type"}
        unknown = sorted(set(options) - valid)
        if unknown:
            raise TypeError(f"override() got unknown option(s) {', '.join(unknown)}; valid options: {sorted(valid)}")
        options = normalize_task_options(options)
        config = options.get("plugin_config")
        if config is not None and not isinstance(config, type(self.plugin_config)):
            # Another plugin's config makes the task that plugin's template class.
            from flyte._task_plugins import TaskPluginRegistry

            plugin = TaskPluginRegistry.plugin_for(config)
            wanted = {f.name for f in fields(plugin) if f.init}
            values = {f.name: getattr(self, f.name) for f in fields(self) if f.init and f.name in wanted}
            values.pop("task_type", None)
            values.update(options)
            return plugin(**values)  # type: ignore[no-any-return]
        return replace(self, **options)


@dataclass(kw_only=True, eq=False)
class AsyncFunctionTaskTemplate(TaskTemplate[P, R]):
    """A task made from a Python function, sync or async.

    Example:
        >>> import flyte
        >>> env = flyte.TaskEnvironment(name="docs")
        >>> @env.task
        ... async def square(x: int) -> int:
        ...     return x * x
        >>> square.name
        'docs.square'
    """

    func: Callable[P, R]
    """The user's function."""

    def __post_init__(self) -> None:
        # Look like the wrapped function (name, module, docstring) for users, debuggers and loaders.
        for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
            object.__setattr__(self, attribute, getattr(self.func, attribute, None))
        object.__setattr__(self, "__wrapped__", self.func)
        cls = type(self)
        if cls.__hash__ is None:
            # A plugin's ``@dataclass`` subclass gets a field-wise ``__eq__`` and no hash; tasks are
            # compared and hashed by identity (they key weak dictionaries of the controllers).
            cls.__hash__ = object.__hash__  # type: ignore[method-assign]
            cls.__eq__ = object.__eq__  # type: ignore[method-assign]

    @functools.cached_property
    def interface(self) -> NativeInterface:
        from flyte.types._interface import NativeInterface

        return NativeInterface.from_callable(self.func)

    @functools.cached_property
    def is_async(self) -> bool:
        """Whether the user's function is a coroutine function."""
        import inspect

        return inspect.iscoroutinefunction(self.func)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        state = current_state()
        if state is None:
            # Outside a run a task is just its function.
            return self.forward(*args, **kwargs)  # type: ignore[return-value]
        if state.in_trace:
            raise TraceDoesNotAllowNestedTasksError(f"Task {self.name} was called from inside a @flyte.trace function.")
        submission = state.controller.submit(self, args, kwargs)
        if self.is_async:
            return submission  # type: ignore[return-value]
        if _on_loop_thread(state.loop):
            submission.close()
            raise SyncTaskCallInAsyncContextError(
                f"Sync task '{self.name}' was called in a blocking way from async code, which would block the "
                f"event loop. Use `await {self.short_name}.aio(...)` instead."
            )
        import asyncio

        return asyncio.run_coroutine_threadsafe(submission, state.loop).result()  # type: ignore[no-any-return]

    def aio(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R]:
        """Call the task from async code, whether its function is sync or async.

        Example:
            >>> results = await asyncio.gather(*(load.aio(path) for path in paths))  # doctest: +SKIP
        """
        state = current_state()
        if state is not None:
            if state.in_trace:
                raise TraceDoesNotAllowNestedTasksError(
                    f"Task {self.name} was called from inside a @flyte.trace function."
                )
            return state.controller.submit(self, args, kwargs)
        return _call_plain(self.func, args, kwargs)

    def forward(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R] | R:
        """Call the function directly (for a coroutine function, the coroutine is returned un-awaited)."""
        return self.func(*args, **kwargs)

    async def execute(self, *args: Any, **kwargs: Any) -> R:
        """Run the user's function in the current context (sync functions on a worker thread),
        between :meth:`pre` and :meth:`post`.

        What ``pre`` returns is added to ``flyte.ctx().data`` while the function runs (how a plugin
        hands the task what it set up); ``post`` sees the result, which is returned unchanged.
        """
        from flyte._internal.plugin_runtime import plugin_runtime

        async with plugin_runtime(self):
            return await self._execute_with_hooks(*args, **kwargs)

    async def _execute_with_hooks(self, *args: Any, **kwargs: Any) -> R:
        extra = await self.pre(*args, **kwargs)
        state = current_state()
        token = None
        if extra and state is not None:
            task_context = replace(state.task_context, data={**state.task_context.data, **extra})
            token = set_state(replace(state, task_context=task_context))
        try:
            if self.is_async:
                result: R = await self.func(*args, **kwargs)  # type: ignore[misc]
            else:
                from flyte._internal.threads import run_in_daemon_thread

                result = await run_in_daemon_thread(self.func, *args, **kwargs)
        finally:
            if token is not None:
                reset_state(token)
        await self.post(result)
        return result


@dataclass(kw_only=True, eq=False)
class RuntimeTaskTemplate(TaskTemplate[P, R]):
    """A task whose code is the template's own :meth:`execute` rather than a user's function
    (a plugin's query or container task), run by the ``a0`` entry point like function tasks."""

    task_resolver: Any = None
    """The resolver that loads the task in a worker; ``None`` means the default (module + name)."""


async def _call_plain(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = func(*args, **kwargs)
    if isinstance(result, Awaitable):
        return await result
    return result


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    import asyncio

    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False

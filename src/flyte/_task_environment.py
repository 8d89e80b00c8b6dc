"""``TaskEnvironment``: the shared configuration (image, resources, secrets, ...) of a set of tasks."""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from flyte._task import DEFAULT_MAX_INLINE_IO_BYTES, AsyncFunctionTaskTemplate, TaskTemplate

if TYPE_CHECKING:
    from flyte._cache import CacheRequest
    from flyte._docs import Documentation
    from flyte._image import Image
    from flyte._pod import PodTemplate
    from flyte._resources import Resources
    from flyte._retry import RetryStrategy
    from flyte._reusable import ReusePolicy
    from flyte._secret import SecretRequest
    from flyte._timeout import TimeoutType
    from flyte._trigger import Trigger

F = TypeVar("F", bound=Callable[..., Any])

_ENV_NAME = re.compile(r"^[a-z0-9]+(?:[_-][a-z0-9]+)*$")

__all__ = ["Environment", "TaskEnvironment"]


@dataclass(kw_only=True, eq=False)
class Environment:
    """What every kind of environment (tasks, apps) shares: a name, an image and dependencies."""

    name: str = field(kw_only=False)
    """Unique within a project; snake_case or kebab-case (the one positional argument)."""
    depends_on: list[Environment] = field(default_factory=list)
    """Environments deployed together with this one."""
    pod_template: PodTemplate | str | None = None
    """A Kubernetes pod template applied to every task."""
    description: str | None = None
    """Shown in the console."""
    secrets: SecretRequest | None = None
    """Secrets every task of the environment can read."""
    env_vars: dict[str, str] | None = None
    """Environment variables set for every task."""
    resources: Resources | None = None
    """Default resources of every task."""
    interruptible: bool = False
    """Whether tasks may run on pre-emptible capacity."""
    image: Image | str | Literal["auto"] | None = "auto"
    """The container image; ``"auto"`` uses the default image for this Python and SDK version."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _ENV_NAME.match(self.name):
            raise ValueError(
                f"Environment name {self.name!r} must be in snake_case or kebab-case format "
                "(lower-case letters and digits separated by '_' or '-')."
            )
        if self.env_vars is not None:
            bad = [k for k, v in self.env_vars.items() if not isinstance(k, str) or not isinstance(v, str)]
            if bad:
                raise TypeError(f"env_vars of environment {self.name!r} must map str to str; bad keys: {bad}")
        for dependency in self.depends_on:
            if not isinstance(dependency, Environment):
                raise TypeError(f"depends_on of environment {self.name!r} must hold environments, got {dependency!r}")

    def add_dependency(self, *envs: Environment) -> None:
        """Deploy ``envs`` whenever this environment is deployed."""
        for env in envs:
            if env is self:
                raise ValueError(f"Environment {self.name!r} cannot depend on itself.")
            if env not in self.depends_on:
                self.depends_on.append(env)


@dataclass(kw_only=True, eq=False)
class TaskEnvironment(Environment):
    """A group of tasks that share an image, resources, secrets, caching and other settings.

    Example:
        >>> import flyte
        >>> env = flyte.TaskEnvironment(name="hello", resources=flyte.Resources(cpu=1, memory="1Gi"))
        >>> @env.task
        ... async def greet(name: str) -> str:
        ...     return f"hello {name}"
        >>> list(env.tasks)
        ['hello.greet']
    """

    include: tuple[str, ...] = ()
    """Extra files or folders to ship in the code bundle."""
    service_account: str | None = None
    """The service account tasks run as."""
    cache: CacheRequest = "disable"
    """The default cache behaviour of the tasks."""
    reusable: ReusePolicy | None = None
    """Run tasks in reusable, long-lived workers."""
    plugin_config: Any | None = None
    """Configuration for a task plugin (e.g. a Ray or Spark cluster)."""
    queue: str | None = None
    """The named queue tasks are scheduled on."""

    _tasks: dict[str, TaskTemplate[Any, Any]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        from flyte._cache import normalize_cache

        normalize_cache(self.cache)  # fail early on an invalid cache request
        self.include = tuple(self.include)

    @property
    def tasks(self) -> dict[str, TaskTemplate[Any, Any]]:
        """The tasks of this environment, by full name."""
        return dict(self._tasks)

    @property
    def sandbox(self) -> Any:
        """Sandboxed tasks of this environment: ``@env.sandbox.orchestrator`` (see :mod:`flyte.sandbox`)."""
        from flyte.sandbox._namespace import SandboxNamespace

        return SandboxNamespace(self)

    @classmethod
    def from_task(
        cls, name: str, *tasks: TaskTemplate[Any, Any], depends_on: list[Environment] | None = None
    ) -> TaskEnvironment:
        """An environment holding tasks that were made without one (by a plugin, for example).

        The tasks must share one image (the same object, or none: then ``"auto"``).

        Raises:
            ValueError: a task already belongs to an environment, or the tasks' images differ.

        Example:
            >>> env = flyte.TaskEnvironment.from_task("plugin-tasks", query_task)  # doctest: +SKIP
        """
        owned = [task.name for task in tasks if task.parent_env is not None and task.parent_env() is not None]
        if owned:
            raise ValueError(f"Tasks {owned} already belong to an environment; a task has one environment")
        images = {id(task.image): task.image for task in tasks}
        if len(images) > 1:
            raise ValueError(f"The tasks of environment {name!r} must share one image")
        image = next(iter(images.values())) if images else None
        env = cls(name=name, image=image if image is not None else "auto", depends_on=list(depends_on or []))
        for task in tasks:
            env._tasks[task.name] = task
            object.__setattr__(task, "parent_env", weakref.ref(env))
        return env

    def clone_with(self, name: str, **overrides: Any) -> TaskEnvironment:
        """A new environment with a new name and some settings changed (its tasks are not copied).

        Example:
            >>> gpu_env = env.clone_with("hello-gpu", resources=flyte.Resources(gpu=1))  # doctest: +SKIP
        """
        valid = {f.name for f in fields(self) if f.init}
        unknown = sorted(set(overrides) - valid)
        if unknown:
            raise TypeError(f"clone_with() got unknown setting(s): {', '.join(unknown)}")
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.init}
        values.update(overrides, name=name)
        values["depends_on"] = list(values["depends_on"])
        return TaskEnvironment(**values)

    @overload
    def task(self, _func: F) -> AsyncFunctionTaskTemplate[Any, Any]: ...

    @overload
    def task(
        self,
        _func: None = None,
        *,
        short_name: str | None = None,
        cache: CacheRequest | None = None,
        retries: int | RetryStrategy = 0,
        timeout: TimeoutType = 0,
        docs: Documentation | None = None,
        pod_template: PodTemplate | str | None = None,
        report: bool = False,
        interruptible: bool | None = None,
        max_inline_io_bytes: int = DEFAULT_MAX_INLINE_IO_BYTES,
        queue: str | None = None,
        service_account: str | None = None,
        triggers: tuple[Trigger, ...] | Trigger = (),
        links: tuple[Any, ...] | Any = (),
        task_resolver: Any | None = None,
        entrypoint: bool = False,
        produces_artifacts: bool = False,
    ) -> Callable[[F], AsyncFunctionTaskTemplate[Any, Any]]: ...

    def task(
        self,
        _func: F | None = None,
        *,
        short_name: str | None = None,
        cache: CacheRequest | None = None,
        retries: int | RetryStrategy = 0,
        timeout: TimeoutType = 0,
        docs: Documentation | None = None,
        pod_template: PodTemplate | str | None = None,
        report: bool = False,
        interruptible: bool | None = None,
        max_inline_io_bytes: int = DEFAULT_MAX_INLINE_IO_BYTES,
        queue: str | None = None,
        service_account: str | None = None,
        triggers: tuple[Trigger, ...] | Trigger = (),
        links: tuple[Any, ...] | Any = (),
        task_resolver: Any | None = None,
        entrypoint: bool = False,
        produces_artifacts: bool = False,
    ) -> AsyncFunctionTaskTemplate[Any, Any] | Callable[[F], AsyncFunctionTaskTemplate[Any, Any]]:
        """Turn a sync or async function into a task of this environment.

        Use it bare (``@env.task``) or with options (``@env.task(retries=3, cache="auto")``).

        Example:
            >>> @env.task(retries=3, timeout=60, cache="auto")  # doctest: +SKIP
            ... async def fetch(url: str) -> bytes: ...
        """

        def decorate(func: F) -> AsyncFunctionTaskTemplate[Any, Any]:
            if not callable(func):
                raise TypeError(f"@{self.name}.task must decorate a function, got {func!r}")
            if isinstance(func, TaskTemplate):
                raise TypeError(f"{func.name} is already a task; decorate the function only once.")
            options = normalize_task_options(
                {
                    "cache": cache if cache is not None else self.cache,
                    "retries": retries,
                    "timeout": timeout,
                    "secrets": self.secrets,
                    "triggers": triggers,
                    "links": links,
                }
            )
            template_class: type[AsyncFunctionTaskTemplate[Any, Any]] = AsyncFunctionTaskTemplate
            if self.plugin_config is not None:
                from flyte._task_plugins import TaskPluginRegistry

                template_class = TaskPluginRegistry.plugin_for(self.plugin_config)
            template = template_class(
                name=f"{self.name}.{func.__name__}",
                short_name=short_name or func.__name__,
                func=func,
                image=self.image,
                resources=self.resources,
                env_vars=dict(self.env_vars or {}),
                docs=docs,
                report=report,
                interruptible=self.interruptible if interruptible is None else interruptible,
                max_inline_io_bytes=max_inline_io_bytes,
                queue=queue or self.queue,
                pod_template=pod_template or self.pod_template,
                reusable=self.reusable,
                service_account=service_account or self.service_account,
                entrypoint=entrypoint,
                plugin_config=self.plugin_config,
                parent_env=weakref.ref(self),
                **options,
            )
            if template.name in self._tasks:
                raise ValueError(f"Environment {self.name!r} already has a task named {func.__name__!r}.")
            self._tasks[template.name] = template
            return template

        if _func is not None:
            return decorate(_func)
        return decorate


def normalize_task_options(options: dict[str, Any]) -> dict[str, Any]:
    """Turn the shorthand forms users write (``cache="auto"``, ``retries=3``, ...) into option objects."""
    from flyte._cache import normalize_cache
    from flyte._retry import normalize_retries
    from flyte._secret import normalize_secrets
    from flyte._timeout import normalize_timeout

    normalized = dict(options)
    if "cache" in normalized:
        normalized["cache"] = normalize_cache(normalized["cache"])
    if "retries" in normalized:
        normalized["retries"] = normalize_retries(normalized["retries"])
    if "timeout" in normalized:
        normalized["timeout"] = normalize_timeout(normalized["timeout"])
    if "secrets" in normalized:
        normalized["secrets"] = normalize_secrets(normalized["secrets"]) if normalized["secrets"] else ()
    for name in ("triggers", "links"):
        if name in normalized:
            value = normalized[name]
            normalized[name] = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if "max_inline_io_bytes" in normalized and normalized["max_inline_io_bytes"] <= 0:
        raise ValueError(f"max_inline_io_bytes must be positive, got {normalized['max_inline_io_bytes']}")
    if "env_vars" in normalized:
        normalized["env_vars"] = dict(normalized["env_vars"] or {})
    return normalized

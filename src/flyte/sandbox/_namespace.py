"""``env.sandbox.orchestrator``: sandboxed tasks of a ``TaskEnvironment``."""

from __future__ import annotations

import inspect
import weakref
from typing import TYPE_CHECKING, Any

from flyte.sandbox._templates import CodeTaskTemplate, SandboxedConfig, SandboxedTaskTemplate

if TYPE_CHECKING:
    from flyte._task_environment import TaskEnvironment

__all__ = ["SandboxNamespace", "environment_options"]


def environment_options(env: TaskEnvironment, *, cache: Any, retries: int) -> dict[str, Any]:
    """The options a task of ``env`` gets from it (image, resources, env vars, ...)."""
    from flyte._task_environment import normalize_task_options

    options = normalize_task_options(
        {
            "cache": cache if cache is not None else env.cache,
            "retries": retries,
            "secrets": env.secrets,
        }
    )
    return {
        "image": env.image,
        "resources": env.resources,
        "env_vars": dict(env.env_vars or {}),
        "interruptible": env.interruptible,
        "queue": env.queue,
        "pod_template": env.pod_template,
        "service_account": env.service_account,
        "parent_env": weakref.ref(env),
        **options,
    }


class SandboxNamespace:
    """What ``TaskEnvironment.sandbox`` returns."""

    def __init__(self, env: TaskEnvironment) -> None:
        self._env = env

    def orchestrator(
        self,
        _func_or_source: Any = None,
        /,
        *,
        tasks: list[Any] | None = None,
        inputs: dict[str, type] | None = None,
        output: type = type(None),
        timeout_ms: int = 30_000,
        max_memory: int = 50 * 1024 * 1024,
        max_stack_depth: int = 256,
        type_check: bool = True,
        name: str | None = None,
        cache: Any = None,
        retries: int = 0,
    ) -> Any:
        """A sandboxed task of this environment, three ways.

        * ``@env.sandbox.orchestrator`` on a function: its body runs sandboxed, calling the tasks
          its code names (and ``tasks``) synchronously;
        * ``@env.sandbox.orchestrator(timeout_ms=...)``: the same with options;
        * ``env.sandbox.orchestrator("add(x, y) * 2", inputs={"x": int, "y": int}, output=int,
          tasks=[add])``: a task from a code string (its last expression is the output).

        Example:
            >>> @env.sandbox.orchestrator  # doctest: +SKIP
            ... def pipeline(n: int) -> int:
            ...     return sum(square(i) for i in range(n))
        """
        config = SandboxedConfig(
            max_memory=max_memory, max_stack_depth=max_stack_depth, timeout_ms=timeout_ms, type_check=type_check
        )
        env = self._env
        if isinstance(_func_or_source, str):
            caller = inspect.currentframe()
            module = caller.f_back.f_globals.get("__name__", "__main__") if caller and caller.f_back else "__main__"
            task_name = name or "sandboxed-code"
            template = CodeTaskTemplate.from_source(
                _func_or_source,
                inputs=dict(inputs or {}),
                output=output,
                tasks=tasks,
                config=config,
                function_name=task_name,
                module=module,
                short_name=task_name,
                **{**environment_options(env, cache=cache, retries=retries), "name": f"{env.name}.{task_name}"},
            )
            return self._register(template)

        def decorate(func: Any) -> SandboxedTaskTemplate:
            if not callable(func):
                raise TypeError(f"@{env.name}.sandbox.orchestrator must decorate a function, got {func!r}")
            task_name = name or func.__name__
            template = SandboxedTaskTemplate.from_function(
                func,
                tasks=tasks,
                config=config,
                short_name=task_name,
                **{**environment_options(env, cache=cache, retries=retries), "name": f"{env.name}.{task_name}"},
            )
            return self._register(template)  # type: ignore[no-any-return]

        if _func_or_source is None:
            return decorate
        return decorate(_func_or_source)

    def _register(self, template: Any) -> Any:
        tasks = self._env._tasks
        if template.name in tasks:
            raise ValueError(f"Environment {self._env.name!r} already has a task named {template.short_name!r}.")
        tasks[template.name] = template
        return template

"""Task templates whose code runs in the Monty sandbox.

* :class:`SandboxedTaskTemplate` — a decorated function (``@env.sandbox.orchestrator``) whose body
  runs sandboxed; the tasks it calls (module-level tasks its code names, or ``tasks=[...]``)
  are the only functions it can reach.
* :class:`CodeTaskTemplate` — the same from a code string (``orchestrator_from_str``), for code an
  LLM or a user wrote at run time; its inputs are given as globals, its last expression is the
  output.

Both are function tasks to the rest of the SDK (interface, calls, local and remote runs, caching,
retries): the function they wrap runs the sandbox, so every task the code calls becomes a child
action of the sandboxed task, recorded like any other.
"""

from __future__ import annotations

import inspect
import sys
import textwrap
import types
from dataclasses import dataclass, field
from typing import Any

from flyte._task import AsyncFunctionTaskTemplate
from flyte.sandbox._runtime import SandboxLimits, host_functions, run_in_sandbox

__all__ = ["SANDBOX_TASK_TYPE", "CodeTaskTemplate", "SandboxedConfig", "SandboxedTaskTemplate"]

SANDBOX_TASK_TYPE = "sandboxed-python"


@dataclass(frozen=True)
class SandboxedConfig:
    """Limits of a sandboxed task (its ``plugin_config``).

    Example:
        >>> SandboxedConfig(timeout_ms=5_000).timeout_ms
        5000
    """

    max_memory: int = 50 * 1024 * 1024
    """Heap bytes the code may use."""
    max_stack_depth: int = 256
    """Nested calls."""
    timeout_ms: int = 30_000
    """Execution time of the code itself (time spent in the tasks it calls does not count)."""
    type_check: bool = True
    """Type-check the code before it runs."""

    def limits(self) -> SandboxLimits:
        """The runtime limits these settings give."""
        return SandboxLimits(
            timeout_ms=self.timeout_ms,
            max_memory=self.max_memory,
            max_stack_depth=self.max_stack_depth,
            type_check=self.type_check,
        )


def _function_source(func: Any) -> str:
    """The function's definition without its decorators, dedented, as a plain ``def``."""
    source = textwrap.dedent(inspect.getsource(func))
    lines = source.splitlines()
    start = next(index for index, line in enumerate(lines) if line.lstrip().startswith(("def ", "async def ")))
    body = "\n".join(lines[start:])
    if body.lstrip().startswith("async def "):
        body = body.replace("async def ", "def ", 1)  # tasks are called synchronously in the sandbox
    return body


def _names_used(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _names_used(constant)
    return names


def _tasks_named_by(func: Any) -> dict[str, Any]:
    """The module-level tasks (and traced/durable functions) the function's code refers to."""
    from flyte._task import TaskTemplate

    found: dict[str, Any] = {}
    for name in _names_used(func.__code__):
        value = func.__globals__.get(name)
        if isinstance(value, TaskTemplate):
            found[name] = value
    return found


@dataclass(kw_only=True, eq=False)
class SandboxedTaskTemplate(AsyncFunctionTaskTemplate[Any, Any]):
    """A task whose function body runs in the Monty sandbox.

    The function is written as plain Python that calls other tasks synchronously (no ``await``);
    see :data:`flyte.sandbox.ORCHESTRATOR_SYNTAX_PROMPT` for the subset of Python available.
    """

    task_type: str = SANDBOX_TASK_TYPE
    plugin_config: SandboxedConfig | None = None
    _sandbox_source: str = field(default="", repr=False)
    _sandbox_call: str = field(default="", repr=False)
    _sandbox_functions: dict[str, Any] = field(default_factory=dict, repr=False)
    _definition_file: str | None = field(default=None, repr=False)
    """The file that defines the task (its function is generated: code bundles ship this file)."""

    @property
    def source_file(self) -> str | None:
        return self._definition_file

    @classmethod
    def from_function(
        cls, func: Any, *, tasks: list[Any] | None, config: SandboxedConfig, **options: Any
    ) -> SandboxedTaskTemplate:
        """Build the template for ``func`` (its source runs sandboxed; ``options`` as for ``@env.task``)."""
        source = _function_source(func)
        parameters = list(inspect.signature(func).parameters)
        call = f"{func.__name__}({', '.join(f'{name}={name}' for name in parameters)})"
        functions = {**_tasks_named_by(func), **host_functions(tasks)}

        async def run_sandboxed(**inputs: Any) -> Any:
            return await run_in_sandbox(
                f"{source}\n\n{call}\n", inputs=inputs, functions=functions, limits=config.limits()
            )

        _mirror(run_sandboxed, func)
        return cls(
            func=run_sandboxed,
            _definition_file=inspect.getsourcefile(func),
            plugin_config=config,
            _sandbox_source=source,
            _sandbox_call=call,
            _sandbox_functions=functions,
            **options,
        )

    def custom_config(self, sctx: Any) -> dict[str, Any]:
        config = self.plugin_config or SandboxedConfig()
        return {
            "timeout_ms": config.timeout_ms,
            "max_memory": config.max_memory,
            "max_stack_depth": config.max_stack_depth,
            "type_check": config.type_check,
            "functions": sorted(self._sandbox_functions),
        }


@dataclass(kw_only=True, eq=False)
class CodeTaskTemplate(SandboxedTaskTemplate):
    """A sandboxed task made from a code string (``flyte.sandbox.orchestrator_from_str``).

    The inputs are globals of the code; the value of its last expression is the output.
    """

    @classmethod
    def from_source(
        cls,
        source: str,
        *,
        inputs: dict[str, type],
        output: type,
        tasks: list[Any] | None,
        config: SandboxedConfig,
        function_name: str,
        module: str,
        **options: Any,
    ) -> CodeTaskTemplate:
        """Build the template; ``module`` is where it is defined (how a worker imports it again)."""
        from flyte.sandbox._runtime import check_source

        check_source(source)
        functions = host_functions(tasks)

        async def run_code(**values: Any) -> Any:
            return await run_in_sandbox(source, inputs=values, functions=functions, limits=config.limits())

        parameters = [
            inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, annotation=kind) for key, kind in inputs.items()
        ]
        run_code.__signature__ = inspect.Signature(parameters, return_annotation=output)  # type: ignore[attr-defined]
        run_code.__annotations__ = {**inputs, "return": output}
        run_code.__name__ = run_code.__qualname__ = function_name.replace("-", "_")
        run_code.__module__ = module
        module_file = getattr(sys.modules.get(module), "__file__", None)
        return cls(
            func=run_code,
            _definition_file=module_file,
            plugin_config=config,
            _sandbox_source=source,
            _sandbox_functions=functions,
            **options,
        )


def _mirror(wrapper: Any, func: Any) -> None:
    """Give ``wrapper`` the name, module, docstring and signature of ``func`` (the task's interface)."""
    for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(wrapper, attribute, getattr(func, attribute, None))
    wrapper.__signature__ = inspect.signature(func)
    wrapper.__annotations__ = dict(getattr(func, "__annotations__", {}))

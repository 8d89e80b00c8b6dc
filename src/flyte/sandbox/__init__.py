"""Orchestration code that runs in a sandbox: Monty (``pydantic-monty``), a Python subset in its own process.

Code written at run time — by an LLM agent, by a user in a form — is orchestration you do not
want to run with your task's permissions. Here it runs in a Monty worker with no file system,
network, environment or host modules, under time, memory and recursion limits, and it can call
exactly the tasks it is given. Each such call is a real task call: inside a run it becomes a
child action, recorded, cached and retried like any other.

* :func:`orchestrate_local` — run a code string once, now, with some inputs and tasks;
* :func:`orchestrator_from_str` — a task (:class:`CodeTaskTemplate`) from a code string, to
  ``flyte.run`` locally or on a control plane;
* ``@env.sandbox.orchestrator`` — a task whose function body runs sandboxed
  (:class:`SandboxedTaskTemplate`).

Example:
    >>> import flyte, flyte.sandbox
    >>> env = flyte.TaskEnvironment(name="agents")
    >>> @env.task
    ... async def add(x: int, y: int) -> int:
    ...     return x + y
    >>> pipeline = flyte.sandbox.orchestrator_from_str(
    ...     "add(x, y) * 2", inputs={"x": int, "y": int}, output=int, tasks=[add]
    ... )  # doctest: +SKIP
    >>> flyte.run(pipeline, x=1, y=2).outputs()[0]  # doctest: +SKIP
    6
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from flyte.sandbox._runtime import ALLOWED_IMPORTS, SandboxError, SandboxLimits, host_functions, run_in_sandbox
from flyte.sandbox._templates import CodeTaskTemplate, SandboxedConfig, SandboxedTaskTemplate

__all__ = [
    "ORCHESTRATOR_SYNTAX_PROMPT",
    "CodeTaskTemplate",
    "ImageConfig",
    "SandboxError",
    "SandboxedConfig",
    "SandboxedTaskTemplate",
    "create",
    "orchestrate_local",
    "orchestrator_from_str",
    "sandbox_environment",
]

ORCHESTRATOR_SYNTAX_PROMPT = f"""You are writing orchestration code that runs in a restricted Python sandbox.
Rules of the sandbox:
- Call the functions you are given directly and synchronously: `total = add(x, y)`, never `await add(x, y)`.
  Each call runs a task and returns its result; an exception it raises can be caught with try/except.
- The inputs are already defined as variables. The value of the last expression is the result:
  end the code with the expression to return (for example a variable name or a dict).
- Imports: only {", ".join(sorted(ALLOWED_IMPORTS))}. There is no file system, network, environment
  variables, subprocesses or third-party packages; `open`, `os` and `sys` are not available.
- Define helper functions and classes as needed; loops, comprehensions, f-strings, dicts, lists,
  sets and tuples work as in Python. Keep values to plain data (numbers, strings, lists, dicts).
- Execution time, memory and recursion depth are limited: no infinite loops, no deep recursion.
"""
"""Instructions for a language model that writes code for :func:`orchestrator_from_str` / :func:`orchestrate_local`."""


@dataclass(frozen=True)
class ImageConfig:
    """Where :func:`create` sandboxes build their images (registry, Python version)."""

    registry: str | None = None
    registry_secret: str | None = None
    python_version: tuple[int, int] | None = None


async def orchestrate_local(
    source: str,
    *,
    inputs: dict[str, Any],
    tasks: list[Any] | None = None,
    timeout_ms: int = 30_000,
) -> Any:
    """Run ``source`` once in the sandbox and return the value of its last expression.

    The tasks are called as they would be outside a run (their functions run in this process);
    inside a task, they become child actions of it.

    Raises:
        SandboxError: a syntax error, a forbidden import, a limit exceeded, or an error the code raised.

    Example:
        >>> source, inputs = "add(x, y) * 2", {"x": 1, "y": 2}
        >>> await flyte.sandbox.orchestrate_local(source, inputs=inputs, tasks=[add])  # doctest: +SKIP
        6
    """
    return await run_in_sandbox(
        source,
        inputs=inputs,
        functions=host_functions(tasks),
        limits=SandboxLimits(timeout_ms=timeout_ms),
    )


def orchestrator_from_str(
    source: str,
    *,
    inputs: dict[str, type],
    output: type = type(None),
    tasks: list[Any] | None = None,
    name: str = "sandboxed-code",
    timeout_ms: int = 30_000,
    cache: Any = "disable",
    retries: int = 0,
    image: Any = None,
) -> CodeTaskTemplate:
    """A task that runs ``source`` in the sandbox: ``inputs`` are its typed inputs (globals of the
    code), ``output`` the type of its last expression, ``tasks`` what it may call.

    The task belongs to :data:`sandbox_environment` (or pass it to ``env.sandbox.orchestrator``
    for one of yours). Defining it at module level lets a control plane's worker import it.

    Raises:
        SandboxError: the code has a syntax error or imports what it may not (checked now).
    """
    from flyte.sandbox._namespace import environment_options

    caller = inspect.currentframe()
    module = caller.f_back.f_globals.get("__name__", "__main__") if caller and caller.f_back else "__main__"
    env = sandbox_environment
    options = environment_options(env, cache=cache, retries=retries)
    if image is not None:
        options["image"] = image
    template = CodeTaskTemplate.from_source(
        source,
        inputs=dict(inputs),
        output=output,
        tasks=tasks,
        config=SandboxedConfig(timeout_ms=timeout_ms),
        function_name=name,
        module=module,
        short_name=name,
        **{**options, "name": f"{env.name}.{name}"},
    )
    env._tasks[template.name] = template  # the latest definition of a name wins (notebooks redefine)
    return template


def create(name: str | None = None, **options: Any) -> Any:
    """Flyte 2's container code sandbox (a fresh container per run, built from packages).

    Not available here: run code with its own dependencies as a task whose environment has an
    image (``flyte.Image...with_pip_packages``), or use :func:`orchestrator_from_str` for
    sandboxed orchestration code.

    Raises:
        NotImplementedError: always, with that advice.
    """
    raise NotImplementedError(
        "flyte.sandbox.create (a container per run) is not available in this implementation; run the code as a "
        "task of an environment with an image, or use flyte.sandbox.orchestrator_from_str for sandboxed "
        "orchestration code"
    )


def _sandbox_environment() -> Any:
    from flyte._task_environment import TaskEnvironment

    return TaskEnvironment(name="sandbox", description="Tasks made by flyte.sandbox.orchestrator_from_str")


sandbox_environment = _sandbox_environment()
"""The environment of tasks made by :func:`orchestrator_from_str`."""

"""Running code in the Monty sandbox (``pydantic-monty``), with host functions on an allow-list.

The sandbox is a separate ``monty`` worker process running a Python subset: no file system, no
network, no environment, no host modules. The code reaches the outside world only through the
functions it is given (tasks, durable operations). Each call to one suspends the sandbox; the
host awaits the real function (inside a run, that submits a child action, recorded like any
other) and resumes the sandbox with the result or the exception. Anything else the code calls
that it did not define raises ``NameError`` in the sandbox.

Limits (:class:`SandboxLimits`): execution time (only time spent running sandboxed code counts;
waiting on tasks does not), heap memory and recursion depth, enforced by Monty itself.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ALLOWED_IMPORTS", "SandboxError", "SandboxLimits", "check_source", "run_in_sandbox"]

ALLOWED_IMPORTS = frozenset(
    {
        "math",
        "json",
        "re",
        "datetime",
        "collections",
        "itertools",
        "functools",
        "typing",
        "dataclasses",
        "statistics",
        "string",
        "random",
        "decimal",
        "fractions",
        "operator",
        "asyncio",
        "enum",
        "textwrap",
    }
)
"""Standard-library modules sandboxed code may import (pure computation, nothing that reaches the host)."""


class SandboxError(RuntimeError):
    """Sandboxed code failed: a syntax error, a forbidden import, a limit, or an exception it raised."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        """``SyntaxError``, ``ImportError``, ``TimeoutError``, ``MemoryError``, ... (the sandbox's error class)."""


@dataclass(frozen=True)
class SandboxLimits:
    """What sandboxed code may use."""

    timeout_ms: int = 30_000
    """Execution time of the code (waiting on the tasks it calls does not count)."""
    max_memory: int = 50 * 1024 * 1024
    """Heap bytes."""
    max_stack_depth: int = 256
    """Nested calls."""
    type_check: bool = False
    """Type-check the code before running it (Monty's checker)."""
    max_calls: int = 10_000
    """Calls to host functions (tasks) in one execution."""


def check_source(source: str) -> None:
    """Refuse code that cannot run or may not run, before any sandbox starts.

    Raises:
        SandboxError: a syntax error, or an import of a module outside :data:`ALLOWED_IMPORTS`.

    Example:
        >>> check_source("import math\\nmath.sqrt(4)")
        >>> check_source("import os")
        Traceback (most recent call last):
        ...
        flyte.sandbox._runtime.SandboxError: sandboxed code may not import 'os' (line 1); allowed: asyncio, ...
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise SandboxError(
            "SyntaxError", f"sandboxed code has a syntax error at line {error.lineno}: {error.msg}"
        ) from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        else:
            continue
        for module in modules:
            if module.split(".")[0] not in ALLOWED_IMPORTS:
                allowed = ", ".join(sorted(ALLOWED_IMPORTS))
                raise SandboxError(
                    "ImportError",
                    f"sandboxed code may not import {module!r} (line {node.lineno}); allowed: {allowed}",
                )


def _host_name(function: Any) -> str:
    short = getattr(function, "short_name", None)
    func = getattr(function, "func", None)
    return str(getattr(func, "__name__", None) or short or getattr(function, "__name__", ""))


def host_functions(functions: list[Any] | Mapping[str, Any] | None) -> dict[str, Any]:
    """The allow-list: tasks and functions by the name the code calls them with."""
    if functions is None:
        return {}
    if isinstance(functions, Mapping):
        return dict(functions)
    named: dict[str, Any] = {}
    for function in functions:
        name = _host_name(function)
        if not name:
            raise ValueError(f"Cannot tell the name of {function!r}; pass a dict of name -> function")
        named[name] = function
    return named


async def _call_host(function: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    aio = getattr(function, "aio", None)
    result = aio(*args, **kwargs) if callable(aio) else function(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


_STUB_TYPES = {int: "int", float: "float", str: "str", bool: "bool", type(None): "None", bytes: "bytes"}


def _stub_type(annotation: Any) -> str:
    return _STUB_TYPES.get(annotation, "Any")


def type_stubs(inputs: Mapping[str, Any], functions: Mapping[str, Any]) -> str:
    """Declarations of the inputs and host functions, for Monty's type checker.

    Scalars keep their types; anything else is ``Any`` (the checker then only catches undefined
    names, wrong arity and scalar mismatches).

    Example:
        >>> print(type_stubs({"x": 1}, {}))
        from typing import Any
        x: int
    """
    lines = ["from typing import Any"]
    for name, value in inputs.items():
        lines.append(f"{name}: {_stub_type(type(value))}")
    for name, function in functions.items():
        interface = getattr(function, "interface", None)
        if interface is not None:
            params = ", ".join(f"{key}: {_stub_type(kind)}" for key, (kind, _default) in interface.inputs.items())
            outputs = list(interface.outputs.values())
            returns = _stub_type(outputs[0]) if len(outputs) == 1 else ("None" if not outputs else "Any")
            lines.append(f"def {name}({params}) -> {returns}: ...")
        else:
            lines.append(f"def {name}(*args: Any, **kwargs: Any) -> Any: ...")
    return "\n".join(lines)


def _print(stream: str, text: str) -> None:
    target = sys.stderr if stream == "stderr" else sys.stdout
    target.write(text)
    target.flush()


async def run_in_sandbox(
    source: str,
    *,
    inputs: Mapping[str, Any],
    functions: Mapping[str, Any],
    limits: SandboxLimits,
    print_callback: Callable[[str, str], None] | None = None,
) -> Any:
    """Run ``source`` in a fresh Monty worker; its last expression's value is returned.

    Raises:
        SandboxError: the code has a syntax error, imports what it may not, exceeds a limit,
            calls a function it was not given, or raises.
        Exception: what a host function (a task) raised, when the code does not catch it.
    """
    check_source(source)
    import pydantic_monty as monty

    resource_limits: monty.ResourceLimits = {
        "max_feed_duration_secs": limits.timeout_ms / 1000,
        "max_memory": limits.max_memory,
        "max_recursion_depth": limits.max_stack_depth,
        "max_suspensions": limits.max_calls,
    }
    stubs = type_stubs(inputs, functions) if limits.type_check else None
    try:
        async with monty.AsyncMonty(min_processes=1, max_processes=1) as pool:
            async with pool.checkout(
                script_name="sandboxed.py",
                limits=resource_limits,
                type_check=limits.type_check,
                type_check_stubs=stubs,
            ) as session:
                snapshot = await session.feed_start(
                    source, inputs=dict(inputs), print_callback=print_callback or _print
                )
                while not isinstance(snapshot, monty.MontyComplete):
                    if not isinstance(snapshot, monty.AsyncFunctionSnapshot) or snapshot.is_os_function:
                        # The file system, the clock source and other OS calls: not available.
                        snapshot = await _refuse_os(snapshot)
                        continue
                    name = str(snapshot.function_name)
                    function = functions.get(name)
                    if function is None:
                        available = ", ".join(sorted(functions)) or "none"
                        error: BaseException = NameError(
                            f"name {name!r} is not defined (functions this code may call: {available})"
                        )
                    else:
                        try:
                            value = await _call_host(function, snapshot.args, snapshot.kwargs)
                        except asyncio.CancelledError:
                            raise
                        except Exception as failure:
                            error = _as_sandbox_exception(failure)
                        else:
                            snapshot = await snapshot.resume({"return_value": value})
                            continue
                    snapshot = await snapshot.resume({"exception": error})
                return snapshot.output
    except monty.MontySyntaxError as error:
        raise SandboxError("SyntaxError", f"sandboxed code has a syntax error: {error}") from None
    except monty.MontyRuntimeError as error:
        text = str(error).strip()
        kind = text.split(":", 1)[0] if ":" in text.split("\n", 1)[0] else "RuntimeError"
        last = text.splitlines()[-1] if text else kind
        raise SandboxError(kind, f"sandboxed code failed: {last}") from None
    except monty.MontyTypingError as error:
        raise SandboxError("TypeError", f"sandboxed code does not type-check: {_typing_summary(str(error))}") from None


def _typing_summary(report: str) -> str:
    """Monty's multi-line type-check report as one line: each error with its line:column.

    Example:
        >>> _typing_summary("error[x]: Name `nope` used when not defined\n --> sandboxed.py:1:1\n  |")
        'Name `nope` used when not defined (line 1:1)'
    """
    found: list[str] = []
    message = None
    for line in report.splitlines():
        stripped = line.strip()
        if stripped.startswith("error[") and "]: " in stripped:
            message = stripped.split("]: ", 1)[1]
        elif stripped.startswith("-->") and message is not None:
            where = stripped.rsplit(":", 2)
            found.append(f"{message} (line {where[-2]}:{where[-1]})" if len(where) == 3 else message)
            message = None
    if message is not None:
        found.append(message)
    return "; ".join(found) or report.strip().splitlines()[0]


def _as_sandbox_exception(failure: Exception) -> BaseException:
    """A task's failure as the sandbox sees it: the user's exception class when it is a built-in one.

    Inside a run a task's ``ValueError`` reaches the caller as ``RuntimeUserError`` with code
    ``ValueError``; the sandboxed code catches it as ``ValueError``, as it would in plain Python.
    """
    import builtins

    from flyte.errors import BaseRuntimeError

    if isinstance(failure, BaseRuntimeError):
        kind = getattr(builtins, str(failure.code), None)
        if isinstance(kind, type) and issubclass(kind, Exception):
            return kind(str(failure))
    return failure


async def _refuse_os(snapshot: Any) -> Any:
    import pydantic_monty as monty

    if isinstance(snapshot, monty.AsyncNameLookupSnapshot):
        return await snapshot.resume()  # an undefined name stays undefined: NameError in the sandbox
    if isinstance(snapshot, monty.AsyncFutureSnapshot):
        return await snapshot.resume_auto()
    # An OS call (files, environment, clock): Monty's own refusal (PermissionError in the sandbox).
    return await snapshot.resume_not_handled()

"""flyte.sandbox in local mode: generated orchestration code runs in Monty, calls only the tasks it
was given, records them as actions, and is stopped with a clear error when it reaches for the host."""

from __future__ import annotations

import time

import pytest
import sandbox_tasks as tasks  # type: ignore[import-not-found]

import flyte
import flyte.sandbox
from flyte.sandbox import SandboxError


def _local(task, **inputs):  # type: ignore[no-untyped-def]
    return flyte.with_runcontext(mode="local").run(task, **inputs)


async def test_orchestrate_local_calls_the_given_tasks() -> None:
    assert await flyte.sandbox.orchestrate_local("add(x, y) * 2", inputs={"x": 1, "y": 2}, tasks=[tasks.add]) == 6


def test_a_code_task_runs_and_records_the_tasks_it_calls_as_actions() -> None:
    run = _local(tasks.doubled_sum, x=1, y=2)
    assert run.outputs()[0] == 6
    assert sorted(record.task_name for record in run.actions()) == ["sandbox.doubled_sum", "sandbox_tests.add"]


def test_generated_code_with_helpers_loops_and_a_handled_task_error() -> None:
    run = _local(tasks.generated, n=4)
    assert run.outputs()[0] == {"total": 14, "count": 4, "refused": True}
    names = sorted(record.task_name for record in run.actions())
    assert names.count("sandbox_tests.square") == 4 and names.count("sandbox_tests.refuse") == 1


def test_a_decorated_function_body_runs_sandboxed() -> None:
    run = _local(tasks.fan, n=4)
    assert run.outputs()[0] == 0 + 1 + 4 + 9
    assert sum(record.task_name == "sandbox_tests.add" for record in run.actions()) == 4


def test_importing_os_is_refused_when_the_task_is_made() -> None:
    with pytest.raises(SandboxError, match=r"sandboxed code may not import 'os' \(line 2\); allowed: asyncio"):
        flyte.sandbox.orchestrator_from_str("x = 1\nimport os\nos.listdir('/')", inputs={}, name="uses_os")


async def test_opening_a_file_is_stopped() -> None:
    with pytest.raises(SandboxError, match=r"PermissionError: Permission denied: '/etc/passwd'"):
        await flyte.sandbox.orchestrate_local("open('/etc/passwd').read()", inputs={})
    checked = flyte.sandbox.orchestrator_from_str("open('/etc/passwd').read()", inputs={}, output=str, name="reads")
    with pytest.raises(flyte.errors.RuntimeUserError, match=r"Name `open` used when not defined \(line 1:1\)"):
        _local(checked)


async def test_an_endless_loop_is_stopped_by_the_time_limit() -> None:
    started = time.monotonic()
    with pytest.raises(SandboxError, match=r"TimeoutError: feed time limit exceeded"):
        await flyte.sandbox.orchestrate_local("while True:\n    pass", inputs={}, timeout_ms=500)
    assert time.monotonic() - started < 30


async def test_memory_and_recursion_are_limited() -> None:
    with pytest.raises(SandboxError, match=r"MemoryError"):
        await flyte.sandbox.orchestrate_local("x = [0] * (10 ** 9)\nlen(x)", inputs={})
    with pytest.raises(SandboxError, match=r"RecursionError"):
        await flyte.sandbox.orchestrate_local("def f(n):\n    return f(n + 1)\nf(0)", inputs={})


async def test_a_function_it_was_not_given_is_a_name_error() -> None:
    with pytest.raises(SandboxError, match=r"name 'square' is not defined \(functions this code may call: add\)"):
        await flyte.sandbox.orchestrate_local("square(3)", inputs={}, tasks=[tasks.add])


def test_syntax_errors_name_the_line() -> None:
    with pytest.raises(SandboxError, match=r"syntax error at line 2"):
        flyte.sandbox.orchestrator_from_str("x = 1\ny = (", inputs={}, name="broken")


def test_the_environment_namespace_and_the_prompt() -> None:
    assert isinstance(tasks.fan, flyte.sandbox.SandboxedTaskTemplate)
    assert isinstance(tasks.generated, flyte.sandbox.CodeTaskTemplate)
    assert tasks.fan.task_type == "sandboxed-python" and tasks.fan.name == "sandbox_tests.fan"
    assert (
        "no `await`" in flyte.sandbox.ORCHESTRATOR_SYNTAX_PROMPT
        or "never `await" in flyte.sandbox.ORCHESTRATOR_SYNTAX_PROMPT
    )

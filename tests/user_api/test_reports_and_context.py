"""Reports, the task context, custom context and backoff, seen from user code."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import timedelta
from pathlib import Path

import pytest

import flyte
import flyte.report

env = flyte.TaskEnvironment(name="reports", env_vars={"REPORTS_MODE": "on"})


@env.task(report=True)
async def with_report(title: str) -> str:
    flyte.report.log(f"<h1>{title}</h1>")
    flyte.report.get_tab("metrics").log("<p>loss=0.1</p>")
    context = flyte.ctx()
    assert context is not None
    return context.output_path


@env.task
async def read_env() -> str:
    import os

    return os.environ["REPORTS_MODE"]


ATTEMPT_TIMES: list[float] = []


@env.task(retries=flyte.RetryStrategy(count=2, backoff=flyte.Backoff(base=timedelta(seconds=0.3), factor=1)))
async def slow_to_recover() -> int:
    ATTEMPT_TIMES.append(time.monotonic())
    if len(ATTEMPT_TIMES) < 3:
        raise TimeoutError("not yet")
    return len(ATTEMPT_TIMES)


@env.task
async def uses_custom_context() -> list[str]:
    with flyte.custom_context(stage="inner"):
        inner = await show_custom_context()
    return [inner, await show_custom_context()]


@env.task
async def show_custom_context() -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(flyte.get_custom_context().items()))


def test_report_is_written_next_to_the_outputs(tmp_path: Path) -> None:
    run = flyte.with_runcontext(run_base_dir=str(tmp_path)).run(with_report, title="Loss curve")
    report = Path(run.outputs().o0) / "report.html"
    html = report.read_text()
    assert "<h1>Loss curve</h1>" in html and "loss=0.1" in html and "metrics" in html


def test_environment_variables_of_the_environment_are_set() -> None:
    assert flyte.run(read_env).outputs().o0 == "on"


def test_backoff_waits_between_attempts() -> None:
    ATTEMPT_TIMES.clear()
    assert flyte.run(slow_to_recover).outputs().o0 == 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(ATTEMPT_TIMES)]
    assert all(gap >= 0.25 for gap in gaps), gaps


def test_custom_context_flows_to_children() -> None:
    run = flyte.with_runcontext(custom_context={"team": "ml"}).run(uses_custom_context)
    assert run.outputs().o0 == ["stage=inner,team=ml", "team=ml"]


def test_ctx_is_none_outside_a_task() -> None:
    assert not flyte.ctx() and flyte.ctx().action is None


def test_environment_validation() -> None:
    with pytest.raises(ValueError, match="snake_case or kebab-case"):
        flyte.TaskEnvironment(name="Bad Name")
    clone = env.clone_with("reports-2", env_vars={"A": "b"})
    assert clone.name == "reports-2" and clone.env_vars == {"A": "b"} and clone.tasks == {}
    assert set(env.tasks) >= {"reports.with_report", "reports.read_env"}
    with pytest.raises(ValueError, match="already has a task"):
        env.task(read_env.func)


RUNNING: list[int] = []
PEAK: list[int] = []


@env.task
async def busy(x: int) -> int:
    RUNNING.append(x)
    PEAK.append(len(RUNNING))
    await asyncio.sleep(0.05)
    RUNNING.remove(x)
    return x


@env.task
async def middle(x: int) -> int:
    return sum(await asyncio.gather(busy(x), busy(x + 100)))


@env.task
async def wide_and_deep(n: int) -> int:
    return sum(await asyncio.gather(*(middle(i) for i in range(n))))


@pytest.mark.parametrize("limit", [1, 2])
def test_max_action_concurrency_limits_running_actions_without_deadlock(limit: int) -> None:
    PEAK.clear()
    run = flyte.with_runcontext(max_action_concurrency=limit).run(wide_and_deep, n=4)
    assert run.outputs().o0 == sum(i + i + 100 for i in range(4))
    assert max(PEAK) == limit

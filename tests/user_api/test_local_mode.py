"""Black-box tests of local mode: programs written for Flyte 2, run with ``flyte.run``."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import flyte
import flyte.errors

from . import programs as p


def count(path: Path) -> int:
    return int(path.read_text()) if path.exists() else 0


def test_fan_out_with_gather() -> None:
    run = flyte.run(p.fan_out, n=5)
    assert run.outputs().o0 == [0, 1, 4, 9, 16]
    assert run.phase == "SUCCEEDED"
    assert len(run.actions()) == 6


def test_recursion_through_tasks() -> None:
    assert flyte.run(p.fib, n=10).outputs()[0] == 55


def test_sync_tasks_nest_on_worker_threads() -> None:
    assert flyte.run(p.sync_chain, x=3).outputs().o0 == 12 + 6


def test_calling_a_task_outside_a_run_is_a_plain_call() -> None:
    assert p.double(4) == 8


def test_map_in_sync_task_keeps_order() -> None:
    assert flyte.run(p.map_double, xs=[3, 1, 2]).outputs().o0 == [6, 2, 4]


def test_map_aio_in_async_task() -> None:
    assert flyte.run(p.map_aio, xs=[1, 2, 3, 4]).outputs().o0 == [1, 4, 9, 16]


def test_map_runs_in_parallel() -> None:
    started = time.monotonic()
    outputs = flyte.run(p.map_sleepy, n=8, concurrency=8).outputs().o0
    elapsed = time.monotonic() - started
    assert outputs == [0.5] * 8
    assert elapsed < 2.0, f"8 x 0.5 s with concurrency=8 took {elapsed:.2f}s"


def test_map_returns_exceptions_in_place() -> None:
    assert flyte.run(p.map_with_failures, xs=[0, 1, 2]).outputs().o0 == ["0", "RuntimeUserError", "2"]


def test_sync_task_called_blocking_from_async_code_is_rejected() -> None:
    with pytest.raises(flyte.errors.RuntimeUserError, match=r"double\.aio") as info:
        flyte.run(p.calls_sync_without_aio)
    assert info.value.code == "SyncTaskCallInAsyncContextError"


def test_child_error_arrives_as_runtime_user_error_with_code() -> None:
    assert flyte.run(p.catch_child_error, x=3).outputs().o0 == "ValueError: bad 3"


def test_root_failure_raises_from_run() -> None:
    with pytest.raises(flyte.errors.RuntimeUserError) as info:
        flyte.run(p.boom, x=1)
    assert info.value.code == "ValueError"
    assert str(info.value) == "bad 1"
    assert isinstance(info.value.__cause__, ValueError)


def test_groups_make_distinct_actions() -> None:
    run = flyte.run(p.grouped)
    assert run.outputs().o0 == [9, 9, 9]
    children = [a for a in run.actions() if a.parent == "a0"]
    assert sorted(a.group or "" for a in children) == ["", "first", "second"]
    assert len({a.action_id.name for a in children}) == 3


def test_retries_until_success(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    assert flyte.run(p.flaky, counter_file=str(counter), fail_times=2).outputs().o0 == 3
    root = next(a for a in flyte.run(p.flaky, counter_file=str(tmp_path / "c2"), fail_times=1).actions())
    assert root.attempts == 2


def test_retries_exhausted_raise_the_last_error(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    with pytest.raises(flyte.errors.RuntimeUserError) as info:
        flyte.run(p.flaky, counter_file=str(counter), fail_times=10)
    assert info.value.code == "ConnectionError"
    assert count(counter) == 4  # one attempt plus three retries


def test_non_recoverable_error_is_not_retried(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    with pytest.raises(flyte.errors.RuntimeUserError, match="corrupt") as info:
        flyte.run(p.hopeless, counter_file=str(counter))
    assert info.value.code == "NonRecoverableError"
    assert count(counter) == 1


def test_trace_is_replayed_when_the_parent_retries(tmp_path: Path) -> None:
    calls, fails = tmp_path / "calls", tmp_path / "fails"
    run = flyte.run(p.traced_then_fail, prompt="hi", counter_file=str(calls), fail_file=str(fails))
    assert run.outputs().o0 == "HI"
    assert count(fails) == 2  # the task ran twice ...
    assert count(calls) == 1  # ... but the traced call only once
    assert [a.kind for a in run.actions()].count("trace") == 1


@pytest.mark.parametrize("task", [p.too_slow_async, p.too_slow_sync], ids=["async", "sync"])
def test_timeout_is_enforced(task: flyte.AsyncFunctionTaskTemplate) -> None:  # type: ignore[type-arg]
    started = time.monotonic()
    with pytest.raises(flyte.errors.TaskTimeoutError):
        flyte.run(task)
    assert time.monotonic() - started < 5


def test_typed_inputs_and_multiple_outputs() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    outputs = flyte.run(
        p.typed,
        point=p.Point(x=1, y=1.5),
        settings=p.Settings(name="s", tags=["a", "b"]),
        color=p.Color.BLUE,
        when=when,
        gap=timedelta(hours=1),
        maybe=None,
        either="text",
    ).outputs()
    assert outputs.o0 == p.Point(x=2, y=3.0)
    assert outputs.o1 == "s:a,b:blue:None:text"
    assert outputs.o2 == when + timedelta(hours=1)
    assert len(outputs) == 3


def test_wrong_input_type_fails_before_the_task_runs() -> None:
    with pytest.raises(flyte.errors.RuntimeDataValidationError, match="'x'") as info:
        flyte.run(p.square, x="three")
    assert "int" in str(info.value) and "str" in str(info.value)


def test_unknown_or_missing_inputs_are_type_errors() -> None:
    with pytest.raises(TypeError, match="unexpected input 'y'"):
        flyte.run(p.square, y=1)
    with pytest.raises(TypeError, match="missing required input"):
        flyte.run(p.square)


def test_cache_hits_skip_execution(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    assert flyte.run(p.call_cached, xs=[1, 2, 2], counter_file=str(counter)).outputs().o0 == [1, 4, 4]
    first = count(counter)
    assert first in (2, 3)  # the two identical calls may race in one run
    run = flyte.run(p.call_cached, xs=[1, 2], counter_file=str(counter))
    assert run.outputs().o0 == [1, 4]
    assert count(counter) == first
    assert {a.cache_status for a in run.actions() if a.parent} == {"CACHE_HIT"}


def test_overwrite_cache_reexecutes(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    flyte.run(p.cached_square, x=3, counter_file=str(counter))
    flyte.run(p.cached_square, x=3, counter_file=str(counter))
    assert count(counter) == 1
    run = flyte.with_runcontext(overwrite_cache=True).run(p.cached_square, x=3, counter_file=str(counter))
    assert run.outputs().o0 == 9
    assert count(counter) == 2
    flyte.run(p.cached_square, x=3, counter_file=str(counter))
    assert count(counter) == 2  # the refreshed entry serves later runs


def test_disable_run_cache(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    flyte.run(p.cached_square, x=4, counter_file=str(counter))
    flyte.with_runcontext(disable_run_cache=True).run(p.cached_square, x=4, counter_file=str(counter))
    assert count(counter) == 2


def test_ignored_inputs_do_not_change_the_key(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    flyte.run(p.cached_ignoring, x=1, note="first", counter_file=str(counter))
    assert flyte.run(p.cached_ignoring, x=1, note="second", counter_file=str(counter)).outputs().o0 == 2
    assert count(counter) == 1
    flyte.run(p.cached_ignoring, x=2, note="second", counter_file=str(counter))
    assert count(counter) == 2


def test_context_names_and_custom_context(monkeypatch: pytest.MonkeyPatch) -> None:
    run = flyte.with_runcontext(
        name="my-run", env_vars={"PROGRAMS_GREETING": "hello"}, custom_context={"team": "ml"}
    ).run(p.whoami)
    assert run.name == "my-run"
    assert run.outputs().o0 == {"action": "a0", "run": "my-run", "env": "hello", "team": "ml"}
    monkeypatch.delenv("PROGRAMS_GREETING")


def test_child_names_are_deterministic_and_distinct() -> None:
    first = flyte.run(p.child_names).outputs().o0
    second = flyte.run(p.child_names).outputs().o0
    assert first == second
    assert len(set(first)) == 2 and all(len(name) == 25 for name in first)


def test_task_override_changes_one_call(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    quick = p.flaky.override(retries=0)
    with pytest.raises(flyte.errors.RuntimeUserError):
        flyte.run(quick, counter_file=str(counter), fail_times=1)
    assert count(counter) == 1
    assert p.flaky.retries.count == 3


async def test_run_aio_from_async_code() -> None:
    run = await flyte.run.aio(p.fan_out, n=3)
    assert run.outputs().o0 == [0, 1, 4]


async def test_sync_run_inside_a_running_loop() -> None:
    assert flyte.run(p.square, x=7).outputs().o0 == 49

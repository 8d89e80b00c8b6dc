"""Conditions in local mode (``flyte.init()`` with no endpoint): the value comes from a handler, from
``FLYTE_CONDITION_<NAME>``, or from a prompt on the terminal; timeouts and failures raise the same
errors as remotely."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from types import ModuleType

import pytest

from .conftest import PROGRAMS


@pytest.fixture
def wf(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    import flyte
    from flyte._condition import set_local_condition_handler
    from flyte.cli._loader import load_module

    monkeypatch.syspath_prepend(str(PROGRAMS))
    for name in ("FLYTE_CONDITION_APPROVE", "FLYTE_CONDITION_AMOUNT"):
        monkeypatch.delenv(name, raising=False)
    flyte.init()
    yield load_module(PROGRAMS / "hitl_wf.py")
    set_local_condition_handler(None)


def _run(task: object, **inputs: object) -> object:
    import flyte

    return flyte.run(task, **inputs).outputs()[0]


def test_the_value_comes_from_the_environment(wf: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_CONDITION_APPROVE", "yes")
    assert _run(wf.approval) == "approved"
    monkeypatch.setenv("FLYTE_CONDITION_APPROVE", "reject")
    assert _run(wf.approval) == "denied"


def test_a_handler_answers_and_its_failure_fails_the_condition(wf: ModuleType) -> None:
    from flyte._condition import set_local_condition_handler

    asked: list[tuple[str, str]] = []

    def handler(condition: object) -> int:
        asked.append((condition.name, condition.prompt))  # type: ignore[attr-defined]
        return 21

    set_local_condition_handler(handler)
    assert _run(wf.amount) == 42
    assert asked == [("amount", "How many?")]

    def refuse(condition: object) -> bool:
        raise PermissionError("not today")

    set_local_condition_handler(refuse)
    assert _run(wf.approval) == "ConditionFailedError"


def test_without_an_answer_it_times_out_or_fails_at_once(wf: ModuleType) -> None:
    assert _run(wf.approval, timeout=0.5) == "ConditionTimedoutError"
    began = time.monotonic()
    assert _run(wf.approval) == "ConditionFailedError"  # no terminal, no value, no timeout
    assert time.monotonic() - began < 30


def test_on_a_terminal_the_person_is_asked(tmp_path: object) -> None:
    """A local run on a terminal prompts; typing ``y`` approves."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import flyte, hitl_wf; flyte.init(); "
        "print('RESULT', flyte.run(hitl_wf.approval).outputs()[0], flush=True)"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "FLYTE_CONDITION_"))}
    env["HOME"] = str(tmp_path)
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(PROGRAMS)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        cwd=str(PROGRAMS),
        close_fds=True,
    )
    os.close(terminal)
    seen = b""
    answered = False
    deadline = time.monotonic() + 120
    try:
        while b"RESULT" not in seen or not seen.rstrip().endswith((b"approved", b"denied", b"Error")):
            assert time.monotonic() < deadline, seen.decode(errors="replace")[-2000:]
            ready, _, _ = select.select([controller], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
            if not answered and b"Ship it?" in seen:
                os.write(controller, b"y\n")
                answered = True
            if process.poll() is not None and not ready:
                break
    finally:
        process.wait(timeout=60)
        os.close(controller)
    text = seen.decode(errors="replace")
    assert "Condition: approve" in text and "Ship it?" in text, text[-2000:]
    assert "RESULT approved" in text, text[-2000:]

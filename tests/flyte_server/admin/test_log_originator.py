"""TailLogs marks each line USER or SYSTEM, which ``flyte get logs --filter-system`` relies on:
Flyte's runtime records (and the tracebacks under them) are SYSTEM, the task's output is USER."""

from __future__ import annotations

from flyteidl2.logs.dataplane import payload_pb2

from flyte_server.admin.dataproxy_service import _originator

USER, SYSTEM = int(payload_pb2.USER), int(payload_pb2.SYSTEM)


def _classify(lines: list[str]) -> list[int]:
    state = (USER, False)
    found = []
    for line in lines:
        state = _originator(line, state)
        found.append(state[0])
    return found


def test_records_of_both_runtimes_and_their_tracebacks_are_system() -> None:
    log = [
        "epoch 1 loss 0.5",
        "  (indented output of the task)",
        "[flyte] ERROR Task a0 failed: ValueError: boom",
        "Traceback (most recent call last):",
        '  File "wf.py", line 3, in main',
        "ValueError: boom",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        '  File "runtime.py", line 9, in run',
        "RuntimeError: wrapped",
        "[r1][a0] [flyte] INFO Uploaded outputs",
        "the task prints again",
    ]
    assert _classify(log) == [USER, USER, *[SYSTEM] * 11, USER]


def test_a_tasks_own_traceback_and_bracketed_output_stay_user() -> None:
    log = ["[note] starting", "Traceback (most recent call last):", '  File "wf.py", line 3', "KeyError: 'x'", "done"]
    assert _classify(log) == [USER] * 5

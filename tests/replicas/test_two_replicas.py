"""Two replicas on one PostgreSQL: any replica serves any call, and a dead replica's runs go on.

Every child leaves one mark per execution (``<i>.count``), so "ran exactly once" is checked.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from .conftest import LEASE_SECONDS, Cluster, psql_in

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]


def _counts(markers: Path) -> dict[str, int]:
    return {path.stem: len(path.read_text()) for path in markers.glob("*.count")}


def _fan_out(cluster: Cluster, server: object, markers: Path, n: int, seconds: float) -> str:
    markers.mkdir()
    inputs = {"marker_dir": str(markers), "n": n, "seconds": seconds}
    return str(cluster.call(server, {"op": "run", "task": "marked_fan_out", "inputs": inputs, "wait": False})["run"])


def _wait_for_marks(markers: Path, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(list(markers.glob("*.count"))) < count:
        assert time.monotonic() < deadline, f"fewer than {count} actions started"
        time.sleep(0.1)


def test_runs_created_on_either_replica_are_waited_for_on_the_other(cluster: Cluster, tmp_path: Path) -> None:
    first = _fan_out(cluster, cluster.a, tmp_path / "first", 5, 0.5)
    second = _fan_out(cluster, cluster.b, tmp_path / "second", 3, 0.5)
    on_b = cluster.call(cluster.b, {"op": "wait", "run": first}, timeout=120)
    on_a = cluster.call(cluster.a, {"op": "wait", "run": second}, timeout=120)
    assert (on_b["phase"], on_b["values"]) == ("SUCCEEDED", [10]), on_b
    assert (on_a["phase"], on_a["values"]) == ("SUCCEEDED", [3]), on_a
    assert _counts(tmp_path / "first") == {"root": 1, **{str(i): 1 for i in range(5)}}


def test_an_abort_sent_to_the_other_replica_stops_the_run(cluster: Cluster, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    run = _fan_out(cluster, cluster.a, markers, 3, 120.0)
    _wait_for_marks(markers, 4)
    cluster.call(cluster.b, {"op": "abort", "run": run})
    began = time.monotonic()
    result = cluster.call(cluster.b, {"op": "wait", "run": run}, timeout=120)
    assert result["phase"] == "ABORTED", result
    assert time.monotonic() - began < 60
    assert _counts(markers) == {"root": 1, "0": 1, "1": 1, "2": 1}


def test_a_killed_replica_s_run_is_finished_by_the_other_with_every_child_once(
    cluster: Cluster, tmp_path: Path
) -> None:
    markers = tmp_path / "markers"
    n = 12
    run = _fan_out(cluster, cluster.a, markers, n, 4.0)
    _wait_for_marks(markers, 5)
    cluster.a.kill9()
    try:
        result = cluster.call(cluster.b, {"op": "wait", "run": run}, timeout=240)
    finally:
        cluster.a.start()
    assert (result["phase"], result["values"]) == ("SUCCEEDED", [sum(range(n))]), (result, cluster.b.log_tail())
    counts = _counts(markers)
    assert counts.pop("root") >= 1
    assert counts == {str(i): 1 for i in range(n)}, "every child ran exactly once"
    assert "adopt" in cluster.b.log_tail(400)


def test_a_child_launched_just_before_its_replica_died_runs_once(cluster: Cluster, pg_url: str, tmp_path: Path) -> None:
    """The window between launching an attempt and committing it as RUNNING, held open.

    A trigger in the database stalls replica a's commits of its children's attempt rows, so a's
    children are launched while the store still says QUEUED; a dies in that window. b adopts the
    run and sees QUEUED children: they must not have run in a's workers already.
    """
    database = pg_url.rsplit("/", 1)[1]
    psql_in(
        database,
        "CREATE OR REPLACE FUNCTION stall_child_attempts() RETURNS trigger AS $$ BEGIN "
        "IF NEW.action_name <> 'a0' THEN PERFORM pg_sleep(8); END IF; RETURN NEW; END $$ LANGUAGE plpgsql; "
        "CREATE TRIGGER stall_child_attempts BEFORE INSERT ON attempts FOR EACH ROW "
        "EXECUTE FUNCTION stall_child_attempts()",
    )
    markers = tmp_path / "markers"
    n = 4
    try:
        run = _fan_out(cluster, cluster.a, markers, n, 0.5)
        _wait_for_marks(markers, 1)  # the parent runs; its children are being launched
        time.sleep(3.0)
        started_on_a = sorted(_counts(markers))
        cluster.a.kill9()
    finally:
        psql_in(database, "DROP TRIGGER IF EXISTS stall_child_attempts ON attempts")
    try:
        result = cluster.call(cluster.b, {"op": "wait", "run": run}, timeout=240)
    finally:
        cluster.a.start()
    assert (result["phase"], result["values"]) == ("SUCCEEDED", [sum(range(n))]), (result, cluster.b.log_tail())
    counts = _counts(markers)
    assert counts.pop("root") >= 1
    assert counts == {str(i): 1 for i in range(n)}, f"every child ran exactly once (started on a: {started_on_a})"


def test_a_replica_that_stalls_past_its_lease_is_fenced_and_lets_go(
    cluster: Cluster, pg_url: str, tmp_path: Path
) -> None:
    """SIGSTOP of replica a mid fan-out, past its lease: b adopts the run; a, woken, may not write.

    Its children finish in a's reused workers while a is stopped (their outcomes wait in the
    workers for a's acknowledgement). Woken, a's first write is refused (fenced), a lets go of the
    run and of those workers, which then leave the outcomes where b looks: every child once.
    """
    markers = tmp_path / "markers"
    n = 6
    run = _fan_out(cluster, cluster.a, markers, n, 2.0)
    _wait_for_marks(markers, n + 1)
    assert cluster.a.process is not None
    pid = cluster.a.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(3 * LEASE_SECONDS + 2)  # b adopts the run; the children finish meanwhile
    finally:
        os.kill(pid, signal.SIGCONT)
    result = cluster.call(cluster.b, {"op": "wait", "run": run}, timeout=240)
    assert (result["phase"], result["values"]) == ("SUCCEEDED", [sum(range(n))]), (result, cluster.b.log_tail())
    counts = _counts(markers)
    assert counts.pop("root") >= 1
    assert counts == {str(i): 1 for i in range(n)}, "every child ran exactly once"
    # One story in the store: a's late writes did not land beside b's (children ended SUCCEEDED, once).
    phases = psql_in(pg_url.rsplit("/", 1)[1], f"SELECT name, phase FROM actions WHERE run_name = '{run}'")
    rows = dict(line.split("|") for line in phases.split())
    assert len(rows) == n + 1 and set(rows.values()) == {"5"}, rows
    deadline = time.monotonic() + 30
    while "lost its lease" not in cluster.a.log_tail(400) and "was refused" not in cluster.a.log_tail(400):
        assert time.monotonic() < deadline, cluster.a.log_tail(60)
        time.sleep(0.5)


def test_a_restarted_replica_leaves_the_other_replica_s_live_runs_alone(cluster: Cluster, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    n = 4
    run = _fan_out(cluster, cluster.b, markers, n, 3.0)
    _wait_for_marks(markers, 2)
    cluster.a.kill9()
    cluster.a.start()
    time.sleep(LEASE_SECONDS)
    result = cluster.call(cluster.a, {"op": "wait", "run": run}, timeout=120)
    assert (result["phase"], result["values"]) == ("SUCCEEDED", [sum(range(n))]), result
    assert _counts(markers) == {"root": 1, **{str(i): 1 for i in range(n)}}


def test_a_trigger_fires_once_per_scheduled_time_with_two_live_replicas(cluster: Cluster, tmp_path: Path) -> None:
    """Both replicas' schedulers look at the trigger every second; its activation time fires one run."""
    markers = tmp_path / "markers"
    markers.mkdir()
    cluster.call(cluster.b, {"op": "trigger", "name": "hourly-stamp", "marker_dir": str(markers)}, timeout=120)
    _wait_for_marks(markers, 1)
    time.sleep(4 * 1.0 + 1.0)  # several passes of both schedulers (FLYTE_SERVER_SCHEDULER_POLL=1)
    assert _counts(markers) == {"fires": 1}, "one scheduled time, one run"

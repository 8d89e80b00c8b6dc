"""Runs waiting on conditions: worker processes and server memory they hold, and how fast a signal
resumes the waiting task.

    python bench/conditions.py [--runs 1000] [--park-after SECONDS|off]

Starts a server (workers: our runtime), starts RUNS runs that each wait on a condition, then prints
the live worker processes under the server's data directory and the server's RSS before and while
they wait (as soon as every condition exists, and again once the waits have parked: see
``FLYTE_SERVER_PARK_AFTER``, default 2 s; ``off`` keeps every wait in its process); then signals
conditions one at a time and prints the time from ``SignalEvent`` to the run's SUCCEEDED (the
waiting task got the value, returned, and its outputs were committed).
Targets (issue 16): no worker processes, <= 50 MB extra server memory, <= 100 ms to resume.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests" / "hitl" / "programs"))

from _server import start_server, stop_server


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _workers_under(root: Path) -> tuple[int, float]:
    """The worker processes working under ``root``, and their memory (PSS, MB: shared pages split)."""
    prefix = str(root.resolve()) + os.sep
    count = 0
    pss_kb = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/cwd").startswith(prefix):
                    count += 1
                    for line in Path(f"/proc/{entry}/smaps_rollup").read_text().splitlines():
                        if line.startswith("Pss:"):
                            pss_kb += int(line.split()[1])
            except OSError:
                pass
    return count, pss_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--resumes", type=int, default=20)
    parser.add_argument("--park-after", default="2", help="FLYTE_SERVER_PARK_AFTER of the server (seconds, or off)")
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-conditions-"))
    server, port = start_server(root, sys.executable, workers=8, env={"FLYTE_SERVER_PARK_AFTER": options.park_after})
    print(f"server: --workers 8, FLYTE_SERVER_PARK_AFTER={options.park_after}")
    try:
        import hitl_wf

        import flyte
        import flyte.remote

        os.chdir(Path(hitl_wf.__file__).parent)
        flyte.init(endpoint=f"127.0.0.1:{port}", insecure=True, project="flytesnacks", domain="development")
        time.sleep(1)
        baseline = _rss_mb(server.pid)
        runs = [flyte.run(hitl_wf.amount).name for _ in range(options.runs)]
        waiting: set[str] = set()
        deadline = time.monotonic() + 60 + options.runs
        while len(waiting) < len(runs) and time.monotonic() < deadline:
            for run in set(runs) - waiting:
                if flyte.remote.Condition.listall(run_name=run):
                    waiting.add(run)
            time.sleep(0.5)
        print(f"runs waiting on a condition: {len(waiting)}/{len(runs)}")
        workers, workers_mb = _workers_under(root / "data")
        print(f"worker processes as the last condition appears: {workers} ({workers_mb:.0f} MB PSS together)")
        settle = time.monotonic() + 60
        while workers and time.monotonic() < settle:
            time.sleep(1)
            workers, workers_mb = _workers_under(root / "data")
        print(f"worker processes while they wait, after up to 60 s: {workers} ({workers_mb:.0f} MB PSS together)")
        print(
            f"server RSS: {baseline:.0f} MB before, {_rss_mb(server.pid):.0f} MB while they wait "
            f"(+{_rss_mb(server.pid) - baseline:.0f} MB)"
        )
        latencies = []
        for index, run in enumerate(runs[: options.resumes]):
            condition = flyte.remote.Condition.get("amount", run_name=run)
            remote = flyte.remote.Run.get(run)
            started = time.perf_counter()
            condition.signal(index)
            remote.wait(quiet=True)
            latencies.append((time.perf_counter() - started) * 1000)
        print(
            f"signal -> run SUCCEEDED: median {statistics.median(latencies):.0f} ms, "
            f"max {max(latencies):.0f} ms over {len(latencies)} runs"
        )
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()

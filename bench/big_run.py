"""One very big run: a parent task with N trivial children, on SQLite and on PostgreSQL.

Starts its own ``flyte start server`` (our runtime as the worker: this environment's ``a0``),
runs ``big(n, batch)``, whose parent awaits its children in waves of ``batch`` (a program with a
million children does not hold a million coroutines), and prints:

* actions per second in the first and in the last 10% of the children (a slow-down shows);
* the parent's peak RSS (measured inside the parent task) and the server's peak RSS;
* database bytes per action.

PostgreSQL gets a fresh database (``createdb`` on 127.0.0.1:5432), with no manual ANALYZE: the
server's own statistics maintenance is what keeps the plans right.

Usage: python bench/big_run.py [--children 1000000] [--batch 2000] [--db sqlite|postgres|both] [--workers 32]
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != _HERE]

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402


def _load_helper(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"_bench{name}", os.path.join(_HERE, f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_server = _load_helper("_server")

WORKFLOW = """
import asyncio
import resource
import time

import flyte

env = flyte.TaskEnvironment(name="big")


@env.task
async def noop(x: int) -> int:
    return x


@env.task
async def big(n: int, batch: int) -> dict:
    marks = []
    started = time.perf_counter()
    done = 0
    for first in range(0, n, batch):
        await asyncio.gather(*(noop(i) for i in range(first, min(first + batch, n))))
        done = min(first + batch, n)
        marks.append((done, time.perf_counter() - started))
    return {"marks": marks, "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
"""

DRIVER = """
import json, sys
import flyte
import big_wf

flyte.init(endpoint=sys.argv[1], insecure=True, project="flytesnacks", domain="development")
run = flyte.run(big_wf.big, n=int(sys.argv[2]), batch=int(sys.argv[3]))
run.wait(quiet=True)
outputs = run.outputs()[0] if run.phase == "SUCCEEDED" else None
error = str(run.action.error) if run.action.error else None
print("RESULT " + json.dumps({"phase": str(run.phase), "outputs": outputs, "error": error}), flush=True)
"""


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _rate(marks: list[list[float]], lo: float, hi: float, n: int) -> float:
    """Children per second between the marks nearest lo*n and hi*n children done."""

    def at(fraction: float) -> tuple[float, float]:
        target = fraction * n
        best = min(marks, key=lambda mark: abs(mark[0] - target)) if fraction > 0 else [0, 0.0]
        return float(best[0]), float(best[1])

    done_lo, t_lo = at(lo)
    done_hi, t_hi = at(hi)
    return (done_hi - done_lo) / (t_hi - t_lo) if t_hi > t_lo else float("nan")


def _database_bytes(kind: str, data_dir: Path, url: str | None) -> int:
    if kind == "sqlite":
        return sum(path.stat().st_size for path in data_dir.rglob("*.db*") if path.is_file())
    assert url is not None
    name = url.rsplit("/", 1)[1]
    out = subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            name,
            "-Atc",
            "SELECT pg_database_size(current_database())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out.strip())


def run_one(kind: str, children: int, batch: int, workers: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix=f"big-run-{kind}-"))
    url = None
    args: list[str] = []
    if kind == "postgres":
        database = f"bigrun_{os.getpid()}"
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", database], check=True)
        url = f"postgresql://postgres@127.0.0.1:5432/{database}"
        args = ["--db", url]
    server, port = _server.start_server(root, sys.executable, workers, args=args)
    peak_server_kb = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_server_kb
        while not stop.is_set():
            try:
                peak_server_kb = max(peak_server_kb, _status_kb(server.pid, "VmRSS"))
            except OSError:
                return
            stop.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        project = root / "project"
        project.mkdir()
        (project / "big_wf.py").write_text(WORKFLOW)
        (project / "driver.py").write_text(DRIVER)
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        env["HOME"] = str(root / "client-home")
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "driver.py", f"127.0.0.1:{port}", str(children), str(batch)],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if not lines:
            raise SystemExit(f"the driver failed:\n{done.stderr[-3000:]}")
        result = json.loads(lines[-1][len("RESULT ") :])
        if result["outputs"] is None:
            raise SystemExit(f"the run failed: {result['phase']} {result['error']}")
        db_bytes = _database_bytes(kind, root / "data", url)
    finally:
        stop.set()
        _server.stop_server(server)
        if url is not None:
            subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", url.rsplit("/", 1)[1]], check=False)
    marks = result["outputs"]["marks"]
    return {
        "db": kind,
        "children": children,
        "wall_s": round(wall, 1),
        "first_10pct_per_s": round(_rate(marks, 0.0, 0.1, children), 1),
        "last_10pct_per_s": round(_rate(marks, 0.9, 1.0, children), 1),
        "parent_peak_mb": round(result["outputs"]["peak_rss_kb"] / 1024, 1),
        "server_peak_mb": round(peak_server_kb / 1024, 1),
        "db_bytes_per_action": round(db_bytes / (children + 1)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--children", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--workers", type=int, default=32)
    options = parser.parse_args()
    kinds = ["sqlite", "postgres"] if options.db == "both" else [options.db]
    print(
        f"{'db':<9}{'children':>10}{'wall s':>9}{'first 10% /s':>14}{'last 10% /s':>13}"
        f"{'parent MB':>11}{'server MB':>11}{'DB B/action':>13}"
    )
    for kind in kinds:
        row = run_one(kind, options.children, options.batch, options.workers)
        print(
            f"{row['db']:<9}{row['children']:>10}{row['wall_s']:>9}{row['first_10pct_per_s']:>14}"
            f"{row['last_10pct_per_s']:>13}{row['parent_peak_mb']:>11}{row['server_peak_mb']:>11}"
            f"{row['db_bytes_per_action']:>13}",
            flush=True,
        )


if __name__ == "__main__":
    main()

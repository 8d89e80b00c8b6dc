"""Remote round trip: ``flyte.run`` of a trivial task until its outputs are in hand.

Starts one ``flyte start server`` (SQLite + local blobs in a temporary directory, warm workers)
and, against it, a client process per SDK — ours and PyPI ``flyte==2.12.1`` — that each:

  1. warm up: one run (uploads the code bundle, opens connections, fills the bundle cache);
  2. time N runs of ``noop(x) -> x + 1``: ``flyte.run(...)`` → ``run.wait()`` → ``run.outputs()``.

Both clients run the same task on the same server with the same worker runtime, so the
difference is the client: bundling (cached), UploadInputs, CreateRun, watching, GetRunDetails
and GetActionData. Target: ≤ 300 ms per round trip.

Usage: python bench/remote_roundtrip.py [--runs 20] [--worker-python PATH] [--workers 4]
(default worker runtime: this environment's ``a0``, ours; ``--worker-python`` picks another.)
"""

from __future__ import annotations

import os
import sys

# bench/ holds a module named ``types``: keep this directory off sys.path so it cannot shadow the
# standard library, and load the shared helper by path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != _HERE]

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402


def _load_helper(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"_bench{name}", os.path.join(_HERE, f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reference_python = _load_helper("_reference").reference_python
_server = _load_helper("_server")

WORKFLOW = """
import flyte

env = flyte.TaskEnvironment(name="roundtrip")


@env.task
async def noop(x: int) -> int:
    return x + 1
"""

DRIVER = """
import json, sys, time
import flyte
import roundtrip_wf

endpoint, runs = sys.argv[1], int(sys.argv[2])
flyte.init(endpoint=endpoint, insecure=True, project="flytesnacks", domain="development")


def once(x):
    started = time.perf_counter()
    run = flyte.run(roundtrip_wf.noop, x=x)
    submitted = time.perf_counter()
    run.wait(quiet=True)
    value = run.outputs()[0]
    assert value == x + 1, value
    return submitted - started, time.perf_counter() - started


once(0)  # warm-up: uploads the code bundle, opens connections
timings = [once(i) for i in range(1, runs + 1)]
print("RESULT " + json.dumps({"submit": [t[0] for t in timings], "total": [t[1] for t in timings]}), flush=True)
"""


def _client(python: str, project: Path, port: int, runs: int, home: Path) -> dict[str, list[float]]:
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["HOME"] = str(home)
    result = subprocess.run(
        [python, "driver.py", f"127.0.0.1:{port}", str(runs)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    # -6: pyqwest 0.12 can abort at interpreter exit after all work is done (both SDKs use it).
    if result.returncode not in (0, -6) or not lines:
        raise SystemExit(f"the {python} client failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    parsed: dict[str, list[float]] = json.loads(lines[-1].removeprefix("RESULT "))
    return parsed


def _summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"median {statistics.median(ordered) * 1000:6.1f} ms  min {ordered[0] * 1000:6.1f}  p90 {p90 * 1000:6.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="timed runs per client (after one warm-up)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--worker-python", help="the Python whose a0 runs the task (default: this one, ours)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    pypi = reference_python()
    if pypi is None:
        raise SystemExit("no reference venv with flyte==2.12.1 (set FLYTE_REFERENCE_PYTHON)")
    worker_python = args.worker_python or sys.executable
    root = Path(tempfile.mkdtemp(prefix="flyte-roundtrip-bench-"))
    project = root / "project"
    project.mkdir()
    (project / "roundtrip_wf.py").write_text(WORKFLOW)
    (project / "driver.py").write_text(DRIVER)
    server, port = _server.start_server(root, worker_python, args.workers)
    try:
        ours = _client(sys.executable, project, port, args.runs, root / "home-ours")
        theirs = _client(pypi, project, port, args.runs, root / "home-pypi")
    finally:
        _server.stop_server(server)
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    runtime = "ours (this environment)" if worker_python == sys.executable else worker_python
    print(f"flyte.run -> outputs of a trivial task, warm server, bundle cached; {args.runs} runs; runtime: {runtime}")
    for label, timings in (("ours", ours), ("PyPI flyte 2.12.1", theirs)):
        print(f"  {label:18s} round trip: {_summary(timings['total'])}   (submit: {_summary(timings['submit'])})")
    ratio = statistics.median(theirs["total"]) / statistics.median(ours["total"])
    print(f"  ours is {ratio:.1f}x the PyPI client's speed (median round trip); target <= 300 ms")


if __name__ == "__main__":
    main()

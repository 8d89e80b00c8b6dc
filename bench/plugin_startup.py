"""Plugin task startup: time from the start of a local run to the task's first line of user code.

For a Ray, a Dask and a Spark task of the PyPI plugins, in our local mode (which starts the cluster
the task's spec asks for before the code runs) and in PyPI flyte's (where the plugin's ``pre`` does
``ray.init()`` on a fresh single-node Ray, Dask starts nothing until ``Client()``, Spark builds a
session without the task's settings). Also shown: "ready", the time until the task has used its
cluster once (a Ray remote call, a Dask ``Client()`` round trip, a Spark job), which is what a user
waits for in both SDKs.

Targets (issue 12): Ray <= 10 s, Dask <= 2 s, Spark <= 25 s to the first line.

Ray runs in a network namespace with only ``lo`` (created here, removed after; needs root).

    python bench/plugin_startup.py [--runs N] [--only ray,dask,spark]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REFPLUGINS = Path.home() / ".cache" / "flyte-ours" / "refplugins-2.12.1" / "bin" / "python"

PROGRAM = textwrap.dedent(
    """
    import json, sys, time
    import flyte

    kind = sys.argv[1]
    if kind == "ray":
        import ray
        from flyteplugins.ray import HeadNodeConfig, RayJobConfig, WorkerNodeConfig

        config = RayJobConfig(
            head_node_config=HeadNodeConfig(ray_start_params={"num-cpus": "1"}),
            worker_node_config=[WorkerNodeConfig(group_name="w", replicas=2, ray_start_params={"num-cpus": "1"})],
        )
    elif kind == "dask":
        from flyteplugins.dask import Dask, WorkerGroup

        config = Dask(workers=WorkerGroup(number_of_workers=2))
    else:
        from flyteplugins.spark import Spark

        config = Spark(spark_conf={"spark.executor.instances": "2", "spark.executor.cores": "1"})

    env = flyte.TaskEnvironment(name="bench_" + kind, plugin_config=config)
    STARTED = 0.0


    @env.task
    async def first_line() -> dict:
        first = time.monotonic() - STARTED
        if kind == "ray":
            import ray

            @ray.remote
            def one():
                return 1

            ray.get(one.remote())
        elif kind == "dask":
            from dask.distributed import Client

            with Client() as client:
                client.submit(lambda: 1).result()
        else:
            flyte.ctx().data["spark_session"].sparkContext.parallelize([1, 2]).count()
        return {"first": first, "ready": time.monotonic() - STARTED}


    if __name__ == "__main__":  # Dask's default cluster (PyPI flyte) spawns processes that import this file
        flyte.init()
        STARTED = time.monotonic()
        print("RESULT " + json.dumps(flyte.run(first_line).outputs()[0]), flush=True)
    """
)


def measure(python: str, kind: str, netns: str | None) -> dict[str, float] | str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0", PYTHONWARNINGS="ignore")
    with tempfile.TemporaryDirectory(prefix="flyte-bench-plugin-") as directory:
        program = Path(directory) / "startup.py"
        program.write_text(PROGRAM)
        prefix = ["ip", "netns", "exec", netns] if netns else []
        result = subprocess.run(
            [*prefix, python, str(program), kind], cwd=directory, env=env, capture_output=True, text=True, timeout=600
        )
    for line in result.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])  # type: ignore[no-any-return]
    return f"failed ({result.returncode}): {(result.stdout + result.stderr).strip().splitlines()[-1:]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--only", default="ray,dask,spark")
    args = parser.parse_args()
    kinds = [k for k in args.only.split(",") if k]
    pythons = {"ours": sys.executable}
    if REFPLUGINS.exists():
        pythons["PyPI flyte"] = str(REFPLUGINS)
    netns = None
    if "ray" in kinds:
        if os.geteuid() != 0:
            sys.exit("Ray is benchmarked in a loopback-only network namespace, which needs root")
        netns = f"flyte-bench-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", netns], check=True)
        subprocess.run(["ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up"], check=True)
    targets = {"ray": 10.0, "dask": 2.0, "spark": 25.0}
    try:
        print(f"{'task':6} {'sdk':11} {'first line (s)':>15} {'ready (s)':>10}  target (first line)")
        for kind in kinds:
            for label, python in pythons.items():
                samples = [measure(python, kind, netns if kind == "ray" else None) for _ in range(args.runs)]
                good = [s for s in samples if isinstance(s, dict)]
                if not good:
                    print(f"{kind:6} {label:11} {samples[0]}")
                    continue
                first = statistics.median(s["first"] for s in good)
                ready = statistics.median(s["ready"] for s in good)
                print(f"{kind:6} {label:11} {first:15.2f} {ready:10.2f}  <= {targets[kind]:.0f} s")
    finally:
        if netns:
            subprocess.run(["ip", "netns", "delete", netns], capture_output=True)


if __name__ == "__main__":
    main()

"""Plugin task startup on ``flyte start server``: from creating the run to the task's first line of user code.

For a Ray (head + 2 workers), a Dask (2 workers) and a Spark task of the PyPI plugins, run on a
server whose handlers start the cluster of the task's spec before the code runs (its first line
then finds the cluster ready); beside it, the same task in PyPI flyte's local mode (from
``bench/plugin_startup.py``: a fresh single-node Ray, no Dask cluster, a bare Spark session).
The server's worker Python and the client are the plugins venv of PyPI flyte
(``--python`` chooses another, e.g. ours).

Targets (issue 12): Ray <= 10 s, Dask <= 2 s, Spark <= 25 s.

The server, its clusters and the client run in a network namespace with only ``lo`` (created here,
removed after; needs root).

    python bench/plugin_startup_server.py [--runs N] [--only ray,dask,spark] [--python PY]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from plugin_startup import REFPLUGINS, measure

PROGRAM = textwrap.dedent(
    """
    import json, os, sys, time
    import flyte

    kind = "KIND"  # written per task kind: the module is imported again by the runtime, with other argv
    if kind == "ray":
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

        config = Spark(spark_conf={"spark.executor.instances": "2", "spark.ui.enabled": "false"})

    env = flyte.TaskEnvironment(name="bench_server_" + kind, plugin_config=config)


    @env.task
    async def first_line() -> str:
        now = time.time()
        # When this process started (the cluster is ready before it does), from /proc.
        boot = next(float(line.split()[1]) for line in open("/proc/stat") if line.startswith("btime"))
        ticks = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])
        return json.dumps({"first": now, "process": boot + ticks / os.sysconf("SC_CLK_TCK")})


    if __name__ == "__main__":
        flyte.init(endpoint=sys.argv[1], insecure=True, project="flytesnacks", domain="development")
        started = time.time()
        run = flyte.run(first_line)
        run.wait(quiet=True)
        try:
            outputs = run.outputs()
            value = json.loads(outputs[0] if isinstance(outputs, (list, tuple)) else outputs)
            times = {"first": value["first"] - started, "process": value["process"] - started}
            print("RESULT " + json.dumps(times), flush=True)
        except Exception as error:
            print(f"{run.phase}: {type(error).__name__}: {error}", file=sys.stderr)
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0", PYTHONWARNINGS="ignore")
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--only", default="ray,dask,spark")
    parser.add_argument("--python", default=str(REFPLUGINS), help="worker and client Python (with the plugins)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("the server runs in a loopback-only network namespace, which needs root")
    netns = f"flyte-bench-server-{os.getpid()}"
    prefix = ["ip", "netns", "exec", netns]
    subprocess.run(["ip", "netns", "add", netns], check=True)
    subprocess.run([*prefix, "ip", "link", "set", "lo", "up"], check=True)
    targets = {"ray": 10.0, "dask": 2.0, "spark": 25.0}
    with tempfile.TemporaryDirectory(prefix="flyte-bench-server-") as directory:
        root = Path(directory)
        port = _free_port()
        (root / "home").mkdir()
        server = subprocess.Popen(
            [
                *prefix,
                sys.executable,
                "-m",
                "flyte",
                "start",
                "server",
                "--port",
                str(port),
                "--data-dir",
                str(root / "data"),
                "--worker-python",
                args.python,
                "--workers",
                "4",
                "--log-level",
                "warning",
            ],
            stdout=(root / "server.log").open("wb"),
            stderr=subprocess.STDOUT,
            env={**_env(), "HOME": str(root / "home")},
            start_new_session=True,
        )
        try:
            probe = (
                "import time, urllib.request\n"
                "for _ in range(600):\n"
                "    try:\n"
                f"        urllib.request.urlopen('http://127.0.0.1:{port}/healthz', timeout=1); break\n"
                "    except OSError:\n"
                "        time.sleep(0.1)\n"
            )
            subprocess.run([*prefix, sys.executable, "-c", probe], check=True, timeout=120)
            print(
                f"{'task':6} {'server, first line (s)':>23} {'(task process start)':>21} {'PyPI local (s)':>15}  target"
            )
            for kind in [k for k in args.only.split(",") if k]:
                samples = []
                (root / f"startup_{kind}.py").write_text(PROGRAM.replace('"KIND"', repr(kind)))
                for _ in range(args.runs):
                    result = subprocess.run(
                        [*prefix, args.python, f"startup_{kind}.py", f"127.0.0.1:{port}"],
                        cwd=root,
                        env={**_env(), "HOME": str(root / "home")},
                        capture_output=True,
                        text=True,
                        timeout=600,
                    )
                    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
                    if not lines:
                        print(f"{kind:6} failed ({result.returncode}): {result.stderr.strip().splitlines()[-6:]}")
                        break
                    samples.append(json.loads(lines[-1].removeprefix("RESULT ")))
                if not samples:
                    continue
                local = measure(str(REFPLUGINS), kind, netns if kind == "ray" else None) if REFPLUGINS.exists() else "-"
                local_text = f"{local['first']:.2f}" if isinstance(local, dict) else str(local)
                first = statistics.median(sample["first"] for sample in samples)
                process = statistics.median(sample["process"] for sample in samples)
                print(f"{kind:6} {first:23.2f} {process:21.2f} {local_text:>15}  <= {targets[kind]:.0f} s")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
            subprocess.run(["ip", "netns", "delete", netns], capture_output=True)


if __name__ == "__main__":
    main()

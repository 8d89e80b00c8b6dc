"""A Ray task whose RayJob spec asks for a head and three workers; then one that is aborted.

Prints ``REPORT {json}``: what the first task saw of its cluster, and which of the second task's
cluster processes (recorded by pid while it ran) were still alive after the run was cancelled.
"""

import asyncio
import json
import os
import sys
import time

import psutil
import ray
from flyteplugins.ray import HeadNodeConfig, RayJobConfig, WorkerNodeConfig

import flyte

STARTED = time.monotonic()

config = RayJobConfig(
    head_node_config=HeadNodeConfig(ray_start_params={"num-cpus": "1"}),
    worker_node_config=[
        WorkerNodeConfig(group_name="cpu", replicas=2, ray_start_params={"num-cpus": "2", "resources": '{"shard": 1}'}),
        WorkerNodeConfig(group_name="mem", replicas=1, requests=flyte.Resources(cpu=1, memory="600Mi")),
    ],
)
env = flyte.TaskEnvironment(name="ray_cluster", plugin_config=config)


@ray.remote
def square(x: int) -> int:
    return x * x


@env.task
async def fan_out(n: int) -> dict:
    print(f"FIRST_LINE {time.monotonic() - STARTED:.2f}", flush=True)
    total = sum(ray.get([square.remote(i) for i in range(n)]))
    resources = ray.cluster_resources()
    nodes = [node for node in ray.nodes() if node["Alive"]]
    return {
        "total": total,
        "cpu": resources.get("CPU"),
        "shard": resources.get("shard"),
        "nodes": len(nodes),
        "node_memory": sorted(node["Resources"].get("memory", 0) for node in nodes),
        "address": os.environ.get("RAY_ADDRESS", ""),
    }


@env.task
async def stuck(pid_file: str) -> int:
    pids = [child.pid for child in psutil.Process().children(recursive=True)]
    with open(pid_file, "w") as out:
        json.dump(pids, out)
    await asyncio.sleep(600)
    return 0


if __name__ == "__main__":
    flyte.init()
    report = {"seen": flyte.run(fan_out, n=20).outputs()[0]}
    pid_file = sys.argv[1]

    async def abort_when_running() -> str:
        job = asyncio.ensure_future(flyte.run.aio(stuck, pid_file=pid_file))
        while not os.path.exists(pid_file) and not job.done():
            await asyncio.sleep(0.2)
        job.cancel()
        try:
            await job
        except asyncio.CancelledError:
            return "cancelled"
        return "finished"

    report["abort"] = asyncio.run(abort_when_running())
    pids = json.load(open(pid_file))
    report["recorded"] = len(pids)
    report["left_behind"] = [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    report["ray_initialized_after"] = ray.is_initialized()
    print("REPORT " + json.dumps(report), flush=True)

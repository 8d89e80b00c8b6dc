"""Dask tasks in local mode: ``cluster`` (the spec's workers), ``existing`` (a scheduler named by
``DASK_SCHEDULER_ADDRESS``) or ``hang`` (records the cluster's pids, then waits to be interrupted)."""

import asyncio
import json
import os
import sys
import time

import psutil
from flyteplugins.dask import Dask, WorkerGroup

import flyte

STARTED = time.monotonic()
env = flyte.TaskEnvironment(
    name="dask_cluster",
    plugin_config=Dask(workers=WorkerGroup(number_of_workers=3, resources=flyte.Resources(cpu="2", memory="700Mi"))),
)


@env.task
def count(n: int) -> dict:
    print(f"FIRST_LINE {time.monotonic() - STARTED:.2f}", flush=True)
    from dask.distributed import Client

    with Client() as client:
        workers = client.scheduler_info(n_workers=-1)["workers"]
        total = sum(client.gather(client.map(lambda x: x + 1, range(n))))
        return {
            "total": total,
            "workers": len(workers),
            "threads": sorted(w["nthreads"] for w in workers.values()),
            "memory": sorted(w["memory_limit"] for w in workers.values()),
            "scheduler": client.scheduler.address,
        }


@env.task
async def hang(pid_file: str) -> int:
    with open(pid_file, "w") as out:
        json.dump([child.pid for child in psutil.Process().children(recursive=True)], out)
    print("WAITING", flush=True)
    await asyncio.sleep(600)
    return 0


if __name__ == "__main__":
    mode = sys.argv[1]
    flyte.init()
    if mode == "hang":
        flyte.run(hang, pid_file=sys.argv[2])
    elif mode == "existing":
        from dask.distributed import LocalCluster

        with LocalCluster(
            n_workers=1, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address="127.0.0.1:0"
        ) as cluster:
            os.environ["DASK_SCHEDULER_ADDRESS"] = cluster.scheduler_address
            seen = flyte.run(count, n=4).outputs()[0]
            print("REPORT " + json.dumps({**seen, "existing": cluster.scheduler_address}), flush=True)
    else:
        print("REPORT " + json.dumps(flyte.run(count, n=10).outputs()[0]), flush=True)

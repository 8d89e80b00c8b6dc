"""Plugin tasks written for PyPI flyte and the PyPI plugins, run on ``flyte start server``."""

import json
import os
import time

import pandas as pd
import pandera.pandas as pa
import polars as pl
import ray
from flyteplugins.dask import Dask, WorkerGroup
from flyteplugins.ray import HeadNodeConfig, RayJobConfig, WorkerNodeConfig
from flyteplugins.spark import Spark
from pandera.typing import DataFrame as ValidatedFrame

import flyte

ray_env = flyte.TaskEnvironment(
    name="plugin_ray",
    plugin_config=RayJobConfig(
        head_node_config=HeadNodeConfig(ray_start_params={"num-cpus": "1"}),
        worker_node_config=[
            WorkerNodeConfig(
                group_name="squares",
                replicas=2,
                ray_start_params={"num-cpus": "2", "resources": '{"flyte_e2e": 1}'},
            )
        ],
    ),
)
dask_env = flyte.TaskEnvironment(
    name="plugin_dask",
    plugin_config=Dask(workers=WorkerGroup(number_of_workers=3, resources=flyte.Resources(cpu=2))),
)
spark_env = flyte.TaskEnvironment(
    name="plugin_spark",
    plugin_config=Spark(
        spark_conf={
            "spark.sql.shuffle.partitions": "3",
            "spark.executor.instances": "2",
            "spark.driver.memory": "512m",
            "spark.ui.enabled": "false",
            "spark.flyte.e2e.marker": "from-the-spec",
        },
        hadoop_conf={"fs.flyte.e2e": "hadoop-marker"},
    ),
)
frames_env = flyte.TaskEnvironment(name="plugin_frames")


def _hold_if_asked(hold: int) -> None:
    """Print a marker the test waits for, then keep the attempt running (the test aborts it)."""
    if hold:
        print("HOLDING", flush=True)
        time.sleep(hold)


@ray.remote(resources={"flyte_e2e": 0.5})
def square(x: int) -> int:
    return x * x


@ray_env.task
async def ray_fanout(n: int, hold: int = 0) -> str:
    total = sum(ray.get([square.remote(i) for i in range(n)]))
    resources = ray.cluster_resources()
    _hold_if_asked(hold)
    return json.dumps(
        {
            "total": total,
            "cpu": resources.get("CPU"),
            "flyte_e2e": resources.get("flyte_e2e"),
            "nodes": len([node for node in ray.nodes() if node["Alive"]]),
            "address": os.environ.get("RAY_ADDRESS"),
        }
    )


@dask_env.task
async def dask_sum(n: int, hold: int = 0) -> str:
    from distributed import Client

    client = Client()
    workers = client.scheduler_info()["workers"]
    total = client.submit(sum, range(n)).result()
    threads = sorted(client.nthreads().values())
    if hold and os.environ.get("FLYTE_ATTEMPT_NUMBER") == "0":
        _hold_if_asked(hold)
    return json.dumps({"workers": len(workers), "threads": threads, "total": total})


@spark_env.task
async def spark_wordcount(text: str, hold: int = 0) -> str:
    from pyspark.sql import SparkSession

    session = SparkSession.builder.getOrCreate()
    words = session.sparkContext.parallelize(text.split())
    counts = dict(words.map(lambda word: (word, 1)).reduceByKey(lambda a, b: a + b).collect())
    frame = session.createDataFrame([(word,) for word in text.split()], ["word"]).groupBy("word").count()
    _hold_if_asked(hold)
    return json.dumps(
        {
            "counts": counts,
            "grouped": frame.count(),
            "partitions": session.conf.get("spark.sql.shuffle.partitions"),
            "marker": session.conf.get("spark.flyte.e2e.marker"),
            "hadoop": session.sparkContext._jsc.hadoopConfiguration().get("fs.flyte.e2e"),
            "master": session.sparkContext.master,
        }
    )


@frames_env.task
async def make_polars(n: int) -> pl.DataFrame:
    return pl.DataFrame({"x": list(range(n)), "y": [f"v{i}" for i in range(n)]})


@frames_env.task
async def sum_polars(frame: pl.DataFrame) -> int:
    assert frame.columns == ["x", "y"], frame.columns
    return int(frame["x"].sum())


@frames_env.task
async def polars_between_tasks(n: int) -> int:
    return await sum_polars(await make_polars(n))


class Scores(pa.DataFrameModel):
    name: str
    score: int = pa.Field(ge=0)


@frames_env.task
async def make_scores(n: int) -> ValidatedFrame[Scores]:
    return pd.DataFrame({"name": [f"p{i}" for i in range(n)], "score": [i * 10 for i in range(n)]})


@frames_env.task
async def best_score(scores: ValidatedFrame[Scores]) -> str:
    row = scores.sort_values("score").iloc[-1]
    return f"{row['name']}:{int(row['score'])}"


@frames_env.task
async def pandera_between_tasks(n: int) -> str:
    return await best_score(await make_scores(n))

"""Tasks of the five PyPI plugins; prints what each SDK serializes for them (run by either SDK)."""

import json
import pathlib
import sys

from flyteplugins.dask import Dask, Scheduler, WorkerGroup
from flyteplugins.ray import HeadNodeConfig, RayJobConfig, WorkerNodeConfig
from flyteplugins.spark import Spark
from google.protobuf.json_format import MessageToDict

import flyte
from flyte.models import CodeBundle, SerializationContext

ray_env = flyte.TaskEnvironment(
    name="ray_env",
    plugin_config=RayJobConfig(
        head_node_config=HeadNodeConfig(ray_start_params={"num-cpus": "1"}),
        worker_node_config=[
            WorkerNodeConfig(group_name="cpu", replicas=2, ray_start_params={"num-cpus": "2"}),
            WorkerNodeConfig(group_name="big", replicas=1, min_replicas=1, max_replicas=3),
        ],
        runtime_env={"env_vars": {"A": "1"}, "pip": ["numpy"]},
        enable_autoscaling=True,
        shutdown_after_job_finishes=True,
        ttl_seconds_after_finished=60,
    ),
)
dask_env = flyte.TaskEnvironment(
    name="dask_env",
    plugin_config=Dask(
        scheduler=Scheduler(image="sched:1", resources=flyte.Resources(cpu="1", memory="1Gi")),
        workers=WorkerGroup(number_of_workers=4, resources=flyte.Resources(cpu=(1, 2), memory="2Gi")),
    ),
)
spark_env = flyte.TaskEnvironment(
    name="spark_env",
    plugin_config=Spark(
        spark_conf={"spark.executor.instances": "2", "spark.driver.memory": "1g"},
        hadoop_conf={"fs.s3a.path.style.access": "true"},
    ),
)


@ray_env.task
async def ray_task(n: int) -> int:
    return n


@dask_env.task
def dask_task(n: int) -> int:
    return n


@spark_env.task(retries=2)
async def spark_task(text: str) -> str:
    return text


def template(task, context):
    if flyte.__version__ == "2.12.1" and "flyte._internal.serde" not in sys.modules:
        try:
            from flyte._internal.runtime.task_serde import get_proto_task  # PyPI flyte
        except ImportError:
            get_proto_task = None
        if get_proto_task is not None:
            return get_proto_task(task, context)
    from flyte._internal.serde._task import task_template_to_proto  # ours

    return task_template_to_proto(task, context)


context = SerializationContext(
    version="v1",
    project="p",
    domain="d",
    code_bundle=CodeBundle(tgz="s3://bucket/fast0123.tar.gz", computed_version="0123", destination="."),
    root_dir=pathlib.Path(__file__).parent,
)
out = {}
for task in (ray_task, dask_task, spark_task):
    proto = MessageToDict(template(task, context))
    out[task.name] = {
        "class": type(task).__name__,
        "type": proto.get("type"),
        "custom": proto.get("custom"),
        "taskTypeVersion": proto.get("taskTypeVersion", 0),
        "debuggable": proto["metadata"].get("debuggable", False),
        "retries": proto["metadata"].get("retries"),
    }
print(json.dumps(out, sort_keys=True))

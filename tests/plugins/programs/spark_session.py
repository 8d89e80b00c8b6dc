"""A Spark word count whose session must carry the task's spark_conf and hadoop_conf."""

import json
import time

from flyteplugins.spark import Spark

import flyte

STARTED = time.monotonic()
env = flyte.TaskEnvironment(
    name="spark_session",
    plugin_config=Spark(
        spark_conf={
            "spark.executor.instances": "2",
            "spark.executor.cores": "1",
            "spark.sql.shuffle.partitions": "3",
            "spark.flyte.test.marker": "from-the-spec",
        },
        hadoop_conf={"fs.flyte.test.setting": "hadoop-value"},
    ),
)


@env.task
async def word_count(text: str) -> dict:
    print(f"FIRST_LINE {time.monotonic() - STARTED:.2f}", flush=True)
    session = flyte.ctx().data["spark_session"]
    words = session.sparkContext.parallelize(text.split())
    counts = dict(words.map(lambda w: (w, 1)).reduceByKey(lambda a, b: a + b).collect())
    context = session.sparkContext
    return {
        "counts": counts,
        "master": context.master,
        "marker": context.getConf().get("spark.flyte.test.marker"),
        "shuffle": session.conf.get("spark.sql.shuffle.partitions"),
        "hadoop": context._jsc.hadoopConfiguration().get("fs.flyte.test.setting"),
    }


if __name__ == "__main__":
    flyte.init()
    print("REPORT " + json.dumps(flyte.run(word_count, text="to be or not to be").outputs()[0]), flush=True)

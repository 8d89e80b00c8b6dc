"""Spark for one task: the spec's ``sparkConf``/``hadoopConf`` applied to a local Spark (or a named master).

The spec is the ``SparkJob`` a Spark task template carries (``flyteidl2.plugins.SparkJob`` as a JSON
dict). The task builds its own session (``SparkSession.builder.getOrCreate()``, as the Spark
plugin's ``pre`` does), so the settings travel the way ``spark-submit`` reads them: a
``spark-defaults.conf`` in a ``SPARK_CONF_DIR`` made for the task, with ``spark.master`` set to
``local[N]`` (``N`` = executor instances x executor cores, or every CPU) unless a master is named,
``hadoopConf`` as ``spark.hadoop.*`` entries, and the task's Python for the Python workers. The
driver JVM is then a child of the task's process, stopped with it.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flyte._internal.clusters._base import ClusterSpecError, LocalCluster

__all__ = ["SparkSpec", "spark_defaults", "start_spark"]

_KEY = re.compile(r"^[A-Za-z0-9_.\-:/\[\]]{1,200}$")


@dataclass(frozen=True, kw_only=True)
class SparkSpec:
    """The settings of a Spark task.

    Example:
        >>> SparkSpec.from_custom({"sparkConf": {"spark.executor.instances": "2"}}).spark_conf
        {'spark.executor.instances': '2'}
    """

    spark_conf: dict[str, str] = field(default_factory=dict)
    hadoop_conf: dict[str, str] = field(default_factory=dict)
    executor_path: str | None = None
    """The Python of the executors, when it exists on this machine."""

    @classmethod
    def from_custom(cls, custom: Mapping[str, Any]) -> SparkSpec:
        """Read a ``SparkJob`` JSON dict.

        Raises:
            ClusterSpecError: a malformed spec (a key that is not a Spark/Hadoop setting name, a newline in a value).
        """
        if not isinstance(custom, Mapping):
            raise ClusterSpecError("the Spark task's spec is not an object")
        return cls(
            spark_conf=_settings(custom.get("sparkConf"), "sparkConf"),
            hadoop_conf=_settings(custom.get("hadoopConf"), "hadoopConf"),
            executor_path=str(custom["executorPath"]) if custom.get("executorPath") else None,
        )


def _settings(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ClusterSpecError(f"{where} is not an object")
    settings: dict[str, str] = {}
    for key, value in raw.items():
        text = str(value)
        if not _KEY.match(str(key)):
            raise ClusterSpecError(f"{where}: {str(key)[:60]!r} is not a setting name")
        if "\n" in text or "\r" in text:
            raise ClusterSpecError(f"{where}: the value of {key!r} has a line break")
        settings[str(key)] = text
    return settings


def _local_master(conf: Mapping[str, str]) -> str:
    try:
        instances = int(conf["spark.executor.instances"]) if "spark.executor.instances" in conf else None
        cores = int(conf["spark.executor.cores"]) if "spark.executor.cores" in conf else None
    except ValueError:
        return "local[*]"
    if instances is None and cores is None:
        return "local[*]"
    return f"local[{max(1, (instances or 1) * (cores or 1))}]"


def spark_defaults(spec: SparkSpec, *, master: str | None = None) -> dict[str, str]:
    """The ``spark-defaults.conf`` entries for ``spec`` (``master`` overrides a local master)."""
    conf = dict(spec.spark_conf)
    conf.update({f"spark.hadoop.{key}": value for key, value in spec.hadoop_conf.items()})
    conf["spark.master"] = master or conf.get("spark.master") or _local_master(spec.spark_conf)
    if conf["spark.master"].startswith("k8s://"):
        # A Kubernetes master comes from a cluster deployment's spec; here it runs locally.
        conf["spark.master"] = master or _local_master(spec.spark_conf)
    return conf


def start_spark(
    spec: SparkSpec,
    *,
    python: str,
    master: str | None = None,
    owner: tuple[int, int] | None = None,
) -> LocalCluster:
    """Write the task's Spark settings; the returned cluster's ``env`` makes its session use them.

    Args:
        spec: the settings.
        python: the task's interpreter (for the Python workers, unless ``spec.executor_path`` exists here).
        master: a Spark master the user runs (``spark://host:7077``); default a local Spark.
        owner: ``(uid, gid)`` the task runs as, when not the caller's.
    """
    conf_dir = Path(tempfile.mkdtemp(prefix="flyte-spark-"))
    conf = spark_defaults(spec, master=master)
    conf.setdefault("spark.local.dir", str(conf_dir / "local"))
    (conf_dir / "local").mkdir()
    (conf_dir / "spark-defaults.conf").write_text("".join(f"{key} {value}\n" for key, value in sorted(conf.items())))
    if owner is not None:
        for path in (conf_dir, conf_dir / "local", conf_dir / "spark-defaults.conf"):
            os.chown(path, *owner)
    worker_python = spec.executor_path if spec.executor_path and Path(spec.executor_path).exists() else python
    return LocalCluster(
        kind="spark",
        address=conf["spark.master"],
        env={"SPARK_CONF_DIR": str(conf_dir), "PYSPARK_PYTHON": worker_python, "PYSPARK_DRIVER_PYTHON": python},
        scratch=[conf_dir],
    )

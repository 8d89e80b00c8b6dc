"""The options of the plugin-task handlers (``flyte start server --ray-address ...``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ClusterOptions"]


@dataclass(frozen=True, kw_only=True)
class ClusterOptions:
    """Where plugin tasks find their clusters: a cluster per attempt on this machine unless one is named.

    Example:
        >>> ClusterOptions(dask_scheduler="tcp://127.0.0.1:8786").dask_scheduler
        'tcp://127.0.0.1:8786'
    """

    dask_scheduler: str | None = None
    """The address of a Dask scheduler the user runs (``tcp://host:8786``): Dask tasks connect to it."""
    spark_master: str | None = None
    """A Spark master URL (``spark://host:7077``, ``local[4]``) for Spark tasks; default a local Spark."""
    host: str = "127.0.0.1"
    """The address the clusters started here bind and advertise."""
    start_timeout: float = 180.0
    """Seconds a cluster may take to be ready (a loaded machine starts Ray nodes slowly)."""
    stop_grace: float = 3.0
    """Seconds between SIGTERM and SIGKILL when a cluster is torn down."""

"""Plugin config classes for load_plugin_config tests (imported by dotted name)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class WorkerGroup:
    group_name: str
    replicas: int = 1


@dataclass
class HeadNode:
    ray_start_params: dict[str, str] = field(default_factory=dict)


@dataclass
class ClusterConfig:
    worker_node_config: list[WorkerGroup]
    head_node_config: HeadNode | None = None
    shutdown_after_job_finishes: bool = True

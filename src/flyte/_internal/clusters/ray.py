"""A Ray cluster on this machine for one task: a head node and the spec's worker groups.

The spec is the ``RayJob`` a Ray task template carries (``flyteidl2.plugins.RayJob`` as the JSON
dict that ``MessageToDict`` gives, which is how plugins serialize it). Each node is a
``ray start --block`` process: the head (its ``num-cpus`` etc. from its ``rayStartParams``, else its
pod's resources, else the task's own resources) and ``replicas`` nodes per worker group. Every node
binds ``127.0.0.1`` and ports picked free, so several clusters can run side by side.

The task reaches the cluster through ``RAY_ADDRESS`` (what ``ray.init()`` reads) and gets the
spec's ``runtime_env`` the way a RayJob's entrypoint would (``RAY_JOB_CONFIG_JSON_ENV_VAR``).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from flyte._internal.clusters._base import (
    ClusterError,
    ClusterSpecError,
    LocalCluster,
    NodeResources,
    ProcessStarter,
    free_port,
    parse_cpu,
    parse_memory,
    wait_ready,
)

__all__ = ["MAX_RAY_NODES", "RayClusterSpec", "RayNodeSpec", "RayWorkerGroup", "ray_task_env", "start_ray_cluster"]

MAX_RAY_NODES = 16
"""The most nodes (head included) one task's cluster may have on this machine."""

DEFAULT_OBJECT_STORE_BYTES = 256 * 1024 * 1024
"""A node's object store when the spec does not size it (Ray's default, 30% of RAM, per node is too much here)."""

_HEAD_CONTAINER = "ray-head"
_WORKER_CONTAINER = "ray-worker"
_START_PARAMS = ("num-cpus", "num-gpus", "memory", "object-store-memory", "resources", "labels")
"""The ``rayStartParams`` honoured; the others (ports, hosts, dashboard) are this machine's business."""
_READY = re.compile(r"Ray runtime started")


@dataclass(frozen=True, kw_only=True)
class RayNodeSpec:
    """One node: what it offers Ray."""

    resources: NodeResources = field(default_factory=NodeResources)
    """CPUs, memory and GPUs (``num-cpus``/``memory``/``num-gpus``)."""
    object_store_memory: int | None = None
    """The object store's size in bytes (``object-store-memory``)."""
    custom_resources: dict[str, float] = field(default_factory=dict)
    """Custom Ray resources (``resources``, a JSON object)."""
    labels: str | None = None
    """Node labels as ``ray start --labels`` takes them."""
    ignored_params: tuple[str, ...] = ()
    """``rayStartParams`` names that were not honoured (reported in the log)."""

    def start_args(self) -> list[str]:
        args: list[str] = []
        cpus = self.resources.whole_cpus
        args += ["--num-cpus", str(cpus if cpus is not None else 1)]
        if self.resources.gpu is not None:
            args += ["--num-gpus", str(self.resources.gpu)]
        if self.resources.memory is not None:
            args += ["--memory", str(self.resources.memory)]
        store = self.object_store_memory
        if store is None:
            store = DEFAULT_OBJECT_STORE_BYTES
            if self.resources.memory is not None:
                store = max(80 * 1024 * 1024, min(store, self.resources.memory * 3 // 10))
        args += ["--object-store-memory", str(store)]
        if self.custom_resources:
            args += ["--resources", json.dumps(self.custom_resources)]
        if self.labels:
            args += ["--labels", self.labels]
        return args


@dataclass(frozen=True, kw_only=True)
class RayWorkerGroup:
    """``replicas`` identical worker nodes."""

    name: str
    replicas: int
    node: RayNodeSpec


@dataclass(frozen=True, kw_only=True)
class RayClusterSpec:
    """A head node, worker groups and the job's runtime environment.

    Example:
        >>> spec = RayClusterSpec.from_custom(
        ...     {"rayCluster": {"workerGroupSpec": [{"groupName": "g", "replicas": 2,
        ...                                          "rayStartParams": {"num-cpus": "2"}}]}})
        >>> [group.replicas for group in spec.workers], spec.total_cpus()
        ([2], 5)
    """

    head: RayNodeSpec = field(default_factory=RayNodeSpec)
    workers: tuple[RayWorkerGroup, ...] = ()
    runtime_env: dict[str, Any] | None = None
    """The job's runtime environment (``runtimeEnvYaml``, or the older base64 JSON ``runtimeEnv``)."""

    @classmethod
    def from_custom(cls, custom: Mapping[str, Any], *, task_resources: NodeResources | None = None) -> RayClusterSpec:
        """Read a ``RayJob`` JSON dict; the head defaults to ``task_resources``.

        Raises:
            ClusterSpecError: a malformed spec, or more than :data:`MAX_RAY_NODES` nodes.
        """
        if not isinstance(custom, Mapping):
            raise ClusterSpecError("the Ray task's spec is not an object")
        cluster = _mapping(custom.get("rayCluster"), "rayCluster")
        head_spec = _mapping(cluster.get("headGroupSpec"), "rayCluster.headGroupSpec")
        head = _node(head_spec, _HEAD_CONTAINER, "headGroupSpec", default=task_resources or NodeResources())
        groups: list[RayWorkerGroup] = []
        raw_groups = cluster.get("workerGroupSpec") or []
        if not isinstance(raw_groups, list):
            raise ClusterSpecError("rayCluster.workerGroupSpec is not a list")
        for index, raw in enumerate(raw_groups):
            group = _mapping(raw, f"workerGroupSpec[{index}]")
            name = str(group.get("groupName") or f"group{index}")
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,63}", name):
                raise ClusterSpecError(f"worker group name {name[:70]!r} is not a short name of letters, digits, '-_.'")
            replicas = _count(group.get("replicas", 1), f"workerGroupSpec[{index}].replicas")
            groups.append(RayWorkerGroup(name=name, replicas=replicas, node=_node(group, _WORKER_CONTAINER, name)))
        nodes = 1 + sum(group.replicas for group in groups)
        if nodes > MAX_RAY_NODES:
            raise ClusterSpecError(
                f"the Ray cluster asks for {nodes} nodes; at most {MAX_RAY_NODES} run on one machine"
            )
        return cls(head=head, workers=tuple(groups), runtime_env=_runtime_env(custom))

    def total_cpus(self) -> int:
        """The CPUs the whole cluster offers Ray."""
        nodes = [(self.head, 1), *((group.node, group.replicas) for group in self.workers)]
        return sum((node.resources.whole_cpus or 1) * count for node, count in nodes)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ClusterSpecError(f"{where} is not an object")
    return value


def _count(value: Any, where: str) -> int:
    try:
        number = int(float(value))
    except (TypeError, ValueError):
        raise ClusterSpecError(f"{where} is not a number: {value!r}") from None
    if number < 0 or number != float(value):
        raise ClusterSpecError(f"{where} must be a whole number >= 0, not {value!r}")
    return number


def _pod_resources(group: Mapping[str, Any], container_name: str) -> NodeResources:
    pod = _mapping(group.get("k8sPod"), "k8sPod")
    spec = _mapping(pod.get("podSpec"), "k8sPod.podSpec")
    containers = spec.get("containers") or []
    if not isinstance(containers, list):
        return NodeResources()
    chosen = next((c for c in containers if isinstance(c, Mapping) and c.get("name") == container_name), None)
    if chosen is None and len(containers) == 1 and isinstance(containers[0], Mapping):
        chosen = containers[0]
    if chosen is None:
        return NodeResources()
    return NodeResources.from_k8s(_mapping(chosen.get("resources"), "resources"))


def _node(
    group: Mapping[str, Any], container_name: str, where: str, *, default: NodeResources | None = None
) -> RayNodeSpec:
    params = _mapping(group.get("rayStartParams"), f"{where}.rayStartParams")
    try:
        from_params = NodeResources(
            cpu=parse_cpu(str(params["num-cpus"])) if "num-cpus" in params else None,
            memory=parse_memory(str(params["memory"])) if "memory" in params else None,
            gpu=_count(params["num-gpus"], "num-gpus") if "num-gpus" in params else None,
        )
        store = parse_memory(str(params["object-store-memory"])) if "object-store-memory" in params else None
        custom: dict[str, float] = {}
        if "resources" in params:
            raw = params["resources"]
            loaded = json.loads(raw) if isinstance(raw, str) else raw
            if not isinstance(loaded, Mapping):
                raise ClusterSpecError("resources is not a JSON object")
            custom = {str(k): float(v) for k, v in loaded.items()}
    except (ValueError, TypeError) as error:
        raise ClusterSpecError(f"{where}.rayStartParams: {error}") from None
    resources = from_params.or_else(_pod_resources(group, container_name)).or_else(default or NodeResources())
    labels = params.get("labels")
    ignored = tuple(sorted(str(key) for key in params if key not in _START_PARAMS))
    return RayNodeSpec(
        resources=resources,
        object_store_memory=store,
        custom_resources=custom,
        labels=str(labels) if labels else None,
        ignored_params=ignored,
    )


def _runtime_env(custom: Mapping[str, Any]) -> dict[str, Any] | None:
    raw_yaml = custom.get("runtimeEnvYaml")
    if raw_yaml:
        import yaml

        try:
            loaded = yaml.safe_load(str(raw_yaml))
        except yaml.YAMLError as error:
            raise ClusterSpecError(f"runtimeEnvYaml is not YAML: {error}") from None
    elif custom.get("runtimeEnv"):
        import base64

        try:
            loaded = json.loads(base64.b64decode(str(custom["runtimeEnv"])))
        except ValueError as error:
            raise ClusterSpecError(f"runtimeEnv is not base64 JSON: {error}") from None
    else:
        return None
    if loaded is None:
        return None
    if not isinstance(loaded, dict):
        raise ClusterSpecError("the Ray runtime environment is not a mapping")
    return loaded


def ray_task_env(address: str, runtime_env: Mapping[str, Any] | None = None) -> dict[str, str]:
    """What makes a task's ``ray.init()`` join the cluster at ``address`` (with the job's runtime env)."""
    env = {"RAY_ADDRESS": address, "RAY_USAGE_STATS_ENABLED": "0"}
    if runtime_env:
        env["RAY_JOB_CONFIG_JSON_ENV_VAR"] = json.dumps({"runtime_env": dict(runtime_env)})
    return env


def _ray_command(python: str) -> list[str]:
    return [python, "-m", "ray.scripts.scripts", "start", "--block", "--disable-usage-stats"]


def start_ray_cluster(
    spec: RayClusterSpec,
    *,
    python: str,
    log: IO[bytes],
    env: Mapping[str, str],
    cwd: Path,
    popen_options: Mapping[str, Any] | None = None,
    owner: tuple[int, int] | None = None,
    host: str = "127.0.0.1",
    timeout: float = 180.0,
    port: int | None = None,
) -> LocalCluster:
    """Start the head and every worker node; return once all of them run.

    Args:
        spec: the cluster's shape.
        python: the interpreter of an environment with ``ray`` (the task's own).
        log: where the nodes' output goes (each line prefixed with the node's name).
        env: the nodes' environment (``RAY_USAGE_STATS_ENABLED=0`` and ``RAY_AUTH_MODE=disabled``
            are added unless set).
        cwd: the nodes' working directory.
        popen_options: more ``subprocess.Popen`` arguments (e.g. a ``preexec_fn`` that drops privileges).
        owner: ``(uid, gid)`` the nodes run as, when not the caller's (they must own Ray's temp dir).
        host: the address every node binds and advertises.
        timeout: seconds to wait for all nodes.
        port: the head's (GCS) port, when the caller has to know the address in advance; default a free one.

    Raises:
        ClusterError: a node did not start (the nodes that did are stopped).
    """
    # Ray keeps its sockets under the temp dir: a short path (a Unix socket path has ~100 bytes).
    temp_dir = Path(tempfile.mkdtemp(prefix="flyte-ray-"))
    if owner is not None:
        os.chown(temp_dir, *owner)
    node_env = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", **env}
    starter = ProcessStarter(log=log, env=node_env, cwd=cwd, popen_options=popen_options)
    port = port or free_port(host)
    address = f"{host}:{port}"
    cluster = LocalCluster(
        kind="ray",
        address=address,
        env={**ray_task_env(address, spec.runtime_env), "RAY_AUTH_MODE": node_env["RAY_AUTH_MODE"]},
        scratch=[temp_dir],
    )
    readiness = []
    try:
        head = starter.start(
            "ray-head",
            [
                *_ray_command(python),
                "--head",
                "--port",
                str(port),
                "--node-ip-address",
                host,
                "--temp-dir",
                str(_node_dir(temp_dir, "head", owner)),
                "--include-dashboard",
                "false",
                "--ray-client-server-port",
                str(free_port(host)),
                *_node_ports(host),
                *spec.head.start_args(),
            ],
        )
        cluster.processes.append(head)
        readiness.append((head, _READY))
        for group in spec.workers:
            for index in range(group.replicas):
                worker = starter.start(
                    f"ray-worker-{group.name}-{index}",
                    [
                        *_ray_command(python),
                        "--address",
                        address,
                        "--node-ip-address",
                        host,
                        # A temp dir per node: nodes sharing one race for the same socket names.
                        "--temp-dir",
                        str(_node_dir(temp_dir, f"w{len(cluster.processes)}", owner)),
                        *_node_ports(host),
                        *group.node.start_args(),
                    ],
                )
                cluster.processes.append(worker)
                readiness.append((worker, _READY))
    except ClusterError:
        cluster.stop()
        raise
    wait_ready(cluster, readiness, timeout=timeout)
    return cluster


def _node_dir(root: Path, name: str, owner: tuple[int, int] | None) -> Path:
    path = root / name
    path.mkdir()
    if owner is not None:
        os.chown(path, *owner)
    return path


def _node_ports(host: str) -> list[str]:
    # Ray's fixed defaults (52365 for the dashboard agent) collide between nodes on one machine.
    return ["--dashboard-agent-listen-port", str(free_port(host))]

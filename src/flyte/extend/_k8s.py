"""Kubernetes pod specs from :class:`flyte.Resources` (``pod_spec_from_resources``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flyte._resources import Resources

__all__ = ["PRIMARY_CONTAINER_DEFAULT_NAME", "pod_spec_from_resources"]

PRIMARY_CONTAINER_DEFAULT_NAME = "primary"
"""The name of the container that runs the task's code when a pod template names none."""


def _entries(resources: Resources | None, which: int, gpu_key: str) -> dict[str, str]:
    """``{"cpu": ..., "memory": ..., gpu_key: ...}`` of the request (``which`` 0) or limit (1) values."""
    if resources is None:
        return {}
    out: dict[str, str] = {}
    for key, value in (("cpu", resources.cpu), ("memory", resources.memory)):
        if value is None:
            continue
        if isinstance(value, (tuple, list)):
            value = value[which]
        out[key] = str(value)
    device = resources.get_device()
    if device is not None:
        out[gpu_key] = str(device.quantity)
    if resources.disk is not None:
        out["ephemeral-storage"] = str(resources.disk)
    return out


def pod_spec_from_resources(
    primary_container_name: str = PRIMARY_CONTAINER_DEFAULT_NAME,
    requests: Resources | None = None,
    limits: Resources | None = None,
    k8s_gpu_resource_key: str = "nvidia.com/gpu",
) -> Any:
    """A ``kubernetes.client.V1PodSpec`` with one container whose requests and limits come from
    ``requests`` and ``limits``.

    A side given only once is mirrored (limits default to the requests and the other way round);
    a ``(request, limit)`` pair in ``requests`` gives both. Needs the ``kubernetes`` package.

    Example:
        >>> spec = pod_spec_from_resources(requests=flyte.Resources(cpu=1, gpu=1))  # doctest: +SKIP
        >>> spec.containers[0].resources.limits["nvidia.com/gpu"]  # doctest: +SKIP
        '1'
    """
    try:
        from kubernetes.client import V1Container, V1PodSpec, V1ResourceRequirements
    except ImportError as error:  # an optional dependency, as in Flyte 2
        raise ImportError("pod_spec_from_resources needs the kubernetes package: pip install kubernetes") from error

    wanted = _entries(requests, 0, k8s_gpu_resource_key)
    capped = (
        _entries(limits, 1, k8s_gpu_resource_key) if limits is not None else _entries(requests, 1, k8s_gpu_resource_key)
    )
    if limits is not None and requests is None:
        wanted = _entries(limits, 0, k8s_gpu_resource_key)
    container = V1Container(
        name=primary_container_name,
        resources=V1ResourceRequirements(requests=wanted or None, limits=capped or None),
    )
    return V1PodSpec(containers=[container])

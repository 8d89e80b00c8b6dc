"""``flyte.Resources`` → ``core.Resources`` (requests/limits) and ``core.ExtendedResources``.

Quantities are written as the user wrote them (``"500Mi"`` stays ``"500Mi"``), a single value is
a request only, a ``(request, limit)`` pair both. Accelerator names follow what the Flyte 2 SDK
sends (``"A100"`` → ``"nvidia-tesla-a100"``; unknown names pass through unchanged).
"""

from __future__ import annotations

from typing import Any

from flyteidl2.core import tasks_pb2

from flyte._resources import Device, Resources

__all__ = ["extended_resources_to_proto", "resources_to_proto"]

_NVIDIA_DEVICES = {
    "A10": "nvidia-a10",
    "A10G": "nvidia-a10g",
    "A100": "nvidia-tesla-a100",
    "A100_80G": "nvidia-a100-80gb",
    "H100": "nvidia-tesla-h100",
    "L4": "nvidia-l4",
    "L40s": "nvidia-l40s",
    "T4": "nvidia-tesla-t4",
    "V100": "nvidia-tesla-v100",
    "RTX_PRO_4500": "nvidia-rtx-pro-4500",
    "RTX_PRO_6000": "nvidia-rtx-pro-6000",
}

_DEVICE_CLASSES = {
    "GPU": tasks_pb2.GPUAccelerator.NVIDIA_GPU,
    "TPU": tasks_pb2.GPUAccelerator.GOOGLE_TPU,
    "NEURON": tasks_pb2.GPUAccelerator.AMAZON_NEURON,
    "AMD_GPU": tasks_pb2.GPUAccelerator.AMD_GPU,
    "HABANA_GAUDI": tasks_pb2.GPUAccelerator.HABANA_GAUDI,
    "APPLE_SILICON": tasks_pb2.GPUAccelerator.APPLE_SILICON,
}

_R = tasks_pb2.Resources


def _quantity(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _pair(value: Any) -> tuple[Any, Any]:
    if isinstance(value, (tuple, list)):
        return value[0], value[1]
    return value, None


def resources_to_proto(resources: Resources | None) -> tasks_pb2.Resources | None:
    """Requests and limits for CPU, memory, GPU count and disk; ``None`` when nothing is asked for.

    Example:
        >>> resources_to_proto(Resources(cpu=(1, 2))).limits[0].value
        '2'
    """
    if resources is None:
        return None
    requests: list[tasks_pb2.Resources.ResourceEntry] = []
    limits: list[tasks_pb2.Resources.ResourceEntry] = []
    for name, value in ((_R.CPU, resources.cpu), (_R.MEMORY, resources.memory)):
        if value is None:
            continue
        request, limit = _pair(value)
        requests.append(_R.ResourceEntry(name=name, value=_quantity(request)))
        if limit is not None:
            limits.append(_R.ResourceEntry(name=name, value=_quantity(limit)))
    device = resources.get_device()
    if device is not None:
        requests.append(_R.ResourceEntry(name=_R.GPU, value=str(device.quantity)))
    if resources.disk is not None:
        requests.append(_R.ResourceEntry(name=_R.EPHEMERAL_STORAGE, value=resources.disk))
    if not requests and not limits:
        return None
    return tasks_pb2.Resources(requests=requests, limits=limits)


def _accelerator(device: Device) -> tasks_pb2.GPUAccelerator | None:
    if device.device is None:
        return None
    accelerator = tasks_pb2.GPUAccelerator()
    if device.device_class == "GPU":
        accelerator.device = _NVIDIA_DEVICES.get(device.device, device.device)
    elif device.device_class == "TPU":
        accelerator.device = f"tpu-{device.device.lower()}-slice"
        accelerator.device_class = tasks_pb2.GPUAccelerator.GOOGLE_TPU
    else:
        accelerator.device = device.device
        accelerator.device_class = _DEVICE_CLASSES[device.device_class]
    if device.partition:
        accelerator.partition_size = device.partition
    return accelerator


def extended_resources_to_proto(resources: Resources | None) -> tasks_pb2.ExtendedResources | None:
    """The accelerator model and shared memory; ``None`` when neither is asked for.

    Example:
        >>> extended_resources_to_proto(Resources(gpu="A100:1")).gpu_accelerator.device
        'nvidia-tesla-a100'
    """
    if resources is None:
        return None
    extended = tasks_pb2.ExtendedResources()
    device = resources.get_device()
    accelerator = _accelerator(device) if device is not None else None
    if accelerator is not None:
        extended.gpu_accelerator.CopyFrom(accelerator)
    shared_memory = resources.get_shared_memory()
    if shared_memory is not None:
        extended.shared_memory.CopyFrom(
            tasks_pb2.SharedMemory(mount_path="/dev/shm", mount_name="flyte-shm", size_limit=shared_memory)
        )
    if not extended.HasField("gpu_accelerator") and not extended.HasField("shared_memory"):
        return None
    return extended

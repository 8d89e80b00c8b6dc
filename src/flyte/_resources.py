"""Compute resources a task asks for: CPU, memory, accelerators, disk and shared memory.

Quantities follow Kubernetes conventions (``"500m"`` CPU, ``"4Gi"`` memory) so that the same
values work locally and on a cluster. Accelerators are described by :class:`Device`, built with the
helpers :func:`GPU`, :func:`TPU`, :func:`Neuron`, :func:`AMD_GPU`, :func:`HABANA_GAUDI` and
:func:`APPLE_SILICON`, or given as a ``"A100:2"`` string.

Example:
    >>> Resources(cpu=(1, 2), memory="4Gi", gpu="A100:2").get_device()
    Device(quantity=2, device_class='GPU', device='A100', partition=None)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

__all__ = [
    "AMD_GPU",
    "APPLE_SILICON",
    "GPU",
    "HABANA_GAUDI",
    "TPU",
    "CPUQuantity",
    "Device",
    "DeviceClass",
    "Neuron",
    "Resources",
    "parse_cpu",
    "parse_quantity_bytes",
]

DeviceClass = Literal["GPU", "TPU", "NEURON", "AMD_GPU", "HABANA_GAUDI", "APPLE_SILICON"]

GPUType = Literal[
    "A2",
    "A10",
    "A10G",
    "A100",
    "A100_80G",
    "B200",
    "H100",
    "H200",
    "L4",
    "L40s",
    "T4",
    "V100",
    "RTX_PRO_4500",
    "RTX_PRO_6000",
    "GB10",
    "T4 shared",
    "L4 shared",
    "A10G shared",
    "A10 shared",
    "L40S shared",
]
TPUType = Literal["V5E", "V5P", "V6E"]
NeuronType = Literal["Inf1", "Inf2", "Trn1", "Trn1n", "Trn2", "Trn2u"]
AMDGPUType = Literal["MI100", "MI210", "MI250", "MI250X", "MI300A", "MI300X", "MI325X", "MI350X", "MI355X"]
HabanaGaudiType = Literal["Gaudi1"]

CPUQuantity = int | float | str
"""One CPU amount: cores as a number, or a Kubernetes quantity string such as ``"500m"``."""

_GPU_PARTITIONS: dict[str, tuple[str, ...]] = {
    "A100": ("1g.5gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"),
    "A100_80G": ("1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"),
    "H100": ("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"),
    "H200": ("1g.18gb", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb"),
    "RTX_PRO_6000": ("1g.24gb", "2g.48gb", "4g.96gb"),
}
_TPU_2D = ("1x1", "2x2", "2x4", "4x4", "4x8", "8x8", "8x16", "16x16")
_TPU_3D = (
    "2x2x1",
    "2x2x2",
    "2x4x4",
    "4x4x4",
    "4x4x8",
    "4x8x8",
    "8x8x8",
    "8x8x16",
    "8x16x16",
    "16x16x16",
    "16x16x24",
)
_TPU_PARTITIONS: dict[str, tuple[str, ...]] = {"V5E": _TPU_2D, "V5P": _TPU_3D, "V6E": _TPU_2D}

_EIGHT = tuple(range(1, 9))
# The quantities each accelerator may be requested in as a "TYPE:COUNT" string.
_ACCELERATOR_QUANTITIES: dict[str, tuple[DeviceClass, tuple[int, ...]]] = {
    **{name: ("GPU", _EIGHT) for name in ("A10", "A10G", "A100", "A100_80G", "B200", "H100", "H200", "L4", "L40s")},
    **{name: ("GPU", _EIGHT) for name in ("T4", "V100")},
    "A2": ("GPU", (1,)),
    "RTX_PRO_4500": ("GPU", (1,)),
    "RTX_PRO_6000": ("GPU", (1, 2)),
    "GB10": ("GPU", (1,)),
    **{name: ("GPU", (1,)) for name in ("T4 shared", "L4 shared", "A10G shared", "A10 shared", "L40S shared")},
    **{name: ("NEURON", (1, 4, 8, 16)) for name in ("Trn1", "Trn1n", "Trn2", "Trn2u")},
    "Inf1": ("NEURON", tuple(range(1, 17))),
    "Inf2": ("NEURON", tuple(range(1, 13))),
    **{name: ("AMD_GPU", (1,)) for name in get_args(AMDGPUType)},
    "Gaudi1": ("HABANA_GAUDI", (1,)),
    "AppleSilicon": ("APPLE_SILICON", (1,)),
}

_BINARY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
# Spellings that Kubernetes rejects but people write; accepted case-insensitively.
_LENIENT_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "pb": 10**15,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "pib": 2**50,
    "ki": 2**10,
    "mi": 2**20,
    "gi": 2**30,
    "ti": 2**40,
    "pi": 2**50,
    "g": 10**9,
    "t": 10**12,
}
_QUANTITY = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>[A-Za-z]*)\s*$")
_CPU_QUANTITY = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?|\.\d+)(?P<milli>m?)\s*$")


@dataclass(frozen=True)
class Device:
    """An accelerator request: how many devices of which class, model and partition.

    Build one with :func:`GPU`, :func:`TPU`, :func:`Neuron`, :func:`AMD_GPU`, :func:`HABANA_GAUDI`
    or :func:`APPLE_SILICON` rather than directly.

    Example:
        >>> Device(2, "GPU", device="H100")
        Device(quantity=2, device_class='GPU', device='H100', partition=None)
    """

    quantity: int
    """How many devices; at least 1."""
    device_class: DeviceClass
    """The family of accelerator (``"GPU"``, ``"TPU"``, ...)."""
    device: str | None = None
    """The model, for example ``"A100"``; ``None`` means any model of the class."""
    partition: str | None = None
    """A slice of one device (a MIG profile such as ``"1g.5gb"`` or a TPU topology such as ``"2x2"``)."""

    def __post_init__(self) -> None:
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int):
            raise ValueError(f"Device.quantity must be an int, got {self.quantity!r}")
        if self.quantity < 1:
            raise ValueError(f"Device.quantity must be at least 1, got {self.quantity}")
        if self.device_class not in get_args(DeviceClass):
            raise ValueError(
                f"Device.device_class must be one of {list(get_args(DeviceClass))}, got {self.device_class!r}"
            )


def _check_choice(kind: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"Invalid {kind} type {value!r}; must be one of {list(choices)}")


def GPU(device: GPUType, quantity: int, partition: str | None = None) -> Device:
    """Request NVIDIA GPUs.

    Args:
        device: the GPU model, for example ``"A100"`` or ``"T4 shared"``.
        quantity: how many GPUs (at least 1).
        partition: a MIG profile such as ``"1g.5gb"``; checked against the profiles the model has.

    Example:
        >>> GPU("A100", 1, partition="1g.5gb").partition
        '1g.5gb'
    """
    _check_choice("GPU", device, get_args(GPUType))
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise ValueError(f"GPU quantity must be an int of at least 1, got {quantity!r}")
    if partition is not None:
        if device.endswith(" shared"):
            raise ValueError(f"A shared GPU ({device}) takes no partition, got {partition!r}")
        allowed = _GPU_PARTITIONS.get(device)
        if allowed is not None and partition not in allowed:
            raise ValueError(f"Invalid partition {partition!r} for GPU {device}; must be one of {list(allowed)}")
    return Device(quantity, "GPU", device=device, partition=partition)


def TPU(device: TPUType, partition: str | None = None) -> Device:
    """Request a Google TPU, optionally a topology slice of it.

    Example:
        >>> TPU("V5E", "2x2").device_class
        'TPU'
    """
    _check_choice("TPU", device, get_args(TPUType))
    if partition is not None and partition not in _TPU_PARTITIONS[device]:
        raise ValueError(
            f"Invalid partition {partition!r} for TPU {device}; must be one of {list(_TPU_PARTITIONS[device])}"
        )
    return Device(1, "TPU", device=device, partition=partition)


def Neuron(device: NeuronType) -> Device:
    """Request an AWS Neuron accelerator (Inferentia or Trainium).

    Example:
        >>> Neuron("Trn1").device_class
        'NEURON'
    """
    _check_choice("Neuron", device, get_args(NeuronType))
    return Device(1, "NEURON", device=device)


def AMD_GPU(device: AMDGPUType) -> Device:
    """Request an AMD Instinct GPU.

    Example:
        >>> AMD_GPU("MI300X").device
        'MI300X'
    """
    _check_choice("AMD GPU", device, get_args(AMDGPUType))
    return Device(1, "AMD_GPU", device=device)


def HABANA_GAUDI(device: HabanaGaudiType) -> Device:
    """Request an Intel Habana Gaudi accelerator.

    Example:
        >>> HABANA_GAUDI("Gaudi1").device_class
        'HABANA_GAUDI'
    """
    _check_choice("Habana Gaudi", device, get_args(HabanaGaudiType))
    return Device(1, "HABANA_GAUDI", device=device)


def APPLE_SILICON() -> Device:
    """Request the GPU of an Apple Silicon machine.

    Example:
        >>> APPLE_SILICON().device
        'AppleSilicon'
    """
    return Device(1, "APPLE_SILICON", device="AppleSilicon")


def parse_cpu(value: CPUQuantity, *, field: str = "cpu") -> float:
    """Convert a CPU amount to cores.

    Args:
        value: cores as a number, or a quantity string (``"2"``, ``"0.5"``, ``"500m"``).
        field: the name used in error messages.

    Raises:
        ValueError: the value is not a CPU amount, or is not greater than zero.

    Example:
        >>> parse_cpu("500m")
        0.5
    """
    if isinstance(value, bool):
        raise ValueError(f"{field} must be a number of cores or a quantity string such as '500m', got {value!r}")
    if isinstance(value, (int, float)):
        cores = float(value)
    elif isinstance(value, str):
        match = _CPU_QUANTITY.match(value)
        if match is None:
            raise ValueError(f"{field} must be a number of cores or a quantity string such as '500m', got {value!r}")
        cores = float(match["number"]) / (1000 if match["milli"] else 1)
    else:
        raise ValueError(f"{field} must be an int, float or str, got {type(value).__name__}: {value!r}")
    if not cores > 0:
        raise ValueError(f"{field} must be greater than 0, got {value!r}")
    return cores


def parse_quantity_bytes(value: str, *, field: str = "memory") -> int:
    """Convert a memory-like quantity string to bytes.

    Kubernetes suffixes are accepted (``Ki Mi Gi Ti Pi Ei`` and ``k M G T P E``), and so are the
    common spellings ``"4GB"``, ``"4GiB"`` and ``"4gi"``.

    Raises:
        ValueError: the value is not a quantity string, or is not greater than zero.

    Example:
        >>> parse_quantity_bytes("1.5Gi")
        1610612736
    """
    hint = "a quantity string such as '512Mi', '4Gi' or '2G'"
    if not isinstance(value, str):
        raise ValueError(f"{field} must be {hint}, got {type(value).__name__}: {value!r}")
    match = _QUANTITY.match(value)
    if match is None:
        raise ValueError(f"{field} must be {hint}, got {value!r}")
    unit = match["unit"]
    multiplier = _BINARY_UNITS.get(unit) or _DECIMAL_UNITS.get(unit) or _LENIENT_UNITS.get(unit.lower())
    if multiplier is None:
        raise ValueError(f"{field} has an unknown unit {unit!r} in {value!r}; use {hint}")
    amount = int(float(match["number"]) * multiplier)
    if amount <= 0:
        raise ValueError(f"{field} must be greater than 0, got {value!r}")
    return amount


# Older spellings Flyte 2 still accepts (with a warning), mapped to the current names.
_DEPRECATED_ACCELERATOR_NAMES = {"A100 80G": "A100_80G"}


def _normalize_gpu_string(value: str) -> str:
    """``"A100 80G:8"`` → ``"A100_80G:8"``: deprecated accelerator names become the current ones."""
    name, separator, count = value.partition(":")
    current = _DEPRECATED_ACCELERATOR_NAMES.get(name)
    if current is None:
        return value
    import logging

    logging.getLogger("flyte").warning("GPU type %r is deprecated, use %r instead.", name, current)
    return f"{current}{separator}{count}"


def _device_from_string(value: str) -> Device:
    name, _, count = value.partition(":")
    spec = _ACCELERATOR_QUANTITIES.get(name)
    quantity = int(count) if count.isdigit() else None
    if spec is None or (count and quantity not in spec[1]) or (not count and name != "AppleSilicon"):
        known = ", ".join(f"{n}:{'|'.join(map(str, q))}" for n, (_, q) in _ACCELERATOR_QUANTITIES.items())
        raise ValueError(f"gpu must be 'TYPE:COUNT' for a known accelerator, got {value!r}; known: {known}")
    return Device(quantity or 1, spec[0], device=name)


@dataclass(frozen=True)
class Resources:
    """The compute resources a task asks for.

    CPU and memory take either one value (request and limit alike) or a ``(request, limit)``
    tuple. Every quantity is checked when the object is made, so a typo fails at import time
    rather than at deploy time.

    Example:
        >>> Resources(cpu="500m", memory=("1Gi", "2Gi"), gpu=GPU("T4", 1), shm="auto").get_shared_memory()
        ''
    """

    cpu: CPUQuantity | tuple[CPUQuantity, CPUQuantity] | None = None
    """Cores: ``1``, ``0.5``, ``"500m"`` or a ``(request, limit)`` tuple."""
    memory: str | tuple[str, str] | None = None
    """Memory such as ``"4Gi"``, or a ``(request, limit)`` tuple."""
    gpu: str | int | Device | None = None
    """Accelerators: ``"A100:2"``, a count of any GPU (``0`` means none), or a :class:`Device`."""
    disk: str | None = None
    """Ephemeral disk such as ``"10Gi"``."""
    shm: str | None = None
    """Shared memory (``/dev/shm``) size such as ``"1Gi"``, or ``"auto"`` to size it by the platform."""

    def __post_init__(self) -> None:
        self._check_pair("cpu", self.cpu, lambda v: parse_cpu(v, field="cpu"))
        self._check_pair("memory", self.memory, lambda v: parse_quantity_bytes(v, field="memory"))
        if self.disk is not None:
            parse_quantity_bytes(self.disk, field="disk")
        if self.shm is not None and self.shm != "auto":
            parse_quantity_bytes(self.shm, field="shm")
        gpu = self.gpu
        if isinstance(gpu, bool):
            raise ValueError(f"gpu must be a count, a 'TYPE:COUNT' string or a Device, got {gpu!r}")
        if isinstance(gpu, int) and gpu < 0:
            raise ValueError(f"gpu must be greater than or equal to 0, got {gpu}")
        if isinstance(gpu, str):
            gpu = _normalize_gpu_string(gpu)
            object.__setattr__(self, "gpu", gpu)
            _device_from_string(gpu)
        elif gpu is not None and not isinstance(gpu, (int, Device)):
            raise ValueError(f"gpu must be a count, a 'TYPE:COUNT' string or a Device, got {gpu!r}")

    @staticmethod
    def _check_pair(field: str, value: object, parse: Callable[[Any], float]) -> None:
        if value is None:
            return
        if isinstance(value, (tuple, list)):
            if len(value) != 2:
                raise ValueError(f"{field} as a tuple must be (request, limit), got {value!r}")
            request, limit = parse(value[0]), parse(value[1])
            if request > limit:
                raise ValueError(f"{field} request {value[0]!r} is greater than its limit {value[1]!r}")
        else:
            parse(value)

    def get_device(self) -> Device | None:
        """The accelerator request, or ``None`` when no accelerator is asked for.

        Example:
            >>> Resources(gpu=2).get_device()
            Device(quantity=2, device_class='GPU', device=None, partition=None)
        """
        if self.gpu is None or isinstance(self.gpu, Device):
            return self.gpu
        if isinstance(self.gpu, int):
            return Device(self.gpu, "GPU") if self.gpu > 0 else None
        return _device_from_string(self.gpu)

    def get_shared_memory(self) -> str | None:
        """The shared-memory size; ``""`` means "let the platform choose" (``shm="auto"``).

        Example:
            >>> Resources(shm="2Gi").get_shared_memory()
            '2Gi'
        """
        if self.shm == "auto":
            return ""
        return self.shm

    def cpu_request_limit(self) -> tuple[float | None, float | None]:
        """CPU request and limit in cores (``(None, None)`` when unset).

        Example:
            >>> Resources(cpu=("500m", 2)).cpu_request_limit()
            (0.5, 2.0)
        """
        if self.cpu is None:
            return None, None
        if isinstance(self.cpu, tuple):
            return parse_cpu(self.cpu[0]), parse_cpu(self.cpu[1])
        cores = parse_cpu(self.cpu)
        return cores, cores

    def memory_request_limit(self) -> tuple[int | None, int | None]:
        """Memory request and limit in bytes (``(None, None)`` when unset).

        Example:
            >>> Resources(memory="1Ki").memory_request_limit()
            (1024, 1024)
        """
        if self.memory is None:
            return None, None
        if isinstance(self.memory, tuple):
            return parse_quantity_bytes(self.memory[0]), parse_quantity_bytes(self.memory[1])
        amount = parse_quantity_bytes(self.memory)
        return amount, amount

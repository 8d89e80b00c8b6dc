"""A task template's resources (Kubernetes quantities) → :class:`~flyte_server.executors.Resources`.

Limits win over requests, as a container's limit is what it can use; a request alone is the limit
(Flyte on Kubernetes gives a pod with only requests no limit, but a local executor has no
scheduler to honour a request, so the request is the closest thing to what the user meant).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from flyteidl2.core import tasks_pb2

from flyte_server.executors import Resources

__all__ = ["parse_quantity", "resources_of"]

_SUFFIXES = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "K": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
}
_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([-+]?[0-9]+))?\s*([a-zA-Z]{0,2})\s*$")


def parse_quantity(value: str) -> Decimal:
    """``"500m"`` → 0.5, ``"1Gi"`` → 1073741824, ``"2"`` → 2.

    Raises:
        ValueError: not a Kubernetes quantity.
    """
    match = _QUANTITY.match(value)
    if match is None or match.group(3) not in _SUFFIXES:
        raise ValueError(f"not a resource quantity: {value!r}")
    try:
        number = Decimal(match.group(1))
    except InvalidOperation as error:  # pragma: no cover - the pattern admits only numbers
        raise ValueError(f"not a resource quantity: {value!r}") from error
    if match.group(2):
        number *= Decimal(10) ** int(match.group(2))
    return number * _SUFFIXES[match.group(3)]


def resources_of(template: Any) -> Resources:
    """The resources of a task template (``None`` or no container: nothing asked for).

    Raises:
        ValueError: a quantity that cannot be read.
    """
    if template is None or not template.HasField("container"):
        return Resources()
    wanted: dict[int, str] = {}
    for entry in template.container.resources.requests:
        wanted[entry.name] = entry.value
    for entry in template.container.resources.limits:
        wanted[entry.name] = entry.value
    names = tasks_pb2.Resources
    cpu = wanted.get(names.CPU)
    memory = wanted.get(names.MEMORY)
    gpu = wanted.get(names.GPU)
    return Resources(
        cpu=float(parse_quantity(cpu)) if cpu else None,
        memory=int(parse_quantity(memory)) if memory else None,
        gpu=int(parse_quantity(gpu)) if gpu else 0,
    )

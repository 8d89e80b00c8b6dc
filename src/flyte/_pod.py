"""Kubernetes pod customisation for a task, carried as an opaque pod spec.

The SDK does not import the Kubernetes client: ``pod_spec`` is whatever object the user built
(usually a ``kubernetes.client.V1PodSpec``) and is only read by the Kubernetes executor.

Example:
    >>> PodTemplate(labels={"team": "ml"}).primary_container_name
    'primary'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["PodTemplate"]

_CONTAINER_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _check_mapping(value: dict[str, str] | None, *, field: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise ValueError(f"PodTemplate.{field} must be a dict of strings, got {value!r}")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise ValueError(f"PodTemplate.{field} must map strings to strings, got {key!r}: {item!r}")


@dataclass(frozen=True)
class PodTemplate:
    """A pod spec to run a task's container in, with extra labels and annotations.

    Example:
        >>> PodTemplate(pod_spec=None, primary_container_name="main", annotations={"a": "b"}).annotations
        {'a': 'b'}
    """

    pod_spec: Any = None
    """The pod spec (a ``kubernetes.client.V1PodSpec`` or an equivalent dict); kept as given."""
    primary_container_name: str = "primary"
    """The container in ``pod_spec`` that runs the task."""
    labels: dict[str, str] | None = None
    """Labels added to the pod."""
    annotations: dict[str, str] | None = None
    """Annotations added to the pod."""

    def __post_init__(self) -> None:
        name = self.primary_container_name
        if not isinstance(name, str) or not _CONTAINER_NAME.match(name):
            raise ValueError(
                "PodTemplate.primary_container_name must be a container name (lower-case letters, digits and '-', "
                f"at most 63), got {name!r}"
            )
        _check_mapping(self.labels, field="labels")
        _check_mapping(self.annotations, field="annotations")

    @classmethod
    def from_spec(
        cls,
        pod_spec: Any,
        *,
        primary_container_name: str | None = None,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
    ) -> PodTemplate:
        """A template from a pod spec; the primary container defaults to the spec's first container.

        Example:
            >>> PodTemplate.from_spec({"containers": [{"name": "trainer"}]}).primary_container_name
            'trainer'
        """
        if primary_container_name is None:
            primary_container_name = _first_container_name(pod_spec) or "primary"
        return cls(
            pod_spec=pod_spec, primary_container_name=primary_container_name, labels=labels, annotations=annotations
        )


def _first_container_name(pod_spec: Any) -> str | None:
    containers = pod_spec.get("containers") if isinstance(pod_spec, dict) else getattr(pod_spec, "containers", None)
    if not containers:
        return None
    first = containers[0]
    name = first.get("name") if isinstance(first, dict) else getattr(first, "name", None)
    return name if isinstance(name, str) else None

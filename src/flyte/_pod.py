"""Kubernetes pod customisation for a task, carried as an opaque pod spec.

The SDK does not import the Kubernetes client: ``pod_spec`` is whatever object the user built
(usually a ``kubernetes.client.V1PodSpec``) and is only read by the Kubernetes executor.

Example:
    >>> PodTemplate(labels={"team": "ml"}).primary_container_name
    'primary'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flyteidl2.core import tasks_pb2

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
    termination_grace_period_seconds: int | None = None
    """Seconds Kubernetes waits after SIGTERM before SIGKILL (set with :meth:`with_termination_grace_period`)."""

    def __post_init__(self) -> None:
        name = self.primary_container_name
        if not isinstance(name, str) or not _CONTAINER_NAME.match(name):
            raise ValueError(
                "PodTemplate.primary_container_name must be a container name (lower-case letters, digits and '-', "
                f"at most 63), got {name!r}"
            )
        _check_mapping(self.labels, field="labels")
        _check_mapping(self.annotations, field="annotations")
        grace = self.termination_grace_period_seconds
        if grace is not None and (isinstance(grace, bool) or not isinstance(grace, int) or grace < 0):
            raise ValueError(f"termination grace period must be a non-negative number of seconds, got {grace!r}")

    def with_termination_grace_period(self, termination_grace_period: int | timedelta) -> PodTemplate:
        """A copy whose pod waits ``termination_grace_period`` after SIGTERM before SIGKILL.

        Example:
            >>> PodTemplate().with_termination_grace_period(timedelta(minutes=2)).termination_grace_period_seconds
            120
        """
        if isinstance(termination_grace_period, timedelta):
            seconds = termination_grace_period.total_seconds()
            if seconds != int(seconds):
                raise ValueError(f"termination grace period must be whole seconds, got {termination_grace_period}")
            termination_grace_period = int(seconds)
        return replace(self, termination_grace_period_seconds=termination_grace_period)

    def _with_primary(self, change: Any, annotations: dict[str, str]) -> PodTemplate:
        """A copy whose (dict) pod spec has ``change(primary_container)`` applied and more annotations."""
        spec = self.pod_spec_dict()
        primary = next(c for c in spec["containers"] if c.get("name") == self.primary_container_name)
        change(primary)
        return replace(self, pod_spec=spec, annotations={**(self.annotations or {}), **annotations})

    def allow_fuse(self, privileged: bool = False) -> PodTemplate:
        """A copy whose primary container may mount FUSE filesystems.

        Unprivileged (the default): it requests the ``smarter-devices/fuse`` device and gets
        ``CAP_SYS_ADMIN``; ``privileged=True`` runs it privileged instead. Either way the pod is
        annotated ``flyte.org/capability-fuse``. The pod spec becomes a dict.

        Example:
            >>> PodTemplate().allow_fuse().pod_spec["containers"][0]["securityContext"]
            {'capabilities': {'add': ['SYS_ADMIN']}}
        """

        def grant(container: dict[str, Any]) -> None:
            security = container.setdefault("securityContext", {})
            if privileged:
                security["privileged"] = True
                return
            for kind in ("requests", "limits"):
                container.setdefault("resources", {}).setdefault(kind, {})["smarter-devices/fuse"] = "1"
            _add_capability(security, "SYS_ADMIN")

        return self._with_primary(grant, {"flyte.org/capability-fuse": "privileged" if privileged else "true"})

    def allow_nested_sandboxing(self) -> PodTemplate:
        """A copy whose primary container may create nested sandboxes (bubblewrap): ``CAP_SYS_ADMIN``,
        no privilege escalation, and AppArmor unconfined for that container. The pod spec becomes a dict.

        Example:
            >>> PodTemplate().allow_nested_sandboxing().annotations
            {'container.apparmor.security.beta.kubernetes.io/primary': 'unconfined'}
        """

        def grant(container: dict[str, Any]) -> None:
            security = container.setdefault("securityContext", {})
            _add_capability(security, "SYS_ADMIN")
            security["allowPrivilegeEscalation"] = False

        key = f"container.apparmor.security.beta.kubernetes.io/{self.primary_container_name}"
        return self._with_primary(grant, {key: "unconfined"})

    def pod_spec_dict(self) -> dict[str, Any]:
        """The pod spec as a plain (camelCase, JSON-ready) dict, with the primary container present and
        the grace period applied.

        Example:
            >>> PodTemplate(primary_container_name="main").pod_spec_dict()
            {'containers': [{'name': 'main'}]}
        """
        spec = _spec_to_dict(self.pod_spec)
        containers = list(spec.get("containers") or [])
        if not any(isinstance(c, dict) and c.get("name") == self.primary_container_name for c in containers):
            containers.append({"name": self.primary_container_name})
        spec["containers"] = containers
        if self.termination_grace_period_seconds is not None:
            spec["terminationGracePeriodSeconds"] = self.termination_grace_period_seconds
        return spec

    def to_k8s_pod(self) -> tasks_pb2.K8sPod:
        """The template as Flyte's ``K8sPod`` message (what a task template carries to Kubernetes).

        Like Flyte 2's, this returns the wire message itself; it needs no Kubernetes client for
        dict pod specs.

        Example:
            >>> PodTemplate(labels={"team": "ml"}).to_k8s_pod().metadata.labels["team"]
            'ml'
        """
        from flyteidl2.core import tasks_pb2

        pod = tasks_pb2.K8sPod(primary_container_name=self.primary_container_name)
        pod.metadata.labels.update(self.labels or {})
        pod.metadata.annotations.update(self.annotations or {})
        pod.pod_spec.update(self.pod_spec_dict())
        return pod

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


def _add_capability(security: dict[str, Any], capability: str) -> None:
    added = security.setdefault("capabilities", {}).setdefault("add", [])
    if capability not in added:
        added.append(capability)


def _spec_to_dict(pod_spec: Any) -> dict[str, Any]:
    """A pod spec (``None``, a dict or a ``kubernetes.client.V1PodSpec``) as a JSON-ready dict."""
    if pod_spec is None:
        return {}
    if isinstance(pod_spec, dict):
        import json

        copied: dict[str, Any] = json.loads(json.dumps(pod_spec))  # a deep, JSON-clean copy
        return copied
    try:
        from kubernetes.client import ApiClient  # type: ignore[import-not-found,unused-ignore]
    except ImportError as e:
        raise TypeError(
            f"PodTemplate.pod_spec is a {type(pod_spec).__name__}; converting it needs the 'kubernetes' package "
            "(or pass the spec as a dict)"
        ) from e
    converted: dict[str, Any] = ApiClient().sanitize_for_serialization(pod_spec)
    return converted


def _first_container_name(pod_spec: Any) -> str | None:
    containers = pod_spec.get("containers") if isinstance(pod_spec, dict) else getattr(pod_spec, "containers", None)
    if not containers:
        return None
    first = containers[0]
    name = first.get("name") if isinstance(first, dict) else getattr(first, "name", None)
    return name if isinstance(name, str) else None

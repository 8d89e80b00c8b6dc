"""Artifact triggers: ``Trigger(automation=OnArtifact(...))`` fires when an artifact version appears.

These are the Flyte 2 declarations. Firing them needs an artifact service, which this control
plane does not have: deploying a task with an artifact trigger fails with a clear error (see
``flyte._internal.serde._trigger``); declaring one, and reading it back, works.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["OnArtifact", "TriggeredArtifact", "TriggeredPartition"]


class OnArtifact:
    """Fire a trigger whenever a new version of the artifact ``name`` is created.

    Args:
        name: the artifact, in the task's project and domain.
        version: fire only for exactly this version (default: any new version).
        partitions: fire only for versions whose partitions include all of these key/values;
            also accepted as keyword arguments (``OnArtifact("events", region="us")``).

    Example:
        >>> OnArtifact("raw_events", region="us").partitions
        {'region': 'us'}
    """

    def __init__(
        self,
        name: str,
        version: str | None = None,
        partitions: Mapping[str, str] | None = None,
        **partition_kwargs: str,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"OnArtifact needs the artifact's name, got {name!r}")
        merged = {**(partitions or {}), **partition_kwargs}
        bad = {k: v for k, v in merged.items() if not isinstance(k, str) or not isinstance(v, str)}
        if bad:
            raise ValueError(f"OnArtifact partitions must map strings to strings, got {bad!r}")
        self.name = name
        self.version = version
        self.partitions: dict[str, str] | None = merged or None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OnArtifact) and (self.name, self.version, self.partitions) == (
            other.name,
            other.version,
            other.partitions,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.version, tuple(sorted((self.partitions or {}).items()))))

    def __repr__(self) -> str:
        return f"OnArtifact(name={self.name!r}, version={self.version!r}, partitions={self.partitions!r})"


@dataclass(frozen=True)
class TriggeredPartition:
    """Use as a trigger input value to receive one partition of the triggering artifact version.

    Example:
        >>> TriggeredPartition("date").key
        'date'
    """

    key: str

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise ValueError(f"TriggeredPartition needs a partition key, got {self.key!r}")


class _TriggeredArtifactType:
    """The type of :data:`TriggeredArtifact`; there is one instance."""

    _instance: _TriggeredArtifactType | None = None

    def __new__(cls) -> _TriggeredArtifactType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "flyte.TriggeredArtifact"

    def __reduce__(self) -> str:
        return "TriggeredArtifact"

    def __copy__(self) -> _TriggeredArtifactType:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _TriggeredArtifactType:
        return self


TriggeredArtifact: Final = _TriggeredArtifactType()
"""Use as a trigger input value to receive the triggering artifact's value."""

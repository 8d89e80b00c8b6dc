"""Documentation attached to tasks and environments, and links shown next to running actions.

Example:
    >>> Documentation("Trains the ranking model nightly.").description
    'Trains the ranking model nightly.'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = ["Documentation", "Link"]


@dataclass(frozen=True)
class Documentation:
    """Human-readable documentation for a task or environment.

    Example:
        >>> Documentation(description="Cleans raw events.")
        Documentation(description='Cleans raw events.')
    """

    description: str | None = None
    """What the task does; shown in the UI and CLI."""

    def __post_init__(self) -> None:
        if self.description is not None and not isinstance(self.description, str):
            raise ValueError(f"Documentation.description must be a string, got {self.description!r}")


@runtime_checkable
class Link(Protocol):
    """A link shown next to an action (a dashboard, logs in another system, ...).

    Implement ``get_link`` to build the URL from the action's identity.

    Example:
        >>> class Grafana:
        ...     name = "Grafana"
        ...     icon_uri = ""
        ...     def get_link(self, run_name, project, domain, context, parent_action_name, action_name, pod_name,
        ...                  **kwargs):
        ...         return f"https://grafana.example.com/d/runs?var-run={run_name}&var-action={action_name}"
        >>> isinstance(Grafana(), Link)
        True
    """

    name: str
    """The label shown for the link."""
    icon_uri: str = ""
    """An icon shown next to the label; empty for none."""

    def get_link(
        self,
        run_name: str,
        project: str,
        domain: str,
        context: dict[str, str],
        parent_action_name: str,
        action_name: str,
        pod_name: str,
        **kwargs: Any,
    ) -> str:
        """The URL for one action."""
        ...

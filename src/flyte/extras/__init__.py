"""Extra task types: :class:`ContainerTask` runs any image with a command (issue 13 scope 4)."""

from flyte.extras._container import ContainerTask

__all__ = ["ContainerTask"]

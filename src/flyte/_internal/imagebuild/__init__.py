"""The image builder: Image layers -> Dockerfile -> podman/docker/buildah, and the registry checks.

See ``docs/images.md``.
"""

from flyte._internal.imagebuild.dockerfile import BuildPlan, render, write_context
from flyte._internal.imagebuild.engine import (
    ImageBuildEngine,
    ImageBuilder,
    ImageChecker,
    LocalImageBuilder,
    find_container_tool,
)

__all__ = [
    "BuildPlan",
    "ImageBuildEngine",
    "ImageBuilder",
    "ImageChecker",
    "LocalImageBuilder",
    "find_container_tool",
    "render",
    "write_context",
]

"""Flyte: write pipelines, models and agents as plain (async) Python, run them locally or on a
control plane.

Example:
    >>> import asyncio
    >>> import flyte
    >>> env = flyte.TaskEnvironment(name="hello")
    >>> @env.task
    ... async def square(x: int) -> int:
    ...     return x * x
    >>> @env.task
    ... async def main(n: int) -> list[int]:
    ...     return list(await asyncio.gather(*(square(i) for i in range(n))))
    >>> flyte.run(main, n=4).outputs().o0
    [0, 1, 4, 9]

Importing this package is cheap and has no side effects: protobuf, the type engine, storage and
the CLI load only when a run needs them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flyte._cache import Cache, CachePolicy, CacheRequest
from flyte._context import ctx
from flyte._custom_context import custom_context, get_custom_context
from flyte._docs import Documentation, Link
from flyte._group import group
from flyte._init_modes import (
    init,
    init_from_api_key,
    init_from_config,
    init_in_cluster,
    init_passthrough,
    is_control_plane_available,
)
from flyte._initialize import current_domain, current_project
from flyte._map import map
from flyte._pod import PodTemplate
from flyte._resources import AMD_GPU, APPLE_SILICON, GPU, HABANA_GAUDI, TPU, Device, DeviceClass, Neuron, Resources
from flyte._retry import Backoff, RetryStrategy
from flyte._reusable import ReusePolicy
from flyte._run import ActionOutputs, Run, rerun, run, with_runcontext
from flyte._secret import Secret, SecretRequest
from flyte._task import AsyncFunctionTaskTemplate, TaskTemplate
from flyte._task_environment import Environment, TaskEnvironment
from flyte._timeout import Timeout, TimeoutType
from flyte._trace import trace
from flyte._version import __version__

__all__ = [
    "AMD_GPU",
    "APPLE_SILICON",
    "GPU",
    "HABANA_GAUDI",
    "TPU",
    "ActionOutputs",
    "AppHandle",
    "AsyncFunctionTaskTemplate",
    "Backoff",
    "BaseCheckpoint",
    "Cache",
    "CachePolicy",
    "CacheRequest",
    "Checkpoint",
    "ConditionWebhook",
    "Cron",
    "Device",
    "DeviceClass",
    "Documentation",
    "Environment",
    "FixedRate",
    "Image",
    "ImageBuild",
    "Link",
    "Neuron",
    "OnArtifact",
    "PodTemplate",
    "Resources",
    "RetryStrategy",
    "ReusePolicy",
    "Run",
    "Secret",
    "SecretRequest",
    "TaskEnvironment",
    "TaskTemplate",
    "Timeout",
    "TimeoutType",
    "Trigger",
    "TriggerTime",
    "TriggeredArtifact",
    "TriggeredPartition",
    "__version__",
    "build",
    "build_images",
    "ctx",
    "current_domain",
    "current_project",
    "custom_context",
    "deploy",
    "get_custom_context",
    "group",
    "init",
    "init_from_api_key",
    "init_from_config",
    "init_in_cluster",
    "init_passthrough",
    "is_control_plane_available",
    "latest_checkpoint",
    "load_interactive_ctx",
    "load_plugin_config",
    "logger",
    "map",
    "new_condition",
    "rerun",
    "run",
    "run_python_script",
    "serve",
    "system_logger",
    "trace",
    "version",
    "with_runcontext",
    "with_servecontext",
]

# Loaded on first use: these modules are comparatively expensive and most programs never touch them.
_LAZY = {
    "BaseCheckpoint": "flyte._checkpoint",
    "Checkpoint": "flyte._checkpoint",
    "latest_checkpoint": "flyte._checkpoint",
    "ConditionWebhook": "flyte._condition",
    "new_condition": "flyte._condition",
    "load_interactive_ctx": "flyte._interactive",
    "load_plugin_config": "flyte._plugin_config",
    "run_python_script": "flyte._run_python_script",
    "OnArtifact": "flyte._artifact_trigger",
    "TriggeredArtifact": "flyte._artifact_trigger",
    "TriggeredPartition": "flyte._artifact_trigger",
    "deploy": "flyte._deploy",
    "Image": "flyte._image",
    "ImageBuild": "flyte._build",
    "build": "flyte._build",
    "build_images": "flyte._build",
    "Cron": "flyte._trigger",
    "FixedRate": "flyte._trigger",
    "Trigger": "flyte._trigger",
    "TriggerTime": "flyte._trigger",
    "AppHandle": "flyte._serve",
    "serve": "flyte._serve",
    "with_servecontext": "flyte._serve",
}

logger = logging.getLogger("flyte.user")
"""The logger for your own task code (``flyte.logger.info(...)``); a child of ``system_logger``."""
system_logger = logging.getLogger("flyte")
"""Flyte's own logger."""

if TYPE_CHECKING:
    from flyte._artifact_trigger import OnArtifact, TriggeredArtifact, TriggeredPartition
    from flyte._build import ImageBuild, build, build_images
    from flyte._checkpoint import BaseCheckpoint, Checkpoint, latest_checkpoint
    from flyte._condition import ConditionWebhook, new_condition
    from flyte._deploy import deploy
    from flyte._image import Image
    from flyte._interactive import load_interactive_ctx
    from flyte._plugin_config import load_plugin_config
    from flyte._run_python_script import run_python_script
    from flyte._serve import AppHandle, serve, with_servecontext
    from flyte._trigger import Cron, FixedRate, Trigger, TriggerTime


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flyte' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def version() -> str:
    """The version of this SDK."""
    return __version__

"""``flyte.extend``: what task plugins (``flyteplugins-ray``, ``-dask``, ``-spark``, ...) build on.

A plugin defines a config class and an :class:`AsyncFunctionTaskTemplate` subclass that sets
``task_type``, serialises the config in :meth:`~TaskTemplate.custom_config` and sets up its
runtime in :meth:`~TaskTemplate.pre`; it registers the pair with :data:`TaskPluginRegistry`, and
``flyte.TaskEnvironment(plugin_config=cfg)`` makes every task of the environment an instance of
that subclass.

Example:
    >>> from dataclasses import dataclass
    >>> import flyte
    >>> from flyte.extend import AsyncFunctionTaskTemplate, TaskPluginRegistry
    >>> @dataclass
    ... class Shell:
    ...     greeting: str
    >>> @dataclass(kw_only=True)
    ... class ShellTask(AsyncFunctionTaskTemplate):
    ...     task_type: str = "shell"
    ...     plugin_config: Shell
    ...     def custom_config(self, sctx):
    ...         return {"greeting": self.plugin_config.greeting}
    >>> TaskPluginRegistry.register(Shell, ShellTask)
    >>> env = flyte.TaskEnvironment(name="shell", plugin_config=Shell("hi"))
    >>> @env.task
    ... def hello() -> str:
    ...     return "hello"
    >>> type(hello).__name__, hello.task_type
    ('ShellTask', 'shell')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flyte._image_layers import Architecture
from flyte._internal.imagebuild.engine import ImageBuildEngine, ImageBuilder, ImageChecker
from flyte._task import AsyncFunctionTaskTemplate, RuntimeTaskTemplate, TaskTemplate
from flyte._task_plugins import TaskPluginRegistry
from flyte._utils.lazy_module import lazy_module
from flyte.extend._k8s import PRIMARY_CONTAINER_DEFAULT_NAME, pod_spec_from_resources

if TYPE_CHECKING:
    from flyteidl2.core import tasks_pb2

    from flyte._internal.serde._context import CodeBundle
    from flyte._resources import Resources

__all__ = [
    "PRIMARY_CONTAINER_DEFAULT_NAME",
    "Architecture",
    "AsyncFunctionTaskTemplate",
    "ImageBuildEngine",
    "ImageBuilder",
    "ImageChecker",
    "RuntimeTaskTemplate",
    "TaskPluginRegistry",
    "TaskTemplate",
    "download_code_bundle",
    "get_proto_extended_resources",
    "get_proto_resources",
    "is_initialized",
    "lazy_module",
    "pod_spec_from_resources",
]


def is_initialized() -> bool:
    """Whether :func:`flyte.init` (or ``init_from_config``) was called in this process."""
    from flyte._initialize import get_init_config

    return get_init_config().initialized


def get_proto_resources(resources: Resources | None) -> tasks_pb2.Resources | None:
    """``flyte.Resources`` as the ``core.Resources`` message a task template carries (``None`` for none).

    Example:
        >>> get_proto_resources(flyte.Resources(cpu=2)).requests[0].value  # doctest: +SKIP
        '2'
    """
    from flyte._internal.serde._resources import resources_to_proto

    return resources_to_proto(resources)


def get_proto_extended_resources(resources: Resources | None) -> tasks_pb2.ExtendedResources | None:
    """The accelerator model and shared memory of ``resources`` as ``core.ExtendedResources``."""
    from flyte._internal.serde._resources import extended_resources_to_proto

    return extended_resources_to_proto(resources)


async def download_code_bundle(code_bundle: CodeBundle) -> CodeBundle:
    """Fetch a task's code bundle into its ``destination`` unless that was done already.

    A ``.tar.gz`` bundle is extracted there and made importable; a pickled task is copied there.
    Returns the bundle with ``downloaded_path`` set. Plugins call it on the other processes of a
    cluster (Dask workers, Ray actors) so that they can import the task's modules.

    Raises:
        flyte.errors.CodeBundleError: the bundle cannot be fetched or extracted.
    """
    from pathlib import Path

    from flyte._internal.runtime.bundle import add_sys_path, download_tgz

    if code_bundle.downloaded_path is not None and Path(code_bundle.downloaded_path).exists():
        return code_bundle
    destination = Path(code_bundle.destination).absolute()
    if code_bundle.tgz is not None:
        await download_tgz(code_bundle.tgz, destination)
        add_sys_path(destination, None)
        return code_bundle.with_downloaded_path(destination)
    from flyte._internal.runtime import storage
    from flyte.errors import CodeBundleError

    target = destination / Path(str(code_bundle.pkl)).name
    destination.mkdir(parents=True, exist_ok=True)
    try:
        await storage.download(str(code_bundle.pkl), target)
    except (OSError, ValueError) as error:
        raise CodeBundleError(f"Cannot download the pickled task {code_bundle.pkl}: {error}", kind="system") from error
    return code_bundle.with_downloaded_path(target)

"""``TaskPluginRegistry``: which task template class a plugin config object turns a task into.

A plugin (``flyteplugins-ray``, ...) registers its config class (``RayJobConfig``) with the
:class:`~flyte.extend.AsyncFunctionTaskTemplate` subclass that runs it (``RayFunctionTask``);
``TaskEnvironment(plugin_config=cfg)`` then builds that class for every task of the environment.
The lookup is by the config object's exact class, as in Flyte 2.
"""

from __future__ import annotations

import threading
from typing import Any, TypeVar

__all__ = ["TaskPluginRegistry"]

T = TypeVar("T")


class _Registry:
    """Config class → task template class."""

    def __init__(self) -> None:
        self._plugins: dict[type, type] = {}
        self._lock = threading.Lock()

    def register(self, config_type: type, plugin: type[T]) -> None:
        """Make tasks whose ``plugin_config`` is a ``config_type`` instances of ``plugin``.

        A later registration for the same config class replaces the earlier one.

        Raises:
            TypeError: ``config_type`` is not a class, or ``plugin`` is not a task template class.

        Example:
            >>> TaskPluginRegistry.register(config_type=MyConfig, plugin=MyTask)  # doctest: +SKIP
        """
        from flyte._task import TaskTemplate

        if not isinstance(config_type, type):
            raise TypeError(f"config_type must be a class, got {config_type!r}")
        if not (isinstance(plugin, type) and issubclass(plugin, TaskTemplate)):
            raise TypeError(f"plugin must be a subclass of flyte.extend.TaskTemplate, got {plugin!r}")
        with self._lock:
            self._plugins[config_type] = plugin

    def find(self, config_type: type) -> type[T] | None:
        """The task template class registered for exactly ``config_type``, or ``None``."""
        return self._plugins.get(config_type)

    def list_plugins(self) -> list[type]:
        """The registered config classes."""
        return list(self._plugins)

    def plugin_for(self, config: Any) -> type[Any]:
        """The task template class for a ``plugin_config`` object.

        Raises:
            ValueError: no plugin is registered for the object's class.
        """
        plugin: type[Any] | None = self.find(type(config))
        if plugin is None:
            raise ValueError(
                f"No task plugin found for config type {type(config)}. Please register a plugin using "
                "flyte.extend.TaskPluginRegistry.register() api."
            )
        return plugin


TaskPluginRegistry = _Registry()
"""The process-wide registry of task plugins."""

"""``flyte.load_plugin_config``: a plugin's config object (a Ray cluster, a Spark job...) from YAML."""

from __future__ import annotations

import dataclasses
import importlib
import pathlib
import types
import typing
from typing import Any

__all__ = ["load_plugin_config"]


def _import_class(dotted: str) -> type:
    module_name, _, class_name = dotted.rpartition(".")
    if not module_name:
        raise ValueError(f"plugin must be a fully qualified class name such as 'pkg.module.Config', got {dotted!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"Cannot import the plugin module {module_name!r}: {e}") from e
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise ValueError(f"{module_name} has no class {class_name!r}")
    return cls


def _build(annotation: Any, value: Any) -> Any:
    """``value`` (parsed YAML) shaped as ``annotation``: nested dataclasses from mappings, lists of them, ..."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        for option in typing.get_args(annotation):
            if option is type(None):
                continue
            try:
                return _build(option, value)
            except (TypeError, ValueError):
                continue
        return value
    if origin in (list, tuple, set, frozenset) and isinstance(value, list):
        args = typing.get_args(annotation)
        item = args[0] if args else Any
        built = [_build(item, v) for v in value]
        return built if origin is list else origin(built)
    if origin is dict and isinstance(value, dict):
        args = typing.get_args(annotation)
        item = args[1] if len(args) == 2 else Any
        return {k: _build(item, v) for k, v in value.items()}
    if isinstance(annotation, type) and isinstance(value, dict):
        return _instantiate(annotation, value)
    return value


def _instantiate(cls: type, config: dict[str, Any]) -> Any:
    if dataclasses.is_dataclass(cls):
        try:
            hints = typing.get_type_hints(cls)
        except (NameError, TypeError):
            hints = {}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"{cls.__name__} has no field(s) {unknown}; its fields are {sorted(known)}")
        return cls(**{k: _build(hints.get(k, Any), v) for k, v in config.items()})
    validate = getattr(cls, "model_validate", None)
    if callable(validate):  # a pydantic model validates nested mappings itself
        return validate(config)
    return cls(**config)


def load_plugin_config(path: str | pathlib.Path) -> Any:
    """Load a plugin config object from a YAML file.

    The file names the config class under ``plugin`` (a fully qualified class name) and its
    constructor arguments under ``config``; nested mappings and lists become the nested
    dataclasses (or pydantic models) the fields declare.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a mapping with ``plugin``, the class cannot be imported, or
            ``config`` names fields the class does not have.

    Example:
        >>> # ray.yaml:
        >>> #   plugin: flyteplugins.ray.RayJobConfig
        >>> #   config: {worker_node_config: [{group_name: workers, replicas: 2}]}
        >>> cfg = flyte.load_plugin_config("ray.yaml")  # doctest: +SKIP
        >>> env = flyte.TaskEnvironment(name="ray", plugin_config=cfg)  # doctest: +SKIP
    """
    import yaml

    file = pathlib.Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"Plugin config file {file} does not exist")
    document = yaml.safe_load(file.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get("plugin"), str):
        raise ValueError(f"{file} must be a mapping with a 'plugin' key naming the config class")
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise ValueError(f"'config' in {file} must be a mapping of constructor arguments")
    return _instantiate(_import_class(document["plugin"]), config)
